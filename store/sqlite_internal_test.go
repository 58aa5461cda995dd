package store

import (
	"errors"
	"fmt"
	"testing"
)

// TestSQLitePragmas checks the per-connection settings on connections of
// the store's own pool, which no other connection can observe.
func TestSQLitePragmas(t *testing.T) {
	s, err := OpenSQLite(t.Context(), t.TempDir()+"/p.db")
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	defer s.Close()
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"busy_timeout", fmt.Sprint(sqliteBusyTimeout.Milliseconds())},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
	}
	// Hold several connections at once so that more than one of the pool
	// is checked.
	ctx := t.Context()
	for i := range 3 {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, tc := range tests {
			var got string
			if err := conn.QueryRowContext(ctx, "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatalf("conn %d: PRAGMA %s: %v", i, tc.pragma, err)
			}
			if got != tc.want {
				t.Errorf("conn %d: PRAGMA %s = %s, want %s", i, tc.pragma, got, tc.want)
			}
		}
	}
}

// TestSQLiteWriteTxIsImmediate shows that a write transaction holds the
// write lock from BEGIN: a second writer cannot start one until the first
// ends, rather than both starting and one failing at its first write.
func TestSQLiteWriteTxIsImmediate(t *testing.T) {
	s, err := OpenSQLite(t.Context(), t.TempDir()+"/tx.db")
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	defer s.Close()
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	tx, err := s.db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	conn, err := s.db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "PRAGMA busy_timeout = 0"); err != nil {
		t.Fatal(err)
	}
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	if err == nil {
		conn.ExecContext(t.Context(), "ROLLBACK") //nolint:errcheck
		t.Fatal("a second BEGIN IMMEDIATE succeeded while a write transaction was open")
	}
	if _, err := conn.ExecContext(t.Context(), "PRAGMA busy_timeout = 10000"); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(classifySQLite(err), ErrUnavailable) {
		t.Fatalf("SQLITE_BUSY not classified: %v", err)
	}
}
