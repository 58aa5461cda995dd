package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	"golang.org/x/sync/errgroup"
)

// slowConfig is what `fwbench slow` was asked to measure.
type slowConfig struct {
	serverConfig
	Clients  int           // concurrent uploads
	Rate     float64       // bytes per second per upload
	Duration time.Duration // how long each upload takes: size = Rate × Duration
	Stagger  time.Duration // starts are spread over this
	Reads    float64       // GET /v1/evidence/{id} per second meanwhile
	Chunk    int           // largest write of a throttled body
	PerAddr  int           // connections per client source address
	// The server's upload caps, as configured by the caller, for the report.
	CapPerUser, CapTotal int
}

func parseSlowFlags(args []string, getenv func(string) string, stderr io.Writer) (slowConfig, error) {
	var c slowConfig
	fs := flag.NewFlagSet("fwbench slow", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// A thousand photos leave minutes of thumbnails: run 3 must not start
	// while they are made.
	c.serverConfig.register(fs, getenv, 8*time.Minute, 4*time.Minute)
	fs.IntVar(&c.Clients, "clients", 1000, "concurrent uploads")
	fs.Float64Var(&c.Rate, "rate", 90_000, "bytes per second per upload (90,000 = 0.72 Mbit/s)")
	fs.DurationVar(&c.Duration, "duration", 35*time.Second, "how long each upload takes at the rate (sets the photo size: 90 kB/s × 35 s = 3.15 MB)")
	fs.DurationVar(&c.Stagger, "stagger", 2*time.Second, "uploads start spread over this (so they also finish close together)")
	fs.IntVar(&c.PerAddr, "conns-per-addr", 100, "connections per client source address (127.0.0.2, .3, …): the server caps connections per address (FIELDWATCH_MAX_CONNS_PER_ADDR, default 128), and a thousand phones have a thousand addresses")
	fs.Float64Var(&c.Reads, "reads", 20, "GET /v1/evidence/{id} per second during the uploads")
	fs.IntVar(&c.Chunk, "chunk", 16<<10, "largest write of a throttled body, bytes")
	fs.IntVar(&c.CapPerUser, "server-uploads-per-user", 8, "the server's FIELDWATCH_UPLOADS_PER_USER, for the report")
	fs.IntVar(&c.CapTotal, "server-uploads-total", 1000, "the server's FIELDWATCH_UPLOADS_TOTAL, for the report")
	err := parseFlags(fs, args, func() []error {
		errs := c.serverConfig.validate()
		inRange(&errs, "clients", float64(c.Clients), 1, 1000)
		inRange(&errs, "rate", c.Rate, 10_000, 100e6)
		inRange(&errs, "duration", c.Duration.Seconds(), 1, 600)
		inRange(&errs, "stagger", c.Stagger.Seconds(), 0, 120)
		inRange(&errs, "reads", c.Reads, 1, 1000)
		inRange(&errs, "chunk", float64(c.Chunk), 512, 1<<20)
		inRange(&errs, "conns-per-addr", float64(c.PerAddr), 1, 1000)
		if sz := c.Rate * c.Duration.Seconds(); sz < 2<<20 || sz > 40<<20 {
			errs = append(errs, fmt.Errorf("photo size rate × duration = %.0f bytes outside [2 MiB, 40 MiB]", sz))
		}
		return errs
	})
	return c, err
}

// SlowResult is run 2: many slow uploads at once, with reads meanwhile.
type SlowResult struct {
	Mode       string    `json:"mode"`
	Label      string    `json:"label"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Machine    Machine   `json:"machine"`

	Clients        int     `json:"clients"`
	RateBytesPerS  float64 `json:"rate_bytes_per_s"` // per upload, whole body
	PhotoBytes     int64   `json:"photo_bytes"`
	StaggerSeconds float64 `json:"stagger_seconds"`
	CapPerUser     int     `json:"server_uploads_per_user"`
	// SourceAddrs is how many loopback addresses the uploads came from.
	SourceAddrs int `json:"source_addrs"`
	CapTotal    int `json:"server_uploads_total"`

	// Uploads: OK 201s; Errors by kind (shed answers count: the photo
	// was not stored); ErrorSamples the first messages.
	OK           int            `json:"ok"`
	Errors       map[string]int `json:"errors,omitempty"`
	ErrorSamples []string       `json:"error_samples,omitempty"`
	WallSeconds  float64        `json:"wall_seconds"` // first upload start to last answer
	// UploadSeconds are percentiles of each upload's duration, seconds.
	UploadSeconds Percentiles `json:"upload_seconds"`
	// Reads is the 20/s GET /v1/evidence/{id} meanwhile (open model).
	Reads AttackStats `json:"reads"`
	CPU   CPUUse      `json:"cpu"` // over the uploads

	RSSBeforeMiB float64 `json:"rss_before_mib"`
	// PeakMiB is VmHWM after the last upload's answer, reset just before
	// the first; PeakWithBackgroundMiB includes the thumbnails made after.
	PeakMiB               float64        `json:"peak_rss_mib"`
	HWMReset              bool           `json:"hwm_reset"`
	PeakSampledMiB        float64        `json:"peak_rss_sampled_mib"`
	PeakWithBackgroundMiB float64        `json:"peak_rss_with_background_mib"`
	RSSAfterMiB           float64        `json:"rss_after_mib"`
	GoroutinesBefore      int            `json:"goroutines_before"`
	GoroutinesPeak        int            `json:"goroutines_peak"`
	GoroutinesAfter       int            `json:"goroutines_after"`
	FDsBefore             int            `json:"fds_before"`
	FDsPeak               int            `json:"fds_peak"`
	FDsAfter              int            `json:"fds_after"`
	InFlightPeak          int            `json:"in_flight_peak"`
	FDKindsBefore         map[string]int `json:"fd_kinds_before"`
	FDKindsAfter          map[string]int `json:"fd_kinds_after"`
	DrainSeconds          float64        `json:"drain_seconds"`
	Drained               bool           `json:"drained"`

	Created int `json:"created"` // 201 answers: rows `fieldwatch check` must find

	// Timeline is one sample a second from the first upload's start to
	// the last answer.
	Timeline []SlowSample `json:"timeline"`
}

// SlowSample is the server's state in one second of run 2.
type SlowSample struct {
	T          int     `json:"t"` // seconds since the first upload started
	RSSMiB     float64 `json:"rss_mib"`
	Goroutines int     `json:"goroutines"`
	InFlight   int     `json:"in_flight"` // requests, the scrape excluded
	FDs        int     `json:"fds"`
	Answered   int     `json:"uploads_answered"` // so far
	// The server's PostgreSQL sessions (-1: not watched): all, running a
	// statement, waiting for a lock, and inside a transaction but idle
	// (the server holds it open while it does something else).
	DBSessions int `json:"db_sessions"`
	DBActive   int `json:"db_active"`
	DBLockWait int `json:"db_lock_wait"`
	DBIdleInTx int `json:"db_idle_in_tx"`
	// Reads sent in this second, and the slowest of them.
	Reads     int     `json:"reads"`
	ReadMaxMS float64 `json:"read_max_ms"`
}

func (r SlowResult) errorCount() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// runSlow measures run 2 on the running server.
func runSlow(ctx context.Context, c slowConfig, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	say := func(format string, a ...any) { fmt.Fprintf(stdout, "    "+format+"\n", a...) }
	res := SlowResult{Mode: c.Mode, Label: c.Label, StartedAt: time.Now().UTC(), Machine: describeMachine(),
		Clients: c.Clients, RateBytesPerS: c.Rate, StaggerSeconds: c.Stagger.Seconds(),
		CapPerUser: c.CapPerUser, CapTotal: c.CapTotal, SourceAddrs: addrsFor(c.Clients, c.PerAddr)}
	photos, err := loadPhotos(c.PhotoDir)
	if err != nil {
		return err
	}
	// The photos: each body takes Duration at Rate (framing is ~400 bytes).
	res.PhotoBytes = int64(c.Rate*c.Duration.Seconds()) - 512
	var run [16]byte
	block := make([]byte, 1<<20)
	if _, err := rand.Read(run[:]); err != nil {
		return err
	}
	if _, err := rand.Read(block); err != nil {
		return err
	}
	ps := make([]*streamPhoto, c.Clients)
	t0 := time.Now()
	var g errgroup.Group
	g.SetLimit(max(1, min(4, len(photos))))
	for i := range ps {
		g.Go(func() error {
			p, err := newStreamPhoto(photos[i%len(photos)], run, uint64(i), block, res.PhotoBytes)
			ps[i] = p
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	say("%d photos of %.1f MiB hashed in %.1fs", len(ps), mib(res.PhotoBytes), time.Since(t0).Seconds())

	pid := c.ServerPID
	api := newAPIClient(c.URL, 4)
	if err := api.login(ctx, c.Username, c.Password); err != nil {
		return err
	}
	ids, err := listIDs(ctx, api, 500)
	if err != nil {
		return err
	}
	// The slow clients: small write buffers, so the throttle shapes what
	// goes on the wire, and a per-request bound well above the upload's
	// planned time.
	slowAPI := newAPIClientWith(c.URL, &http.Transport{
		Proxy: nil, MaxIdleConnsPerHost: c.Clients, DisableCompression: true,
		DialContext:     spreadDialer(0, addrsFor(c.Clients, c.PerAddr)),
		WriteBufferSize: c.Chunk, ReadBufferSize: 16 << 10, IdleConnTimeout: 30 * time.Second,
	}, 3*c.Duration+2*time.Minute)
	slowAPI.token = api.token
	defer slowAPI.closeIdle()

	cpu := newCPUMeter(pid, c.S3PID, c.DBPID)
	if _, err := cpu.snapshot(); err != nil {
		return err
	}

	// Before: the idle server.
	api.closeIdle()
	settle(ctx, pid, c.SettleMax)
	before, err := readAtRest(ctx, api, pid, nil, 0)
	if err != nil {
		return err
	}
	res.GoroutinesBefore, res.FDsBefore, res.RSSBeforeMiB = before.goroutines, before.fds, kib(before.rssKB)
	if res.FDKindsBefore, err = fdKinds(pid, c.serverPort(), c.peers()); err != nil {
		return err
	}
	res.HWMReset = resetHWM(pid) == nil

	w := startWatch(ctx, api, pid)
	auth := http.Header{"Authorization": {"Bearer " + api.token}}
	var gets []vegeta.Target
	for _, id := range ids {
		gets = append(gets, vegeta.Target{Method: http.MethodGet, URL: api.base + "/v1/evidence/" + id, Header: auth})
	}
	reader := newAttacker(10*time.Second, nil)
	defer reader.closeIdle()
	start := time.Now()
	tl := newTimeline(start)
	reader.observe = tl.read
	stopReads := make(chan struct{})
	readsDone := make(chan error, 1)
	go func() {
		var err error
		res.Reads, err = reader.run(ctx, "reads during slow uploads", gets, c.Reads, 0, stopReads)
		readsDone <- err
	}()

	say("%d uploads of %.1f MiB at %.0f kB/s each (%.1f Mbit/s), starts spread over %v; %.0f GET/s meanwhile",
		c.Clients, mib(res.PhotoBytes), c.Rate/1000, c.Rate*8/1e6, c.Stagger, c.Reads)
	type outcome struct {
		d   time.Duration
		err error
	}
	outs := make([]outcome, len(ps))
	s0, err := cpu.snapshot()
	if err != nil {
		return err
	}
	var answered atomic.Int64
	stopTL := tl.sample(ctx, api, pid, &answered, dbWatcher(ctx, c.serverConfig))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			delay := time.Duration(int64(c.Stagger) * int64(i) / int64(len(ps)))
			if err := sleepCtx(ctx, delay); err != nil {
				outs[i].err = err
				return
			}
			t := time.Now()
			_, err := slowAPI.uploadFrom(ctx, p.reader(), p.size, p.sum, p.category, func(r io.Reader) io.Reader {
				return newThrottle(ctx, r, c.Rate, c.Chunk)
			})
			outs[i] = outcome{time.Since(t), err}
			answered.Add(1)
		})
	}
	wg.Wait()
	res.WallSeconds = round3(time.Since(start).Seconds())
	s1, err := cpu.snapshot()
	if err != nil {
		return err
	}
	close(stopReads)
	if err := <-readsDone; err != nil {
		return err
	}
	peaks := w.stop()
	res.Timeline = stopTL()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("slow uploads: not finished within %v: %w", c.Timeout, err)
	}
	res.CPU = cpu.use(s0, s1, 0)
	hwm, err := statusKB(pid, "VmHWM")
	if err != nil {
		return err
	}
	res.PeakMiB, res.PeakSampledMiB = kib(hwm), kib(peaks.rssKB)
	res.GoroutinesPeak, res.FDsPeak, res.InFlightPeak = peaks.goroutines, peaks.fds, peaks.inFlight

	res.Errors = map[string]int{}
	var durs []time.Duration
	for _, o := range outs {
		if o.err == nil {
			res.OK++
			durs = append(durs, o.d)
			continue
		}
		kind := "other"
		switch {
		case errors.Is(o.err, errShed):
			kind = "shed (429/503)"
		case errors.Is(o.err, context.DeadlineExceeded):
			kind = "timeout"
		default:
			kind = errorKind(0, o.err.Error())
		}
		res.Errors[kind]++
		if len(res.ErrorSamples) < 10 && !slices.Contains(res.ErrorSamples, o.err.Error()) {
			res.ErrorSamples = append(res.ErrorSamples, o.err.Error())
		}
	}
	if len(res.Errors) == 0 {
		res.Errors = nil
	}
	res.Created = res.OK
	res.UploadSeconds = percentilesOf(durs, time.Second)
	say("uploads: %d ok, %d failed %v in %.1fs; each took p50 %.1fs p99 %.1fs",
		res.OK, res.errorCount(), res.Errors, res.WallSeconds, res.UploadSeconds.P50, res.UploadSeconds.P99)
	say("reads meanwhile: %s", res.Reads.summary())
	say("RSS before %.1f MiB, peak %.1f MiB (sampled %.1f); goroutines %d → peak %d; fds %d → peak %d; in flight peak %d",
		res.RSSBeforeMiB, res.PeakMiB, res.PeakSampledMiB, res.GoroutinesBefore, res.GoroutinesPeak, res.FDsBefore, res.FDsPeak, res.InFlightPeak)

	// After: background work done, connections closed.
	drain, ok := settle(ctx, pid, c.SettleMax)
	res.DrainSeconds, res.Drained = round3(drain.Seconds()), ok
	if hwm, err = statusKB(pid, "VmHWM"); err != nil {
		return err
	}
	res.PeakWithBackgroundMiB = kib(hwm)
	slowAPI.closeIdle()
	reader.closeIdle()
	api.closeIdle()
	after, err := readAtRest(ctx, api, pid, &before, 10*time.Second)
	if err != nil {
		return err
	}
	res.GoroutinesAfter, res.FDsAfter, res.RSSAfterMiB = after.goroutines, after.fds, kib(after.rssKB)
	if res.FDKindsAfter, err = fdKinds(pid, c.serverPort(), c.peers()); err != nil {
		return err
	}
	say("after %.0fs of background work: RSS %.1f MiB (peak with it %.1f), goroutines %d, fds %d (%s)",
		drain.Seconds(), res.RSSAfterMiB, res.PeakWithBackgroundMiB, res.GoroutinesAfter, res.FDsAfter, kinds(res.FDKindsAfter))
	res.FinishedAt = time.Now().UTC()
	return writeJSON(c.Out, res)
}

// timeline collects SlowResult.Timeline.
type timeline struct {
	start time.Time
	mu    sync.Mutex
	out   []SlowSample
	reads map[int][2]float64 // second → count, max latency (ms)
}

func newTimeline(start time.Time) *timeline {
	return &timeline{start: start, reads: map[int][2]float64{}}
}

// read records one read's latency in the second it was sent.
func (tl *timeline) read(r *vegeta.Result) {
	sec := int(r.Timestamp.Sub(tl.start) / time.Second)
	tl.mu.Lock()
	defer tl.mu.Unlock()
	v := tl.reads[sec]
	tl.reads[sec] = [2]float64{v[0] + 1, max(v[1], ms(r.Latency))}
}

// dbStats reads the server's database sessions: all, active, waiting for
// a lock, idle in a transaction.
type dbStats func(ctx context.Context) (all, active, lockWait, idleInTx int, err error)

// dbWatcher returns a reader of the server's PostgreSQL sessions, or nil
// when they are not to be watched.
func dbWatcher(ctx context.Context, c serverConfig) dbStats {
	if c.ServerDB == "" || c.DBURL == "" || requireLoopbackURL(c.DBURL) != nil {
		return nil
	}
	conn, err := pgx.Connect(ctx, c.DBURL)
	if err != nil {
		return nil
	}
	context.AfterFunc(ctx, func() { conn.Close(context.Background()) })
	return func(ctx context.Context) (all, active, lockWait, idleInTx int, err error) {
		err = conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'active'),
				count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*) FILTER (WHERE state LIKE 'idle in transaction%')
			FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'`, c.ServerDB).
			Scan(&all, &active, &lockWait, &idleInTx)
		return
	}
}

// sample takes one sample a second until the returned function is called,
// which returns the timeline.
func (tl *timeline) sample(ctx context.Context, api *apiClient, pid int, answered *atomic.Int64, db dbStats) func() []SlowSample {
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for n := 0; n < 3600; n++ { // bounded; stops with sctx long before
			last := false
			select {
			case <-sctx.Done():
				last = true // one more sample: the state at the last answer
			case <-tick.C:
			}
			smp := SlowSample{T: int(time.Since(tl.start).Round(time.Second) / time.Second), Answered: int(answered.Load()),
				DBSessions: -1, DBActive: -1, DBLockWait: -1, DBIdleInTx: -1}
			if v, err := statusKB(pid, "VmRSS"); err == nil {
				smp.RSSMiB = kib(v)
			}
			smp.FDs, _ = countFDs(pid)
			if g, err := api.gauges(ctx); err == nil {
				smp.Goroutines, smp.InFlight = g.Goroutines, g.InFlight-1
			}
			if db != nil {
				a, b, c, d, err := db(ctx)
				if err == nil {
					smp.DBSessions, smp.DBActive, smp.DBLockWait, smp.DBIdleInTx = a, b, c, d
				}
			}
			tl.mu.Lock()
			tl.out = append(tl.out, smp)
			tl.mu.Unlock()
			if last {
				return
			}
		}
	}()
	return func() []SlowSample {
		cancel()
		<-done
		tl.mu.Lock()
		defer tl.mu.Unlock()
		for i := range tl.out {
			// Reads are counted in the second before the sample.
			if v, ok := tl.reads[tl.out[i].T-1]; ok {
				tl.out[i].Reads, tl.out[i].ReadMaxMS = int(v[0]), v[1]
			}
		}
		return tl.out
	}
}

// spreadDialer dials from 127.0.net3.2, 127.0.net3.3, … in turn, addrs
// addresses in all (all of 127.0.0.0/8 is loopback on Linux), so the
// server's per-address connection cap (FIELDWATCH_MAX_CONNS_PER_ADDR) sees
// many phones rather than one client.
func spreadDialer(net3 byte, addrs int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	n := uint64(min(max(1, addrs), 250))
	var next atomic.Uint64
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		i := next.Add(1) % n
		d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
			LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, net3, byte(2+i))}}
		return d.DialContext(ctx, network, addr)
	}
}

// addrsFor is how many source addresses clients connections need at
// perAddr each.
func addrsFor(clients, perAddr int) int { return max(1, (clients+perAddr-1)/perAddr) }
