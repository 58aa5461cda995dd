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

// testEnumerations: every value of the domain's enumerations that the
// schema constrains with a CHECK (see the newest migration for the list)
// can be stored, and an unknown one is the caller's error, not the
// database's. A value added to the domain without its migration fails
// here, on both backends.
func testEnumerations(t *testing.T, s *store.Store) {
	ctx := t.Context()
	t.Run("Roles", func(t *testing.T) {
		for _, r := range fieldwatch.Roles() {
			mustCreateUser(t, s, fieldwatch.User{Username: "enum." + string(r), Role: r})
		}
		if err := s.CreateUser(ctx, &fieldwatch.User{Username: "enum.unknown", Role: "mayor"}); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Errorf("CreateUser(role mayor) = %v, want ErrInvalid", err)
		}
	})

	f := newCaseFixture(t, s)
	var evidence []string
	t.Run("EvidenceCategoriesAndSources", func(t *testing.T) {
		sources := fieldwatch.Sources()
		for i, c := range fieldwatch.Categories() {
			for j := range sources {
				e := newEvidence(f.ins, fmt.Sprintf("enum %s %d", c, j), Clock())
				e.Category = c
				e.CaptureTimeSource, e.LocationSource = sources[j], sources[(i+j)%len(sources)]
				if e.LocationSource != fieldwatch.SourceNone {
					e.Location = &geo.Point{Lon: 118.33, Lat: 40.2}
				}
				mustCommit(t, s, &e)
				evidence = append(evidence, e.ID)
			}
		}
		e := newEvidence(f.ins, "enum unknown", Clock())
		e.Category = "smoke"
		key := uuid.NewString()
		sub := mustClaim(t, s, e.UploaderID, key, Clock())
		if err := s.CommitEvidence(ctx, &e, key, sub.Attempt, hash("fp "+key)); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Errorf("CommitEvidence(category smoke) = %v, want ErrInvalid", err)
		}
	})
	t.Run("Decisions", func(t *testing.T) {
		for i, d := range fieldwatch.Decisions() {
			r := fieldwatch.Review{EvidenceID: evidence[i%len(evidence)], ReviewerID: f.admin, Decision: d, At: Clock()}
			if err := s.AddReview(ctx, &r); err != nil {
				t.Errorf("AddReview(%s): %v", d, err)
			}
		}
	})
	t.Run("Cases", func(t *testing.T) {
		at := Clock().Add(-time.Hour)
		add := func(c fieldwatch.Case) error {
			c.Title, c.TownshipCode, c.EvidenceIDs, c.OpenedBy = "enum", "330100001", f.evidence, f.admin
			c.OpenedAt, c.CycleStart, c.Deadline, c.UpdatedAt = at, at, at.Add(240*time.Hour), at
			ev := fieldwatch.CaseEvent{At: at, ActorID: f.admin, Kind: fieldwatch.CaseEventOpened, To: c.State}
			return s.CreateCase(ctx, &c, ev)
		}
		base := fieldwatch.Case{Category: fieldwatch.CategoryOther, Severity: fieldwatch.SeverityLow, State: fieldwatch.CaseOpen,
			Escalation: fieldwatch.EscalationNone}
		var cases []fieldwatch.Case
		for _, v := range fieldwatch.Categories() {
			c := base
			c.Category = v
			cases = append(cases, c)
		}
		for _, v := range fieldwatch.Severities() {
			c := base
			c.Severity = v
			cases = append(cases, c)
		}
		for _, v := range fieldwatch.CaseStates() {
			c := base
			c.State = v
			cases = append(cases, c)
		}
		for _, v := range fieldwatch.Escalations() {
			c := base
			c.Escalation = v
			cases = append(cases, c)
		}
		for _, c := range cases {
			if err := add(c); err != nil {
				t.Errorf("CreateCase(%s, %s, %s, %s): %v", c.Category, c.Severity, c.State, c.Escalation, err)
			}
		}
		bad := base
		bad.Category = "smoke"
		if err := add(bad); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Errorf("CreateCase(category smoke) = %v, want ErrInvalid", err)
		}
	})
}
