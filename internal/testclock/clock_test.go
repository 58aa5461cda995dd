package testclock_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/internal/testclock"
)

func Example() {
	c := testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	now := c.Now // what the code under test is given
	c.Advance(90 * time.Minute)
	fmt.Println(now().Format(time.Kitchen))
	// Output: 10:30AM
}

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	c := testclock.New(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("Now = %v, want %v", got, t0)
	}
	c.Advance(time.Hour)
	if got := c.Now(); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after Advance: %v", got)
	}
	c.Set(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("after Set: %v", got)
	}
	if err := c.Sleep(t.Context(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if c.Slept() != 2*time.Second || !c.Now().Equal(t0.Add(2*time.Second)) {
		t.Fatalf("after Sleep: slept %v, now %v", c.Slept(), c.Now())
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Sleep(ctx, time.Second); err == nil || c.Slept() != 2*time.Second {
		t.Fatalf("Sleep on an ended context: %v, slept %v", err, c.Slept())
	}
}

// TestClockConcurrent is for the race detector: the code under test reads
// the clock from its own goroutines while the test moves it.
func TestClockConcurrent(t *testing.T) {
	c := testclock.New(time.Unix(0, 0))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got := c.Now(); !got.Equal(time.Unix(0, 0).Add(400 * time.Millisecond)) {
		t.Fatalf("Now = %v", got)
	}
}
