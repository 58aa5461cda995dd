package testwait_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/internal/testwait"
)

func TestFor(t *testing.T) {
	var n atomic.Int32
	if !testwait.For(time.Minute, time.Millisecond, func() bool { return n.Add(1) == 3 }) {
		t.Fatal("For gave up on a condition that came true")
	}
	if n.Load() != 3 {
		t.Fatalf("cond called %d times", n.Load())
	}
	if testwait.For(5*time.Millisecond, time.Millisecond, func() bool { return false }) {
		t.Fatal("For reported a condition that never came true")
	}
}

func TestUntil(t *testing.T) {
	testwait.Until(t, time.Minute, time.Millisecond, "at once", func() bool { return true })
}
