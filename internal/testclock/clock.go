// Package testclock is the one settable clock of fieldwatch's tests. Code
// under test takes a func() time.Time (or a sleep function); a test hands
// it a Clock's Now (or Sleep) and moves time with Advance or Set instead
// of waiting for it to pass.
package testclock

import (
	"context"
	"sync"
	"time"
)

// Clock is a clock that moves only when told. It is safe for concurrent
// use: the code under test may read it from its own goroutines.
type Clock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

// New returns a clock standing at t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time. Pass c.Now where code takes a clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t, forward or back.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Sleep advances the clock by d at once, as if d had passed, and records
// it in Slept; it returns ctx's error if ctx has ended. Pass c.Sleep where
// code takes a sleep function.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	c.slept += d
	return nil
}

// Slept is the total duration Sleep was asked to wait.
func (c *Clock) Slept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.slept
}
