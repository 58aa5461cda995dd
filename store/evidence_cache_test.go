package store_test

import (
	"path/filepath"
	"testing"

	"github.com/fieldwatch/fieldwatch/internal/testservice"
	"github.com/fieldwatch/fieldwatch/store"
	"github.com/fieldwatch/fieldwatch/store/storetest"
)

// replicas opens one store per options list with open on one database,
// closing each when t ends.
func replicas(t *testing.T, open func(opts ...store.Option) (*store.Store, error), opts [][]store.Option) []*store.Store {
	t.Helper()
	var out []*store.Store
	for _, o := range opts {
		s, err := open(o...)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		out = append(out, s)
	}
	return out
}

func TestSQLiteEvidenceCache(t *testing.T) {
	storetest.RunEvidenceCache(t, func(t *testing.T, opts ...[]store.Option) []*store.Store {
		path := filepath.Join(t.TempDir(), "fieldwatch.db")
		return replicas(t, func(o ...store.Option) (*store.Store, error) { return store.OpenSQLite(t.Context(), path, o...) }, opts)
	})
}

func TestPostgresEvidenceCache(t *testing.T) {
	storetest.RunEvidenceCache(t, func(t *testing.T, opts ...[]store.Option) []*store.Store {
		url := testservice.PostgresDB(t)
		return replicas(t, func(o ...store.Option) (*store.Store, error) { return store.OpenPostgres(t.Context(), url, o...) }, opts)
	})
}
