package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/store"
)

// TestExplainListEvidence checks that a bbox listing is explained with the
// query ListEvidence runs and that its plan uses the spatial index.
func TestExplainListEvidence(t *testing.T) {
	box := geo.Box{MinLon: 118.2, MinLat: 40.2, MaxLon: 118.22, MaxLat: 40.22}
	for _, tc := range []struct {
		name  string
		open  func(*testing.T) *store.Store
		index string
	}{
		{"SQLite", openSQLite, "evidence_rtree"},
		{"Postgres", openPostgres, "evidence_geom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.open(t)
			if _, err := s.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			p, err := s.ExplainListEvidence(t.Context(), fieldwatch.EvidenceFilter{BBox: &box})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(p.Query, "SELECT e.id") || !strings.Contains(p.Query, "ORDER BY e.received_at DESC, e.id DESC LIMIT") {
				t.Errorf("query = %q, want ListEvidence's", p.Query)
			}
			if !strings.Contains(p.Plan, tc.index) {
				t.Errorf("plan does not use %s:\n%s", tc.index, p.Plan)
			}
			bad := geo.Box{MinLon: 1, MinLat: 1, MaxLon: 0, MaxLat: 0}
			if _, err := s.ExplainListEvidence(t.Context(), fieldwatch.EvidenceFilter{BBox: &bad}); !errors.Is(err, fieldwatch.ErrInvalid) {
				t.Errorf("inverted box: err = %v, want ErrInvalid", err)
			}
		})
	}
}
