package fieldwatch

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCaseStateMachine checks every (state, action) pair against the
// issue's diagram.
func TestCaseStateMachine(t *testing.T) {
	legal := map[string]CaseState{
		"open start":                       CaseInProgress,
		"returned start":                   CaseInProgress,
		"reopened start":                   CaseInProgress,
		"in_progress submit_rectification": CaseRectificationSubmitted,
		"rectification_submitted verify":   CaseClosed,
		"rectification_submitted return":   CaseReturned,
		"closed reopen":                    CaseReopened,
	}
	states := []CaseState{CaseOpen, CaseInProgress, CaseRectificationSubmitted, CaseReturned, CaseClosed, CaseReopened}
	for _, s := range states {
		for _, a := range CaseActions() {
			to, ok := s.Next(a)
			want, wantOK := legal[string(s)+" "+string(a)]
			if ok != wantOK || to != want {
				t.Errorf("%s --%s--> %q, %v; want %q, %v", s, a, to, ok, want, wantOK)
			}
		}
	}
}

func TestAllowedActions(t *testing.T) {
	c := Case{TownshipCode: "130227106", ReachCode: "LH-03", SubmittedBy: "u-admin"}
	actors := map[string]Actor{
		"admin":     {UserID: "u-admin2", Role: RoleAdmin},
		"submitter": {UserID: "u-admin", Role: RoleAdmin},
		"officer":   {UserID: "u-off", Role: RoleTownshipOfficer, Townships: []string{"130227106"}},
		"other":     {UserID: "u-oth", Role: RoleTownshipOfficer, Townships: []string{"130227101"}},
		"chief":     {UserID: "u-ch", Role: RoleRiverChief, Reaches: []string{"LH-03"}},
		"inspector": {UserID: "u-ins", Role: RoleInspector, Townships: []string{"130227106"}},
	}
	tests := []struct {
		state CaseState
		want  map[string]string
	}{
		{CaseOpen, map[string]string{"admin": "start", "submitter": "start", "officer": "start", "other": "", "chief": "start", "inspector": ""}},
		{CaseInProgress, map[string]string{"admin": "submit_rectification", "officer": "submit_rectification", "chief": "submit_rectification", "inspector": ""}},
		{CaseRectificationSubmitted, map[string]string{"admin": "verify,return", "submitter": "return", "officer": "", "chief": ""}},
		{CaseClosed, map[string]string{"admin": "reopen", "submitter": "reopen", "officer": ""}},
	}
	for _, tc := range tests {
		c.State = tc.state
		for who, want := range tc.want {
			var got []string
			for _, a := range actors[who].AllowedActions(c) {
				got = append(got, string(a))
			}
			if strings.Join(got, ",") != want {
				t.Errorf("%s in %s may %v, want %q", who, tc.state, got, want)
			}
		}
	}
}

func TestCaseScope(t *testing.T) {
	c := Case{TownshipCode: "130227106", ReachCode: "LH-03", Uploaders: []string{"u-ins"}}
	for _, tc := range []struct {
		a    Actor
		sees bool
	}{
		{Actor{UserID: "x", Role: RoleAdmin}, true},
		{Actor{UserID: "o", Role: RoleTownshipOfficer, Townships: []string{"130227106"}}, true},
		{Actor{UserID: "o", Role: RoleTownshipOfficer, Townships: []string{"130227101"}}, false},
		{Actor{UserID: "c", Role: RoleRiverChief, Reaches: []string{"LH-03"}}, true},
		{Actor{UserID: "c", Role: RoleRiverChief, Reaches: []string{"LH-02"}}, false},
		{Actor{UserID: "u-ins", Role: RoleInspector}, true},
		// An inspector's townships show them evidence, not cases.
		{Actor{UserID: "i2", Role: RoleInspector, Townships: []string{"130227106"}}, false},
	} {
		if got := tc.a.CaseScope().SeesCase(c); got != tc.sees {
			t.Errorf("%+v sees %v, want %v", tc.a, got, tc.sees)
		}
	}
}

// TestCaseDeadlines counts working days across weekends, the National
// Day holiday and its make-up workdays (调休), in China's time zone.
func TestCaseDeadlines(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	cal, err := NewCalendar(cst, []string{"2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"},
		[]string{"2026-09-27", "2026-10-10"})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := ParseDeadlines("dust_site:high=2, open_burning:low=0,other:high=3")
	if err != nil {
		t.Fatal(err)
	}
	w := NewCasework(nil, nil, nil, CaseRules{Calendar: cal, Deadlines: policy})
	end := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 23, 59, 59, 999999999, cst) }
	tests := []struct {
		name  string
		cat   Category
		sev   Severity
		start time.Time
		want  time.Time
	}{
		{"friday plus 1 is monday", CategoryOpenBurning, SeverityHigh, time.Date(2026, 11, 27, 10, 0, 0, 0, cst), end(2026, 11, 30)},
		{"saturday plus 10", CategoryRiverSection, SeverityMedium, time.Date(2026, 11, 28, 17, 0, 0, 0, cst), end(2026, 12, 11)},
		{"late utc evening is the next day in china", CategoryOpenBurning, SeverityHigh, time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC), end(2026, 11, 30)},
		{"configured override", CategoryDustSite, SeverityHigh, time.Date(2026, 11, 30, 9, 0, 0, 0, cst), end(2026, 12, 2)},
		{"zero days is the same day", CategoryOpenBurning, SeverityLow, time.Date(2026, 11, 30, 9, 0, 0, 0, cst), end(2026, 11, 30)},
		// 30 Sep (Wed) + 3: 1–7 Oct are off except 3 and 4, a weekend; 8 Oct
		// (Thu), 9 Oct (Fri), 10 Oct (Sat, a make-up workday).
		{"across national day", CategoryOther, SeverityHigh, time.Date(2026, 9, 30, 9, 0, 0, 0, cst), end(2026, 10, 10)},
		// 26 Sep (Sat) + 1: 27 Sep is a Sunday worked.
		{"make-up sunday", CategoryOpenBurning, SeverityHigh, time.Date(2026, 9, 26, 9, 0, 0, 0, cst), end(2026, 9, 27)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := w.Deadline(tc.cat, tc.sev, tc.start); !got.Equal(tc.want) {
				t.Errorf("deadline %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParseDeadlines(t *testing.T) {
	for _, bad := range []string{"dust_site=3", "dust_site:high", "dust_site:high=x", "dust_site:urgent=3", "fire:high=1",
		"dust_site:high=-1", "dust_site:high=366", "dust_site:high=1.5", "dust_site:high=+1"} {
		if _, err := ParseDeadlines(bad); err == nil {
			t.Errorf("ParseDeadlines(%q) accepted", bad)
		}
	}
	p, err := ParseDeadlines("")
	if err != nil || fmt.Sprint(p) != fmt.Sprint(DefaultDeadlines()) {
		t.Fatalf("empty: %v %v", p, err)
	}
}

func TestEscalationAt(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	w := NewCasework(nil, nil, nil, CaseRules{})
	deadline := time.Date(2026, 11, 30, 23, 59, 59, 0, cst) // Monday
	at := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, cst) }
	for _, tc := range []struct {
		state CaseState
		now   time.Time
		want  Escalation
	}{
		{CaseOpen, at(11, 26, 9), EscalationNone},              // Thu: Fri and Mon to go
		{CaseOpen, at(11, 27, 9), EscalationReminder},          // Fri: Mon to go
		{CaseInProgress, at(11, 30, 22), EscalationReminder},   // the last evening
		{CaseInProgress, at(12, 1, 0), EscalationTownshipHead}, // one hour late
		{CaseReturned, at(12, 8, 12), EscalationTownshipHead},  // 6 working days late
		{CaseReopened, at(12, 9, 12), EscalationCounty},        // 7
		{CaseRectificationSubmitted, at(12, 9, 12), EscalationNone},
		{CaseClosed, at(12, 9, 12), EscalationNone},
	} {
		c := Case{State: tc.state, Deadline: deadline, Escalation: EscalationNone}
		if got := w.EscalationAt(c, tc.now); got != tc.want {
			t.Errorf("%s at %v: %s, want %s", tc.state, tc.now, got, tc.want)
		}
	}
}
