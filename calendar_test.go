package fieldwatch

import (
	"testing"
	"time"
)

func TestCalendar(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	// 2026: National Day holiday 10-01..10-07, make-up workday Saturday 10-10.
	cal, err := NewCalendar(cst, []string{"2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"}, []string{"2026-10-10"})
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04", s, cst)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name  string
		start string
		n     int
		due   string
	}{
		{"SameWeek", "2026-11-24 10:00", 2, "2026-11-26"},             // Tue + 2 → Thu
		{"OverWeekend", "2026-11-27 16:30", 1, "2026-11-30"},          // Fri + 1 → Mon
		{"StartOnSaturday", "2026-11-28 09:00", 1, "2026-11-30"},      // Sat + 1 → Mon
		{"FiveAcrossWeekend", "2026-11-25 09:00", 5, "2026-12-02"},    // Wed + 5 → next Wed
		{"OverHoliday", "2026-09-30 09:00", 1, "2026-10-08"},          // Wed + 1 skips 10-01..10-07 (10-03/04 weekend)
		{"MakeUpSaturdayCounts", "2026-10-09 09:00", 1, "2026-10-10"}, // Fri + 1 → the make-up Saturday
		{"ZeroIsEndOfToday", "2026-11-24 10:00", 0, "2026-11-24"},
		{"LateFridayEvening", "2026-11-27 23:30", 1, "2026-11-30"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := cal.AddWorkingDays(at(tc.start), tc.n)
			if got.Format(time.DateOnly) != tc.due || got.Hour() != 23 {
				t.Fatalf("due %s, want end of %s", got, tc.due)
			}
		})
	}
	if n := cal.WorkingDaysBetween(at("2026-11-27 12:00"), at("2026-12-01 12:00")); n != 2 {
		t.Fatalf("Fri→Tue: %d working days, want 2 (Mon, Tue)", n)
	}
	if n := cal.WorkingDaysBetween(at("2026-12-01 12:00"), at("2026-11-27 12:00")); n != 0 {
		t.Fatalf("backwards: %d", n)
	}
	if _, err := NewCalendar(cst, []string{"2026-13-01"}, nil); err == nil {
		t.Fatal("a bad date was accepted")
	}
}
