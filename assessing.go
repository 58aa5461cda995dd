package fieldwatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// CaseFact is a case as the monthly assessment counts it.
type CaseFact struct {
	ID           string
	TownshipCode string
	Category     Category
	OnTime       bool // verified closed by its deadline (for cases due)
}

// EvidenceFact is evidence as the monthly assessment counts it.
type EvidenceFact struct {
	ID           string
	TownshipCode string
	Category     Category
}

// MonthFacts are the month's events the metrics are computed from.
type MonthFacts struct {
	CasesDue []CaseFact     // deadline in the month
	Overdue  []CaseFact     // fell overdue in the month
	Reopened []CaseFact     // one per reopening in the month
	Opened   []CaseFact     // opened in the month
	Evidence []EvidenceFact // received in the month
}

// AssessmentStore keeps letters and frozen assessments and gathers a
// month's facts.
type AssessmentStore interface {
	MonthFacts(ctx context.Context, from, to time.Time) (MonthFacts, error)
	CreateLetter(ctx context.Context, l *Letter) error
	// LettersOf lists a township's letters, newest year and signing first.
	LettersOf(ctx context.Context, township string) ([]Letter, error)
	// LettersInForce returns, per township, its latest-signed letter for year.
	LettersInForce(ctx context.Context, year int) (map[string]*Letter, error)
	FrozenAssessment(ctx context.Context, month string) (Assessment, bool, error)
	// FreezeAssessment stores a; a month frozen before fails with ErrConflict.
	FreezeAssessment(ctx context.Context, a Assessment) error
	Townships(ctx context.Context, at time.Time) ([]Township, error)
	TownshipByCode(ctx context.Context, code string, at time.Time) (Township, error)
}

// Assessor produces the monthly township assessment (通报).
type Assessor struct {
	store   AssessmentStore
	patrols *Patrols
	loc     *time.Location
	now     func() time.Time
}

// NewAssessor returns an assessor; loc is the county's zone, in which
// months begin and end.
func NewAssessor(store AssessmentStore, patrols *Patrols, loc *time.Location, now func() time.Time) *Assessor {
	if loc == nil {
		loc = time.FixedZone("CST", 8*3600)
	}
	if now == nil {
		now = time.Now
	}
	return &Assessor{store: store, patrols: patrols, loc: loc, now: now}
}

// CreateLetter records a letter after validating it as data.
func (s *Assessor) CreateLetter(ctx context.Context, a Actor, l Letter) (Letter, error) {
	if a.Role != RoleAdmin {
		return Letter{}, Errorf(EFORBIDDEN, "only administrators record letters")
	}
	if err := l.Validate(); err != nil {
		return Letter{}, err
	}
	if _, err := s.store.TownshipByCode(ctx, l.TownshipCode, s.now()); err != nil {
		return Letter{}, err
	}
	l.RecordedAt, l.RecordedBy = s.now().UTC(), a.UserID
	if err := s.store.CreateLetter(ctx, &l); err != nil {
		return Letter{}, err
	}
	return l, nil
}

// Letters lists a township's letters.
func (s *Assessor) Letters(ctx context.Context, township string) ([]Letter, error) {
	if _, err := s.store.TownshipByCode(ctx, township, s.now()); err != nil {
		return nil, err
	}
	return s.store.LettersOf(ctx, township)
}

// Month returns the assessment of month: its frozen snapshot, or one
// computed now.
func (s *Assessor) Month(ctx context.Context, month string) (Assessment, error) {
	if a, ok, err := s.store.FrozenAssessment(ctx, month); err != nil || ok {
		return a, err
	}
	return s.compute(ctx, month)
}

// Township returns one township's assessment for month, with its refs.
// Administrators see every township, township officers their own.
func (s *Assessor) Township(ctx context.Context, a Actor, month, code string) (Assessment, TownshipScore, error) {
	if a.Role != RoleAdmin && !(a.Role == RoleTownshipOfficer && slices.Contains(a.Townships, code)) {
		return Assessment{}, TownshipScore{}, fmt.Errorf("fieldwatch: township assessment outside scope: %w", ErrNotFound)
	}
	as, err := s.Month(ctx, month)
	if err != nil {
		return Assessment{}, TownshipScore{}, err
	}
	ts, ok := as.Township(code)
	if !ok {
		return Assessment{}, TownshipScore{}, fmt.Errorf("fieldwatch: township %s not assessed: %w", code, ErrNotFound)
	}
	return as, ts, nil
}

// Freeze stores month's assessment as it is now. Only a month that has
// ended can be frozen, and only once.
func (s *Assessor) Freeze(ctx context.Context, a Actor, month string) (Assessment, error) {
	if a.Role != RoleAdmin {
		return Assessment{}, Errorf(EFORBIDDEN, "only administrators freeze assessments")
	}
	_, end, err := MonthRange(month, s.loc)
	if err != nil {
		return Assessment{}, err
	}
	now := s.now().UTC()
	if now.Before(end) {
		return Assessment{}, Errorf(ECONFLICT, "%s has not ended; freeze it from %s", month, end.Format(time.RFC3339))
	}
	if _, ok, err := s.store.FrozenAssessment(ctx, month); err != nil {
		return Assessment{}, err
	} else if ok {
		return Assessment{}, Errorf(ECONFLICT, "%s is already frozen", month)
	}
	as, err := s.compute(ctx, month)
	if err != nil {
		return Assessment{}, err
	}
	as.Frozen, as.FrozenAt, as.FrozenBy = true, &now, a.UserID
	if err := s.store.FreezeAssessment(ctx, as); err != nil {
		return Assessment{}, err
	}
	return as, nil
}

func (s *Assessor) compute(ctx context.Context, month string) (Assessment, error) {
	start, end, err := MonthRange(month, s.loc)
	if err != nil {
		return Assessment{}, err
	}
	// Townships as they stood at the month's end: a later re-import does
	// not change who was assessed.
	townships, err := s.store.Townships(ctx, end.Add(-time.Nanosecond))
	if errors.Is(err, ErrNotFound) {
		townships = nil
	} else if err != nil {
		return Assessment{}, err
	}
	letters, err := s.store.LettersInForce(ctx, start.Year())
	if err != nil {
		return Assessment{}, err
	}
	facts, err := s.store.MonthFacts(ctx, start, end)
	if err != nil {
		return Assessment{}, err
	}
	compliance, err := s.patrols.compliance(ctx, start, end)
	if err != nil {
		return Assessment{}, err
	}
	return Score(month, s.now().UTC(), townships, letters, measures(facts, compliance)), nil
}

// measures computes each metric of the catalogue from the month's facts.
func measures(f MonthFacts, compliance []ComplianceRow) MeasureFunc {
	return func(township string, ind Indicator) Measure {
		// count counts every matching fact; each case is named once in the refs.
		count := func(cases []CaseFact, keep func(CaseFact) bool) Measure {
			m := Measure{Refs: Refs{CaseIDs: []string{}}}
			n := 0.0
			for _, c := range cases {
				if c.TownshipCode == township && keep(c) {
					n++
					if !slices.Contains(m.Refs.CaseIDs, c.ID) {
						m.Refs.CaseIDs = append(m.Refs.CaseIDs, c.ID)
					}
				}
			}
			m.Value = &n
			return m
		}
		all := func(CaseFact) bool { return true }
		switch ind.Metric {
		case MetricClosedOnTimeRate:
			m := count(f.CasesDue, all)
			due := *m.Value
			if due == 0 {
				m.Value = nil
				return m
			}
			onTime := *count(f.CasesDue, func(c CaseFact) bool { return c.OnTime }).Value
			rate := round2(100 * onTime / due)
			m.Value = &rate
			return m
		case MetricOverdueCases:
			return count(f.Overdue, all)
		case MetricReopenedCases:
			// One fact per reopening: a case reopened twice counts twice.
			return count(f.Reopened, all)
		case MetricOpenBurningCases:
			return count(f.Opened, func(c CaseFact) bool { return c.Category == CategoryOpenBurning })
		case MetricEvidenceFound:
			m := Measure{Refs: Refs{EvidenceIDs: []string{}}}
			n := 0.0
			for _, e := range f.Evidence {
				if e.TownshipCode == township && (ind.Category == "" || e.Category == ind.Category) {
					n++
					m.Refs.EvidenceIDs = append(m.Refs.EvidenceIDs, e.ID)
				}
			}
			m.Value = &n
			return m
		case MetricValidPatrolRate:
			m := Measure{Refs: Refs{PatrolIDs: []string{}}}
			required, met := 0, 0
			for _, r := range compliance {
				if r.TownshipCode == township {
					required += r.Required
					met += r.Met
					m.Refs.PatrolIDs = append(m.Refs.PatrolIDs, r.PatrolIDs...)
				}
			}
			if required > 0 {
				rate := round2(100 * float64(met) / float64(required))
				m.Value = &rate
			}
			return m
		}
		return Measure{}
	}
}
