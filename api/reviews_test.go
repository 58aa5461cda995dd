package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/api"
)

// Reviews are records beside the evidence: history kept, the latest is
// the state, lists filter by it, each one is audited, and the evidence
// itself never changes.
func TestEvidenceReview(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.mustUser("admin", "admin", pw)
		admin, _ := a.login("admin", pw)
		a.mustUser("insp", "inspector", pw)
		insp, _ := a.login("insp", pw)
		e := a.mustUpload(insp, uniquePhoto(t, "dust-xingcheng.jpg", 500), map[string]any{"category": "dust_site"})
		other := a.mustUpload(insp, uniquePhoto(t, "dust-xingcheng.jpg", 501), map[string]any{"category": "dust_site"})
		before := a.do("GET", "/v1/evidence/"+e.Id.String(), admin, nil).body

		for _, d := range []string{"needs_info", "accepted"} {
			a.clock.Advance(time.Minute)
			r := a.do("POST", "/v1/evidence/"+e.Id.String()+"/review", admin, map[string]any{"decision": d, "note": "现场核实 " + d})
			if r.status != 201 {
				t.Fatalf("review %s: %d %s", d, r.status, r.body)
			}
		}
		requireProblem(t, a.do("POST", "/v1/evidence/"+e.Id.String()+"/review", admin, map[string]any{"decision": "maybe"}), 400)
		requireProblem(t, a.do("POST", "/v1/evidence/"+e.Id.String()+"/review", insp, map[string]any{"decision": "accepted"}), 403)

		var hist []api.Review
		a.do("GET", "/v1/evidence/"+e.Id.String()+"/reviews", insp, nil).json(t, &hist)
		if len(hist) != 2 || hist[0].Decision != "needs_info" || hist[1].Decision != "accepted" {
			t.Fatalf("history %+v", hist)
		}
		var page api.EvidencePage
		a.do("GET", "/v1/evidence?review_state=accepted", admin, nil).json(t, &page)
		if len(page.Items) != 1 || page.Items[0].Id != e.Id {
			t.Fatalf("accepted: %+v", page.Items)
		}
		a.do("GET", "/v1/evidence?review_state=pending", admin, nil).json(t, &page)
		if len(page.Items) != 1 || page.Items[0].Id != other.Id {
			t.Fatalf("pending: %+v", page.Items)
		}
		if after := a.do("GET", "/v1/evidence/"+e.Id.String(), admin, nil).body; string(after) != string(before) {
			t.Fatalf("reviewing changed the evidence:\n%s\n%s", before, after)
		}
		if broken, n, err := a.db.VerifyAudit(context.Background()); err != nil || broken != 0 {
			t.Fatalf("audit: broken %d, entries %d, %v", broken, n, err)
		}
		review := "evidence.review"
		if evs, err := a.db.AuditQuery(context.Background(), fieldwatch.AuditFilter{Action: &review}); err != nil || len(evs) != 2 {
			t.Fatalf("audited reviews: %d, %v", len(evs), err)
		}
	})
}
