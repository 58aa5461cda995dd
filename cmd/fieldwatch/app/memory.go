package app

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/fieldwatch/fieldwatch"
)

// ParseBytes reads a size: a number of bytes, or a number with one of the
// suffixes KiB, MiB, GiB (as GOMEMLIMIT writes them).
func ParseBytes(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("want a size in bytes, or with KiB, MiB or GiB, got %q", v)
	}
	return n * mult, nil
}

// memoryLimit is the soft memory limit the process should run with, and
// whether fieldwatch should set it: GOMEMLIMIT, when set, was read by the
// runtime at start and wins; --memory-limit 0 sets none.
func memoryLimit(c Config, getenv func(string) string) (int64, bool) {
	if getenv("GOMEMLIMIT") != "" || c.MemoryLimit <= 0 {
		return 0, false
	}
	return c.MemoryLimit, true
}

// ApplyMemoryLimit sets the Go runtime's soft memory limit from
// --memory-limit, unless GOMEMLIMIT is set, and describes the outcome for
// the start-up log. Without a limit the heap may grow to twice its live
// size before a collection (GOGC=100): a burst of uploads finishing
// together then costs twice their garbage in RSS. With one, the collector
// runs sooner as the heap nears it. It is a soft limit: a live heap above
// it is not refused, the collector just works harder (at most half the
// CPU), so set it above what the process needs live (the geography index
// of a large county is ~40 MB).
func ApplyMemoryLimit(c Config, getenv func(string) string) string {
	limit, ok := memoryLimit(c, getenv)
	switch {
	case ok:
		debug.SetMemoryLimit(limit)
		return fmt.Sprintf("%d MiB (--memory-limit)", limit>>20)
	case getenv("GOMEMLIMIT") != "":
		return "GOMEMLIMIT=" + getenv("GOMEMLIMIT")
	}
	return "none"
}

// uploadsStoring is how many uploads may store their photo and commit
// their row at once: the configured number, but never so many that their
// database work could take the whole pool. At least a third of it (and at
// least 2 connections) stays free for reads, so evidence can be read
// while a thousand uploads finish together. With PostgreSQL's 25
// connections the default 16 stands; SQLite's small pool (its writes take
// turns on one lock anyway) allows 2 on a two-core machine.
func uploadsStoring(configured, pool int) int {
	if configured <= 0 {
		configured = fieldwatch.DefaultMaxStoring
	}
	if pool <= 0 {
		return configured // unlimited pool
	}
	return max(1, min(configured, pool-max(2, pool/3)))
}
