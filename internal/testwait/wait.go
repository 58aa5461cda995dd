// Package testwait waits, in tests, for what a test cannot be told about
// through a channel nor move with a test clock (internal/testclock):
// another process (the fieldwatch binary, PostgreSQL restarting) or a
// server's state seen only through its API or its database. It polls a
// condition until a deadline; each caller says in a comment why nothing
// better is available.
package testwait

import (
	"testing"
	"time"
)

// For calls cond at once and then every interval until it returns true
// or timeout has passed, and reports whether it returned true.
func For(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-deadline.C:
			return cond()
		case <-tick.C:
		}
	}
}

// Until is For that fails the test, saying what it waited for, when cond
// has not returned true within timeout.
func Until(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	if !For(timeout, interval, cond) {
		t.Fatalf("%s: not within %s", what, timeout)
	}
}
