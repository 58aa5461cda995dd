package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// Altering any field of an audit entry, deleting or reordering entries,
// or cutting the tail makes VerifyAuditAgainst name the first broken
// entry, on both backends. A deletion is named at the entry after the gap;
// a cut tail and a chain rewritten and relinked wholesale are caught only
// with the exported head.
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
	const n = 5
	tamper := []struct {
		name   string
		sql    []string
		head   bool // verify against the head exported before tampering
		broken int64
		reason string
	}{
		{"AlterObjectID", []string{`UPDATE audit_events SET object_id = 'other' WHERE seq = 3`}, false, 3, "contents"},
		{"AlterAction", []string{`UPDATE audit_events SET action = 'a.forged' WHERE seq = 2`}, false, 2, "contents"},
		{"AlterActor", []string{`UPDATE audit_events SET actor_id = 'someone' WHERE seq = 4`}, false, 4, "contents"},
		{"AlterObjectType", []string{`UPDATE audit_events SET object_type = 'user' WHERE seq = 1`}, false, 1, "contents"},
		{"AlterData", []string{`UPDATE audit_events SET data = '{"i":99}' WHERE seq = 3`}, false, 3, "contents"},
		{"AlterHash", []string{`UPDATE audit_events SET hash = prev_hash WHERE seq = 3`}, false, 3, "contents"},
		{"AlterPrevHash", []string{`UPDATE audit_events SET prev_hash = hash WHERE seq = 3`}, false, 3, "prev_hash"},
		{"AlterLast", []string{`UPDATE audit_events SET object_id = 'other' WHERE seq = 5`}, false, 5, "contents"},
		{"Delete", []string{`DELETE FROM audit_events WHERE seq = 2`}, false, 3, "entry 2 is missing"},
		{"DeleteTwo", []string{`DELETE FROM audit_events WHERE seq IN (2, 3)`}, false, 4, "entries 2 to 3 are missing"},
		{"DeleteFirst", []string{`DELETE FROM audit_events WHERE seq = 1`}, false, 2, "entry 1 is missing"},
		{"DeleteAndRenumber", []string{`DELETE FROM audit_events WHERE seq = 2`,
			`UPDATE audit_events SET seq = seq - 1 WHERE seq = 3`}, false, 2, "prev_hash"},
		{"ReorderData", []string{`UPDATE audit_events SET action = CASE seq WHEN 2 THEN 'a.3' ELSE 'a.2' END WHERE seq IN (2, 3)`}, false, 2, "contents"},
		{"SwapRows", []string{`UPDATE audit_events SET seq = -2 WHERE seq = 2`, `UPDATE audit_events SET seq = 2 WHERE seq = 3`,
			`UPDATE audit_events SET seq = 3 WHERE seq = -2`}, false, 2, "prev_hash"},
		{"TruncateUnseen", []string{`DELETE FROM audit_events WHERE seq >= 4`}, false, 0, ""},
		{"Truncate", []string{`DELETE FROM audit_events WHERE seq >= 4`}, true, 4, "entries 4 to 5 are missing"},
		{"TruncateLast", []string{`DELETE FROM audit_events WHERE seq = 5`}, true, 5, "exported head, is missing"},
		{"IntactWithHead", nil, true, 0, ""},
	}
	for backend, openFn := range open {
		for _, tc := range tamper {
			t.Run(backend+"/"+tc.name, func(t *testing.T) {
				s := openFn(t)
				ctx := context.Background()
				appendN(t, s, 1, n)
				if broken, checked, err := s.VerifyAudit(ctx); err != nil || broken != 0 || checked != n {
					t.Fatalf("intact chain: broken %d, %d entries, %v", broken, checked, err)
				}
				seq, hash, _, err := s.AuditHead(ctx)
				if err != nil || seq != n {
					t.Fatalf("AuditHead = %d, %v", seq, err)
				}
				for _, q := range tc.sql {
					if _, err := s.db.ExecContext(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
				var head *AuditAnchor
				if tc.head {
					head = &AuditAnchor{Seq: seq, Hash: hash}
				}
				r, err := s.VerifyAuditAgainst(ctx, head)
				if err != nil || r.FirstBroken != tc.broken || !strings.Contains(r.Reason, tc.reason) {
					t.Fatalf("after %s: first broken %d (%q), want %d (%q); %v", tc.name, r.FirstBroken, r.Reason, tc.broken, tc.reason, err)
				}
			})
		}
		// Rewriting the tail and relinking it leaves a chain that holds;
		// only the exported head tells.
		t.Run(backend+"/RewrittenAndRelinked", func(t *testing.T) {
			s := openFn(t)
			ctx := context.Background()
			appendN(t, s, 1, n)
			seq, hash, _, err := s.AuditHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.db.ExecContext(ctx, `DELETE FROM audit_events WHERE seq >= 3`); err != nil {
				t.Fatal(err)
			}
			appendN(t, s, 103, 100+n) // different contents at seqs 3..5
			if broken, _, err := s.VerifyAudit(ctx); err != nil || broken != 0 {
				t.Fatalf("relinked chain without head: broken %d, %v", broken, err)
			}
			r, err := s.VerifyAuditAgainst(ctx, &AuditAnchor{Seq: seq, Hash: hash})
			if err != nil || r.FirstBroken != n || !strings.Contains(r.Reason, "exported head") {
				t.Fatalf("relinked chain with head: %+v, %v", r, err)
			}
		})
	}
}

// appendN appends entries numbered from..to, one transaction each.
func appendN(t *testing.T, s *Store, from, to int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i <= to; i++ {
		err := s.writeTx(ctx, func(tx *sql.Tx) error {
			return s.appendAudit(ctx, tx, &fieldwatch.AuditEvent{At: time.Date(2026, 11, 28, 9, i, 0, 0, time.UTC),
				Action: fmt.Sprintf("a.%d", i), ObjectType: "test", ObjectID: fmt.Sprint(i), Data: []byte(`{"i":` + fmt.Sprint(i) + `}`)})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
