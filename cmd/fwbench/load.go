package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// LoadStats is one measured run of uploads through one path.
type LoadStats struct {
	Path          string      `json:"path"`
	Uploads       int         `json:"uploads"`
	Concurrency   int         `json:"concurrency"`
	OK            int         `json:"ok"`
	Shed          int         `json:"shed"` // 429/503 with Retry-After
	Bytes         int64       `json:"bytes"`
	WallSeconds   float64     `json:"wall_seconds"`
	MiBPerSec     float64     `json:"mib_per_s"`
	UploadsPerSec float64     `json:"uploads_per_s"`
	LatencyMS     Percentiles `json:"latency_ms"`
	CPU           CPUUse      `json:"cpu"`
	// BusyBeforePct is the share of all cores busy in the second before
	// the phase started (other work on the machine; -1 if unknown).
	BusyBeforePct float64 `json:"machine_busy_before_pct"`
}

// Percentiles of upload latency, nearest-rank, over successful uploads.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func percentiles(ds []time.Duration) Percentiles { return percentilesOf(ds, time.Millisecond) }

// percentilesOf returns nearest-rank percentiles of ds in unit, to two
// decimals.
func percentilesOf(ds []time.Duration, unit time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	in := func(d time.Duration) float64 { return math.Round(float64(d)/float64(unit)*100) / 100 }
	rank := func(p float64) float64 {
		i := int(math.Ceil(p/100*float64(len(s)))) - 1
		return in(s[max(0, min(i, len(s)-1))])
	}
	return Percentiles{P50: rank(50), P95: rank(95), P99: rank(99), Max: in(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

// loadOptions shape one run of uploads.
type loadOptions struct {
	path        string
	concurrency int
	timeout     time.Duration
	cpu         *cpuMeter    // nil: no CPU accounting
	quiet       *quietWaiter // nil: start at once; else sync(2) and wait for a quiet machine
}

// runLoad sends every payload once through u from opts.concurrency
// workers, which all start together. It stops at the first failure other
// than load shedding, or when opts.timeout runs out, and then returns an
// error: the numbers of a run that did not finish mean nothing.
func runLoad(ctx context.Context, u uploader, ps []payload, opts loadOptions) (LoadStats, error) {
	st := LoadStats{Path: opts.path, Uploads: len(ps), Concurrency: opts.concurrency, BusyBeforePct: -1}
	if opts.quiet != nil {
		// Dirty pages of the previous phase are written back now, not
		// while this one runs.
		syscall.Sync()
		st.BusyBeforePct = opts.quiet.wait(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.timeout)
	defer cancel()
	lat := make([]time.Duration, len(ps))
	okAt := make([]bool, len(ps))
	var (
		next     atomic.Int64
		shed     atomic.Int64
		firstErr error
		errOnce  sync.Once
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	start := make(chan struct{})
	for range opts.concurrency {
		wg.Go(func() {
			<-start
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ps) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := u.upload(ctx, &ps[i])
				lat[i] = time.Since(t0)
				switch {
				case err == nil:
					okAt[i] = true
				case errors.Is(err, errShed):
					shed.Add(1)
				default:
					fail(fmt.Errorf("%s: upload %d of %d: %w", opts.path, i+1, len(ps), err))
					return
				}
			}
		})
	}
	snap0, cpuErr := opts.cpu.snapshot()
	t0 := time.Now()
	close(start)
	wg.Wait()
	wall := time.Since(t0)
	snap1, cpuErr1 := opts.cpu.snapshot()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("%s: not finished within %v (%d of %d started)", opts.path, opts.timeout, min(next.Load(), int64(len(ps))), len(ps))
	}
	if firstErr != nil {
		return st, firstErr
	}
	if err := errors.Join(cpuErr, cpuErr1); err != nil {
		return st, fmt.Errorf("%s: CPU accounting: %w", opts.path, err)
	}

	var okLat []time.Duration
	for i, ok := range okAt {
		if ok {
			okLat = append(okLat, lat[i])
			st.Bytes += int64(len(ps[i].data))
		}
	}
	st.OK, st.Shed = len(okLat), int(shed.Load())
	st.WallSeconds = round3(wall.Seconds())
	st.MiBPerSec = round3(float64(st.Bytes) / (1 << 20) / wall.Seconds())
	st.UploadsPerSec = round3(float64(st.OK) / wall.Seconds())
	st.LatencyMS = percentiles(okLat)
	st.CPU = opts.cpu.use(snap0, snap1, st.OK)
	return st, nil
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// CPUUse is where the CPU went during a phase.
type CPUUse struct {
	// Seconds of CPU per component: fieldwatch, versitygw, postgres,
	// fwbench (this client), kernel (kernel threads: writeback, softirq
	// daemons), and other: the rest of the machine's busy time, i.e.
	// interrupts not charged to a process and any other workload sharing
	// the cores (which disturbs the phase's numbers).
	Seconds map[string]float64 `json:"seconds"`
	// PerUploadMS is Seconds divided by the successful uploads, in ms.
	PerUploadMS map[string]float64 `json:"per_upload_ms"`
	// MachineBusyPct is the share of all cores busy over the phase.
	MachineBusyPct float64 `json:"machine_busy_pct"`
	IOWaitPct      float64 `json:"iowait_pct"`
}

// cpuMeter reads CPU time of the components and the machine.
type cpuMeter struct{ comps []component }

// newCPUMeter accounts the given processes (0: none), fwbench and the
// kernel's threads (see components).
func newCPUMeter(serverPID, s3PID, dbPID int) *cpuMeter {
	return &cpuMeter{comps: components(serverPID, s3PID, dbPID)}
}

type cpuSnapshot struct {
	at      time.Time
	comps   []uint64
	machine machineTicks
}

func (m *cpuMeter) snapshot() (cpuSnapshot, error) {
	if m == nil {
		return cpuSnapshot{}, nil
	}
	s := cpuSnapshot{at: time.Now(), comps: make([]uint64, len(m.comps))}
	var errs []error
	for i, c := range m.comps {
		t, err := c.ticks()
		if err != nil {
			err = fmt.Errorf("%s (pid %d): %w", c.name, c.pid, err)
		}
		s.comps[i] = t
		errs = append(errs, err)
	}
	mt, err := readMachineTicks()
	s.machine = mt
	return s, errors.Join(append(errs, err)...)
}

func (m *cpuMeter) use(a, b cpuSnapshot, uploads int) CPUUse {
	if m == nil {
		return CPUUse{}
	}
	u := CPUUse{Seconds: map[string]float64{}, PerUploadMS: map[string]float64{}}
	var ours uint64
	for i, c := range m.comps {
		// A tree's sum falls when one of its threads ends between the
		// snapshots (kernel workers come and go; their time is not
		// handed to a parent): count no time then, never a wrapped
		// uint64.
		var d uint64
		if b.comps[i] > a.comps[i] {
			d = b.comps[i] - a.comps[i]
		}
		ours += d
		u.Seconds[c.name] += float64(d) / userHZ
	}
	busy := b.machine.busy - a.machine.busy
	u.Seconds["other"] = float64(max(int64(busy)-int64(ours), 0)) / userHZ
	if total := b.machine.total - a.machine.total; total > 0 {
		u.MachineBusyPct = math.Round(float64(busy)/float64(total)*1000) / 10
		u.IOWaitPct = math.Round(float64(b.machine.iowait-a.machine.iowait)/float64(total)*1000) / 10
	}
	for k, v := range u.Seconds {
		u.Seconds[k] = round3(v)
		if uploads > 0 {
			u.PerUploadMS[k] = math.Round(v/float64(uploads)*1e4) / 10
		}
	}
	return u
}

// disturbedBy returns the share of the machine's capacity that went to
// other work during a phase of wall seconds on nproc cores.
func (u CPUUse) disturbedBy(wall float64, nproc int) float64 {
	if wall <= 0 || nproc <= 0 {
		return 0
	}
	return u.Seconds["other"] / (wall * float64(nproc))
}
