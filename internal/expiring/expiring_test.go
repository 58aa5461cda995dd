package expiring

import (
	"fmt"
	"testing"
	"time"
)

func TestExpiringCache(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	t.Run("ServedUntilExpiry", func(t *testing.T) {
		c := New[string, int](4)
		c.Put("a", 1, now.Add(time.Second), now)
		for _, tc := range []struct {
			at   time.Duration
			want bool
		}{{0, true}, {time.Second - time.Nanosecond, true}, {time.Second, false}, {time.Hour, false}} {
			if _, ok := c.Get("a", now.Add(tc.at)); ok != tc.want {
				t.Errorf("get at +%v: ok = %v, want %v", tc.at, ok, tc.want)
			}
		}
	})
	t.Run("Bound", func(t *testing.T) {
		const max = 16
		c := New[string, int](max)
		for i := range 1000 {
			c.Put(fmt.Sprint(i), i, now.Add(time.Hour), now)
			if n := c.Len(); n > max {
				t.Fatalf("after %d puts: %d entries, bound %d", i+1, n, max)
			}
		}
		if _, ok := c.Get("999", now); !ok {
			t.Error("the newest entry was evicted by its own put")
		}
	})
	t.Run("ExpiredGoFirst", func(t *testing.T) {
		const max = 8
		c := New[string, int](max)
		c.Put("live", 0, now.Add(time.Hour), now)
		for i := range max - 1 {
			c.Put(fmt.Sprint(i), i, now.Add(time.Second), now)
		}
		later := now.Add(2 * time.Second)
		c.Put("new", 1, later.Add(time.Hour), later)
		if _, ok := c.Get("live", later); !ok {
			t.Error("a live entry was evicted while expired ones could go")
		}
		if n := c.Len(); n != 2 {
			t.Errorf("%d entries after the sweep, want 2 (the live one and the new one)", n)
		}
	})
	t.Run("RemoveBlocksRacingPut", func(t *testing.T) {
		c := New[string, int](4)
		epoch := c.Begin()
		c.Remove("a") // a change lands while the old value is being read
		if c.PutSince(epoch, "a", 1, now.Add(time.Hour), now) {
			t.Fatal("a value read before the removal was stored")
		}
		if _, ok := c.Get("a", now); ok {
			t.Fatal("removed entry served")
		}
		if !c.PutSince(c.Begin(), "a", 2, now.Add(time.Hour), now) {
			t.Fatal("a value read after the removal was not stored")
		}
	})
}
