package api_test

import (
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/api"
)

// Writes made through HTTP are audited with the acting user's id; the
// trail lists with filters, pages with next_after, links each event to
// the one before, and its head is the last event.
func TestAuditTrail(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		adminID := a.mustUser("admin", "admin", pw)
		admin, _ := a.login("admin", pw)
		inspID := a.mustUser("insp", "inspector", pw)
		insp, _ := a.login("insp", pw)

		e := a.mustUpload(insp, uniquePhoto(t, "dust-xingcheng.jpg", 700), map[string]any{"category": "dust_site"})
		a.clock.Advance(time.Minute)
		if r := a.do("POST", "/v1/evidence/"+e.Id.String()+"/review", admin, map[string]any{"decision": "accepted"}); r.status != 201 {
			t.Fatalf("review: %d %s", r.status, r.body)
		}
		a.clock.Advance(time.Minute)
		r := a.do("POST", "/v1/users", admin, map[string]any{"username": "new.insp", "display_name": "新用户",
			"role": "inspector", "password": pw, "townships": []string{"130227101"}})
		if r.status != 201 {
			t.Fatalf("create user: %d %s", r.status, r.body)
		}
		var created api.User
		r.json(t, &created)

		list := func(t *testing.T, query url.Values) api.AuditPage {
			t.Helper()
			r := a.do("GET", "/v1/audit?"+query.Encode(), admin, nil)
			if r.status != 200 {
				t.Fatalf("GET /v1/audit?%s: %d %s", query.Encode(), r.status, r.body)
			}
			var p api.AuditPage
			r.json(t, &p)
			return p
		}
		all := list(t, url.Values{"limit": {"500"}})
		if all.NextAfter != nil {
			t.Fatalf("one page holds all, yet next_after = %d", *all.NextAfter)
		}
		// Two users made by the test itself (the system), an upload, a
		// review and a user made through the API.
		type row struct{ action, actor, objectType, objectID string }
		var got []row
		for _, ev := range all.Items {
			actor := ""
			if ev.Actor != nil {
				actor = *ev.Actor
			}
			got = append(got, row{ev.Action, actor, ev.ObjectType, ev.ObjectId})
		}
		want := []row{
			{"user.create", "", "user", adminID},
			{"user.create", "", "user", inspID},
			{"evidence.upload", inspID, "evidence", e.Id.String()},
			{"evidence.review", adminID, "evidence", e.Id.String()},
			{"user.create", adminID, "user", created.Id.String()},
		}
		if !slices.Equal(got, want) {
			t.Fatalf("trail:\n%+v\nwant\n%+v", got, want)
		}

		t.Run("Links", func(t *testing.T) {
			prev := ""
			for i, ev := range all.Items {
				if ev.Seq != int64(i+1) || ev.PrevHash != prev || len(ev.Hash) != 64 {
					t.Fatalf("event %d: seq %d, prev_hash %q (want %q), hash %q", i, ev.Seq, ev.PrevHash, prev, ev.Hash)
				}
				prev = ev.Hash
			}
		})

		t.Run("Details", func(t *testing.T) {
			up, rev := all.Items[2], all.Items[3]
			if up.Details["sha256"] != e.Sha256 || up.Details["category"] != "dust_site" || up.Details["uploader_id"] != inspID {
				t.Errorf("upload details %v", up.Details)
			}
			if tc, ok := up.Details["township_code"]; (e.TownshipCode == nil && ok) || (e.TownshipCode != nil && tc != *e.TownshipCode) {
				t.Errorf("upload details township %v, evidence %v", tc, e.TownshipCode)
			}
			if rev.Details["decision"] != "accepted" {
				t.Errorf("review details %v", rev.Details)
			}
			if u := all.Items[4].Details; u["username"] != "new.insp" || u["password"] != nil || u["password_hash"] != nil {
				t.Errorf("user details %v", u)
			}
			if !up.At.Equal(e.ReceivedAt) {
				t.Errorf("upload at %v, received %v", up.At, e.ReceivedAt)
			}
		})

		t.Run("Filters", func(t *testing.T) {
			seqs := func(p api.AuditPage) []int64 {
				out := []int64{}
				for _, ev := range p.Items {
					out = append(out, ev.Seq)
				}
				return out
			}
			at := func(i int) string { return all.Items[i].At.Format(time.RFC3339Nano) }
			tests := []struct {
				name  string
				query url.Values
				want  []int64
			}{
				{"Action", url.Values{"action": {"user.create"}}, []int64{1, 2, 5}},
				{"Actor", url.Values{"actor": {inspID}}, []int64{3}},
				{"ActorAdmin", url.Values{"actor": {adminID}}, []int64{4, 5}},
				{"Object", url.Values{"object_type": {"evidence"}, "object_id": {e.Id.String()}}, []int64{3, 4}},
				{"After", url.Values{"after": {"3"}}, []int64{4, 5}},
				{"FromTo", url.Values{"from": {at(3)}, "to": {at(4)}}, []int64{4}},
				{"None", url.Values{"action": {"case.transition"}}, []int64{}},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					if got := seqs(list(t, tc.query)); !slices.Equal(got, tc.want) {
						t.Errorf("seqs %v, want %v", got, tc.want)
					}
				})
			}
			requireProblem(t, a.do("GET", "/v1/audit?actor=not-a-uuid", admin, nil), 400)
			requireProblem(t, a.do("GET", "/v1/audit?after=-1", admin, nil), 400)
		})

		t.Run("Paging", func(t *testing.T) {
			var pages [][]int64
			var after int64
			for range 10 {
				p := list(t, url.Values{"limit": {"2"}, "after": {strconv.FormatInt(after, 10)}})
				var s []int64
				for _, ev := range p.Items {
					s = append(s, ev.Seq)
				}
				pages = append(pages, s)
				if p.NextAfter == nil {
					break
				}
				after = *p.NextAfter
			}
			if want := [][]int64{{1, 2}, {3, 4}, {5}}; !slices.EqualFunc(pages, want, slices.Equal) {
				t.Fatalf("pages %v, want %v", pages, want)
			}
		})

		t.Run("Head", func(t *testing.T) {
			var h api.AuditHead
			r := a.do("GET", "/v1/audit/head", admin, nil)
			if r.status != 200 {
				t.Fatalf("head: %d %s", r.status, r.body)
			}
			r.json(t, &h)
			last := all.Items[len(all.Items)-1]
			if h.Seq != last.Seq || h.Hash != last.Hash || h.At == nil || !h.At.Equal(last.At) {
				t.Fatalf("head %+v, last event seq %d hash %s at %v", h, last.Seq, last.Hash, last.At)
			}
		})

		t.Run("AdminsOnly", func(t *testing.T) {
			requireProblem(t, a.do("GET", "/v1/audit", insp, nil), 403)
			requireProblem(t, a.do("GET", "/v1/audit/head", insp, nil), 403)
			requireProblem(t, a.do("GET", "/v1/audit", "", nil), 401)
		})
	})
}
