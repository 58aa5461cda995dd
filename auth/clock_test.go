package auth

import (
	"sync"
	"time"
)

// t0 is the fixed "now" of these tests: a Sunday morning in March.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// testClock is a settable clock; safe for the concurrent tests.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock { return &testClock{t: t0} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
