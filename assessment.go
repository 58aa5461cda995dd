package fieldwatch

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Metric is a measurable indicator of a township's month, from the
// catalogue a responsibility letter (目标责任书) may name.
type Metric string

// The metric catalogue. Each is computed for a township and a month.
const (
	// MetricClosedOnTimeRate: % of the township's cases due in the month
	// that were verified closed by their deadline.
	MetricClosedOnTimeRate Metric = "cases_closed_on_time_rate"
	// MetricOverdueCases: the township's cases that fell overdue in the month.
	MetricOverdueCases Metric = "overdue_cases"
	// MetricReopenedCases: reopenings (recurrences) of its cases in the month.
	MetricReopenedCases Metric = "reopened_cases"
	// MetricOpenBurningCases: open-burning cases opened in the month.
	MetricOpenBurningCases Metric = "open_burning_cases"
	// MetricEvidenceFound: evidence received in the month, of a category
	// when the indicator names one.
	MetricEvidenceFound Metric = "evidence_found"
	// MetricValidPatrolRate: % of the patrol periods required of the
	// chiefs of the township's reaches that had a valid patrol.
	MetricValidPatrolRate Metric = "valid_patrol_rate"
)

// Metrics lists the catalogue, in the order of report columns.
func Metrics() []Metric {
	return []Metric{MetricClosedOnTimeRate, MetricOverdueCases, MetricReopenedCases, MetricOpenBurningCases,
		MetricEvidenceFound, MetricValidPatrolRate}
}

// Valid reports whether m is one of Metrics.
func (m Metric) Valid() bool { return slices.Contains(Metrics(), m) }

// Label is m's Chinese name as exports show it, with its unit when it is a
// rate; an unknown metric shows as it is.
func (m Metric) Label() string {
	switch m {
	case MetricClosedOnTimeRate:
		return "按期整改率(%)"
	case MetricOverdueCases:
		return "逾期案件数"
	case MetricReopenedCases:
		return "复发案件数"
	case MetricOpenBurningCases:
		return "露天焚烧案件数"
	case MetricEvidenceFound:
		return "发现问题数"
	case MetricValidPatrolRate:
		return "有效巡河率(%)"
	}
	return string(m)
}

// isRate reports whether the metric is a percentage.
func (m Metric) isRate() bool { return m == MetricClosedOnTimeRate || m == MetricValidPatrolRate }

// ScoreRule is how an indicator's value becomes points.
type ScoreRule string

// Scoring rules.
const (
	// RuleLinear: the full weight at the target, nothing at the floor, in
	// proportion between. A target below the floor means lower is better.
	RuleLinear ScoreRule = "linear"
	// RuleDeduct: the weight less PointsPer for each occurrence beyond the
	// target, not below zero.
	RuleDeduct ScoreRule = "deduct"
)

// ScoreRules lists every ScoreRule.
func ScoreRules() []ScoreRule { return []ScoreRule{RuleLinear, RuleDeduct} }

// Valid reports whether r is one of ScoreRules.
func (r ScoreRule) Valid() bool { return slices.Contains(ScoreRules(), r) }

// Label is r's Chinese name, as exports show it; an unknown rule shows as
// it is.
func (r ScoreRule) Label() string {
	switch r {
	case RuleLinear:
		return "线性计分"
	case RuleDeduct:
		return "扣分制"
	}
	return string(r)
}

// Indicator is one target of a letter.
type Indicator struct {
	Metric    Metric
	Category  Category // MetricEvidenceFound only; "" for all
	Rule      ScoreRule
	Target    float64
	Floor     float64 // RuleLinear
	PointsPer float64 // RuleDeduct
	Weight    float64
}

// Letter is a township's target-responsibility letter for a year.
type Letter struct {
	ID           string
	TownshipCode string
	Year         int
	SignedOn     time.Time // a date, midnight UTC
	Indicators   []Indicator
	RecordedAt   time.Time
	RecordedBy   string
}

// Validate checks a letter as data: known metrics, each once, sound
// rules, weights adding up to 100. The error lists every problem.
func (l Letter) Validate() error {
	var errs []error
	bad := func(i int, format string, args ...any) {
		errs = append(errs, Errorf(EINVALID, "indicators/%d: %s", i, fmt.Sprintf(format, args...)))
	}
	if l.Year < 2000 || l.Year > 2100 {
		errs = append(errs, Errorf(EINVALID, "year %d outside 2000–2100", l.Year))
	}
	if len(l.Indicators) == 0 {
		errs = append(errs, Errorf(EINVALID, "a letter needs indicators"))
	}
	seen := map[string]bool{}
	total := 0.0
	for i, ind := range l.Indicators {
		if !ind.Metric.Valid() {
			bad(i, "unknown metric %q", ind.Metric)
		}
		if ind.Category != "" {
			if !ind.Category.Valid() || ind.Metric != MetricEvidenceFound {
				bad(i, "category applies to evidence_found only, with a known category")
			}
		}
		if key := string(ind.Metric) + "/" + string(ind.Category); seen[key] {
			bad(i, "%s is already an indicator of this letter", key)
		} else {
			seen[key] = true
		}
		for _, v := range []float64{ind.Target, ind.Floor, ind.PointsPer, ind.Weight} {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				bad(i, "numbers must be finite and not negative")
				break
			}
		}
		if !(ind.Weight > 0 && ind.Weight <= 100) {
			bad(i, "weight %v outside (0, 100]", ind.Weight)
		}
		if ind.Metric.isRate() && (ind.Target > 100 || ind.Floor > 100) {
			bad(i, "%s is a percentage: target and floor at most 100", ind.Metric)
		}
		switch ind.Rule {
		case RuleLinear:
			if ind.Floor == ind.Target {
				bad(i, "a linear rule needs a floor different from the target")
			}
			if ind.PointsPer != 0 {
				bad(i, "points_per goes with the deduct rule")
			}
		case RuleDeduct:
			if !(ind.PointsPer > 0) {
				bad(i, "a deduct rule needs points_per > 0")
			}
			if ind.Floor != 0 {
				bad(i, "floor goes with the linear rule")
			}
		default:
			bad(i, "unknown rule %q", ind.Rule)
		}
		total += ind.Weight
	}
	if len(l.Indicators) > 0 && math.Abs(total-100) > 1e-9 {
		errs = append(errs, Errorf(EINVALID, "weights add up to %v, not 100", total))
	}
	return errors.Join(errs...)
}

// Points scores value against the indicator. A nil value (nothing to
// measure, such as a rate with no case due) scores the full weight:
// nothing was late.
func (ind Indicator) Points(value *float64) float64 {
	if value == nil {
		return ind.Weight
	}
	v := *value
	switch ind.Rule {
	case RuleLinear:
		share := (v - ind.Floor) / (ind.Target - ind.Floor)
		return round2(ind.Weight * min(max(share, 0), 1))
	case RuleDeduct:
		return round2(max(ind.Weight-ind.PointsPer*max(v-ind.Target, 0), 0))
	}
	return 0
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// Refs are the objects an indicator's value was counted from.
type Refs struct {
	EvidenceIDs []string
	CaseIDs     []string
	PatrolIDs   []string
}

// Measure is a metric's value for a township and month, with its refs.
type Measure struct {
	Value *float64
	Refs  Refs
}

// IndicatorScore is an indicator with its value and points.
type IndicatorScore struct {
	Indicator
	Value  *float64
	Points float64
	Refs   Refs
}

// TownshipScore is a township's month.
type TownshipScore struct {
	Code, Name  string
	Zone        Zone
	LetterID    string // "" when it has no letter for the year: not scored
	Score       *float64
	RankInZone  int // 0 when unranked
	RankOverall int
	Indicators  []IndicatorScore
}

// Assessment is the county's monthly ranking of its townships.
type Assessment struct {
	Month      string // YYYY-MM
	Frozen     bool
	FrozenAt   *time.Time
	FrozenBy   string
	ComputedAt time.Time
	Townships  []TownshipScore // by overall rank, then code
}

// Township returns the township's score, and whether it is there.
func (a Assessment) Township(code string) (TownshipScore, bool) {
	for _, t := range a.Townships {
		if t.Code == code {
			return t, true
		}
	}
	return TownshipScore{}, false
}

// MeasureFunc gives a metric's value for a township in the month.
type MeasureFunc func(township string, ind Indicator) Measure

// Score assesses each township against its letter (nil: none) with the
// measures, totals the points and ranks townships by score, overall and
// within their zone tier. Equal scores (to the cent) share a rank, and
// the next rank skips: 1, 2, 2, 4.
func Score(month string, now time.Time, townships []Township, letters map[string]*Letter, measure MeasureFunc) Assessment {
	a := Assessment{Month: month, ComputedAt: now, Townships: make([]TownshipScore, 0, len(townships))}
	for _, t := range townships {
		ts := TownshipScore{Code: t.Code, Name: t.Name, Zone: t.Zone, Indicators: []IndicatorScore{}}
		if l := letters[t.Code]; l != nil {
			ts.LetterID = l.ID
			total := 0.0
			for _, ind := range l.Indicators {
				m := measure(t.Code, ind)
				p := ind.Points(m.Value)
				total += p
				ts.Indicators = append(ts.Indicators, IndicatorScore{Indicator: ind, Value: m.Value, Points: p, Refs: m.Refs})
			}
			total = round2(total)
			ts.Score = &total
		}
		a.Townships = append(a.Townships, ts)
	}
	rank(a.Townships, func(ts *TownshipScore) *int { return &ts.RankOverall }, func(TownshipScore) Zone { return "" })
	rank(a.Townships, func(ts *TownshipScore) *int { return &ts.RankInZone }, func(ts TownshipScore) Zone { return ts.Zone })
	slices.SortStableFunc(a.Townships, func(x, y TownshipScore) int {
		return cmp.Or(cmp.Compare(rankKey(x.RankOverall), rankKey(y.RankOverall)), cmp.Compare(x.Code, y.Code))
	})
	return a
}

func rankKey(r int) int {
	if r == 0 {
		return math.MaxInt
	}
	return r
}

// rank sets competition ranks within each group of scored townships.
func rank(ts []TownshipScore, slot func(*TownshipScore) *int, group func(TownshipScore) Zone) {
	byGroup := map[Zone][]int{}
	for i, t := range ts {
		if t.Score != nil {
			byGroup[group(t)] = append(byGroup[group(t)], i)
		}
	}
	for _, idx := range byGroup {
		slices.SortFunc(idx, func(i, j int) int { return cmp.Compare(*ts[j].Score, *ts[i].Score) })
		for pos, i := range idx {
			r := pos + 1
			if pos > 0 && *ts[idx[pos-1]].Score == *ts[i].Score {
				r = *slot(&ts[idx[pos-1]])
			}
			*slot(&ts[i]) = r
		}
	}
}

// MonthRange returns the first instant of month ("YYYY-MM") in loc and of
// the month after.
func MonthRange(month string, loc *time.Location) (time.Time, time.Time, error) {
	start, err := time.ParseInLocation("2006-01", month, loc)
	if err != nil || start.Format("2006-01") != month {
		return time.Time{}, time.Time{}, Errorf(EINVALID, "month %q: want YYYY-MM", month)
	}
	return start, start.AddDate(0, 1, 0), nil
}
