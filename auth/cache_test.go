package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestExpiringCache(t *testing.T) {
	now := t0
	t.Run("ServedUntilExpiry", func(t *testing.T) {
		c := newExpiringCache[string, int](4)
		c.put("a", 1, now.Add(time.Second), now)
		for _, tc := range []struct {
			at   time.Duration
			want bool
		}{{0, true}, {time.Second - time.Nanosecond, true}, {time.Second, false}, {time.Hour, false}} {
			if _, ok := c.get("a", now.Add(tc.at)); ok != tc.want {
				t.Errorf("get at +%v: ok = %v, want %v", tc.at, ok, tc.want)
			}
		}
	})
	t.Run("Bound", func(t *testing.T) {
		const max = 16
		c := newExpiringCache[string, int](max)
		for i := range 1000 {
			c.put(fmt.Sprint(i), i, now.Add(time.Hour), now)
			if n := c.len(); n > max {
				t.Fatalf("after %d puts: %d entries, bound %d", i+1, n, max)
			}
		}
		if _, ok := c.get("999", now); !ok {
			t.Error("the newest entry was evicted by its own put")
		}
	})
	t.Run("ExpiredGoFirst", func(t *testing.T) {
		const max = 8
		c := newExpiringCache[string, int](max)
		c.put("live", 0, now.Add(time.Hour), now)
		for i := range max - 1 {
			c.put(fmt.Sprint(i), i, now.Add(time.Second), now)
		}
		later := now.Add(2 * time.Second)
		c.put("new", 1, later.Add(time.Hour), later)
		if _, ok := c.get("live", later); !ok {
			t.Error("a live entry was evicted while expired ones could go")
		}
		if n := c.len(); n != 2 {
			t.Errorf("%d entries after the sweep, want 2 (the live one and the new one)", n)
		}
	})
	t.Run("RemoveBlocksRacingPut", func(t *testing.T) {
		c := newExpiringCache[string, int](4)
		epoch := c.begin()
		c.remove("a") // a change lands while the old value is being read
		if c.putSince(epoch, "a", 1, now.Add(time.Hour), now) {
			t.Fatal("a value read before the removal was stored")
		}
		if _, ok := c.get("a", now); ok {
			t.Fatal("removed entry served")
		}
		if !c.putSince(c.begin(), "a", 2, now.Add(time.Hour), now) {
			t.Fatal("a value read after the removal was not stored")
		}
	})
}
