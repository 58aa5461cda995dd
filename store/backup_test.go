package store_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fieldwatch/fieldwatch/store"
)

func TestBackupTo(t *testing.T) {
	tests := []struct {
		name    string
		open    func(t *testing.T) *store.Store
		target  func(t *testing.T) string
		wantErr error // nil: the copy must open at the same schema version
	}{
		{"SQLite", migratedSQLite, newPath, nil},
		{"ErrExists", migratedSQLite, func(t *testing.T) string {
			p := newPath(t)
			if err := os.WriteFile(p, nil, 0o640); err != nil {
				t.Fatal(err)
			}
			return p
		}, os.ErrExist},
		{"ErrUnsupportedPostgres", func(t *testing.T) *store.Store {
			// Never connects: BackupTo refuses before any query.
			s, err := store.OpenPostgres(t.Context(), "postgres://nobody@127.0.0.1:1/none")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}, newPath, errors.ErrUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, path := tc.open(t), tc.target(t)
			err := s.BackupTo(t.Context(), path)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("BackupTo: %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("BackupTo: %v", err)
			}
			want, err := s.Version(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			cp, err := store.OpenSQLite(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer cp.Close()
			if got, err := cp.Version(t.Context()); err != nil || got != want || want == 0 {
				t.Fatalf("copy at schema version %d (%v), the original at %d", got, err, want)
			}
		})
	}
}

func migratedSQLite(t *testing.T) *store.Store {
	s := openSQLite(t)
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func newPath(t *testing.T) string { return filepath.Join(t.TempDir(), "copy.db") }
