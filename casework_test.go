package fieldwatch_test

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
)

var cst = time.FixedZone("CST", 8*3600)

// caseT0 is a Friday morning in the county: a dust_site case of high
// severity opened then is due at the end of the third working day, the
// Wednesday after.
var (
	caseT0       = time.Date(2026, 11, 27, 9, 0, 0, 0, cst)
	caseDeadline = time.Date(2026, 12, 2, 23, 59, 59, 999999999, cst)
)

// The actors of the casework tests.
var (
	admin     = fieldwatch.Actor{UserID: "u-admin", Role: fieldwatch.RoleAdmin}
	admin2    = fieldwatch.Actor{UserID: "u-admin2", Role: fieldwatch.RoleAdmin}
	officer   = fieldwatch.Actor{UserID: "u-off", Role: fieldwatch.RoleTownshipOfficer, Townships: []string{"130227106"}}
	stranger  = fieldwatch.Actor{UserID: "u-x", Role: fieldwatch.RoleTownshipOfficer, Townships: []string{"130227101"}}
	chief     = fieldwatch.Actor{UserID: "u-chief", Role: fieldwatch.RoleRiverChief, Reaches: []string{"LH-03"}}
	inspector = fieldwatch.Actor{UserID: "u-ins", Role: fieldwatch.RoleInspector}
)

// site is where the case's evidence was taken, on reach LH-03.
var site = geo.Point{Lon: 118.27779, Lat: 40.253348}

// caseRig is casework over the fakes on a test clock, with one township
// (130227106), one reach on it (LH-03) with a chief, and evidence:
// ev-001 the problem, ev-002 a photo of the fix 30 m away.
type caseRig struct {
	w      *fieldwatch.Casework
	cases  *fakeCases
	ev     *fakeEvidence
	places *fakePlaces
	clock  *testclock.Clock
	log    *bytes.Buffer
}

func newCaseRig(t *testing.T, rules fieldwatch.CaseRules) *caseRig {
	t.Helper()
	ctx := t.Context()
	r := &caseRig{cases: newFakeCases(), ev: newFakeEvidence(), places: newFakePlaces(fieldwatch.User{ID: "u-chief", DisplayName: "王河长"}),
		clock: testclock.New(caseT0.UTC()), log: &bytes.Buffer{}}
	from := caseT0.Add(-30 * 24 * time.Hour)
	if _, err := r.places.ImportTownships(ctx, []fieldwatch.Township{{Code: "130227106", Name: "洒河桥镇"}, {Code: "130227101", Name: "兴城镇"}}, from); err != nil {
		t.Fatal(err)
	}
	if _, err := r.places.ImportReaches(ctx, []fieldwatch.Reach{{Code: "LH-03", TownshipCode: "130227106"}}, from); err != nil {
		t.Fatal(err)
	}
	if err := r.places.SetReachChiefs(ctx, "LH-03", []fieldwatch.ChiefAssignment{{UserID: "u-chief", Level: fieldwatch.ChiefVillage, ValidFrom: from}}, from); err != nil {
		t.Fatal(err)
	}
	fix := geo.Point{Lon: site.Lon + 0.0003, Lat: site.Lat} // about 25 m east
	r.ev.add(
		fieldwatch.Evidence{ID: "ev-001", UploaderID: "u-ins", Category: fieldwatch.CategoryDustSite, TownshipCode: "130227106", ReachCode: "LH-03",
			Location: &site, CapturedAt: ptrTime(caseT0.Add(-time.Hour)), ReceivedAt: caseT0.Add(-time.Hour)},
		fieldwatch.Evidence{ID: "ev-002", UploaderID: "u-off", Category: fieldwatch.CategoryDustSite, TownshipCode: "130227106", ReachCode: "LH-03",
			Location: &fix, CapturedAt: ptrTime(caseT0.Add(48 * time.Hour)), ReceivedAt: caseT0.Add(48 * time.Hour)},
	)
	rules.Clock = r.clock.Now
	rules.Logger = slog.New(slog.NewTextHandler(r.log, nil))
	r.w = fieldwatch.NewCasework(r.cases, r.ev, r.places, rules)
	return r
}

func (r *caseRig) open(t *testing.T) fieldwatch.Case {
	t.Helper()
	c, err := r.w.Open(t.Context(), admin, fieldwatch.CaseRequest{EvidenceIDs: []string{"ev-001"}, Title: "工地未覆盖",
		Category: fieldwatch.CategoryDustSite, Severity: fieldwatch.SeverityHigh, Note: "cover the heaps"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (r *caseRig) move(t *testing.T, a fieldwatch.Actor, id string, tr fieldwatch.Transition) fieldwatch.Case {
	t.Helper()
	if tr.Key == "" {
		tr.Key = string(tr.Action) + "-" + a.UserID + "-" + r.clock.Now().String()
	}
	c, err := r.w.Transition(t.Context(), a, id, tr)
	if err != nil {
		t.Fatalf("%s by %s: %v", tr.Action, a.UserID, err)
	}
	return c
}

func TestCaseworkOpen(t *testing.T) {
	r := newCaseRig(t, fieldwatch.CaseRules{})
	c := r.open(t)
	want := fieldwatch.Case{ID: "case-1", Title: "工地未覆盖", Category: fieldwatch.CategoryDustSite, Severity: fieldwatch.SeverityHigh, State: fieldwatch.CaseOpen,
		TownshipCode: "130227106", ReachCode: "LH-03", EvidenceIDs: []string{"ev-001"}, Uploaders: []string{"u-ins"},
		OpenedBy: "u-admin", Escalation: fieldwatch.EscalationNone, Version: 1}
	if c.ID != want.ID || c.Title != want.Title || c.State != want.State || c.TownshipCode != want.TownshipCode || c.ReachCode != want.ReachCode ||
		!slices.Equal(c.EvidenceIDs, want.EvidenceIDs) || !slices.Equal(c.Uploaders, want.Uploaders) || c.OpenedBy != want.OpenedBy ||
		c.Escalation != want.Escalation || c.Version != want.Version {
		t.Fatalf("opened %+v", c)
	}
	if !c.Deadline.Equal(caseDeadline) || c.DeadlineExplicit || !c.OpenedAt.Equal(caseT0) || !c.CycleStart.Equal(caseT0) {
		t.Errorf("deadline %v (explicit %v), opened %v", c.Deadline.In(cst), c.DeadlineExplicit, c.OpenedAt)
	}
	if len(c.Chiefs) != 1 || c.Chiefs[0].UserID != "u-chief" {
		t.Errorf("chiefs %+v", c.Chiefs)
	}
	_, evs, err := r.w.Get(t.Context(), officer, c.ID)
	if err != nil || len(evs) != 1 || evs[0].Kind != fieldwatch.CaseEventOpened || evs[0].Note != "cover the heaps" || evs[0].To != fieldwatch.CaseOpen {
		t.Fatalf("timeline %+v, %v", evs, err)
	}

	t.Run("ExplicitDeadline", func(t *testing.T) {
		due := caseT0.Add(24 * time.Hour)
		c, err := r.w.Open(t.Context(), admin, fieldwatch.CaseRequest{EvidenceIDs: []string{"ev-001"}, Title: "t", Category: fieldwatch.CategoryOpenBurning,
			Severity: fieldwatch.SeverityLow, TownshipCode: "130227101", Deadline: &due})
		if err != nil || !c.Deadline.Equal(due) || !c.DeadlineExplicit || c.TownshipCode != "130227101" || c.ReachCode != "LH-03" {
			t.Fatalf("%+v, %v", c, err)
		}
	})

	good := fieldwatch.CaseRequest{EvidenceIDs: []string{"ev-001"}, Title: "t", Category: fieldwatch.CategoryDustSite, Severity: fieldwatch.SeverityLow}
	past := caseT0.Add(-time.Minute)
	tests := []struct {
		name  string
		actor fieldwatch.Actor
		edit  func(*fieldwatch.CaseRequest)
		want  error
	}{
		{"ErrForbidden", officer, func(*fieldwatch.CaseRequest) {}, fieldwatch.ErrForbidden},
		{"ErrInvalid_Title", admin, func(q *fieldwatch.CaseRequest) { q.Title = " \u200b " }, fieldwatch.ErrInvalid},
		{"ErrInvalid_TitleUTF8", admin, func(q *fieldwatch.CaseRequest) { q.Title = "\xff" }, fieldwatch.ErrInvalid},
		{"ErrInvalid_Note", admin, func(q *fieldwatch.CaseRequest) { q.Note = strings.Repeat("n", 2001) }, fieldwatch.ErrInvalid},
		{"ErrInvalid_Severity", admin, func(q *fieldwatch.CaseRequest) { q.Severity = "urgent" }, fieldwatch.ErrInvalid},
		{"ErrInvalid_Category", admin, func(q *fieldwatch.CaseRequest) { q.Category = "noise" }, fieldwatch.ErrInvalid},
		{"ErrInvalid_NoEvidence", admin, func(q *fieldwatch.CaseRequest) { q.EvidenceIDs = nil }, fieldwatch.ErrInvalid},
		{"ErrInvalid_MissingEvidence", admin, func(q *fieldwatch.CaseRequest) { q.EvidenceIDs = []string{"ev-001", "ev-404"} }, fieldwatch.ErrInvalid},
		{"ErrInvalid_Township", admin, func(q *fieldwatch.CaseRequest) { q.TownshipCode = "999999999" }, fieldwatch.ErrInvalid},
		{"ErrInvalid_Reach", admin, func(q *fieldwatch.CaseRequest) { q.ReachCode = "XX-01" }, fieldwatch.ErrInvalid},
		{"ErrInvalid_Nowhere", admin, func(q *fieldwatch.CaseRequest) { q.EvidenceIDs = []string{"ev-003"} }, fieldwatch.ErrInvalid},
		{"ErrInvalid_DeadlinePassed", admin, func(q *fieldwatch.CaseRequest) { q.Deadline = &past }, fieldwatch.ErrInvalid},
	}
	r.ev.add(fieldwatch.Evidence{ID: "ev-003", UploaderID: "u-ins"}) // outside every township and reach
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := good
			tc.edit(&q)
			_, err := r.w.Open(t.Context(), tc.actor, q)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("EvidenceError", func(t *testing.T) {
		q := good
		q.EvidenceIDs = []string{"ev-001", "ev-404"}
		_, err := r.w.Open(t.Context(), admin, q)
		var ee *fieldwatch.EvidenceError
		if !errors.As(err, &ee) || len(ee.Problems) != 1 || ee.Problems[0].Index != 1 || err.Error() != "evidence_ids/1: no such evidence" {
			t.Fatalf("%v", err)
		}
	})
}

func TestCaseworkScope(t *testing.T) {
	r := newCaseRig(t, fieldwatch.CaseRules{})
	c := r.open(t)
	for _, tc := range []struct {
		actor fieldwatch.Actor
		sees  bool
	}{{admin, true}, {officer, true}, {chief, true}, {inspector, true}, {stranger, false}} {
		t.Run(tc.actor.UserID, func(t *testing.T) {
			_, _, err := r.w.Get(t.Context(), tc.actor, c.ID)
			if tc.sees != (err == nil) || (!tc.sees && !errors.Is(err, fieldwatch.ErrNotFound)) {
				t.Fatalf("Get: %v", err)
			}
			list, err := r.w.List(t.Context(), tc.actor, fieldwatch.CaseFilter{})
			if err != nil || tc.sees != (len(list) == 1) {
				t.Fatalf("List: %d cases, %v", len(list), err)
			}
			_, err = r.w.Comment(t.Context(), tc.actor, c.ID, "seen")
			if tc.sees != (err == nil) {
				t.Fatalf("Comment: %v", err)
			}
		})
	}
	if _, _, err := r.w.Get(t.Context(), admin, "case-404"); !errors.Is(err, fieldwatch.ErrNotFound) {
		t.Fatalf("a missing case: %v", err)
	}
	for _, body := range []string{" ", "\xff"} {
		if _, err := r.w.Comment(t.Context(), admin, c.ID, body); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Fatalf("comment %q: %v", body, err)
		}
	}
	ev, err := r.w.Comment(t.Context(), officer, c.ID, "  on it\n")
	if err != nil || ev.Kind != fieldwatch.CaseEventComment || ev.Note != "on it" || ev.ActorID != "u-off" || ev.Seq == 0 {
		t.Fatalf("%+v, %v", ev, err)
	}
}

// TestCaseworkLifecycle walks a case round the state machine through the
// service: start, submit the fix, return it, submit again, verify, reopen.
func TestCaseworkLifecycle(t *testing.T) {
	r := newCaseRig(t, fieldwatch.CaseRules{})
	c := r.open(t)
	r.clock.Advance(time.Hour)
	c = r.move(t, officer, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionStart})
	if c.State != fieldwatch.CaseInProgress || c.Version != 2 {
		t.Fatalf("started: %s v%d", c.State, c.Version)
	}
	r.clock.Advance(48 * time.Hour)
	c = r.move(t, chief, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionSubmitRectification, EvidenceIDs: []string{"ev-002"}, Note: "covered"})
	if c.State != fieldwatch.CaseRectificationSubmitted || c.SubmittedBy != "u-chief" || !slices.Equal(c.RectificationEvidenceIDs, []string{"ev-002"}) {
		t.Fatalf("submitted: %+v", c)
	}
	if got := admin.AllowedActions(c); !slices.Equal(got, []fieldwatch.CaseAction{fieldwatch.ActionVerify, fieldwatch.ActionReturn}) {
		t.Fatalf("the admin may %v", got)
	}
	c = r.move(t, admin, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionReturn, Note: "the east heap is bare"})
	c = r.move(t, officer, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionStart})
	c = r.move(t, admin, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionSubmitRectification, EvidenceIDs: []string{"ev-002"}})
	if _, err := r.w.Transition(t.Context(), admin, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionVerify, Key: "four-eyes"}); !errors.Is(err, fieldwatch.ErrForbidden) {
		t.Fatalf("the submitter verifying: %v", err)
	}
	c = r.move(t, admin2, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionVerify})
	if c.State != fieldwatch.CaseClosed || c.VerifiedBy != "u-admin2" || c.ClosedAt == nil {
		t.Fatalf("verified: %+v", c)
	}
	r.clock.Advance(24 * time.Hour)
	c = r.move(t, admin, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionReopen, Note: "dust again"})
	if c.State != fieldwatch.CaseReopened || c.ClosedAt != nil || c.SubmittedBy != "" || c.RectificationEvidenceIDs != nil ||
		!c.CycleStart.Equal(r.clock.Now()) || !c.Deadline.After(r.clock.Now()) || c.Escalation != fieldwatch.EscalationNone {
		t.Fatalf("reopened: %+v", c)
	}
	_, evs, err := r.w.Get(t.Context(), admin, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, ev := range evs {
		steps = append(steps, string(ev.To))
	}
	if got := strings.Join(steps, ","); got != "open,in_progress,rectification_submitted,returned,in_progress,rectification_submitted,closed,reopened" {
		t.Fatalf("timeline %s", got)
	}
}

func TestCaseworkTransitionRefusals(t *testing.T) {
	ctx := t.Context()
	r := newCaseRig(t, fieldwatch.CaseRules{})
	c := r.open(t)
	refuse := func(t *testing.T, a fieldwatch.Actor, tr fieldwatch.Transition, want error) error {
		t.Helper()
		if tr.Key == "" {
			tr.Key = t.Name()
		}
		_, err := r.w.Transition(ctx, a, c.ID, tr)
		if !errors.Is(err, want) {
			t.Fatalf("got %v, want %v", err, want)
		}
		return err
	}
	t.Run("ErrInvalid_NoKey", func(t *testing.T) {
		_, err := r.w.Transition(ctx, admin, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionStart})
		if !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Fatal(err)
		}
	})
	t.Run("ErrInvalid_Action", func(t *testing.T) { refuse(t, admin, fieldwatch.Transition{Action: "close"}, fieldwatch.ErrInvalid) })
	t.Run("ErrConflict_State", func(t *testing.T) {
		err := refuse(t, officer, fieldwatch.Transition{Action: fieldwatch.ActionVerify}, fieldwatch.ErrConflict)
		var te *fieldwatch.TransitionError
		if !errors.As(err, &te) || te.State != fieldwatch.CaseOpen || !slices.Equal(te.Allowed, []fieldwatch.CaseAction{fieldwatch.ActionStart}) ||
			err.Error() != "a case in state open cannot verify" {
			t.Fatalf("%#v", err)
		}
	})
	t.Run("ErrForbidden_Role", func(t *testing.T) {
		refuse(t, inspector, fieldwatch.Transition{Action: fieldwatch.ActionStart}, fieldwatch.ErrForbidden)
	})
	t.Run("ErrNotFound_Scope", func(t *testing.T) {
		refuse(t, stranger, fieldwatch.Transition{Action: fieldwatch.ActionStart}, fieldwatch.ErrNotFound)
	})
	t.Run("ErrInvalid_EvidenceWithStart", func(t *testing.T) {
		refuse(t, officer, fieldwatch.Transition{Action: fieldwatch.ActionStart, EvidenceIDs: []string{"ev-002"}}, fieldwatch.ErrInvalid)
	})
	t.Run("ErrInvalid_NoteUTF8", func(t *testing.T) {
		refuse(t, officer, fieldwatch.Transition{Action: fieldwatch.ActionStart, Note: "\xff"}, fieldwatch.ErrInvalid)
	})

	c = r.move(t, officer, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionStart})
	r.clock.Advance(72 * time.Hour)
	t.Run("ErrForbidden_Override", func(t *testing.T) {
		refuse(t, officer, fieldwatch.Transition{Action: fieldwatch.ActionSubmitRectification, EvidenceIDs: []string{"ev-002"}, OverrideReason: "trust me"}, fieldwatch.ErrForbidden)
	})
	t.Run("ErrInvalid_OverrideUTF8", func(t *testing.T) {
		refuse(t, admin, fieldwatch.Transition{Action: fieldwatch.ActionSubmitRectification, EvidenceIDs: []string{"ev-002"}, OverrideReason: "\xff"}, fieldwatch.ErrInvalid)
	})
	t.Run("ErrInvalid_NoEvidence", func(t *testing.T) {
		refuse(t, officer, fieldwatch.Transition{Action: fieldwatch.ActionSubmitRectification}, fieldwatch.ErrInvalid)
	})

	// Rectification evidence that breaks the rules, one problem each.
	far := geo.Point{Lon: site.Lon + 0.01, Lat: site.Lat} // about 850 m
	r.ev.add(
		fieldwatch.Evidence{ID: "ev-untimed", UploaderID: "u-off", Location: &site},
		fieldwatch.Evidence{ID: "ev-early", UploaderID: "u-off", Location: &site, CapturedAt: ptrTime(caseT0.Add(-time.Minute))},
		fieldwatch.Evidence{ID: "ev-nowhere", UploaderID: "u-off", CapturedAt: ptrTime(caseT0.Add(time.Hour))},
		fieldwatch.Evidence{ID: "ev-far", UploaderID: "u-off", Location: &far, CapturedAt: ptrTime(caseT0.Add(time.Hour))},
		fieldwatch.Evidence{ID: "ev-hidden", UploaderID: "u-x", TownshipCode: "130227101", Location: &site, CapturedAt: ptrTime(caseT0.Add(time.Hour))},
	)
	ids := []string{"ev-404", "ev-hidden", "ev-001", "ev-untimed", "ev-early", "ev-nowhere", "ev-far"}
	err := refuse(t, officer, fieldwatch.Transition{Action: fieldwatch.ActionSubmitRectification, EvidenceIDs: ids}, fieldwatch.ErrInvalid)
	var ee *fieldwatch.EvidenceError
	if !errors.As(err, &ee) {
		t.Fatalf("%T", err)
	}
	var got []string
	for _, p := range ee.Problems {
		got = append(got, p.ID+":"+strings.Fields(p.Reason)[0]+":"+map[bool]string{true: "o", false: "-"}[p.Overridable])
	}
	want := "ev-404:no:- ev-hidden:no:- ev-001:this:- ev-untimed:the:o ev-early:captured:o ev-nowhere:the:o ev-far:taken:o"
	if strings.Join(got, " ") != want {
		t.Fatalf("problems\n %s\nwant\n %s", strings.Join(got, " "), want)
	}

	// An administrator may accept evidence breaking a rule of time or
	// distance, with a reason, never a missing item.
	refuse(t, admin, fieldwatch.Transition{Action: fieldwatch.ActionSubmitRectification, EvidenceIDs: []string{"ev-404", "ev-far"}, OverrideReason: "flooded road"}, fieldwatch.ErrInvalid)
	c = r.move(t, admin, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionSubmitRectification, EvidenceIDs: []string{"ev-far", "ev-untimed"}, OverrideReason: "flooded road"})
	_, evs, _ := r.w.Get(ctx, admin, c.ID)
	if last := evs[len(evs)-1]; last.OverrideReason != "flooded road" || !slices.Equal(last.EvidenceIDs, []string{"ev-far", "ev-untimed"}) {
		t.Fatalf("override not recorded: %+v", last)
	}
	t.Run("ErrInvalid_ReturnWithoutNote", func(t *testing.T) {
		refuse(t, admin2, fieldwatch.Transition{Action: fieldwatch.ActionReturn, Note: "  "}, fieldwatch.ErrInvalid)
	})
	t.Run("OriginWithoutLocation", func(t *testing.T) {
		r := newCaseRig(t, fieldwatch.CaseRules{})
		r.ev.update("ev-001", func(e *fieldwatch.Evidence) { e.Location = nil })
		c := r.open(t)
		c = r.move(t, officer, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionStart})
		_, err := r.w.Transition(ctx, officer, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionSubmitRectification, EvidenceIDs: []string{"ev-002"}, Key: "k"})
		if !errors.As(err, &ee) || !strings.Contains(ee.Problems[0].Reason, "no location to compare") {
			t.Fatalf("%v", err)
		}
	})
}

// TestCaseworkIdempotency: a retried transition answers the case as it
// is without applying the action twice; its key names one transition.
func TestCaseworkIdempotency(t *testing.T) {
	ctx := t.Context()
	r := newCaseRig(t, fieldwatch.CaseRules{})
	c := r.open(t)
	tr := fieldwatch.Transition{Action: fieldwatch.ActionStart, Note: "going", Key: "k1"}
	first := r.move(t, officer, c.ID, tr)
	again, err := r.w.Transition(ctx, officer, c.ID, tr)
	if err != nil || again.Version != first.Version {
		t.Fatalf("retry: v%d, %v; want v%d", again.Version, err, first.Version)
	}
	if _, evs, _ := r.w.Get(ctx, admin, c.ID); len(evs) != 2 {
		t.Fatalf("%d timeline entries", len(evs))
	}
	tr.Note = "something else"
	if _, err := r.w.Transition(ctx, officer, c.ID, tr); !errors.Is(err, fieldwatch.ErrTransitionKeyReused) || !errors.Is(err, fieldwatch.ErrKeyReused) {
		t.Fatalf("another transition under the key: %v", err)
	}
}

// TestCaseworkRaces: a transition that lost a race re-reads the case and
// decides again.
func TestCaseworkRaces(t *testing.T) {
	ctx := t.Context()
	t.Run("RetriedAfterAComment", func(t *testing.T) {
		r := newCaseRig(t, fieldwatch.CaseRules{})
		c := r.open(t)
		once := true
		r.cases.beforeUpdate = func(fieldwatch.Case) {
			if once {
				once = false
				r.cases.bump(c.ID, func(*fieldwatch.Case) {})
			}
		}
		if c = r.move(t, officer, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionStart}); c.State != fieldwatch.CaseInProgress || c.Version != 3 {
			t.Fatalf("%s v%d", c.State, c.Version)
		}
	})
	t.Run("OvertakenByAnother", func(t *testing.T) {
		r := newCaseRig(t, fieldwatch.CaseRules{})
		c := r.open(t)
		once := true
		r.cases.beforeUpdate = func(fieldwatch.Case) {
			if once {
				once = false
				r.cases.bump(c.ID, func(c *fieldwatch.Case) { c.State = fieldwatch.CaseInProgress })
			}
		}
		_, err := r.w.Transition(ctx, officer, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionStart, Key: "k"})
		var te *fieldwatch.TransitionError
		if !errors.As(err, &te) || te.State != fieldwatch.CaseInProgress {
			t.Fatalf("%v", err)
		}
	})
	t.Run("GivesUp", func(t *testing.T) {
		r := newCaseRig(t, fieldwatch.CaseRules{})
		c := r.open(t)
		tries := 0
		r.cases.beforeUpdate = func(fieldwatch.Case) { tries++; r.cases.bump(c.ID, func(*fieldwatch.Case) {}) }
		if _, err := r.w.Transition(ctx, officer, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionStart, Key: "k"}); !errors.Is(err, fieldwatch.ErrConflict) || tries != 3 {
			t.Fatalf("%v after %d tries", err, tries)
		}
	})
	t.Run("StoreFails", func(t *testing.T) {
		r := newCaseRig(t, fieldwatch.CaseRules{})
		c := r.open(t)
		boom := errors.New("boom")
		r.cases.updateErr = boom
		if _, err := r.w.Transition(ctx, officer, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionStart, Key: "k"}); !errors.Is(err, boom) {
			t.Fatal(err)
		}
	})
}

// TestCaseworkDeadlines moves the clock through a case's deadline and
// sweeps: a reminder the working day before, the township's head once
// overdue, the county seven working days later.
func TestCaseworkDeadlines(t *testing.T) {
	ctx := t.Context()
	r := newCaseRig(t, fieldwatch.CaseRules{})
	c := r.open(t)
	submitted := r.open(t) // waits for the county's verification: never overdue
	r.move(t, officer, submitted.ID, fieldwatch.Transition{Action: fieldwatch.ActionStart})
	r.clock.Advance(48 * time.Hour)
	r.move(t, officer, submitted.ID, fieldwatch.Transition{Action: fieldwatch.ActionSubmitRectification, EvidenceIDs: []string{"ev-002"}})

	steps := []struct {
		at      time.Time
		changed int
		want    fieldwatch.Escalation
	}{
		{time.Date(2026, 11, 30, 9, 0, 0, 0, cst), 0, fieldwatch.EscalationNone},
		{time.Date(2026, 12, 1, 9, 0, 0, 0, cst), 1, fieldwatch.EscalationReminder},
		{time.Date(2026, 12, 1, 18, 0, 0, 0, cst), 0, fieldwatch.EscalationReminder},
		{time.Date(2026, 12, 3, 0, 0, 1, 0, cst), 1, fieldwatch.EscalationTownshipHead},
		{time.Date(2026, 12, 10, 9, 0, 0, 0, cst), 0, fieldwatch.EscalationTownshipHead},
		{time.Date(2026, 12, 11, 9, 0, 0, 0, cst), 1, fieldwatch.EscalationCounty},
		{time.Date(2027, 1, 11, 9, 0, 0, 0, cst), 0, fieldwatch.EscalationCounty},
	}
	for _, s := range steps {
		r.clock.Set(s.at)
		n, err := r.w.Sweep(ctx)
		if err != nil || n != s.changed {
			t.Fatalf("%v: swept %d, %v; want %d", s.at, n, err, s.changed)
		}
		got, _ := r.cases.CaseByID(ctx, c.ID)
		if got.Escalation != s.want {
			t.Fatalf("%v: escalation %s, want %s", s.at, got.Escalation, s.want)
		}
		if over := got.OverdueSince != nil; over != (s.at.After(caseDeadline)) || (over && !got.OverdueSince.Equal(caseDeadline)) {
			t.Fatalf("%v: overdue since %v", s.at, got.OverdueSince)
		}
	}
	_, evs, _ := r.w.Get(ctx, admin, c.ID)
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, string(ev.Kind)+"/"+string(ev.Escalation))
	}
	if got := strings.Join(kinds, " "); got != "opened/ escalation/reminder overdue/ escalation/township_head escalation/county" {
		t.Fatalf("timeline %s", got)
	}
	if s, _ := r.cases.CaseByID(ctx, submitted.ID); s.Escalation != fieldwatch.EscalationNone || s.OverdueSince != nil {
		t.Fatalf("a submitted case escalated: %+v", s)
	}
	if got := r.w.EscalationAt(fieldwatch.Case{State: fieldwatch.CaseClosed, Escalation: fieldwatch.EscalationReminder}, r.clock.Now()); got != fieldwatch.EscalationReminder {
		t.Fatalf("a closed case's escalation moved to %s", got)
	}
}

func TestCaseworkSweepFailures(t *testing.T) {
	ctx := t.Context()
	r := newCaseRig(t, fieldwatch.CaseRules{})
	r.open(t)
	r.clock.Set(caseDeadline.Add(time.Hour))
	r.cases.updateErr = errConflict
	if n, err := r.w.Sweep(ctx); n != 0 || err != nil {
		t.Fatalf("a case changed concurrently: %d, %v", n, err)
	}
	boom := errors.New("boom")
	r.cases.updateErr = boom
	if _, err := r.w.Sweep(ctx); !errors.Is(err, boom) {
		t.Fatalf("a failing store: %v", err)
	}
}

// TestCaseworkRules: configured deadlines and a holiday calendar.
func TestCaseworkRules(t *testing.T) {
	cal, err := fieldwatch.NewCalendar(cst, []string{"2026-11-30"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	policy, err := fieldwatch.ParseDeadlines("dust_site:high=1")
	if err != nil {
		t.Fatal(err)
	}
	delete(policy, fieldwatch.CategoryOther) // a policy without a row falls back to the defaults
	r := newCaseRig(t, fieldwatch.CaseRules{Calendar: cal, Deadlines: policy, MaxDistanceM: 10, CountyAfterDays: 2})
	// Friday + 1 working day, Monday a holiday: Tuesday.
	if got := r.w.Deadline(fieldwatch.CategoryDustSite, fieldwatch.SeverityHigh, caseT0); !got.Equal(time.Date(2026, 12, 1, 23, 59, 59, 999999999, cst)) {
		t.Fatalf("deadline %v", got)
	}
	if got := r.w.Deadline(fieldwatch.CategoryOther, fieldwatch.SeverityLow, caseT0); !got.Equal(cal.AddWorkingDays(caseT0, 15)) {
		t.Fatalf("fallback deadline %v", got)
	}
	c := r.open(t)
	c = r.move(t, officer, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionStart})
	r.clock.Advance(72 * time.Hour)
	_, err = r.w.Transition(t.Context(), officer, c.ID, fieldwatch.Transition{Action: fieldwatch.ActionSubmitRectification, EvidenceIDs: []string{"ev-002"}, Key: "k"})
	if !errors.Is(err, fieldwatch.ErrInvalid) || !strings.Contains(err.Error(), "the limit is 10 m") {
		t.Fatalf("25 m with a 10 m limit: %v", err)
	}
	if got := r.w.EscalationAt(fieldwatch.Case{State: fieldwatch.CaseOpen, Deadline: caseDeadline}, caseDeadline.Add(3*24*time.Hour)); got != fieldwatch.EscalationCounty {
		t.Fatalf("two working days overdue: %s", got)
	}
}
