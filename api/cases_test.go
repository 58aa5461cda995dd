package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/api"
)

// caseWorld is a county with a case's cast: two administrators, the
// accountable township's officer, an officer of another township, the
// reach's chief and the inspector who found the problem.
type caseWorld struct {
	a                                         *testAPI
	admin, admin2, officer, other, chief, ins string // tokens
	ids                                       map[string]string
	evidence                                  api.Evidence // river-lh03.jpg: LH-03, township 130227106
}

const lh03Township = "130227106"

func newCaseWorld(t *testing.T, a *testAPI) *caseWorld {
	t.Helper()
	a.importDemoCounty()
	w := &caseWorld{a: a, ids: map[string]string{}}
	for _, u := range []struct{ name, role, township string }{
		{"c.admin", "admin", ""}, {"c.admin2", "admin", ""}, {"c.officer", "township_officer", lh03Township},
		{"c.other", "township_officer", townshipA}, {"c.chief", "river_chief", ""}, {"c.ins", "inspector", lh03Township},
	} {
		var ts []string
		if u.township != "" {
			ts = []string{u.township}
		}
		w.ids[u.name] = a.mustUser(u.name, u.role, pw, ts...)
	}
	w.login()
	r := a.do("PUT", "/v1/reaches/LH-03/chiefs", w.admin, []map[string]any{{"user_id": w.ids["c.chief"], "level": "village"}})
	if r.status != http.StatusOK {
		t.Fatalf("set chiefs: %d %s", r.status, r.body)
	}
	w.evidence = a.mustUpload(w.ins, uniquePhoto(t, "river-lh03.jpg", 1), map[string]any{"category": "river_section"})
	return w
}

// advance moves the clock and logs everyone in again: access tokens
// live 15 minutes.
func (w *caseWorld) advance(d time.Duration) {
	w.a.clock.Advance(d)
	w.login()
}

// login (again, after the clock jumps past the tokens' lifetime).
func (w *caseWorld) login() {
	for name, tok := range map[string]*string{"c.admin": &w.admin, "c.admin2": &w.admin2, "c.officer": &w.officer,
		"c.other": &w.other, "c.chief": &w.chief, "c.ins": &w.ins} {
		*tok, _ = w.a.login(name, pw)
	}
}

func (w *caseWorld) open(t *testing.T, body map[string]any) api.Case {
	t.Helper()
	r := w.a.do("POST", "/v1/cases", w.admin, body)
	if r.status != http.StatusCreated {
		t.Fatalf("open case: %d %s", r.status, r.body)
	}
	var c api.Case
	r.json(t, &c)
	return c
}

// transition sends an action with a fresh Idempotency-Key (or key).
func (w *caseWorld) transition(token, caseID string, body map[string]any, key ...string) response {
	k := uuid.NewString()
	if len(key) > 0 {
		k = key[0]
	}
	return w.a.do("POST", "/v1/cases/"+caseID+"/transitions", token, body, "Idempotency-Key", k)
}

// fix uploads a rectification photo as token's user: no EXIF, so the
// position and time are the phone's.
func (w *caseWorld) fix(t *testing.T, token string, n int, lon, lat float64, captured time.Time) string {
	t.Helper()
	e := w.a.mustUpload(token, uniquePhoto(t, "no-exif.jpg", n), map[string]any{
		"category": "river_section", "captured_at": captured.Format(time.RFC3339),
		"device_location": map[string]any{"lon": lon, "lat": lat, "accuracy_m": 5},
	})
	return e.Id.String()
}

func getCase(t *testing.T, a *testAPI, token, id string) api.CaseDetail {
	t.Helper()
	r := a.do("GET", "/v1/cases/"+id, token, nil)
	if r.status != http.StatusOK {
		t.Fatalf("get case: %d %s", r.status, r.body)
	}
	var d api.CaseDetail
	r.json(t, &d)
	return d
}

func actions(as []api.CaseAction) string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, string(a))
	}
	return strings.Join(out, ",")
}

// TestCaseLifecycle drives a case through HTTP from evidence to verified
// closure and reopening, with every refusal on the way.
func TestCaseLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		w := newCaseWorld(t, a)
		w.advance(time.Hour) // 2026-11-28 (Saturday) 10:00 UTC
		c := w.open(t, map[string]any{"evidence_ids": []string{w.evidence.Id.String()}, "title": "滦河 LH-03 段岸边垃圾",
			"category": "river_section", "severity": "medium", "note": "请十个工作日内清理"})

		// Prefilled from the evidence's responsibility record; 10 working
		// days from a Saturday end on Friday 11 December, 24:00 in China.
		if c.TownshipCode != lh03Township || c.ReachCode == nil || *c.ReachCode != "LH-03" || c.State != "open" {
			t.Fatalf("case %+v", c)
		}
		if len(c.Chiefs) != 1 || c.Chiefs[0].UserId.String() != w.ids["c.chief"] {
			t.Fatalf("chiefs %+v", c.Chiefs)
		}
		if want := time.Date(2026, 12, 11, 15, 59, 59, 999999000, time.UTC); !c.Deadline.Equal(want) || c.DeadlineExplicit {
			t.Fatalf("deadline %v (explicit %v), want %v", c.Deadline, c.DeadlineExplicit, want)
		}
		id := c.Id.String()

		// Scope: the other township's officer sees nothing, exactly as if
		// the case did not exist; the inspector sees it through the evidence.
		for _, r := range []response{
			a.do("GET", "/v1/cases/"+id, w.other, nil),
			w.transition(w.other, id, map[string]any{"action": "start"}),
			a.do("POST", "/v1/cases/"+id+"/comments", w.other, map[string]any{"body": "?"}),
			a.do("GET", "/v1/cases/"+uuid.NewString(), w.other, nil),
		} {
			requireProblem(t, r, http.StatusNotFound)
		}
		for tok, want := range map[string]int{w.other: 0, w.ins: 1, w.officer: 1, w.chief: 1, w.admin: 1} {
			var page api.CasePage
			a.do("GET", "/v1/cases", tok, nil).json(t, &page)
			if len(page.Items) != want {
				t.Fatalf("list: %d cases, want %d", len(page.Items), want)
			}
		}
		if d := getCase(t, a, w.ins, id); len(d.AllowedActions) != 0 {
			t.Fatalf("inspector may %v", d.AllowedActions)
		}

		// An illegal transition names what is allowed instead.
		p := requireProblem(t, w.transition(w.admin, id, map[string]any{"action": "verify"}), http.StatusConflict)
		if p.AllowedActions == nil || actions(*p.AllowedActions) != "start" {
			t.Fatalf("allowed %v", p.AllowedActions)
		}
		requireProblem(t, w.transition(w.ins, id, map[string]any{"action": "start"}), http.StatusForbidden)

		// Start, and a retry of it: applied once.
		key := uuid.NewString()
		for range 2 {
			r := w.transition(w.officer, id, map[string]any{"action": "start", "note": "已安排保洁队"}, key)
			if r.status != http.StatusOK {
				t.Fatalf("start: %d %s", r.status, r.body)
			}
		}
		requireProblem(t, w.transition(w.officer, id, map[string]any{"action": "start", "note": "different"}, key), http.StatusUnprocessableEntity)
		if r := a.do("POST", "/v1/cases/"+id+"/comments", w.chief, map[string]any{"body": "村级河长已到场"}); r.status != http.StatusCreated {
			t.Fatalf("comment: %d %s", r.status, r.body)
		}

		// Rectification evidence must be new and taken at the place.
		w.advance(time.Hour)
		now := a.clock.Now()
		far := w.fix(t, w.officer, 1, 118.29, 40.2534, now.Add(-time.Minute))                                          // ≈1 km east
		early := w.fix(t, w.officer, 2, 118.2779, 40.25336, c.OpenedAt.Add(-time.Minute))                              // before the case
		near := w.fix(t, w.officer, 3, 118.27790, 40.25340, now.Add(-time.Minute))                                     // ≈10 m
		foreign := a.mustUpload(w.other, uniquePhoto(t, "dust-xingcheng.jpg", 9), map[string]any{"category": "other"}) // not the officer's
		for _, tc := range []struct {
			ids    []string
			reason string
		}{
			{[]string{far}, "m from the original evidence; the limit is 100 m"},
			{[]string{early}, "before the case opened"},
			{[]string{near, foreign.Id.String()}, "no such evidence"},
			{[]string{w.evidence.Id.String()}, "the case's own evidence"},
		} {
			p := requireProblem(t, w.transition(w.officer, id, map[string]any{"action": "submit_rectification", "evidence_ids": tc.ids}),
				http.StatusUnprocessableEntity)
			if p.Fields == nil || !strings.Contains((*p.Fields)[0].Reason, tc.reason) {
				t.Fatalf("refusal of %v: %s", tc.ids, mustJSON(p))
			}
		}
		requireProblem(t, w.transition(w.officer, id, map[string]any{"action": "submit_rectification", "evidence_ids": []string{far},
			"override_reason": "GPS drift"}), http.StatusForbidden)
		r := w.transition(w.officer, id, map[string]any{"action": "submit_rectification", "evidence_ids": []string{near}, "note": "已清理"})
		if r.status != http.StatusOK {
			t.Fatalf("submit: %d %s", r.status, r.body)
		}

		// Four eyes: not the officer (role) and an administrator may verify.
		requireProblem(t, w.transition(w.officer, id, map[string]any{"action": "verify"}), http.StatusForbidden)
		requireProblem(t, w.transition(w.admin, id, map[string]any{"action": "return"}), http.StatusUnprocessableEntity) // needs a note
		r = w.transition(w.admin2, id, map[string]any{"action": "verify", "note": "现场照片确认已清理"})
		if r.status != http.StatusOK {
			t.Fatalf("verify: %d %s", r.status, r.body)
		}
		var closed api.Case
		r.json(t, &closed)
		if closed.State != "closed" || closed.VerifiedBy.String() != w.ids["c.admin2"] || closed.SubmittedBy.String() != w.ids["c.officer"] ||
			closed.ClosedAt == nil || len(closed.RectificationEvidenceIds) != 1 || closed.RectificationEvidenceIds[0].String() != near {
			t.Fatalf("closed case %s", mustJSON(closed))
		}
		if actions(closed.AllowedActions) != "reopen" {
			t.Fatalf("after closing admin2 may %v", closed.AllowedActions)
		}

		d := getCase(t, a, w.officer, id)
		var kinds []string
		for _, ev := range d.Timeline {
			k := string(ev.Kind)
			if ev.Action != nil {
				k = string(*ev.Action)
			}
			kinds = append(kinds, k)
		}
		if got := strings.Join(kinds, " "); got != "opened start comment submit_rectification verify" {
			t.Fatalf("timeline %q", got)
		}

		// Recurrence, days later: reopened with a fresh deadline from now.
		w.advance(72 * time.Hour)
		r = w.transition(w.admin, id, map[string]any{"action": "reopen", "note": "复发"})
		var reopened api.Case
		r.json(t, &reopened)
		if r.status != http.StatusOK || reopened.State != "reopened" || !reopened.Deadline.After(c.Deadline) || reopened.ClosedAt != nil {
			t.Fatalf("reopen: %d %s", r.status, r.body)
		}
		checkCaseAudit(t, a, id, []string{"case.opened", "case.start", "case.comment", "case.submit_rectification", "case.verify", "case.reopen"})
	})
}

// TestCaseSelfVerificationAndOverride: an administrator who submits a
// rectification (here overriding the distance rule, which the audit trail
// records) cannot also verify it.
func TestCaseSelfVerificationAndOverride(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		w := newCaseWorld(t, a)
		c := w.open(t, map[string]any{"evidence_ids": []string{w.evidence.Id.String()}, "title": "LH-03 排污口",
			"category": "river_section", "severity": "high"})
		id := c.Id.String()
		a.clock.Advance(time.Minute)
		far := w.fix(t, w.admin, 4, 118.29, 40.2534, a.clock.Now())
		for _, body := range []map[string]any{
			{"action": "start"},
			{"action": "submit_rectification", "evidence_ids": []string{far}, "override_reason": "排污口已封堵，照片在对岸拍摄"},
		} {
			if r := w.transition(w.admin, id, body); r.status != http.StatusOK {
				t.Fatalf("%v: %d %s", body["action"], r.status, r.body)
			}
		}
		p := requireProblem(t, w.transition(w.admin, id, map[string]any{"action": "verify"}), http.StatusForbidden)
		if p.Detail == nil || !strings.Contains(*p.Detail, "four eyes") {
			t.Fatalf("detail %v", p.Detail)
		}
		if d := getCase(t, a, w.admin, id); slices.Contains(d.AllowedActions, "verify") {
			t.Fatalf("submitter offered verify: %v", d.AllowedActions)
		}
		if r := w.transition(w.admin2, id, map[string]any{"action": "verify"}); r.status != http.StatusOK {
			t.Fatalf("verify by the second administrator: %d %s", r.status, r.body)
		}
		evs, err := a.db.AuditEvents(context.Background(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ev := range evs {
			if ev.Action == "case.submit_rectification" && ev.ObjectID == id && strings.Contains(string(ev.Data), "照片在对岸拍摄") &&
				ev.ActorID == w.ids["c.admin"] {
				found = true
			}
		}
		if !found {
			t.Fatal("the override is not in the audit trail")
		}
	})
}

// TestCaseDeadlinesAndEscalation moves the clock past a case's deadline
// and runs the deadline job: reminder, overdue (township head), county.
func TestCaseDeadlinesAndEscalation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		w := newCaseWorld(t, a)
		// Saturday 09:00 UTC; open burning, high: 1 working day → end of
		// Monday 30 November in China (15:59:59.999999Z).
		c := w.open(t, map[string]any{"evidence_ids": []string{w.evidence.Id.String()}, "title": "秸秆焚烧",
			"category": "open_burning", "severity": "high"})
		if want := time.Date(2026, 11, 30, 15, 59, 59, 999999000, time.UTC); !c.Deadline.Equal(want) {
			t.Fatalf("deadline %v, want %v", c.Deadline, want)
		}
		explicit := w.open(t, map[string]any{"evidence_ids": []string{w.evidence.Id.String()}, "title": "定期限",
			"category": "dust_site", "severity": "low", "deadline": "2027-03-01T00:00:00Z"})
		if !explicit.DeadlineExplicit || !explicit.Deadline.Equal(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("explicit deadline %+v", explicit)
		}
		requireProblem(t, a.do("POST", "/v1/cases", w.admin, map[string]any{"evidence_ids": []string{w.evidence.Id.String()},
			"title": "x", "category": "other", "severity": "low", "deadline": "2020-01-01T00:00:00Z"}), http.StatusUnprocessableEntity)

		id := c.Id.String()
		steps := []struct {
			at       time.Time
			want     string
			overdue  bool
			nOverdue int // cases listed with ?overdue=true
		}{
			{time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), "reminder", false, 0}, // Sat: due end of Mon, one working day
			{time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC), "township_head", true, 1},
			{time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC), "township_head", true, 1}, // 6 working days overdue
			{time.Date(2026, 12, 9, 1, 0, 0, 0, time.UTC), "county", true, 1},        // 7
		}
		for _, s := range steps {
			w.advance(s.at.Sub(a.clock.Now()))
			if _, err := a.cases.Sweep(context.Background()); err != nil {
				t.Fatal(err)
			}
			d := getCase(t, a, w.officer, id)
			if string(d.Escalation) != s.want || (d.OverdueSince != nil) != s.overdue {
				t.Fatalf("at %v: escalation %s, overdue since %v", s.at, d.Escalation, d.OverdueSince)
			}
			if s.overdue && !d.OverdueSince.Equal(c.Deadline) {
				t.Fatalf("overdue since %v, want the deadline %v", d.OverdueSince, c.Deadline)
			}
			var page api.CasePage
			a.do("GET", "/v1/cases?overdue=true", w.officer, nil).json(t, &page)
			if len(page.Items) != s.nOverdue {
				t.Fatalf("at %v: %d overdue cases listed, want %d", s.at, len(page.Items), s.nOverdue)
			}
		}
		d := getCase(t, a, w.admin, id)
		var got []string
		for _, ev := range d.Timeline {
			if ev.Escalation != nil {
				got = append(got, string(*ev.Escalation))
			} else {
				got = append(got, string(ev.Kind))
			}
		}
		if strings.Join(got, " ") != "opened reminder overdue township_head county" {
			t.Fatalf("timeline %v", got)
		}
		// Submitting late keeps the record of lateness; the job leaves a
		// submitted case alone.
		w.transition(w.officer, id, map[string]any{"action": "start"})
		if d := getCase(t, a, w.officer, id); d.OverdueSince == nil || d.State != "in_progress" {
			t.Fatalf("after start: %+v", d)
		}
	})
}

// checkCaseAudit asserts the case's audit entries, in order, by the
// acting users, and that the whole chain verifies.
func checkCaseAudit(t *testing.T, a *testAPI, caseID string, want []string) {
	t.Helper()
	ctx := context.Background()
	evs, err := a.db.AuditEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		if ev.ObjectType == "case" && ev.ObjectID == caseID {
			if ev.ActorID == "" {
				t.Errorf("audit %s has no actor", ev.Action)
			}
			got = append(got, ev.Action)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("audit %v, want %v", got, want)
	}
	if broken, _, err := a.db.VerifyAudit(ctx); err != nil || broken != 0 {
		t.Fatalf("audit chain: first broken %d, %v", broken, err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
