package auth

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/internal/testclock"
)

func newTestLimiter(cfg LimiterConfig) (*Limiter, *testclock.Clock) {
	c := newClock()
	cfg.Clock = c.Now
	return NewLimiter(cfg), c
}

// fail records n failed attempts the way the API does: Allow, then Failure.
func fail(t *testing.T, l *Limiter, account, addr string, n int) {
	t.Helper()
	for i := range n {
		if ok, wait := l.Allow(account, addr); !ok {
			t.Fatalf("attempt %d refused early (retry after %v)", i+1, wait)
		}
		l.Failure(account)
	}
}

func TestLimiter_Address(t *testing.T) {
	t.Run("BurstThenSteadyRate", func(t *testing.T) {
		l, clock := newTestLimiter(LimiterConfig{})
		for i := range DefaultAddrAttempts {
			if ok, _ := l.Allow(fmt.Sprint("user", i), "203.0.113.7"); !ok {
				t.Fatalf("attempt %d refused", i+1)
			}
		}
		ok, wait := l.Allow("someone", "203.0.113.7")
		if ok || wait != 3*time.Second {
			t.Fatalf("21st attempt: ok=%v retryAfter=%v, want refused for 3s (one per 60s/20)", ok, wait)
		}
		clock.Advance(2 * time.Second)
		if ok, wait := l.Allow("someone", "203.0.113.7"); ok || wait != time.Second {
			t.Fatalf("after 2s: ok=%v retryAfter=%v, want refused for 1s", ok, wait)
		}
		clock.Advance(time.Second)
		if ok, _ := l.Allow("someone", "203.0.113.7"); !ok {
			t.Fatal("after 3s: refused, want one attempt")
		}
		if ok, _ := l.Allow("someone", "203.0.113.7"); ok {
			t.Fatal("second attempt after 3s allowed")
		}
		clock.Advance(DefaultAddrWindow)
		for i := range DefaultAddrAttempts {
			if ok, _ := l.Allow("someone", "203.0.113.7"); !ok {
				t.Fatalf("after a full window, attempt %d refused", i+1)
			}
		}
	})
	t.Run("AddressesAreSeparate", func(t *testing.T) {
		l, _ := newTestLimiter(LimiterConfig{AddrAttempts: 1})
		if ok, _ := l.Allow("a", "203.0.113.7"); !ok {
			t.Fatal("first address refused")
		}
		if ok, _ := l.Allow("a", "203.0.113.8"); !ok {
			t.Fatal("second address refused")
		}
	})
	sameBucket := []struct {
		name string
		a, b string
		same bool
	}{
		{"IPv6_Same64", "2001:db8:1:2::1", "2001:db8:1:2:ffff::9", true},
		{"IPv6_Other64", "2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"IPv6_Zone", "fe80::1%eth0", "fe80::2", true},
		{"IPv4Mapped", "::ffff:203.0.113.7", "203.0.113.7", true},
		{"IPv4_Neighbour", "203.0.113.7", "203.0.113.8", false},
		{"Unparsable", "not-an-ip", "not-an-ip", true},
	}
	for _, tt := range sameBucket {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newTestLimiter(LimiterConfig{AddrAttempts: 1})
			l.Allow("a", tt.a)
			ok, _ := l.Allow("a", tt.b)
			if ok == tt.same {
				t.Errorf("second address allowed=%v, want same bucket=%v", ok, tt.same)
			}
		})
	}
}

func TestLimiter_Account(t *testing.T) {
	const addr = "203.0.113.7"
	t.Run("LockoutAndBackoff", func(t *testing.T) {
		l, clock := newTestLimiter(LimiterConfig{})
		for _, lock := range []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, time.Hour} {
			fail(t, l, "zhang", addr, DefaultAccountFailures)
			ok, wait := l.Allow("zhang", addr)
			if ok || wait != lock {
				t.Fatalf("after %d failures: ok=%v retryAfter=%v, want locked for %v", DefaultAccountFailures, ok, wait, lock)
			}
			clock.Advance(lock - time.Second)
			if ok, wait := l.Allow("zhang", addr); ok || wait != time.Second {
				t.Fatalf("1s before unlock: ok=%v retryAfter=%v", ok, wait)
			}
			clock.Advance(time.Second)
		}
	})
	t.Run("OtherAccountsUnaffected", func(t *testing.T) {
		l, _ := newTestLimiter(LimiterConfig{})
		fail(t, l, "zhang", addr, DefaultAccountFailures)
		if ok, _ := l.Allow("li", addr); !ok {
			t.Error("another account on the same address is locked")
		}
	})
	t.Run("FailuresOutsideWindowDoNotAddUp", func(t *testing.T) {
		l, clock := newTestLimiter(LimiterConfig{})
		fail(t, l, "zhang", addr, DefaultAccountFailures-1)
		clock.Advance(DefaultAccountWindow)
		fail(t, l, "zhang", addr, DefaultAccountFailures-1)
		if ok, _ := l.Allow("zhang", addr); !ok {
			t.Error("locked by failures in two separate windows")
		}
	})
	t.Run("SuccessResets", func(t *testing.T) {
		l, clock := newTestLimiter(LimiterConfig{})
		fail(t, l, "zhang", addr, DefaultAccountFailures)
		clock.Advance(DefaultLockout)
		fail(t, l, "zhang", addr, DefaultAccountFailures-1)
		l.Success("zhang")
		fail(t, l, "zhang", addr, DefaultAccountFailures)
		if _, wait := l.Allow("zhang", addr); wait != DefaultLockout {
			t.Errorf("after success, next lockout %v, want the first step %v", wait, DefaultLockout)
		}
	})
	t.Run("BackoffForgottenAfterQuiet", func(t *testing.T) {
		l, clock := newTestLimiter(LimiterConfig{})
		fail(t, l, "zhang", addr, DefaultAccountFailures)
		clock.Advance(DefaultLockout + DefaultMaxLockout)
		fail(t, l, "zhang", addr, DefaultAccountFailures)
		if _, wait := l.Allow("zhang", addr); wait != DefaultLockout {
			t.Errorf("lockout after a quiet spell = %v, want %v", wait, DefaultLockout)
		}
	})
	t.Run("UsernameCaseAndForm", func(t *testing.T) {
		l, _ := newTestLimiter(LimiterConfig{})
		fail(t, l, "Zhang", addr, 2)
		fail(t, l, "ZHANG", addr, 2)
		fail(t, l, "zhang", addr, 1)
		if ok, _ := l.Allow("zHaNg", addr); ok {
			t.Error("case variants of one username counted apart")
		}
		fail(t, l, "jos\u00e9", addr, 4)
		fail(t, l, "jose\u0301", addr, 1)
		if ok, _ := l.Allow("jos\u00e9", addr); ok {
			t.Error("NFC variants of one username counted apart")
		}
	})
}

func TestLimiter_Memory(t *testing.T) {
	t.Run("AddressTableBounded", func(t *testing.T) {
		l, _ := newTestLimiter(LimiterConfig{MaxEntries: 100})
		for i := range 1000 {
			l.Allow("a", fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		}
		if n := len(l.addrs); n > 100 {
			t.Errorf("%d address entries, cap 100", n)
		}
	})
	t.Run("LockedAccountSurvivesFlood", func(t *testing.T) {
		// Flooding the table with made-up usernames must not evict (and so
		// unlock) a real account under attack.
		l, _ := newTestLimiter(LimiterConfig{MaxEntries: 100, AddrAttempts: 1 << 20})
		fail(t, l, "victim", "203.0.113.7", DefaultAccountFailures)
		for i := range 1000 {
			l.Failure(fmt.Sprint("junk", i))
		}
		if n := len(l.accounts); n > 100 {
			t.Errorf("%d account entries, cap 100", n)
		}
		if ok, _ := l.Allow("victim", "203.0.113.8"); ok {
			t.Error("victim unlocked by a flood of junk usernames")
		}
	})
	t.Run("Sweep", func(t *testing.T) {
		l, clock := newTestLimiter(LimiterConfig{})
		for i := range 50 {
			l.Allow(fmt.Sprint("u", i), fmt.Sprintf("10.0.0.%d", i))
			l.Failure(fmt.Sprint("u", i))
		}
		clock.Advance(DefaultAccountWindow + DefaultMaxLockout)
		l.Allow("late", "10.9.9.9")
		if len(l.accounts) != 0 || len(l.addrs) != 1 {
			t.Errorf("after expiry: %d accounts, %d addresses; want 0 and 1", len(l.accounts), len(l.addrs))
		}
	})
	t.Run("LongKeysHashed", func(t *testing.T) {
		l, _ := newTestLimiter(LimiterConfig{})
		huge := strings.Repeat("x", 1<<20)
		l.Allow(huge, huge)
		l.Failure(huge)
		for k := range l.accounts {
			if len(k) > 100 {
				t.Errorf("account key of %d bytes kept", len(k))
			}
		}
		for k := range l.addrs {
			if len(k) > 100 {
				t.Errorf("address key of %d bytes kept", len(k))
			}
		}
	})
}
