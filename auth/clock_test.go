package auth

import (
	"time"

	"github.com/fieldwatch/fieldwatch/internal/testclock"
)

// t0 is the fixed "now" of these tests: a Sunday morning in March.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newClock() *testclock.Clock { return testclock.New(t0) }
