package fieldwatch

import (
	"time"
)

// Calendar counts working days for rectification deadlines: weekends and
// configured public holidays are not working days, and configured make-up
// workdays (调休: a Saturday or Sunday worked in exchange for a longer
// holiday) are.
type Calendar struct {
	loc      *time.Location
	holidays map[civilDate]bool
	workdays map[civilDate]bool
}

type civilDate struct {
	y int
	m time.Month
	d int
}

func dateOf(t time.Time) civilDate {
	y, m, d := t.Date()
	return civilDate{y, m, d}
}

// NewCalendar returns a calendar in loc (the county's zone) with the given
// holidays and make-up workdays, each "YYYY-MM-DD".
func NewCalendar(loc *time.Location, holidays, workdays []string) (*Calendar, error) {
	c := &Calendar{loc: loc, holidays: map[civilDate]bool{}, workdays: map[civilDate]bool{}}
	for _, set := range []struct {
		days []string
		into map[civilDate]bool
	}{{holidays, c.holidays}, {workdays, c.workdays}} {
		for _, s := range set.days {
			t, err := time.ParseInLocation(time.DateOnly, s, loc)
			if err != nil {
				return nil, Errorf(EINVALID, "calendar date %q: want YYYY-MM-DD", s)
			}
			set.into[dateOf(t)] = true
		}
	}
	return c, nil
}

// IsWorkingDay reports whether the day of t (in the calendar's zone) is a
// working day.
func (c *Calendar) IsWorkingDay(t time.Time) bool {
	d := dateOf(t.In(c.loc))
	switch {
	case c.workdays[d]:
		return true
	case c.holidays[d]:
		return false
	}
	wd := t.In(c.loc).Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// AddWorkingDays returns the end of the n-th working day after start's day
// (23:59:59.999999999 in the calendar's zone): a case opened on a Friday
// with 1 working day is due at the end of Monday. n <= 0 means the end of
// start's own day.
func (c *Calendar) AddWorkingDays(start time.Time, n int) time.Time {
	day := start.In(c.loc)
	for n > 0 {
		day = day.AddDate(0, 0, 1)
		if c.IsWorkingDay(day) {
			n--
		}
	}
	y, m, d := day.Date()
	return time.Date(y, m, d, 23, 59, 59, 999999999, c.loc)
}

// WorkingDaysBetween counts the working days after from's day up to and
// including to's day; 0 when to is not after from.
func (c *Calendar) WorkingDaysBetween(from, to time.Time) int {
	day, end := from.In(c.loc), dateOf(to.In(c.loc))
	n := 0
	for i := 0; i < 3660 && dateOf(day) != end && day.Before(to); i++ {
		day = day.AddDate(0, 0, 1)
		if c.IsWorkingDay(day) {
			n++
		}
	}
	return n
}
