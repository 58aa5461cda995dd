package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/store"
)

func newPatrol(chief, reach, township string, start time.Time, valid bool) fieldwatch.Patrol {
	track := geo.Track{
		{Point: geo.Point{Lon: 118.45, Lat: 40.29}, At: start},
		{Point: geo.Point{Lon: 118.4512345, Lat: 40.2898765}, At: start.Add(30 * time.Minute)},
		{Point: geo.Point{Lon: 118.452, Lat: 40.289}, At: start.Add(45*time.Minute + 123*time.Millisecond)},
	}
	p := fieldwatch.Patrol{ChiefID: chief, ReachCode: reach, TownshipCode: township, StartedAt: start, EndedAt: track[2].At,
		LengthM: 1234.5, DurationS: 2700.123, Coverage: 0.8125, MaxSpeed: 1.9, MedianSpeed: 1.2, Fixes: 3, Valid: valid,
		Reasons: []string{}, EvidenceIDs: []string{}, Note: "巡河", RecordedAt: start.Add(time.Hour), Track: track}
	if !valid {
		p.Reasons = []string{"too_short_duration"}
	}
	return p
}

func testPatrols(t *testing.T, open func(t *testing.T) *store.Store) {
	ctx := t.Context()
	s := migrated(t, open(t))
	f := newCaseFixture(t, s)
	t0 := Clock().Add(-72 * time.Hour)

	t.Run("RoundTripAndKeys", func(t *testing.T) {
		p := newPatrol(f.admin, "CH-02", "130227108", t0, true)
		p.EvidenceIDs = f.evidence
		key := uuid.NewString()
		if err := s.CreatePatrol(ctx, &p, key, hash("patrol")); err != nil {
			t.Fatal(err)
		}
		got, err := s.PatrolByID(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Tracks keep positions to 1e-8 degrees and times to the millisecond.
		want := p
		want.Track = append(geo.Track{}, p.Track...)
		for i := range want.Track {
			want.Track[i].At = want.Track[i].At.Truncate(time.Millisecond)
		}
		sameStruct(t, "patrol", got, want)
		byKey, fp, found, err := s.PatrolByKey(ctx, f.admin, key)
		if err != nil || !found || byKey.ID != p.ID || string(fp) != string(hash("patrol")) {
			t.Fatalf("PatrolByKey: %v %v %v", found, fp, err)
		}
		again := newPatrol(f.admin, "CH-02", "130227108", t0, true)
		if err := s.CreatePatrol(ctx, &again, key, hash("other")); !errors.Is(err, fieldwatch.ErrConflict) {
			t.Fatalf("reused key: %v", err)
		}
		if _, err := s.PatrolByID(ctx, uuid.NewString()); !errors.Is(err, fieldwatch.ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
		bad := newPatrol(f.admin, "CH-02", "", t0, true)
		bad.Note = "\x00"
		if err := s.CreatePatrol(ctx, &bad, uuid.NewString(), hash("bad")); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Fatalf("NUL note: %v", err)
		}
	})

	t.Run("ListFiltersScopesAndPages", func(t *testing.T) {
		s := migrated(t, open(t))
		f := newCaseFixture(t, s)
		var ids []string
		for i, r := range []struct {
			reach, township string
			valid           bool
			chief           string
		}{{"CH-02", "130227108", true, f.admin}, {"CH-02", "130227108", false, f.ins}, {"LH-04", "130227101", true, f.ins}} {
			p := newPatrol(r.chief, r.reach, r.township, t0.Add(time.Duration(i)*time.Hour), r.valid)
			if err := s.CreatePatrol(ctx, &p, uuid.NewString(), hash(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, p.ID)
		}
		yes := true
		from, to := t0.Add(30*time.Minute), t0.Add(150*time.Minute)
		name := func(ps []fieldwatch.Patrol) string {
			var out []int
			for _, p := range ps {
				for i, id := range ids {
					if id == p.ID {
						out = append(out, i)
					}
				}
			}
			return fmt.Sprint(out)
		}
		for _, tc := range []struct {
			name string
			f    fieldwatch.PatrolFilter
			want string
		}{
			{"all newest first", fieldwatch.PatrolFilter{}, "[2 1 0]"},
			{"reach", fieldwatch.PatrolFilter{ReachCode: "CH-02"}, "[1 0]"},
			{"valid", fieldwatch.PatrolFilter{Valid: &yes}, "[2 0]"},
			{"chief", fieldwatch.PatrolFilter{ChiefID: f.ins}, "[2 1]"},
			{"window", fieldwatch.PatrolFilter{From: &from, To: &to}, "[2 1]"},
			{"chief scope", fieldwatch.PatrolFilter{Scope: &fieldwatch.Scope{UserID: uuid.NewString(), Reaches: []string{"LH-04"}}}, "[2]"},
			{"officer scope", fieldwatch.PatrolFilter{Scope: &fieldwatch.Scope{UserID: uuid.NewString(), Townships: []string{"130227108"}}}, "[1 0]"},
			{"own", fieldwatch.PatrolFilter{Scope: &fieldwatch.Scope{UserID: f.admin}}, "[0]"},
			{"page", fieldwatch.PatrolFilter{Limit: 2}, "[2 1]"},
		} {
			got, err := s.ListPatrols(ctx, tc.f)
			if err != nil || name(got) != tc.want {
				t.Errorf("%s: %s, want %s (%v)", tc.name, name(got), tc.want, err)
			}
			for _, p := range got {
				if p.Track != nil {
					t.Errorf("%s: listing loads tracks", tc.name)
				}
			}
		}
	})

	t.Run("Letters", func(t *testing.T) {
		l := fieldwatch.Letter{TownshipCode: "130227101", Year: 2026, SignedOn: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC),
			Indicators: []fieldwatch.Indicator{{Metric: fieldwatch.MetricEvidenceFound, Category: fieldwatch.CategoryDustSite,
				Rule: fieldwatch.RuleLinear, Floor: 0, Target: 3, Weight: 100}},
			RecordedAt: t0, RecordedBy: f.admin}
		if err := s.CreateLetter(ctx, &l); err != nil {
			t.Fatal(err)
		}
		dup := l
		if err := s.CreateLetter(ctx, &dup); !errors.Is(err, fieldwatch.ErrConflict) {
			t.Fatalf("same signing date: %v", err)
		}
		fix := l
		fix.SignedOn = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		fix.Indicators = []fieldwatch.Indicator{{Metric: fieldwatch.MetricOverdueCases, Rule: fieldwatch.RuleDeduct, PointsPer: 5, Weight: 100}}
		if err := s.CreateLetter(ctx, &fix); err != nil {
			t.Fatal(err)
		}
		ls, err := s.LettersOf(ctx, "130227101")
		if err != nil || len(ls) != 2 || ls[0].ID != fix.ID {
			t.Fatalf("letters %+v %v", ls, err)
		}
		sameStruct(t, "letter", ls[1], l)
		inForce, err := s.LettersInForce(ctx, 2026)
		if err != nil || inForce["130227101"] == nil || inForce["130227101"].ID != fix.ID || len(inForce) != 1 {
			t.Fatalf("in force %v %v", inForce, err)
		}
		if none, _ := s.LettersInForce(ctx, 2025); len(none) != 0 {
			t.Fatalf("2025: %v", none)
		}
	})

	t.Run("FreezeOnce", func(t *testing.T) {
		at := roundTime(t0)
		score := 87.5
		a := fieldwatch.Assessment{Month: "2026-10", Frozen: true, FrozenAt: &at, FrozenBy: f.admin, ComputedAt: at,
			Townships: []fieldwatch.TownshipScore{{Code: "130227101", Name: "兴城镇", Zone: fieldwatch.ZoneCore, LetterID: uuid.NewString(),
				Score: &score, RankInZone: 1, RankOverall: 1, Indicators: []fieldwatch.IndicatorScore{{
					Indicator: fieldwatch.Indicator{Metric: fieldwatch.MetricOverdueCases, Rule: fieldwatch.RuleDeduct, PointsPer: 5, Weight: 100},
					Value:     ptr(2.5), Points: 87.5, Refs: fieldwatch.Refs{CaseIDs: []string{uuid.NewString()}}}}}}}
		if _, ok, err := s.FrozenAssessment(ctx, "2026-10"); ok || err != nil {
			t.Fatalf("before: %v %v", ok, err)
		}
		if err := s.FreezeAssessment(ctx, a); err != nil {
			t.Fatal(err)
		}
		got, ok, err := s.FrozenAssessment(ctx, "2026-10")
		if err != nil || !ok {
			t.Fatalf("after: %v %v", ok, err)
		}
		sameStruct(t, "assessment", got, a)
		if err := s.FreezeAssessment(ctx, a); !errors.Is(err, fieldwatch.ErrConflict) {
			t.Fatalf("twice: %v", err)
		}
	})

	t.Run("MonthFacts", func(t *testing.T) {
		s := migrated(t, open(t))
		f := newCaseFixture(t, s)
		from, to := t0.Add(-time.Hour), t0.Add(24*time.Hour)
		due := f.open(t, "130227101", "", t0.Add(-240*time.Hour)) // deadline t0: due in the window
		closed := due
		closedAt := t0.Add(-time.Hour)
		closed.State, closed.ClosedAt, closed.VerifiedBy, closed.Version = fieldwatch.CaseClosed, &closedAt, f.admin, due.Version+1
		reopen := fieldwatch.CaseEvent{At: t0.Add(time.Hour), ActorID: f.admin, Kind: fieldwatch.CaseEventTransition, Action: fieldwatch.ActionReopen}
		if err := s.UpdateCase(ctx, closed, []fieldwatch.CaseEvent{reopen}, fieldwatch.CaseKey{}); err != nil {
			t.Fatal(err)
		}
		late := f.open(t, "130227102", "", t0.Add(-250*time.Hour)) // deadline before the window, overdue
		since := t0
		late.OverdueSince, late.Version = &since, late.Version+1
		if err := s.UpdateCase(ctx, late, nil, fieldwatch.CaseKey{}); err != nil {
			t.Fatal(err)
		}
		opened := f.open(t, "130227106", "", t0) // opened in the window, due after it
		facts, err := s.MonthFacts(ctx, from, to)
		if err != nil {
			t.Fatal(err)
		}
		show := func(cs []fieldwatch.CaseFact) string {
			var out []string
			for _, c := range cs {
				n := map[string]string{due.ID: "due", late.ID: "late", opened.ID: "opened"}[c.ID]
				out = append(out, fmt.Sprintf("%s/%s/%v", n, c.TownshipCode, c.OnTime))
			}
			return fmt.Sprint(out)
		}
		for _, tc := range []struct {
			name string
			got  []fieldwatch.CaseFact
			want string
		}{
			{"due", facts.CasesDue, "[due/130227101/true]"},
			{"overdue", facts.Overdue, "[late/130227102/false]"},
			{"reopened", facts.Reopened, "[due/130227101/true]"},
			{"opened", facts.Opened, "[opened/130227106/false]"},
		} {
			if show(tc.got) != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, show(tc.got), tc.want)
			}
		}
	})

	t.Run("ChiefAssignmentsDuring", func(t *testing.T) {
		got, err := s.ChiefAssignmentsDuring(ctx, t0, t0.Add(time.Hour))
		if err != nil || len(got) != 0 {
			t.Fatalf("no assignments: %v %v", got, err)
		}
	})
}

func roundTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
