//go:build race

package geo_test

// raceEnabled reports a race-detector build, in which sync.Pool drops
// items at random and allocation counts mean nothing.
const raceEnabled = true
