package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/demo"
	"github.com/fieldwatch/fieldwatch/store"
)

// After a boundary change, relinking moves evidence to the township that
// now covers it, records old and new in the hash-chained audit trail, and
// the chain verifies; a tampered entry is named by the verifier.
func TestRelinkAfterBoundaryChange(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.importDemoCounty()
		a.mustUser("admin", "admin", pw)
		admin, _ := a.login("admin", pw)
		a.mustUser("insp", "inspector", pw)
		insp, _ := a.login("insp", pw)
		e := a.mustUpload(insp, uniquePhoto(t, "dust-xingcheng.jpg", 400), map[string]any{"category": "dust_site"})
		if e.TownshipCode == nil || *e.TownshipCode != "130227101" {
			t.Fatalf("linked to %v", e.TownshipCode)
		}

		// Nothing changed: relink changes nothing.
		var rep struct{ Checked, Changed int }
		a.do("POST", "/v1/admin/relink", admin, nil).json(t, &rep)
		if rep.Checked != 1 || rep.Changed != 0 {
			t.Fatalf("relink without changes: %+v", rep)
		}

		// Version 2 swaps the codes of 130227101 and 130227102.
		swapped := strings.NewReplacer(`"130227101"`, `"130227102"`, `"130227102"`, `"130227101"`).Replace(string(demo.TownshipsGeoJSON))
		a.clock.Advance(time.Hour)
		admin, _ = a.login("admin", pw)
		if r := a.do("POST", "/v1/townships:import", admin, swapped, "Content-Type", "application/geo+json"); r.status != 201 {
			t.Fatalf("import v2: %d %s", r.status, r.body)
		}
		a.do("POST", "/v1/admin/relink", admin, nil).json(t, &rep)
		if rep.Changed != 1 {
			t.Fatalf("relink after change: %+v", rep)
		}
		var got api.Evidence
		a.do("GET", "/v1/evidence/"+e.Id.String(), admin, nil).json(t, &got)
		if got.TownshipCode == nil || *got.TownshipCode != "130227102" {
			t.Fatalf("after relink: township %v", got.TownshipCode)
		}

		ctx := context.Background()
		relink := "evidence.relink"
		events, err := a.db.AuditQuery(ctx, fieldwatch.AuditFilter{Action: &relink})
		if err != nil || len(events) != 1 || events[0].Action != "evidence.relink" || events[0].ObjectID != e.Id.String() {
			t.Fatalf("audit events %+v %v", events, err)
		}
		var change struct {
			Old, New struct {
				TownshipCode string `json:"township_code"`
			}
		}
		if err := json.Unmarshal(events[0].Data, &change); err != nil {
			t.Fatal(err)
		}
		if broken, n, err := a.db.VerifyAudit(ctx); err != nil || broken != 0 || n < 1 {
			t.Fatalf("verify: broken %d, checked %d, %v", broken, n, err)
		}
		if err := a.db.TamperAuditForTest(ctx, store.TamperAlter, events[0].Seq); err != nil {
			t.Fatal(err)
		}
		if broken, _, err := a.db.VerifyAudit(ctx); err != nil || broken != events[0].Seq {
			t.Fatalf("tampered chain: first broken %d, %v", broken, err)
		}
	})
}
