package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/inspect"
)

// Altering, deleting or reordering any audit entry makes VerifyAudit name
// the first broken one, on both backends. (A deletion is named at the entry
// after the gap.)
func TestAuditChainTamper(t *testing.T) {
	open := map[string]func(t *testing.T) *Store{
		"sqlite": func(t *testing.T) *Store {
			s, err := OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "a.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if _, err := s.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			return s
		},
		"postgres": migratedPostgres,
	}
	tamper := []struct {
		name   string
		sql    string
		broken int64
	}{
		{"Alter", `UPDATE audit_events SET object_id = 'other' WHERE seq = 3`, 3},
		{"Delete", `DELETE FROM audit_events WHERE seq = 2`, 3},
		{"ReorderData", `UPDATE audit_events SET action = CASE seq WHEN 2 THEN 'a.3' ELSE 'a.2' END WHERE seq IN (2, 3)`, 2},
	}
	for backend, openFn := range open {
		for _, tc := range tamper {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				s := openFn(t)
				ctx := context.Background()
				for i := 1; i <= 4; i++ {
					err := s.writeTx(ctx, func(tx *sql.Tx) error {
						return s.appendAudit(ctx, tx, &inspect.AuditEvent{At: time.Date(2026, 11, 28, 9, i, 0, 0, time.UTC),
							Action: fmt.Sprintf("a.%d", i), ObjectType: "test", ObjectID: fmt.Sprint(i), Data: []byte(`{"i":` + fmt.Sprint(i) + `}`)})
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				if broken, n, err := s.VerifyAudit(ctx); err != nil || broken != 0 || n != 4 {
					t.Fatalf("intact chain: broken %d, %d entries, %v", broken, n, err)
				}
				if _, err := s.db.ExecContext(ctx, tc.sql); err != nil {
					t.Fatal(err)
				}
				if broken, _, err := s.VerifyAudit(ctx); err != nil || broken != tc.broken {
					t.Fatalf("after %s: first broken %d, want %d (%v)", tc.name, broken, tc.broken, err)
				}
			})
		}
	}
}
