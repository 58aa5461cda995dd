package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// RunResult is what `fwbench run` measured for one deployment.
type RunResult struct {
	Mode       string           `json:"mode"` // s3 or local
	Label      string           `json:"label"`
	StartedAt  time.Time        `json:"started_at"`
	FinishedAt time.Time        `json:"finished_at"`
	Machine    Machine          `json:"machine"`
	DataFS     string           `json:"data_fs,omitempty"` // mode local: where photos and the baseline go
	Throughput ThroughputResult `json:"throughput"`
	Memory     MemoryResult     `json:"memory"`
	// Created counts the 201 answers of the whole run (warm-up included):
	// the evidence rows `fieldwatch check` must find and verify.
	Created int `json:"created"`
	// UploadProfile and Thumbnails are the profiled phases (nil: not run,
	// or perf missing).
	UploadProfile *UploadProfile   `json:"upload_profile,omitempty"`
	Thumbnails    *ThumbnailResult `json:"thumbnails,omitempty"`
	// CheckedRows is what `fieldwatch check` verified after the run (set
	// by fwbench report from -rows).
	CheckedRows int `json:"checked_rows"`
}

// ThroughputResult compares the API with the raw baseline, same bytes,
// same sizes, same concurrency.
type ThroughputResult struct {
	PhotoBytes   int64  `json:"photo_bytes"`
	Uploads      int    `json:"uploads"`
	Concurrency  int    `json:"concurrency"`
	BaselinePath string `json:"baseline_path"`
	// Baseline holds the raw runs before and after the API run; their
	// spread shows how steady the machine was.
	Baseline []LoadStats `json:"baseline"`
	API      LoadStats   `json:"api"`
	// Ratio is the API's MiB/s over the mean of the baseline runs' MiB/s.
	Ratio float64 `json:"ratio_api_to_baseline"`
	// DrainSeconds is how long the server stayed busy after the API run
	// (thumbnails are made in the background); Drained false means it was
	// still busy when the bench stopped waiting.
	DrainSeconds float64 `json:"drain_seconds"`
	Drained      bool    `json:"drained"`
	// DrainCPU is the CPU used while waiting for the server to go idle
	// after the API run (per_upload_ms per API upload), wait included.
	DrainCPU CPUUse `json:"drain_cpu"`
	// Sustained is the API's rate counting the background work each
	// upload causes: photo bytes over (API wall time + DrainSeconds), the
	// rate the server could keep up for good on this machine. Drain time
	// is measured in whole seconds, so this is approximate.
	SustainedMiBPerSec     float64 `json:"sustained_mib_per_s"`
	SustainedUploadsPerSec float64 `json:"sustained_uploads_per_s"`
	SustainedRatio         float64 `json:"sustained_ratio_to_baseline"`
}

// MemoryResult is the burst of concurrent large uploads.
type MemoryResult struct {
	Concurrent int       `json:"concurrent"`
	PhotoBytes int64     `json:"photo_bytes"`
	Load       LoadStats `json:"load"`

	RSSBeforeMiB float64 `json:"rss_before_mib"`
	// PeakMiB is VmHWM read after the burst, having been reset to the
	// current RSS just before it (HWMReset); without the reset it is the
	// peak of the process's whole life.
	PeakMiB        float64 `json:"peak_rss_mib"`
	HWMReset       bool    `json:"hwm_reset"`
	PeakSampledMiB float64 `json:"peak_rss_sampled_mib"` // highest VmRSS seen, sampled every 20 ms
	// PeakWithBackgroundMiB is VmHWM once the background work the burst
	// caused (thumbnails, decoded one photo per worker) is done too.
	PeakWithBackgroundMiB float64 `json:"peak_rss_with_background_mib"`
	RSSAfterMiB           float64 `json:"rss_after_mib"`
	// GrowthPerUploadMiB is (PeakMiB − RSSBeforeMiB) / Concurrent: what
	// one more upload in flight costs. Holding each body in memory would
	// make it at least the photo size.
	GrowthPerUploadMiB float64 `json:"growth_per_upload_mib"`
	// StartupPeakMiB is VmHWM before the reset: the peak of the server's
	// life until the burst (start-up, migrations, login).
	StartupPeakMiB float64 `json:"startup_peak_rss_mib"`

	GoroutinesBefore int `json:"goroutines_before"`
	GoroutinesPeak   int `json:"goroutines_peak"`
	GoroutinesAfter  int `json:"goroutines_after"`
	FDsBefore        int `json:"fds_before"`
	FDsPeak          int `json:"fds_peak"`
	FDsAfter         int `json:"fds_after"`
	// InFlightPeak is the highest fieldwatch_http_requests_in_flight
	// sampled, less the scrape that read it.
	InFlightPeak int `json:"in_flight_peak"`
	// FDKinds* break the descriptors down (files, incoming connections,
	// connections to postgres or s3, ...), to tell a leak from a pool.
	FDKindsBefore map[string]int `json:"fd_kinds_before"`
	FDKindsAfter  map[string]int `json:"fd_kinds_after"`

	DrainSeconds float64 `json:"drain_seconds"`
	Drained      bool    `json:"drained"`
}

// disturbedShare is the share of the machine's capacity other work may
// take during a phase before the phase is reported as disturbed.
const disturbedShare = 0.10

// bench is one `fwbench run`: the server under test and the meters.
type bench struct {
	c     runConfig
	api   *apiClient
	cpu   *cpuMeter
	quiet *quietWaiter
	src   *payloadSource
	runID string
	out   io.Writer
}

func (b *bench) say(format string, a ...any) { fmt.Fprintf(b.out, "    "+format+"\n", a...) }

// runBench runs every phase against the server described by c. The burst
// comes first, on the freshly started server, so that its "before" is the
// idle server and not the heap left by earlier phases.
func runBench(ctx context.Context, c runConfig, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	res := RunResult{Mode: c.Mode, Label: c.Label, StartedAt: time.Now().UTC(), Machine: describeMachine()}
	if c.Mode == "local" {
		res.DataFS = fsTypeOf(c.DataDir)
	}
	photos, err := loadPhotos(c.PhotoDir)
	if err != nil {
		return err
	}
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return err
	}
	b := &bench{
		c:     c,
		api:   newAPIClient(c.URL, max(c.Concurrency, c.Burst)),
		cpu:   newCPUMeter(c.ServerPID, c.S3PID, c.DBPID),
		quiet: &quietWaiter{budget: 20 * time.Second},
		src:   newPayloadSource(photos, seed),
		runID: hex.EncodeToString(seed[:4]),
		out:   stdout,
	}
	defer b.api.closeIdle()
	if err := b.api.login(ctx, c.Username, c.Password); err != nil {
		return err
	}
	if _, err := b.api.gauges(ctx); err != nil {
		return err
	}
	if _, err := b.cpu.snapshot(); err != nil {
		return err
	}

	if res.Memory, err = b.memory(ctx); err != nil {
		return err
	}
	res.Created += res.Memory.Load.OK
	runtime.GC()
	debug.FreeOSMemory() // the burst's payloads

	created, err := b.warmUp(ctx)
	if err != nil {
		return err
	}
	res.Created += created
	if res.Throughput, err = b.throughput(ctx); err != nil {
		return err
	}
	res.Created += res.Throughput.API.OK

	if perfBin := b.perfBinary(); perfBin != "" {
		if c.ProfileUploads > 0 {
			if res.UploadProfile, err = b.uploadProfile(ctx, perfBin, photos, seed); err != nil {
				return err
			}
			res.Created += res.UploadProfile.Uploads
		}
		if c.ThumbPhotos > 0 {
			if res.Thumbnails, err = b.thumbnails(ctx, perfBin, photos, seed); err != nil {
				return err
			}
			res.Created += res.Thumbnails.Photos
		}
	}

	res.FinishedAt = time.Now().UTC()
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(c.Out, append(out, '\n'), 0o644)
}

// components are the processes whose CPU time is accounted: those given
// (0: none), this process and the kernel's threads. Each appears once,
// or its time would count twice and hide other work.
func components(serverPID, s3PID, dbPID int) []component {
	var comps []component
	if serverPID > 0 {
		comps = append(comps, component{name: "fieldwatch", pid: serverPID})
	}
	if s3PID > 0 {
		comps = append(comps, component{name: "versitygw", pid: s3PID})
	}
	if dbPID > 0 {
		comps = append(comps, component{name: "postgres", pid: dbPID, tree: true})
	}
	comps = append(comps, component{name: "fwbench", pid: os.Getpid()})
	if isKthreadd(2) {
		// Page-cache writeback (spool files, objects, fsync) and other
		// work the kernel does for the processes in its own threads.
		comps = append(comps, component{name: "kernel", pid: 2, tree: true})
	}
	return comps
}

// baseline returns the raw path of this mode; each round writes under a
// name of its own.
func (b *bench) baseline(ctx context.Context, round int) (uploader, string, error) {
	if b.c.Mode == "s3" {
		u, err := newS3Baseline(ctx, b.c, fmt.Sprintf("raw/%s/%d/", b.runID, round))
		return u, "raw minio-go PutObject (same S3 server)", err
	}
	u, err := newFileBaseline(filepath.Join(b.c.RawDir, fmt.Sprint(round)), b.c.DataDir)
	return u, "raw file write+fsync+rename (same file system)", err
}

// warmUp sends a few uploads through both paths (connections, caches,
// the database pool), not counted, and waits for their thumbnails. It
// returns how many evidence rows it created.
func (b *bench) warmUp(ctx context.Context) (int, error) {
	n := b.c.Warmup
	if n == 0 {
		return 0, nil
	}
	warm, err := b.src.make(2*n, b.c.Size)
	if err != nil {
		return 0, err
	}
	raw, _, err := b.baseline(ctx, 0)
	if err != nil {
		return 0, err
	}
	opts := loadOptions{path: "warm-up", concurrency: min(n, b.c.Concurrency), timeout: b.c.PhaseTimeout}
	if _, err := runLoad(ctx, raw, warm[:n], opts); err != nil {
		return 0, err
	}
	st, err := runLoad(ctx, b.api, warm[n:], opts)
	if err != nil {
		return 0, err
	}
	b.say("warm-up: %d raw + %d API uploads", n, n)
	if d, ok := settle(ctx, b.c.ServerPID, b.c.SettleMax); !ok {
		b.say("warning: server still busy %.0fs after warm-up", d.Seconds())
	}
	return st.OK, nil
}

// throughput sends the same distinct photos through the raw baseline, the
// API, and the raw baseline again.
func (b *bench) throughput(ctx context.Context) (ThroughputResult, error) {
	c := b.c
	tp := ThroughputResult{PhotoBytes: c.Size, Uploads: c.Count, Concurrency: c.Concurrency}
	ps, err := b.src.make(c.Count, c.Size)
	if err != nil {
		return tp, err
	}
	b.say("throughput: %d distinct photos of %.1f MiB, %d clients", c.Count, mib(c.Size), c.Concurrency)
	opts := loadOptions{concurrency: c.Concurrency, timeout: c.PhaseTimeout, cpu: b.cpu, quiet: b.quiet}
	runBaseline := func(round int) error {
		raw, what, err := b.baseline(ctx, round)
		if err != nil {
			return err
		}
		tp.BaselinePath = what
		opts.path = fmt.Sprintf("baseline %d", round)
		st, err := runLoad(ctx, raw, ps, opts)
		if err != nil {
			return err
		}
		st.Path = what
		tp.Baseline = append(tp.Baseline, st)
		b.say("%-48s %s", what, st.summary())
		return nil
	}

	if err := runBaseline(1); err != nil {
		return tp, err
	}
	opts.path = "POST /v1/evidence"
	if tp.API, err = runLoad(ctx, b.api, ps, opts); err != nil {
		return tp, err
	}
	b.say("%-48s %s", "API POST /v1/evidence", tp.API.summary())
	s0, err := b.cpu.snapshot()
	if err != nil {
		return tp, err
	}
	drain, ok := settle(ctx, c.ServerPID, c.SettleMax)
	s1, err := b.cpu.snapshot()
	if err != nil {
		return tp, err
	}
	tp.DrainSeconds, tp.Drained = round3(drain.Seconds()), ok
	tp.DrainCPU = b.cpu.use(s0, s1, tp.API.OK)
	b.say("server busy for %.0fs after the API run (background thumbnails)%s", drain.Seconds(), notIf(ok, "; still busy, gave up waiting"))
	if err := runBaseline(2); err != nil {
		return tp, err
	}

	var sum float64
	for _, s := range tp.Baseline {
		sum += s.MiBPerSec
	}
	base := sum / float64(len(tp.Baseline))
	tp.Ratio = round3(tp.API.MiBPerSec / base)
	busy := tp.API.WallSeconds + tp.DrainSeconds
	tp.SustainedMiBPerSec = round3(float64(tp.API.Bytes) / (1 << 20) / busy)
	tp.SustainedUploadsPerSec = round3(float64(tp.API.OK) / busy)
	tp.SustainedRatio = round3(tp.SustainedMiBPerSec / base)
	b.say("ratio API / baseline (MiB/s): %.2f; counting background work (sustained %.1f MiB/s): %.2f",
		tp.Ratio, tp.SustainedMiBPerSec, tp.SustainedRatio)
	return tp, nil
}

// memory sends the burst and reports what it did to the server.
func (b *bench) memory(ctx context.Context) (MemoryResult, error) {
	c := b.c
	ps, err := b.src.make(c.Burst, c.BurstSize)
	if err != nil {
		return MemoryResult{}, err
	}
	b.say("memory: %d concurrent distinct photos of %.1f MiB on the fresh server", c.Burst, mib(c.BurstSize))
	m, err := measureBurst(ctx, c, b.api, b.cpu, b.quiet, ps)
	if err != nil {
		return m, err
	}
	b.say("%-48s %s", "API POST /v1/evidence", m.Load.summary())
	b.say("RSS before %.1f MiB, peak %.1f MiB (sampled %.1f), after %.1f MiB: %.2f MiB per upload in flight",
		m.RSSBeforeMiB, m.PeakMiB, m.PeakSampledMiB, m.RSSAfterMiB, m.GrowthPerUploadMiB)
	b.say("peak including the thumbnails it caused: %.1f MiB, %.0fs to drain", m.PeakWithBackgroundMiB, m.DrainSeconds)
	b.say("goroutines %d → peak %d → %d; fds %d → peak %d → %d (%s); in flight peak %d",
		m.GoroutinesBefore, m.GoroutinesPeak, m.GoroutinesAfter, m.FDsBefore, m.FDsPeak, m.FDsAfter, kinds(m.FDKindsAfter), m.InFlightPeak)
	return m, nil
}

// measureBurst sends every payload at once and watches the server.
func measureBurst(ctx context.Context, c runConfig, api *apiClient, cpu *cpuMeter, qw *quietWaiter, ps []payload) (MemoryResult, error) {
	m := MemoryResult{Concurrent: len(ps), PhotoBytes: int64(len(ps[0].data))}
	pid := c.ServerPID
	api.closeIdle()
	settle(ctx, pid, c.SettleMax)
	before, err := readAtRest(ctx, api, pid, nil, 0)
	if err != nil {
		return m, err
	}
	m.GoroutinesBefore, m.FDsBefore = before.goroutines, before.fds
	if m.FDKindsBefore, err = fdKinds(pid, c.serverPort(), c.peers()); err != nil {
		return m, err
	}
	m.RSSBeforeMiB = kib(before.rssKB)
	hwm, err := statusKB(pid, "VmHWM")
	if err != nil {
		return m, err
	}
	m.StartupPeakMiB = kib(hwm)
	m.HWMReset = resetHWM(pid) == nil

	w := startWatch(ctx, api, pid)
	m.Load, err = runLoad(ctx, api, ps, loadOptions{
		path: "burst POST /v1/evidence", concurrency: len(ps), timeout: c.PhaseTimeout, cpu: cpu, quiet: qw,
	})
	peaks := w.stop()
	m.FDsPeak, m.GoroutinesPeak, m.InFlightPeak = peaks.fds, peaks.goroutines, peaks.inFlight
	if err != nil {
		return m, err
	}
	m.PeakSampledMiB = kib(peaks.rssKB)
	if hwm, err = statusKB(pid, "VmHWM"); err != nil {
		return m, err
	}
	m.PeakMiB = kib(hwm)
	m.GrowthPerUploadMiB = round3((m.PeakMiB - m.RSSBeforeMiB) / float64(len(ps)))

	// After: background work done, client connections closed, then give
	// goroutines and descriptors a bounded time to come back to where
	// they were.
	drain, ok := settle(ctx, pid, c.SettleMax)
	m.DrainSeconds, m.Drained = round3(drain.Seconds()), ok
	if hwm, err = statusKB(pid, "VmHWM"); err != nil {
		return m, err
	}
	m.PeakWithBackgroundMiB = kib(hwm)
	api.closeIdle()
	after, err := readAtRest(ctx, api, pid, &before, 5*time.Second)
	if err != nil {
		return m, err
	}
	m.GoroutinesAfter, m.FDsAfter, m.RSSAfterMiB = after.goroutines, after.fds, kib(after.rssKB)
	if m.FDKindsAfter, err = fdKinds(pid, c.serverPort(), c.peers()); err != nil {
		return m, err
	}
	return m, nil
}

// peaks are the highest values a watch saw.
type peaks struct {
	rssKB                     int64
	fds, goroutines, inFlight int
}

// watch samples the server while a phase runs: RSS and descriptors every
// 20 ms, /metrics every 200 ms (each scrape costs the server a little).
type watch struct {
	stopFn func()
	wg     sync.WaitGroup
	mu     sync.Mutex
	p      peaks
}

func startWatch(ctx context.Context, api *apiClient, pid int) *watch {
	sctx, cancel := context.WithCancel(ctx)
	w := &watch{stopFn: cancel}
	w.wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for n := 0; n < 1_000_000; n++ { // bounded; stops with sctx long before
			rss, errR := statusKB(pid, "VmRSS")
			fds, errF := countFDs(pid)
			w.mu.Lock()
			if errR == nil {
				w.p.rssKB = max(w.p.rssKB, rss)
			}
			if errF == nil {
				w.p.fds = max(w.p.fds, fds)
			}
			w.mu.Unlock()
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	w.wg.Go(func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for n := 0; n < 100_000; n++ {
			if g, err := api.gauges(sctx); err == nil {
				w.mu.Lock()
				w.p.goroutines = max(w.p.goroutines, g.Goroutines)
				w.p.inFlight = max(w.p.inFlight, g.InFlight-1) // less the scrape itself
				w.mu.Unlock()
			}
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return w
}

// stop ends the sampling and returns the peaks.
func (w *watch) stop() peaks {
	w.stopFn()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.p
}

// serverState is a reading of the server at rest.
type serverState struct {
	goroutines, fds int
	rssKB           int64
}

// readAtRest reads the server's state. With a reference and a wait, it reads
// again every 250 ms until there are no more goroutines than in the
// reference (connections served and connections to S3 have goroutines;
// pooled database connections have none and stay, bounded by the pool), or
// the wait is over, and returns the last reading.
func readAtRest(ctx context.Context, api *apiClient, pid int, ref *serverState, wait time.Duration) (serverState, error) {
	deadline := time.Now().Add(wait)
	for {
		var s serverState
		g, err := api.gauges(ctx)
		if err != nil {
			return s, err
		}
		// The scrape's own connection and goroutines are gone only once
		// the connection is closed and the server has seen it close.
		api.closeIdle()
		time.Sleep(100 * time.Millisecond)
		s.goroutines = g.Goroutines
		if s.fds, err = countFDs(pid); err != nil {
			return s, err
		}
		if s.rssKB, err = statusKB(pid, "VmRSS"); err != nil {
			return s, err
		}
		if ref == nil || s.goroutines <= ref.goroutines || time.Now().After(deadline) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// quietWaiter waits before a phase until the machine is nearly idle
// (under 15% of all cores busy for a second), so that other workloads
// sharing the cores (another build or test run) disturb the phase less.
// All its waits together are bounded by budget.
type quietWaiter struct{ budget time.Duration }

// wait returns the machine's busy share over the last second it watched.
func (q *quietWaiter) wait(ctx context.Context) float64 {
	const window, limitPct = time.Second, 15.0
	prev, err := readMachineTicks()
	if err != nil {
		return -1
	}
	for {
		start := time.Now()
		select {
		case <-ctx.Done():
			return -1
		case <-time.After(window):
		}
		q.budget -= time.Since(start)
		cur, err := readMachineTicks()
		if err != nil || cur.total == prev.total {
			return -1
		}
		pct := math.Round(float64(cur.busy-prev.busy)/float64(cur.total-prev.total)*1000) / 10
		if pct < limitPct || q.budget <= 0 {
			return pct
		}
		prev = cur
	}
}

// settle waits until the server process has used under 3% of one core for
// a whole second (thumbnails and other background work finished), at most
// limit, and says how long it waited and whether the server got there.
func settle(ctx context.Context, pid int, limit time.Duration) (time.Duration, bool) {
	const window, idleTicks = time.Second, 3
	start := time.Now()
	prev, err := readProcStat(pid)
	for err == nil && time.Since(start) < limit {
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-time.After(window):
		}
		cur, cerr := readProcStat(pid)
		if cerr != nil {
			break
		}
		if cur.utime+cur.stime-prev.utime-prev.stime <= idleTicks {
			// The idle second itself is not part of the busy time.
			return max(time.Since(start)-window, 0), true
		}
		prev = cur
	}
	return time.Since(start), false
}

func (s LoadStats) summary() string {
	out := fmt.Sprintf("%7.1f MiB/s %6.2f uploads/s  p50 %6.0f ms  p95 %6.0f ms  p99 %6.0f ms",
		s.MiBPerSec, s.UploadsPerSec, s.LatencyMS.P50, s.LatencyMS.P95, s.LatencyMS.P99)
	if s.Shed > 0 {
		out += fmt.Sprintf("  shed %d", s.Shed)
	}
	if d := s.CPU.disturbedBy(s.WallSeconds, runtime.NumCPU()); d > disturbedShare {
		out += fmt.Sprintf("  (disturbed: %.0f%% of the machine went to other work)", d*100)
	}
	return out
}

func notIf(ok bool, s string) string {
	if ok {
		return ""
	}
	return s
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func kib(kb int64) float64 { return math.Round(float64(kb)/1024*10) / 10 }
