package fieldwatch

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func ptr(f float64) *float64 { return &f }

func TestIndicatorPoints(t *testing.T) {
	tests := []struct {
		name  string
		ind   Indicator
		value *float64
		want  float64
	}{
		{"linear at target", Indicator{Rule: RuleLinear, Floor: 60, Target: 95, Weight: 30}, ptr(95), 30},
		{"linear above target", Indicator{Rule: RuleLinear, Floor: 60, Target: 95, Weight: 30}, ptr(100), 30},
		{"linear between", Indicator{Rule: RuleLinear, Floor: 60, Target: 95, Weight: 30}, ptr(81), 18},
		{"linear at floor", Indicator{Rule: RuleLinear, Floor: 60, Target: 95, Weight: 30}, ptr(60), 0},
		{"linear below floor", Indicator{Rule: RuleLinear, Floor: 60, Target: 95, Weight: 30}, ptr(10), 0},
		{"lower is better", Indicator{Rule: RuleLinear, Floor: 10, Target: 0, Weight: 20}, ptr(4), 12},
		{"lower is better past floor", Indicator{Rule: RuleLinear, Floor: 10, Target: 0, Weight: 20}, ptr(12), 0},
		{"rounded to the cent", Indicator{Rule: RuleLinear, Floor: 0, Target: 3, Weight: 40}, ptr(1), 13.33},
		{"deduct none", Indicator{Rule: RuleDeduct, Target: 0, PointsPer: 5, Weight: 20}, ptr(0), 20},
		{"deduct three", Indicator{Rule: RuleDeduct, Target: 0, PointsPer: 5, Weight: 20}, ptr(3), 5},
		{"deduct within allowance", Indicator{Rule: RuleDeduct, Target: 2, PointsPer: 5, Weight: 20}, ptr(2), 20},
		{"deduct not below zero", Indicator{Rule: RuleDeduct, Target: 0, PointsPer: 5, Weight: 20}, ptr(9), 0},
		{"nothing to measure scores full", Indicator{Rule: RuleLinear, Floor: 0, Target: 100, Weight: 25}, nil, 25},
	}
	for _, tc := range tests {
		if got := tc.ind.Points(tc.value); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLetterValidate(t *testing.T) {
	good := func() Letter {
		return Letter{Year: 2026, Indicators: []Indicator{
			{Metric: MetricClosedOnTimeRate, Rule: RuleLinear, Floor: 60, Target: 95, Weight: 50},
			{Metric: MetricEvidenceFound, Category: CategoryOpenBurning, Rule: RuleDeduct, PointsPer: 2, Weight: 25},
			{Metric: MetricEvidenceFound, Category: CategoryDustSite, Rule: RuleDeduct, PointsPer: 2, Weight: 25},
		}}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("good letter: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Letter)
		want   string
	}{
		{"weights", func(l *Letter) { l.Indicators[0].Weight = 40 }, "weights add up to 90"},
		{"unknown metric", func(l *Letter) { l.Indicators[0].Metric = "happiness" }, `unknown metric "happiness"`},
		{"duplicate", func(l *Letter) { l.Indicators[2].Category = CategoryOpenBurning }, "already an indicator"},
		{"category on a case metric", func(l *Letter) { l.Indicators[0].Category = CategoryDustSite }, "category applies to evidence_found only"},
		{"linear without range", func(l *Letter) { l.Indicators[0].Floor = 95 }, "floor different from the target"},
		{"deduct without points", func(l *Letter) { l.Indicators[1].PointsPer = 0 }, "points_per > 0"},
		{"rate over 100", func(l *Letter) { l.Indicators[0].Target = 120 }, "percentage"},
		{"year", func(l *Letter) { l.Year = 1999 }, "year 1999"},
		{"rule", func(l *Letter) { l.Indicators[1].Rule = "bonus" }, `unknown rule "bonus"`},
		{"empty", func(l *Letter) { l.Indicators = nil }, "needs indicators"},
	}
	for _, tc := range tests {
		l := good()
		tc.change(&l)
		err := l.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestScoreRanks checks competition ranking, overall and within tiers,
// with ties and unscored townships, against ranks worked out by hand.
func TestScoreRanks(t *testing.T) {
	townships := []Township{
		{Code: "1", Zone: ZoneCore}, {Code: "2", Zone: ZoneCore}, {Code: "3", Zone: ZonePeriphery},
		{Code: "4", Zone: ZonePeriphery}, {Code: "5", Zone: ZoneGeneral}, {Code: "6", Zone: ZoneGeneral}, {Code: "7", Zone: ZoneCore},
	}
	letter := &Letter{ID: "L", Indicators: []Indicator{{Metric: MetricOverdueCases, Rule: RuleDeduct, PointsPer: 10, Weight: 100}}}
	letters := map[string]*Letter{"1": letter, "2": letter, "3": letter, "4": letter, "5": letter, "6": letter}
	overdue := map[string]float64{"1": 2, "2": 0, "3": 2, "4": 5, "5": 0, "6": 2} // 80 100 80 50 100 80
	a := Score("2026-11", time.Time{}, townships, letters, func(code string, ind Indicator) Measure {
		v := overdue[code]
		return Measure{Value: &v}
	})
	var got []string
	for _, ts := range a.Townships {
		score := "-"
		if ts.Score != nil {
			score = fmt.Sprint(*ts.Score)
		}
		got = append(got, fmt.Sprintf("%s:%s:%d:%d", ts.Code, score, ts.RankOverall, ts.RankInZone))
	}
	// Overall: 2 and 5 tie at 100 (1st), then 1, 3, 6 at 80 (3rd), 4 at 50
	// (6th); 7 has no letter. Core: 2 1st, 1 2nd; periphery: 3 1st, 4
	// 2nd; general: 5 1st, 6 2nd.
	want := "2:100:1:1 5:100:1:1 1:80:3:2 3:80:3:1 6:80:3:2 4:50:6:2 7:-:0:0"
	if strings.Join(got, " ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}

func TestMonthRange(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	from, to, err := MonthRange("2026-12", cst)
	if err != nil || !from.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, cst)) || !to.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, cst)) {
		t.Fatalf("%v %v %v", from, to, err)
	}
	for _, bad := range []string{"2026-13", "2026-1", "26-01", "2026-01-01", ""} {
		if _, _, err := MonthRange(bad, cst); err == nil {
			t.Errorf("MonthRange(%q) accepted", bad)
		}
	}
}

// TestPatrolPeriods: each period counts in the month it ends in.
func TestPatrolPeriods(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	s := NewPatrols(nil, nil, nil, PatrolConfig{Location: cst})
	show := func(ps []period) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.from.Format("01-02")+".."+p.to.Format("01-02"))
		}
		return strings.Join(out, " ")
	}
	tests := []struct {
		p     Period
		month string
		want  string
	}{
		// November 2026 starts on a Sunday: the week of 26 Oct – 1 Nov ends
		// in it; the week of 30 Nov – 6 Dec does not.
		{PeriodWeek, "2026-11", "10-26..11-02 11-02..11-09 11-09..11-16 11-16..11-23 11-23..11-30"},
		{PeriodWeek, "2026-06", "06-01..06-08 06-08..06-15 06-15..06-22 06-22..06-29"}, // 29 June–5 July ends in July
		{PeriodMonth, "2026-11", "11-01..12-01"},
		{PeriodQuarter, "2026-11", ""},
		{PeriodQuarter, "2026-12", "10-01..01-01"},
	}
	for _, tc := range tests {
		start, end, _ := MonthRange(tc.month, cst)
		if got := show(s.periods(tc.p, start, end)); got != tc.want {
			t.Errorf("%s in %s: %s, want %s", tc.p, tc.month, got, tc.want)
		}
	}
}

func TestParseFrequency(t *testing.T) {
	f, err := ParseFrequency("county=month, village=week")
	if err != nil || f[ChiefCounty] != PeriodMonth || f[ChiefTownship] != PeriodMonth || f[ChiefVillage] != PeriodWeek {
		t.Fatalf("%v %v", f, err)
	}
	for _, bad := range []string{"county", "county=day", "mayor=week"} {
		if _, err := ParseFrequency(bad); err == nil {
			t.Errorf("ParseFrequency(%q) accepted", bad)
		}
	}
}
