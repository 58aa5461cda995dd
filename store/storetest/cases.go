package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
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
		role fieldwatch.Role
	}{{&f.admin, fieldwatch.RoleAdmin}, {&f.ins, fieldwatch.RoleInspector}} {
		user := fieldwatch.User{Username: "case." + uuid.NewString()[:8], Role: u.role}
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
func (f *caseFixture) open(t *testing.T, township, reach string, at time.Time) fieldwatch.Case {
	t.Helper()
	c := fieldwatch.Case{Title: "河道垃圾 " + township, Category: fieldwatch.CategoryRiverSection, Severity: fieldwatch.SeverityMedium,
		State: fieldwatch.CaseOpen, TownshipCode: township, ReachCode: reach, EvidenceIDs: f.evidence, OpenedBy: f.admin,
		Chiefs:   []fieldwatch.ChiefRef{{UserID: f.admin, Name: "张三", Level: fieldwatch.ChiefVillage}},
		OpenedAt: at, CycleStart: at, Deadline: at.Add(240 * time.Hour), Escalation: fieldwatch.EscalationNone, UpdatedAt: at}
	ev := fieldwatch.CaseEvent{At: at, ActorID: f.admin, Kind: fieldwatch.CaseEventOpened, To: fieldwatch.CaseOpen, Note: "立案"}
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
		if err != nil || len(evs) != 1 || evs[0].Seq != 1 || evs[0].Note != "立案" || evs[0].Kind != fieldwatch.CaseEventOpened {
			t.Fatalf("timeline %+v, %v", evs, err)
		}
		if _, err := s.CaseByID(ctx, uuid.NewString()); !errors.Is(err, store.ErrNotFound) || !errors.Is(err, fieldwatch.ErrNotFound) {
			t.Fatalf("missing case: %v", err)
		}
	})

	t.Run("UpdateChecksVersionAndKey", func(t *testing.T) {
		c := f.open(t, "130227106", "", t0)
		next := c
		next.State, next.Version, next.UpdatedAt = fieldwatch.CaseInProgress, c.Version+1, t0.Add(time.Hour)
		ev := fieldwatch.CaseEvent{At: next.UpdatedAt, ActorID: f.admin, Kind: fieldwatch.CaseEventTransition, Action: fieldwatch.ActionStart,
			From: fieldwatch.CaseOpen, To: fieldwatch.CaseInProgress}
		key := fieldwatch.CaseKey{ActorID: f.admin, Key: uuid.NewString(), Fingerprint: hash("start")}
		if err := s.UpdateCase(ctx, next, []fieldwatch.CaseEvent{ev}, key); err != nil {
			t.Fatal(err)
		}
		// The same version again is stale; the same key again is taken.
		if err := s.UpdateCase(ctx, next, []fieldwatch.CaseEvent{ev}, fieldwatch.CaseKey{}); !errors.Is(err, fieldwatch.ErrConflict) {
			t.Fatalf("stale version: %v", err)
		}
		again := next
		again.Version++
		if err := s.UpdateCase(ctx, again, []fieldwatch.CaseEvent{ev}, key); !errors.Is(err, store.ErrConflict) {
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
		if got.Version != 2 || got.State != fieldwatch.CaseInProgress || len(evs) != 2 {
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
				next.State, next.Version = fieldwatch.CaseInProgress, c.Version+1
				ev := fieldwatch.CaseEvent{At: t0, ActorID: f.admin, Kind: fieldwatch.CaseEventTransition, Action: fieldwatch.ActionStart, Note: fmt.Sprint(i)}
				err := s.UpdateCase(ctx, next, []fieldwatch.CaseEvent{ev}, fieldwatch.CaseKey{ActorID: f.admin, Key: uuid.NewString(), Fingerprint: hash(fmt.Sprint(i))})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, fieldwatch.ErrConflict):
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
				ev := fieldwatch.CaseEvent{At: t0, ActorID: f.ins, Kind: fieldwatch.CaseEventComment, Note: fmt.Sprintf("评论 %d", i)}
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
		late.OverdueSince, late.Escalation, late.Version = &since, fieldwatch.EscalationTownshipHead, c.Version+1
		if err := s.UpdateCase(ctx, late, nil, fieldwatch.CaseKey{}); err != nil {
			t.Fatal(err)
		}
		yes, no := true, false
		ids := func(cs []fieldwatch.Case) string {
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
			f    fieldwatch.CaseFilter
			want string
		}{
			{"all newest first", fieldwatch.CaseFilter{}, "[c b a]"},
			{"township", fieldwatch.CaseFilter{TownshipCode: "130227101"}, "[c a]"},
			{"reach", fieldwatch.CaseFilter{ReachCode: "QH-01"}, "[b]"},
			{"overdue", fieldwatch.CaseFilter{Overdue: &yes}, "[c]"},
			{"not overdue", fieldwatch.CaseFilter{Overdue: &no}, "[b a]"},
			{"state", fieldwatch.CaseFilter{State: fieldwatch.CaseClosed}, "[]"},
			{"officer scope", fieldwatch.CaseFilter{Scope: &fieldwatch.Scope{UserID: uuid.NewString(), Townships: []string{"130227102"}}}, "[b]"},
			{"chief scope", fieldwatch.CaseFilter{Scope: &fieldwatch.Scope{UserID: uuid.NewString(), Reaches: []string{"LH-03"}}}, "[c]"},
			{"inspector scope: own evidence", fieldwatch.CaseFilter{Scope: &fieldwatch.Scope{UserID: f.ins}}, "[b a]"},
			{"empty scope sees nothing", fieldwatch.CaseFilter{Scope: &fieldwatch.Scope{}}, "[]"},
			{"page 1", fieldwatch.CaseFilter{Limit: 2}, "[c b]"},
			{"page 2", fieldwatch.CaseFilter{Limit: 2, AfterTime: &b.OpenedAt, AfterID: b.ID}, "[a]"},
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
		county.Escalation, county.Version = fieldwatch.EscalationCounty, late.Version+1
		if err := s.UpdateCase(ctx, county, nil, fieldwatch.CaseKey{}); err != nil {
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
		if err := s.CreateCase(ctx, &bad, fieldwatch.CaseEvent{At: t0, Kind: fieldwatch.CaseEventOpened}); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Fatalf("NUL in title: %v", err)
		}
		unknown := c
		unknown.EvidenceIDs = []string{uuid.NewString()}
		if err := s.CreateCase(ctx, &unknown, fieldwatch.CaseEvent{At: t0, Kind: fieldwatch.CaseEventOpened}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown evidence: %v", err)
		}
	})
}
