package store_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/fieldwatch/fieldwatch/store"
	"github.com/fieldwatch/fieldwatch/store/storetest"
)

// openSQLite opens a store on a new file in a directory that does not
// exist yet, which OpenSQLite must create.
func openSQLite(t *testing.T) *store.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nested", "dir", "fieldwatch.db")
	s, err := store.OpenSQLite(t.Context(), path, store.WithClock(storetest.Clock))
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, openSQLite)
}

func TestSQLiteBackend(t *testing.T) {
	if got := openSQLite(t).Backend(); got != "sqlite" {
		t.Fatalf("Backend() = %q, want sqlite", got)
	}
}

// TestSQLiteJournalModeWAL checks the file itself, through a connection
// of its own: WAL is a property of the database file, and without it
// readers block writers.
func TestSQLiteJournalModeWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	defer s.Close()

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Fatalf("journal_mode = %q, want wal", mode)
	}
}

// TestSQLiteSpecialPath opens a file whose directory name contains
// characters that mean something in a DSN: the store must use that exact
// file, not a name cut at '?' or '#'.
func TestSQLiteSpecialPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a?b#c&d=e %20 河", "x.db")
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("OpenSQLite(%q): %v", path, err)
	}
	applied, err := s.Migrate(t.Context())
	if err != nil || len(applied) == 0 {
		t.Fatalf("Migrate = %v, %v", applied, err)
	}
	latest := applied[len(applied)-1]
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("database file %q: %v", path, err)
	}
	s, err = store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if v, err := s.Version(t.Context()); err != nil || v != latest {
		t.Fatalf("Version after reopen = %d, %v; want %d", v, err, latest)
	}
}
