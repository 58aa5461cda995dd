package fieldwatch_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// assessRig is the assessor over the fakes: the demo county's townships,
// the patrol rig's chiefs and patrols, and the month's facts.
type assessRig struct {
	*patrolRig
	a     *fieldwatch.Assessor
	store *fakeAssessments
}

func newAssessRig(t *testing.T) *assessRig {
	t.Helper()
	r := &assessRig{patrolRig: newPatrolRig(t)}
	// The townships were imported from November 1: move them to October.
	for i := range r.places.townships {
		r.places.townships[i].EffectiveFrom = time.Date(2026, 10, 1, 0, 0, 0, 0, cst)
	}
	r.store = &fakeAssessments{fakePlaces: r.places.fakePlaces}
	r.a = fieldwatch.NewAssessor(r.store, r.p, nil, r.clock.Now)
	return r
}

// letter is a letter of 2026 for township with every metric of the
// catalogue.
func letter(township string) fieldwatch.Letter {
	return fieldwatch.Letter{TownshipCode: township, Year: 2026, SignedOn: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), Indicators: []fieldwatch.Indicator{
		{Metric: fieldwatch.MetricClosedOnTimeRate, Rule: fieldwatch.RuleLinear, Floor: 0, Target: 100, Weight: 20},
		{Metric: fieldwatch.MetricOverdueCases, Rule: fieldwatch.RuleDeduct, PointsPer: 5, Weight: 20},
		{Metric: fieldwatch.MetricReopenedCases, Rule: fieldwatch.RuleDeduct, PointsPer: 5, Weight: 10},
		{Metric: fieldwatch.MetricOpenBurningCases, Rule: fieldwatch.RuleDeduct, PointsPer: 5, Weight: 10},
		{Metric: fieldwatch.MetricEvidenceFound, Category: fieldwatch.CategoryDustSite, Rule: fieldwatch.RuleDeduct, PointsPer: 1, Weight: 20},
		{Metric: fieldwatch.MetricValidPatrolRate, Rule: fieldwatch.RuleLinear, Floor: 0, Target: 100, Weight: 20},
	}}
}

func TestAssessorLetters(t *testing.T) {
	ctx := t.Context()
	r := newAssessRig(t)
	l, err := r.a.CreateLetter(ctx, admin, letter("130227106"))
	if err != nil || l.ID == "" || l.RecordedBy != "u-admin" || !l.RecordedAt.Equal(r.clock.Now()) {
		t.Fatalf("%+v, %v", l, err)
	}
	if ls, err := r.a.Letters(ctx, "130227106"); err != nil || len(ls) != 1 {
		t.Fatalf("%d letters, %v", len(ls), err)
	}
	if _, err := r.a.Letters(ctx, "999999999"); !errors.Is(err, fieldwatch.ErrNotFound) {
		t.Fatalf("letters of a missing township: %v", err)
	}
	bad := letter("130227106")
	bad.Indicators[0].Weight = 5
	for name, tc := range map[string]struct {
		actor fieldwatch.Actor
		l     fieldwatch.Letter
		want  error
	}{
		"ErrForbidden":        {officer, letter("130227106"), fieldwatch.ErrForbidden},
		"ErrInvalid":          {admin, bad, fieldwatch.ErrInvalid},
		"ErrNotFound":         {admin, letter("999999999"), fieldwatch.ErrNotFound},
		"ErrInvalid_NoLetter": {admin, fieldwatch.Letter{TownshipCode: "130227106", Year: 1999}, fieldwatch.ErrInvalid},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := r.a.CreateLetter(ctx, tc.actor, tc.l); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestAssessorMonth: the month's facts and patrol compliance become each
// township's indicator values, points, score and rank.
func TestAssessorMonth(t *testing.T) {
	ctx := t.Context()
	r := newAssessRig(t)
	for _, code := range []string{"130227106", "130227101"} {
		if _, err := r.a.CreateLetter(ctx, admin, letter(code)); err != nil {
			t.Fatal(err)
		}
	}
	// LH-03's village chief walks once in the month: 1 of 5 weeks; its
	// township chief once: 1 of 1. Together 2 of 6 periods.
	for _, a := range []fieldwatch.Actor{r.village, r.town} {
		if _, _, err := r.p.Record(ctx, a, fieldwatch.PatrolRequest{ReachCode: "LH-03", Track: r.walk(t, "LH-03", patrolT0.Add(-3*time.Hour)), Key: "k"}); err != nil {
			t.Fatal(err)
		}
	}
	const a, b = "130227106", "130227101"
	r.store.facts = fieldwatch.MonthFacts{
		CasesDue: []fieldwatch.CaseFact{{ID: "c1", TownshipCode: a, OnTime: true}, {ID: "c2", TownshipCode: a}, {ID: "c3", TownshipCode: b, OnTime: true}},
		Overdue:  []fieldwatch.CaseFact{{ID: "c2", TownshipCode: a}},
		Reopened: []fieldwatch.CaseFact{{ID: "c4", TownshipCode: a}, {ID: "c4", TownshipCode: a}},
		Opened:   []fieldwatch.CaseFact{{ID: "c5", TownshipCode: a, Category: fieldwatch.CategoryOpenBurning}, {ID: "c6", TownshipCode: b, Category: fieldwatch.CategoryDustSite}},
		Evidence: []fieldwatch.EvidenceFact{{ID: "e1", TownshipCode: a, Category: fieldwatch.CategoryDustSite}, {ID: "e2", TownshipCode: a, Category: fieldwatch.CategoryOther},
			{ID: "e3", TownshipCode: b, Category: fieldwatch.CategoryDustSite}},
	}
	as, err := r.a.Month(ctx, "2026-11")
	if err != nil {
		t.Fatal(err)
	}
	if as.Frozen || len(as.Townships) != 14 || !as.ComputedAt.Equal(r.clock.Now()) {
		t.Fatalf("%+v", as)
	}
	values := func(ts fieldwatch.TownshipScore) string {
		var out []string
		for _, is := range ts.Indicators {
			v := "-"
			if is.Value != nil {
				v = fmt.Sprint(*is.Value)
			}
			out = append(out, fmt.Sprintf("%s=%s:%v", is.Metric, v, is.Points))
		}
		return fmt.Sprint(out)
	}
	ta, _ := as.Township(a)
	tb, _ := as.Township(b)
	wantA := "[cases_closed_on_time_rate=50:10 overdue_cases=1:15 reopened_cases=2:0 open_burning_cases=1:5 evidence_found=1:19 valid_patrol_rate=33.33:6.67]"
	wantB := "[cases_closed_on_time_rate=100:20 overdue_cases=0:20 reopened_cases=0:10 open_burning_cases=0:10 evidence_found=1:19 valid_patrol_rate=-:20]"
	if values(ta) != wantA || values(tb) != wantB {
		t.Fatalf("indicators\n %s\n %s\nwant\n %s\n %s", values(ta), values(tb), wantA, wantB)
	}
	if *ta.Score != 55.67 || *tb.Score != 99 || tb.RankOverall != 1 || ta.RankOverall != 2 || as.Townships[0].Code != b {
		t.Fatalf("scores %v (%d), %v (%d)", *ta.Score, ta.RankOverall, *tb.Score, tb.RankOverall)
	}
	if !slices.Equal(ta.Indicators[3].Refs.CaseIDs, []string{"c5"}) || !slices.Equal(ta.Indicators[2].Refs.CaseIDs, []string{"c4"}) ||
		!slices.Equal(ta.Indicators[4].Refs.EvidenceIDs, []string{"e1"}) || len(ta.Indicators[5].Refs.PatrolIDs) != 2 {
		t.Fatalf("refs %+v", ta.Indicators)
	}
	if other, _ := as.Township("130227108"); other.Score != nil || other.RankOverall != 0 {
		t.Fatalf("a township without a letter is scored: %+v", other)
	}

	t.Run("Township", func(t *testing.T) {
		if _, ts, err := r.a.Township(ctx, officer, "2026-11", a); err != nil || ts.Code != a {
			t.Fatalf("the township's officer: %v", err)
		}
		for name, tc := range map[string]struct {
			actor fieldwatch.Actor
			code  string
		}{"OtherOfficer": {stranger, a}, "Chief": {r.village, a}, "NotAssessed": {admin, "999999999"}} {
			if _, _, err := r.a.Township(ctx, tc.actor, "2026-11", tc.code); !errors.Is(err, fieldwatch.ErrNotFound) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if _, _, err := r.a.Township(ctx, admin, "11/2026", a); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Errorf("a bad month: %v", err)
		}
	})
}

// TestAssessorFreeze: a month that has ended is frozen once, by an
// administrator; later reads answer the snapshot.
func TestAssessorFreeze(t *testing.T) {
	ctx := t.Context()
	r := newAssessRig(t)
	if _, err := r.a.CreateLetter(ctx, admin, letter("130227106")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.a.Freeze(ctx, officer, "2026-11"); !errors.Is(err, fieldwatch.ErrForbidden) {
		t.Fatalf("an officer freezing: %v", err)
	}
	if _, err := r.a.Freeze(ctx, admin, "2026-11"); !errors.Is(err, fieldwatch.ErrConflict) {
		t.Fatalf("a month not ended: %v", err)
	}
	if _, err := r.a.Freeze(ctx, admin, "2026-1"); !errors.Is(err, fieldwatch.ErrInvalid) {
		t.Fatalf("a bad month: %v", err)
	}
	r.clock.Set(time.Date(2026, 12, 1, 0, 0, 0, 0, cst))
	as, err := r.a.Freeze(ctx, admin, "2026-11")
	if err != nil || !as.Frozen || as.FrozenBy != "u-admin" || !as.FrozenAt.Equal(r.clock.Now()) {
		t.Fatalf("%+v, %v", as, err)
	}
	if _, err := r.a.Freeze(ctx, admin, "2026-11"); !errors.Is(err, fieldwatch.ErrConflict) {
		t.Fatalf("frozen twice: %v", err)
	}
	// New facts do not change a frozen month.
	r.store.facts = fieldwatch.MonthFacts{Overdue: []fieldwatch.CaseFact{{ID: "late", TownshipCode: "130227106"}}}
	got, err := r.a.Month(ctx, "2026-11")
	if err != nil || !got.Frozen {
		t.Fatalf("%+v, %v", got, err)
	}
	before, _ := as.Township("130227106")
	if ts, _ := got.Township("130227106"); *ts.Score != *before.Score {
		t.Fatalf("the frozen score moved from %v to %v", *before.Score, *ts.Score)
	}
	if _, err := fieldwatch.NewAssessor(r.store, r.p, nil, nil).Month(ctx, "2026-12"); err != nil {
		t.Fatalf("an assessor with the default clock and zone: %v", err)
	}
}
