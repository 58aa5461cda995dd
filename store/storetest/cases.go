package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/inspect"
	"github.com/fieldwatch/fieldwatch/store"
)

// caseFixture is a store with an administrator, an inspector and two of
// the inspector's evidence items.
type caseFixture struct {
	s          *store.Store
	admin, ins string
	evidence   []string
}

func newCaseFixture(t *testing.T, s *store.Store) *caseFixture {
	t.Helper()
	f := &caseFixture{s: s}
	for _, u := range []struct {
		dst  *string
		role inspect.Role
	}{{&f.admin, inspect.RoleAdmin}, {&f.ins, inspect.RoleInspector}} {
		user := inspect.User{Username: "case." + uuid.NewString()[:8], Role: u.role}
		if err := s.CreateUser(t.Context(), &user); err != nil {
			t.Fatal(err)
		}
		*u.dst = user.ID
	}
	for i := range 2 {
		e := newEvidence(f.ins, fmt.Sprintf("case %s %d", f.ins, i), Clock())
		mustCommit(t, s, &e)
		f.evidence = append(f.evidence, e.ID)
	}
	return f
}

// open stores a case in township, on reach, opened at.
func (f *caseFixture) open(t *testing.T, township, reach string, at time.Time) inspect.Case {
	t.Helper()
	c := inspect.Case{Title: "河道垃圾 " + township, Category: inspect.CategoryRiverSection, Severity: inspect.SeverityMedium,
		State: inspect.CaseOpen, TownshipCode: township, ReachCode: reach, EvidenceIDs: f.evidence, OpenedBy: f.admin,
		Chiefs:   []inspect.ChiefRef{{UserID: f.admin, Name: "张三", Level: inspect.ChiefVillage}},
		OpenedAt: at, CycleStart: at, Deadline: at.Add(240 * time.Hour), Escalation: inspect.EscalationNone, UpdatedAt: at}
	ev := inspect.CaseEvent{At: at, ActorID: f.admin, Kind: inspect.CaseEventOpened, To: inspect.CaseOpen, Note: "立案"}
	if err := f.s.CreateCase(t.Context(), &c, ev); err != nil {
		t.Fatalf("CreateCase: %v", err)
	}
	return c
}

func testCases(t *testing.T, open func(t *testing.T) *store.Store) {
	ctx := t.Context()
	s := migrated(t, open(t))
	f := newCaseFixture(t, s)
	t0 := Clock().Add(-48 * time.Hour)

	t.Run("RoundTrip", func(t *testing.T) {
		c := f.open(t, "130227106", "LH-03", t0)
		got, err := s.CaseByID(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		c.Uploaders = []string{f.ins}
		c.RectificationEvidenceIDs = []string{}
		sameStruct(t, "case", got, c)
		evs, err := s.CaseEvents(ctx, c.ID)
		if err != nil || len(evs) != 1 || evs[0].Seq != 1 || evs[0].Note != "立案" || evs[0].Kind != inspect.CaseEventOpened {
			t.Fatalf("timeline %+v, %v", evs, err)
		}
		if _, err := s.CaseByID(ctx, uuid.NewString()); !errors.Is(err, store.ErrNotFound) || !errors.Is(err, inspect.ErrNotFound) {
			t.Fatalf("missing case: %v", err)
		}
	})

	t.Run("UpdateChecksVersionAndKey", func(t *testing.T) {
		c := f.open(t, "130227106", "", t0)
		next := c
		next.State, next.Version, next.UpdatedAt = inspect.CaseInProgress, c.Version+1, t0.Add(time.Hour)
		ev := inspect.CaseEvent{At: next.UpdatedAt, ActorID: f.admin, Kind: inspect.CaseEventTransition, Action: inspect.ActionStart,
			From: inspect.CaseOpen, To: inspect.CaseInProgress}
		key := inspect.CaseKey{ActorID: f.admin, Key: uuid.NewString(), Fingerprint: hash("start")}
		if err := s.UpdateCase(ctx, next, []inspect.CaseEvent{ev}, key); err != nil {
			t.Fatal(err)
		}
		// The same version again is stale; the same key again is taken.
		if err := s.UpdateCase(ctx, next, []inspect.CaseEvent{ev}, inspect.CaseKey{}); !errors.Is(err, inspect.ErrConflict) {
			t.Fatalf("stale version: %v", err)
		}
		again := next
		again.Version++
		if err := s.UpdateCase(ctx, again, []inspect.CaseEvent{ev}, key); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("reused key: %v", err)
		}
		cid, fp, found, err := s.TransitionByKey(ctx, f.admin, key.Key)
		if err != nil || !found || cid != c.ID || string(fp) != string(key.Fingerprint) {
			t.Fatalf("TransitionByKey = %s, %x, %v, %v", cid, fp, found, err)
		}
		if _, _, found, _ := s.TransitionByKey(ctx, f.ins, key.Key); found {
			t.Fatal("keys are per user")
		}
		got, _ := s.CaseByID(ctx, c.ID)
		evs, _ := s.CaseEvents(ctx, c.ID)
		if got.Version != 2 || got.State != inspect.CaseInProgress || len(evs) != 2 {
			t.Fatalf("after the refused writes: version %d, state %s, %d events", got.Version, got.State, len(evs))
		}
	})

	t.Run("ConcurrentTransitionsOneWins", func(t *testing.T) {
		c := f.open(t, "130227106", "", t0)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		for i := range 8 {
			wg.Go(func() {
				next := c
				next.State, next.Version = inspect.CaseInProgress, c.Version+1
				ev := inspect.CaseEvent{At: t0, ActorID: f.admin, Kind: inspect.CaseEventTransition, Action: inspect.ActionStart, Note: fmt.Sprint(i)}
				err := s.UpdateCase(ctx, next, []inspect.CaseEvent{ev}, inspect.CaseKey{ActorID: f.admin, Key: uuid.NewString(), Fingerprint: hash(fmt.Sprint(i))})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, inspect.ErrConflict):
					conflicts++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if evs, _ := s.CaseEvents(ctx, c.ID); wins != 1 || conflicts != 7 || len(evs) != 2 {
			t.Fatalf("%d wins, %d conflicts, %d events", wins, conflicts, len(evs))
		}
	})

	t.Run("ConcurrentComments", func(t *testing.T) {
		c := f.open(t, "130227106", "", t0)
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				ev := inspect.CaseEvent{At: t0, ActorID: f.ins, Kind: inspect.CaseEventComment, Note: fmt.Sprintf("评论 %d", i)}
				if err := s.AddCaseEvent(ctx, c.ID, &ev); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		evs, err := s.CaseEvents(ctx, c.ID)
		if err != nil || len(evs) != 11 {
			t.Fatalf("%d events, %v", len(evs), err)
		}
		for i, ev := range evs {
			if ev.Seq != int64(i+1) {
				t.Fatalf("seq %d at %d", ev.Seq, i)
			}
		}
	})

	t.Run("ListScopesFiltersAndPages", func(t *testing.T) {
		s := migrated(t, open(t)) // listing needs to know every case
		f := newCaseFixture(t, s)
		other := newCaseFixture(t, s) // evidence of another inspector
		a := f.open(t, "130227101", "", t0)
		b := f.open(t, "130227102", "QH-01", t0.Add(time.Minute))
		c := other.open(t, "130227101", "LH-03", t0.Add(2*time.Minute))
		late := c
		since := c.Deadline
		late.OverdueSince, late.Escalation, late.Version = &since, inspect.EscalationTownshipHead, c.Version+1
		if err := s.UpdateCase(ctx, late, nil, inspect.CaseKey{}); err != nil {
			t.Fatal(err)
		}
		yes, no := true, false
		ids := func(cs []inspect.Case) string {
			var out []string
			for _, x := range cs {
				switch x.ID {
				case a.ID:
					out = append(out, "a")
				case b.ID:
					out = append(out, "b")
				case c.ID:
					out = append(out, "c")
				}
			}
			return fmt.Sprint(out)
		}
		for _, tc := range []struct {
			name string
			f    inspect.CaseFilter
			want string
		}{
			{"all newest first", inspect.CaseFilter{}, "[c b a]"},
			{"township", inspect.CaseFilter{TownshipCode: "130227101"}, "[c a]"},
			{"reach", inspect.CaseFilter{ReachCode: "QH-01"}, "[b]"},
			{"overdue", inspect.CaseFilter{Overdue: &yes}, "[c]"},
			{"not overdue", inspect.CaseFilter{Overdue: &no}, "[b a]"},
			{"state", inspect.CaseFilter{State: inspect.CaseClosed}, "[]"},
			{"officer scope", inspect.CaseFilter{Scope: &inspect.Scope{UserID: uuid.NewString(), Townships: []string{"130227102"}}}, "[b]"},
			{"chief scope", inspect.CaseFilter{Scope: &inspect.Scope{UserID: uuid.NewString(), Reaches: []string{"LH-03"}}}, "[c]"},
			{"inspector scope: own evidence", inspect.CaseFilter{Scope: &inspect.Scope{UserID: f.ins}}, "[b a]"},
			{"empty scope sees nothing", inspect.CaseFilter{Scope: &inspect.Scope{}}, "[]"},
			{"page 1", inspect.CaseFilter{Limit: 2}, "[c b]"},
			{"page 2", inspect.CaseFilter{Limit: 2, AfterTime: &b.OpenedAt, AfterID: b.ID}, "[a]"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ListCases(ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if ids(got) != tc.want {
					t.Fatalf("got %s, want %s", ids(got), tc.want)
				}
			})
		}
		owing, err := s.CasesOwingAction(ctx)
		if err != nil || len(owing) != 3 {
			t.Fatalf("owing %d, %v", len(owing), err)
		}
		county := late
		county.Escalation, county.Version = inspect.EscalationCounty, late.Version+1
		if err := s.UpdateCase(ctx, county, nil, inspect.CaseKey{}); err != nil {
			t.Fatal(err)
		}
		if owing, _ := s.CasesOwingAction(ctx); len(owing) != 2 {
			t.Fatalf("a case at the county is still on the job's list: %d", len(owing))
		}
	})

	t.Run("AuditedAndInvalid", func(t *testing.T) {
		c := f.open(t, "130227106", "", t0)
		evs, err := s.AuditEvents(ctx, 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		last := evs[len(evs)-1]
		if last.Action != "case.opened" || last.ObjectID != c.ID || last.ActorID != f.admin {
			t.Fatalf("last audit entry %+v", last)
		}
		bad := c
		bad.Title = "nul\x00"
		if err := s.CreateCase(ctx, &bad, inspect.CaseEvent{At: t0, Kind: inspect.CaseEventOpened}); !errors.Is(err, inspect.ErrInvalid) {
			t.Fatalf("NUL in title: %v", err)
		}
		unknown := c
		unknown.EvidenceIDs = []string{uuid.NewString()}
		if err := s.CreateCase(ctx, &unknown, inspect.CaseEvent{At: t0, Kind: inspect.CaseEventOpened}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown evidence: %v", err)
		}
	})
}
