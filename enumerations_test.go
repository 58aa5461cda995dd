package fieldwatch

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// enumeration is one of the domain's enumerations as strings: its list,
// its Valid method, and its label where the domain owns one.
type enumeration struct {
	name   string
	values []string
	valid  func(string) bool
	label  func(string) string
}

func enumOf[T ~string](name string, list []T, valid func(T) bool, label func(T) string) enumeration {
	e := enumeration{name: name, valid: func(s string) bool { return valid(T(s)) }}
	for _, v := range list {
		e.values = append(e.values, string(v))
	}
	if label != nil {
		e.label = func(s string) string { return label(T(s)) }
	}
	return e
}

func enumerations() []enumeration {
	reviewState := func(s string) bool { return s == ReviewPending || Decision(s).Valid() }
	return []enumeration{
		enumOf("Category", Categories(), Category.Valid, Category.Label),
		enumOf("Flag", Flags(), Flag.Valid, nil),
		enumOf("Source", Sources(), Source.Valid, nil),
		enumOf("SubmissionState", SubmissionStates(), SubmissionState.Valid, nil),
		enumOf("Decision", Decisions(), Decision.Valid, nil),
		enumOf("ReviewState", ReviewStates(), reviewState, nil),
		enumOf("Severity", Severities(), Severity.Valid, nil),
		enumOf("CaseState", CaseStates(), CaseState.Valid, nil),
		enumOf("CaseAction", CaseActions(), CaseAction.Valid, nil),
		enumOf("Escalation", Escalations(), Escalation.Valid, nil),
		enumOf("CaseEventKind", CaseEventKinds(), CaseEventKind.Valid, nil),
		enumOf("Zone", Zones(), Zone.Valid, Zone.Label),
		enumOf("ChiefLevel", ChiefLevels(), ChiefLevel.Valid, nil),
		enumOf("Period", Periods(), Period.Valid, nil),
		enumOf("Metric", Metrics(), Metric.Valid, Metric.Label),
		enumOf("ScoreRule", ScoreRules(), ScoreRule.Valid, ScoreRule.Label),
		enumOf("Role", Roles(), Role.Valid, nil),
		enumOf("ThumbnailState", ThumbnailStates(), ThumbnailState.Valid, nil),
	}
}

// TestEnumerations: every list is non-empty and without duplicates, and
// its Valid method agrees with it; every label the domain owns is set and
// tells the values apart.
func TestEnumerations(t *testing.T) {
	for _, e := range enumerations() {
		t.Run(e.name, func(t *testing.T) {
			if len(e.values) == 0 {
				t.Fatal("empty list")
			}
			labels := map[string]string{}
			for i, v := range e.values {
				if v == "" || slices.Index(e.values, v) != i {
					t.Errorf("value %q empty or listed twice", v)
				}
				if !e.valid(v) {
					t.Errorf("listed value %q is not Valid", v)
				}
				if e.label == nil {
					continue
				}
				l := e.label(v)
				if l == "" || l == v {
					t.Errorf("%q has no label", v)
				}
				if other, ok := labels[l]; ok {
					t.Errorf("%q and %q are both labelled %q", other, v, l)
				}
				labels[l] = v
			}
			for _, bad := range []string{"", "unknown", " " + e.values[0], e.values[0] + "x"} {
				if e.valid(bad) {
					t.Errorf("%q is Valid", bad)
				}
				if e.label != nil && e.label(bad) != bad {
					t.Errorf("unknown %q is labelled %q, want itself", bad, e.label(bad))
				}
			}
		})
	}
}

func TestParseEnumerations(t *testing.T) {
	for _, c := range Categories() {
		if got, err := ParseCategory(string(c)); err != nil || got != c {
			t.Errorf("ParseCategory(%q) = %q, %v", c, got, err)
		}
	}
	for _, a := range CaseActions() {
		if got, err := ParseCaseAction(string(a)); err != nil || got != a {
			t.Errorf("ParseCaseAction(%q) = %q, %v", a, got, err)
		}
	}
	for _, r := range Roles() {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for name, parse := range map[string]func(string) error{
		"ParseCategory":   func(s string) error { _, err := ParseCategory(s); return err },
		"ParseCaseAction": func(s string) error { _, err := ParseCaseAction(s); return err },
		"ParseRole":       func(s string) error { _, err := ParseRole(s); return err },
	} {
		if err := parse("nonsense"); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s(nonsense) = %v, want ErrInvalid", name, err)
		}
	}
}

// TestChiefLevelRank: ranks follow ChiefLevels, from the county down.
func TestChiefLevelRank(t *testing.T) {
	for i, l := range ChiefLevels() {
		if l.Rank() != i {
			t.Errorf("%s ranks %d, want %d", l, l.Rank(), i)
		}
	}
	if ChiefCounty.Rank() != 0 || ChiefLevel("mayor").Rank() != -1 {
		t.Errorf("county ranks %d, unknown %d", ChiefCounty.Rank(), ChiefLevel("mayor").Rank())
	}
}

// TestDeadlineDefaults: every category and severity has default days; a
// category without a row, configured or default, gets FallbackDeadlines
// instead of zero days; overriding a policy that lacks the category's row
// does not panic.
func TestDeadlineDefaults(t *testing.T) {
	def := DefaultDeadlines()
	for _, c := range Categories() {
		for _, s := range Severities() {
			if _, ok := def[c][s]; !ok {
				t.Errorf("no default deadline for %s/%s", c, s)
			}
		}
	}
	t.Run("NewCategory", func(t *testing.T) {
		for _, s := range Severities() {
			if got, want := def.Days("new_category", s), FallbackDeadlines()[s]; got != want || want == 0 {
				t.Errorf("Days(new_category, %s) = %d, want %d", s, got, want)
			}
		}
	})
	t.Run("OverrideWithoutRow", func(t *testing.T) {
		p, err := DeadlinePolicy{}.override("dust_site:high=2")
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Days(CategoryDustSite, SeverityHigh); got != 2 {
			t.Errorf("overridden: %d days, want 2", got)
		}
		if got, want := p.Days(CategoryDustSite, SeverityLow), def[CategoryDustSite][SeverityLow]; got != want {
			t.Errorf("not overridden: %d days, want the default %d", got, want)
		}
	})
	t.Run("Casework", func(t *testing.T) {
		w := NewCasework(nil, nil, nil, CaseRules{Deadlines: DeadlinePolicy{}})
		start := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC) // a Monday
		got := w.Deadline("new_category", SeverityHigh, start)
		if want := w.rules.Calendar.AddWorkingDays(start, FallbackDeadlines()[SeverityHigh]); !got.Equal(want) {
			t.Errorf("deadline %v, want %v", got, want)
		}
	})
	t.Run("Parse", func(t *testing.T) {
		p, err := ParseDeadlines("open_burning:high=1, other:low=7")
		if err != nil {
			t.Fatal(err)
		}
		if p.Days(CategoryOther, SeverityLow) != 7 || p.Days(CategoryOpenBurning, SeverityHigh) != 1 {
			t.Errorf("overrides not applied: %v", p)
		}
		for _, bad := range []string{"smoke:high=1", "other:urgent=1", "other:high=-1", "other:high=366", "other=1"} {
			if _, err := ParseDeadlines(bad); !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseDeadlines(%q) = %v, want ErrInvalid", bad, err)
			}
		}
	})
}
