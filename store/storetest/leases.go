package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/store"
)

// testLeases checks the job leases on s, a store of its own: one holder
// at a time, taken over only after expiry, and one winner among holders
// asking at once.
func testLeases(t *testing.T, s *store.Store) {
	ctx := t.Context()
	t0 := Clock()
	acquire := func(t *testing.T, name, holder string, now time.Time, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.AcquireLease(ctx, name, holder, now, now.Add(ttl))
		if err != nil {
			t.Fatalf("AcquireLease(%s, %s): %v", name, holder, err)
		}
		return ok
	}

	t.Run("OneHolderUntilExpiry", func(t *testing.T) {
		steps := []struct {
			holder string
			at     time.Duration // after t0
			ttl    time.Duration
			want   bool
		}{
			{"a", 0, time.Minute, true},                  // free
			{"b", 30 * time.Second, time.Minute, false},  // a's until t0+1m
			{"a", 50 * time.Second, time.Minute, true},   // a renews: until t0+1m50s
			{"b", 80 * time.Second, time.Minute, false},  // past a's first expiry, not its renewal
			{"b", 110 * time.Second, time.Minute, true},  // expired exactly now: taken over
			{"a", 111 * time.Second, time.Minute, false}, // a lost it
		}
		for i, st := range steps {
			if got := acquire(t, "sweep", st.holder, t0.Add(st.at), st.ttl); got != st.want {
				t.Fatalf("step %d: %s at +%v got %v, want %v", i, st.holder, st.at, got, st.want)
			}
		}
	})

	t.Run("Release", func(t *testing.T) {
		if !acquire(t, "release", "a", t0, time.Hour) {
			t.Fatal("a free lease was refused")
		}
		if err := s.ReleaseLease(ctx, "release", "b"); err != nil {
			t.Fatal(err)
		}
		if acquire(t, "release", "b", t0, time.Hour) {
			t.Fatal("a release by someone who does not hold the lease freed it")
		}
		if err := s.ReleaseLease(ctx, "release", "a"); err != nil {
			t.Fatal(err)
		}
		if !acquire(t, "release", "b", t0, time.Hour) {
			t.Fatal("a released lease could not be taken")
		}
		if err := s.ReleaseLease(ctx, "never-taken", "a"); err != nil {
			t.Fatalf("releasing a lease nobody holds: %v", err)
		}
	})

	t.Run("ConcurrentTakersOneWins", func(t *testing.T) {
		for round := range 5 {
			name := fmt.Sprint("race-", round)
			var (
				wg    sync.WaitGroup
				wins  atomic.Int32
				start = make(chan struct{})
			)
			for h := range 8 {
				wg.Go(func() {
					<-start
					ok, err := s.AcquireLease(ctx, name, fmt.Sprint("holder-", h), t0, t0.Add(time.Minute))
					if err != nil {
						t.Errorf("holder %d: %v", h, err)
					}
					if ok {
						wins.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			if n := wins.Load(); n != 1 {
				t.Fatalf("round %d: %d holders got the lease, want 1", round, n)
			}
		}
	})

	t.Run("DeleteExpired", func(t *testing.T) {
		// From the subtests above: "sweep" (b until t0+2m50s), "release"
		// (b until t0+1h), race-0..4 (until t0+1m).
		n, err := s.DeleteExpiredLeases(ctx, t0.Add(3*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if n != 6 {
			t.Fatalf("deleted %d expired leases, want 6", n)
		}
		if !acquire(t, "sweep", "c", t0, time.Minute) {
			t.Fatal("a deleted lease could not be taken")
		}
		if acquire(t, "release", "c", t0.Add(3*time.Minute), time.Minute) {
			t.Fatal("a live lease was deleted")
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		for _, tc := range []struct {
			name, lease, holder string
			until               time.Time
		}{
			{"EmptyName", "", "a", t0.Add(time.Minute)},
			{"EmptyHolder", "x", "", t0.Add(time.Minute)},
			{"NUL", "x\x00", "a", t0.Add(time.Minute)},
			{"UntilNotAfterNow", "x", "a", t0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := s.AcquireLease(ctx, tc.lease, tc.holder, t0, tc.until); !errors.Is(err, fieldwatch.ErrInvalid) {
					t.Fatalf("got %v, want ErrInvalid", err)
				}
			})
		}
	})
}
