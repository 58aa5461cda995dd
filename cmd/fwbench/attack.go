package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Reads are driven by vegeta's attacker, an open-model generator: requests
// are sent at a constant arrival rate whatever the answers' latency (a
// worker is added when all are busy), so a slow server shows as latency
// and a shortfall in answers, not as a politely lower rate (coordinated
// omission).

// AttackStats is one constant-rate run of requests against one target.
type AttackStats struct {
	Target      string  `json:"target"`
	OfferedRate float64 `json:"offered_rate"` // requests per second sent
	Seconds     float64 `json:"seconds"`      // first request to last answer
	Requests    int     `json:"requests"`
	OK          int     `json:"ok"` // 200 answers
	// Errors counts the other outcomes by kind ("HTTP 503", "timeout",
	// "connection reset", ...).
	Errors map[string]int `json:"errors,omitempty"`
	// AchievedRate is OK answers per second over Seconds.
	AchievedRate float64     `json:"achieved_rate"`
	LatencyMS    Percentiles `json:"latency_ms"` // of the OK answers
	CPU          CPUUse      `json:"cpu"`
	// CPUPerRequestUS is CPU.Seconds per OK answer, in microseconds.
	CPUPerRequestUS map[string]float64 `json:"cpu_per_request_us"`
	// Verdict is "ok" or "FAILS" under the run's pass rule (ramp steps
	// and holds of run 3).
	Verdict string `json:"verdict,omitempty"`
}

func (s AttackStats) errorCount() int {
	n := 0
	for _, v := range s.Errors {
		n += v
	}
	return n
}

func (s AttackStats) summary() string {
	out := fmt.Sprintf("%7.0f/s offered %8.1f/s answered  p50 %6.2f ms  p95 %6.2f ms  p99 %7.2f ms  max %7.1f ms",
		s.OfferedRate, s.AchievedRate, s.LatencyMS.P50, s.LatencyMS.P95, s.LatencyMS.P99, s.LatencyMS.Max)
	if n := s.errorCount(); n > 0 {
		out += fmt.Sprintf("  errors %d (%s)", n, kinds(s.Errors))
	}
	return out
}

// attackAddrs is how many loopback source addresses an attacker's
// connections come from (127.0.1.2, …).
const attackAddrs = 64

// attacker sends requests to a fieldwatch server on loopback.
type attacker struct {
	client  *http.Client
	timeout time.Duration
	cpu     *cpuMeter
	// observe, if set, sees every result as it arrives (one goroutine).
	observe func(*vegeta.Result)
}

// newAttacker makes the HTTP client every attack shares, so connections
// are kept between steps. No proxy: loopback only.
func newAttacker(timeout time.Duration, cpu *cpuMeter) *attacker {
	tr := &http.Transport{
		Proxy: nil,
		// From 64 loopback addresses: vegeta opens a connection per
		// request in flight, and the server caps connections per address
		// (FIELDWATCH_MAX_CONNS_PER_ADDR, 128 by default), as it should
		// for one client; the load stands for many.
		DialContext:         spreadDialer(1, attackAddrs),
		MaxIdleConnsPerHost: 10000,
		DisableCompression:  true,
		IdleConnTimeout:     30 * time.Second,
	}
	return &attacker{
		client: &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		timeout: timeout,
		cpu:     cpu,
	}
}

func (a *attacker) closeIdle() { a.client.CloseIdleConnections() }

// run sends GETs to targets (round robin) at rate per second for d, or,
// with d = 0, until stop is closed or ctx ends; it returns when every
// answer is in.
func (a *attacker) run(ctx context.Context, name string, targets []vegeta.Target, rate float64, d time.Duration, stop <-chan struct{}) (AttackStats, error) {
	st := AttackStats{Target: name, OfferedRate: rate}
	if len(targets) == 0 || !(rate >= 1) {
		return st, fmt.Errorf("attack %s: no targets or no rate", name)
	}
	atk := vegeta.NewAttacker(
		vegeta.Client(a.client),
		vegeta.MaxBody(0), // answers are read to the end and dropped
		vegeta.Workers(8),
		vegeta.MaxWorkers(2000), // bounded: beyond this many in flight the step has failed anyway
	)
	pacer := vegeta.Rate{Freq: int(math.Round(rate)), Per: time.Second}
	s0, cpuErr0 := a.cpu.snapshot()
	results := atk.Attack(vegeta.NewStaticTargeter(targets...), pacer, d, name)
	over := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			atk.Stop()
		case <-stop: // nil: never
			atk.Stop()
		case <-over:
		}
	}()
	var (
		lat        []time.Duration
		first, end time.Time
	)
	st.Errors = map[string]int{}
	for r := range results {
		if a.observe != nil {
			a.observe(r)
		}
		st.Requests++
		if first.IsZero() || r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if e := r.End(); e.After(end) {
			end = e
		}
		if r.Code == http.StatusOK && r.Error == "" {
			st.OK++
			lat = append(lat, r.Latency)
			continue
		}
		st.Errors[errorKind(r.Code, r.Error)]++
	}
	close(over) // results is closed: the attack is over
	s1, cpuErr1 := a.cpu.snapshot()
	if len(st.Errors) == 0 {
		st.Errors = nil
	}
	if !end.IsZero() {
		st.Seconds = round3(end.Sub(first).Seconds())
	}
	if st.Seconds > 0 {
		st.AchievedRate = round3(float64(st.OK) / st.Seconds)
	}
	st.LatencyMS = percentiles(lat)
	if cpuErr0 == nil && cpuErr1 == nil && a.cpu != nil {
		st.CPU = a.cpu.use(s0, s1, 0)
		st.CPUPerRequestUS = map[string]float64{}
		for k, v := range st.CPU.Seconds {
			if st.OK > 0 {
				st.CPUPerRequestUS[k] = math.Round(v/float64(st.OK)*1e7) / 10
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("attack %s: %w", name, err)
	}
	return st, nil
}

var urlInError = regexp.MustCompile(`(?i)(get|post) "?https?://[^ ]*"?:? ?`)

// errorKind names what went wrong with one request, briefly enough to count.
func errorKind(code uint16, msg string) string {
	switch {
	case code != 0 && code != http.StatusOK:
		return fmt.Sprintf("HTTP %d", code)
	case strings.Contains(msg, "Client.Timeout") || strings.Contains(msg, "deadline exceeded") || strings.Contains(msg, "timeout"):
		return "timeout"
	case strings.Contains(msg, "connection reset"):
		return "connection reset"
	case strings.Contains(msg, "connection refused"):
		return "connection refused"
	case strings.Contains(msg, "EOF"):
		return "connection closed (EOF)"
	case msg == "":
		return "no answer"
	}
	msg = urlInError.ReplaceAllString(msg, "")
	if len(msg) > 80 {
		msg = msg[:80]
	}
	return msg
}

// findSustainable looks for the highest constant rate that a target
// sustains (ok says which steps pass): rates start, start×factor, … up to
// maxRate until a step fails, then refine halvings of the (geometric) gap
// between the last passing and the first failing rate. It returns every
// step measured and the highest passing rate (0 if even start failed).
// The number of steps is bounded by log_factor(maxRate/start) + 1 + refine.
func findSustainable(measure func(rate float64) (AttackStats, error), ok func(AttackStats) bool,
	start, factor, maxRate float64, refine int) ([]AttackStats, float64, error) {
	if !(start > 0) || !(factor > 1) || maxRate < start {
		return nil, 0, fmt.Errorf("ramp: bad parameters start %v, factor %v, max %v", start, factor, maxRate)
	}
	var (
		steps  []AttackStats
		lo, hi float64
	)
	for rate := start; rate <= maxRate*(1+1e-9); rate *= factor {
		s, err := measure(rate)
		if err != nil {
			return steps, lo, err
		}
		steps = append(steps, s)
		if !ok(s) {
			hi = rate
			break
		}
		lo = rate
	}
	// A first step that fails means the ramp started too high (it starts
	// near the last known rate): step down, a few times at most.
	for rate := start / factor; lo == 0 && hi > 0 && rate >= 1 && len(steps) <= 3; rate /= factor {
		s, err := measure(rate)
		if err != nil {
			return steps, lo, err
		}
		steps = append(steps, s)
		if ok(s) {
			lo = rate
		} else {
			hi = rate
		}
	}
	if hi == 0 || lo == 0 {
		sort.SliceStable(steps, func(i, j int) bool { return steps[i].OfferedRate < steps[j].OfferedRate })
		return steps, lo, nil // never failed up to maxRate, or failed even at the lowest rates tried
	}
	for range refine {
		mid := math.Round(math.Sqrt(lo * hi))
		if mid <= lo || mid >= hi {
			break
		}
		s, err := measure(mid)
		if err != nil {
			return steps, lo, err
		}
		steps = append(steps, s)
		if ok(s) {
			lo = mid
		} else {
			hi = mid
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].OfferedRate < steps[j].OfferedRate })
	return steps, lo, nil
}

// sustains is the pass rule of a ramp step: every request answered 200,
// answers kept up with the offered rate (at least 95% of it), and the
// 99th percentile stayed within p99Max.
func sustains(p99Max time.Duration) func(AttackStats) bool {
	return func(s AttackStats) bool {
		return s.Requests > 0 && s.errorCount() == 0 && s.AchievedRate >= 0.95*s.OfferedRate &&
			s.LatencyMS.P99 <= ms(p99Max)
	}
}
