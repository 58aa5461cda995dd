package fieldwatch

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzParseMonthAndPolicies feeds one string to the parsers of client and
// operator text in this package: MonthRange (the month of compliance and
// assessment requests), ParseDeadlines (--case-deadlines) and
// ParseFrequency (--patrol-frequency). For each it checks that a refusal
// wraps ErrInvalid and that what is accepted keeps the parser's promises.
func FuzzParseMonthAndPolicies(f *testing.F) {
	for _, s := range []string{
		"2026-11", "2026-13", "2026-1", "0000-01", "9999-12", "2026-02-01", " 2026-11", "２０２６-１１",
		"open_burning:high=1,dust_site:low=7", "other:medium=365", "river_section:low=366", "dust_site:low=-1",
		"dust_site:low=07", "dust_site:low=+7", "noise:high=1", "open_burning:critical=1", "open_burning=1", ",,,",
		"village=week,county=month", "township=quarter", "village=day", "province=week", "village=", "=week",
	} {
		f.Add(s)
	}
	shanghai := time.FixedZone("CST", 8*3600)
	f.Fuzz(func(t *testing.T, s string) {
		for _, loc := range []*time.Location{time.UTC, shanghai} {
			start, end, err := MonthRange(s, loc)
			if err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("MonthRange(%q): %v does not wrap ErrInvalid", s, err)
				}
				continue
			}
			if start.Format("2006-01") != s || start.Location() != loc {
				t.Fatalf("MonthRange(%q) starts %v", s, start)
			}
			if start.Day() != 1 || start.Hour() != 0 || start.Minute() != 0 || start.Second() != 0 || start.Nanosecond() != 0 {
				t.Fatalf("MonthRange(%q) starts %v, not at the month's first midnight", s, start)
			}
			if !end.Equal(start.AddDate(0, 1, 0)) || !end.After(start) || end.Day() != 1 {
				t.Fatalf("MonthRange(%q) = [%v, %v), not one calendar month", s, start, end)
			}
		}

		p, err := ParseDeadlines(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseDeadlines(%q): %v does not wrap ErrInvalid", s, err)
			}
		} else {
			canon := checkDeadlines(t, s, p)
			// The policy written out in full parses to itself.
			again, err := ParseDeadlines(canon)
			if err != nil || !maps.EqualFunc(p, again, maps.Equal) {
				t.Fatalf("ParseDeadlines(%q) = %v; its canonical form %q gives %v, %v", s, p, canon, again, err)
			}
		}

		fr, err := ParseFrequency(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseFrequency(%q): %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		levels := []ChiefLevel{ChiefVillage, ChiefTownship, ChiefCounty}
		if len(fr) != len(levels) {
			t.Fatalf("ParseFrequency(%q) = %v: want exactly the three levels", s, fr)
		}
		var items []string
		for _, l := range levels {
			if !slices.Contains([]Period{PeriodWeek, PeriodMonth, PeriodQuarter}, fr[l]) {
				t.Fatalf("ParseFrequency(%q) gives %s the period %q", s, l, fr[l])
			}
			items = append(items, string(l)+"="+string(fr[l]))
		}
		canon := strings.Join(items, ",")
		if again, err := ParseFrequency(canon); err != nil || !maps.Equal(fr, again) {
			t.Fatalf("ParseFrequency(%q) = %v; its canonical form %q gives %v, %v", s, fr, canon, again, err)
		}
	})
}

// checkDeadlines checks that p has a day count in [0, 365] for every
// category and severity, and nothing else, and returns it written out in
// full as ParseDeadlines reads it.
func checkDeadlines(t *testing.T, s string, p DeadlinePolicy) string {
	t.Helper()
	cats := []Category{CategoryDustSite, CategoryOpenBurning, CategoryRiverSection, CategoryOther}
	sevs := []Severity{SeverityLow, SeverityMedium, SeverityHigh}
	if len(p) != len(cats) {
		t.Fatalf("ParseDeadlines(%q) = %v: want exactly the four categories", s, p)
	}
	var items []string
	for _, c := range cats {
		if len(p[c]) != len(sevs) {
			t.Fatalf("ParseDeadlines(%q) gives %s %v: want exactly the three severities", s, c, p[c])
		}
		for _, sev := range sevs {
			n, ok := p[c][sev]
			if !ok || n < 0 || n > 365 {
				t.Fatalf("ParseDeadlines(%q) gives %s:%s %d days", s, c, sev, n)
			}
			items = append(items, fmt.Sprintf("%s:%s=%d", c, sev, n))
		}
	}
	return strings.Join(items, ",")
}
