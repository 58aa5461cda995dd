package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
)

// Tests of the pure parts of runs 2–5: no services, no timings asserted
// (the throttle runs on a fake clock).

func TestThrottleRate(t *testing.T) {
	for _, tc := range []struct {
		name        string
		size, chunk int
		rate        float64
		readBuf     int
	}{
		{"TwoMbit", 1_000_000, 16 << 10, 250_000, 64 << 10},
		{"SmallReads", 100_000, 4096, 50_000, 1000},
		{"ChunkLargerThanReads", 300_000, 1 << 20, 1_000_000, 32 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := make([]byte, tc.size)
			for i := range data {
				data[i] = byte(i * 7)
			}
			clk := testclock.New(time.Unix(1000, 0)) // moves only when the throttle sleeps
			th := newThrottle(t.Context(), bytes.NewReader(data), tc.rate, tc.chunk)
			th.now, th.sleep = clk.Now, clk.Sleep
			var got bytes.Buffer
			buf := make([]byte, tc.readBuf)
			reads := 0
			for {
				n, err := th.Read(buf)
				if n > tc.chunk {
					t.Fatalf("read of %d bytes, chunk is %d", n, tc.chunk)
				}
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				reads++
				// Byte k is never handed out before k/rate seconds.
				if limit := time.Duration(float64(got.Len()-n) / tc.rate * float64(time.Second)); clk.Slept() < limit {
					t.Fatalf("after %d bytes only %v slept, want ≥ %v", got.Len(), clk.Slept(), limit)
				}
			}
			if !bytes.Equal(got.Bytes(), data) {
				t.Fatal("bytes changed on the way through")
			}
			// The whole body takes size/rate, less the last read's share.
			want := float64(tc.size) / tc.rate
			last := float64(min(tc.chunk, tc.readBuf)) / tc.rate
			if s := clk.Slept().Seconds(); s < want-last-1e-6 || s > want+1e-6 {
				t.Fatalf("slept %.4fs for %d bytes at %.0f B/s, want about %.4fs", s, tc.size, tc.rate, want)
			}
		})
	}
}

func TestThrottleStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	th := newThrottle(ctx, bytes.NewReader(make([]byte, 1<<20)), 1000, 1000)
	buf := make([]byte, 1000)
	if _, err := th.Read(buf); err != nil { // the first read is due at once
		t.Fatal(err)
	}
	cancel()
	if _, err := th.Read(buf); err == nil {
		t.Fatal("a throttled read went on after its context ended")
	}
}

func TestStreamPhoto(t *testing.T) {
	photos, err := loadPhotos("../../testdata/photos")
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 1000) // not a divisor of anything here
	for i := range block {
		block[i] = byte(i)
	}
	const size = 3_000_001
	seen := map[[32]byte]bool{}
	for seq := range uint64(3) {
		for _, run := range [][16]byte{{1}, {2}} {
			p, err := newStreamPhoto(photos[0], run, seq, block, size)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(p.reader())
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != size {
				t.Fatalf("%d bytes, want %d", len(b), size)
			}
			if sha256.Sum256(b) != p.sum {
				t.Fatal("recorded SHA-256 is not the bytes'")
			}
			if seen[p.sum] {
				t.Fatalf("run %v photo %d repeats another", run, seq)
			}
			seen[p.sum] = true
			if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
				t.Fatalf("not a JPEG any more: %v", err)
			}
		}
	}
	if _, err := newStreamPhoto(photos[0], [16]byte{}, 0, block, 1000); err == nil {
		t.Fatal("a photo smaller than its JPEG was made")
	}
}

func TestPercentilesOf(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 200; i++ {
		ds = append(ds, time.Duration(i)*500*time.Millisecond)
	}
	got := percentilesOf(ds, time.Second)
	want := Percentiles{P50: 50, P95: 95, P99: 99, Max: 100}
	if got != want {
		t.Fatalf("seconds: %+v, want %+v", got, want)
	}
	if got := percentilesOf([]time.Duration{1234567 * time.Nanosecond}, time.Millisecond); got.P50 != 1.23 {
		t.Fatalf("two decimals: %+v", got)
	}
}

func TestFindSustainable(t *testing.T) {
	ok := sustains(100 * time.Millisecond)
	// A server that keeps up to capacity and falls behind beyond it.
	fake := func(capacity float64, measured *[]float64) func(float64) (AttackStats, error) {
		return func(rate float64) (AttackStats, error) {
			*measured = append(*measured, rate)
			s := AttackStats{OfferedRate: rate, Requests: int(rate * 3), OK: int(rate * 3), AchievedRate: rate,
				LatencyMS: Percentiles{P50: 1, P95: 2, P99: 3}}
			if rate > capacity {
				s.AchievedRate, s.LatencyMS.P99 = capacity, 900
			}
			return s, nil
		}
	}
	t.Run("Refines", func(t *testing.T) {
		var m []float64
		steps, best, err := findSustainable(fake(1000, &m), ok, 100, 2, 51200, 3)
		if err != nil {
			t.Fatal(err)
		}
		if best != 951 { // 800 passes, 1600 fails, then 1131 ✗, 951 ✓, 1037 ✗
			t.Fatalf("best %v (measured %v)", best, m)
		}
		if len(steps) != 8 || len(m) != 8 {
			t.Fatalf("%d steps, measured %v", len(steps), m)
		}
		for i := 1; i < len(steps); i++ {
			if steps[i].OfferedRate < steps[i-1].OfferedRate {
				t.Fatalf("steps not in rate order: %v", m)
			}
		}
	})
	t.Run("Capped", func(t *testing.T) {
		var m []float64
		_, best, _ := findSustainable(fake(1e9, &m), ok, 100, 2, 800, 3)
		if best != 800 || len(m) != 4 {
			t.Fatalf("best %v, measured %v", best, m)
		}
	})
	t.Run("StartsTooHigh", func(t *testing.T) {
		var m []float64
		steps, best, _ := findSustainable(fake(50, &m), ok, 100, 2, 800, 3)
		// 100 ✗, down to 50 ✓, then 71 ✗, 60 ✗, 55 ✗
		if best != 50 || fmt.Sprint(m) != "[100 50 71 60 55]" {
			t.Fatalf("best %v, measured %v", best, m)
		}
		if steps[0].OfferedRate != 50 || steps[len(steps)-1].OfferedRate != 100 {
			t.Fatalf("steps not in rate order: %v", steps)
		}
	})
	t.Run("FailsEvenLow", func(t *testing.T) {
		var m []float64
		_, best, _ := findSustainable(fake(1, &m), ok, 100, 2, 800, 3)
		if best != 0 || fmt.Sprint(m) != "[100 50 25 12.5]" {
			t.Fatalf("best %v, measured %v", best, m)
		}
	})
	t.Run("ErrBadParameters", func(t *testing.T) {
		if _, _, err := findSustainable(fake(1, new([]float64)), ok, 100, 1, 800, 3); err == nil {
			t.Fatal("factor 1 accepted")
		}
	})
}

func TestSustains(t *testing.T) {
	ok := sustains(50 * time.Millisecond)
	base := AttackStats{OfferedRate: 100, Requests: 300, OK: 300, AchievedRate: 99, LatencyMS: Percentiles{P99: 49}}
	if !ok(base) {
		t.Fatal("a good step failed")
	}
	for name, mod := range map[string]func(*AttackStats){
		"Errors":   func(s *AttackStats) { s.Errors = map[string]int{"HTTP 503": 1} },
		"Behind":   func(s *AttackStats) { s.AchievedRate = 90 },
		"SlowTail": func(s *AttackStats) { s.LatencyMS.P99 = 51 },
		"Nothing":  func(s *AttackStats) { s.Requests = 0 },
	} {
		s := base
		mod(&s)
		if ok(s) {
			t.Errorf("%s: passed", name)
		}
	}
}

func TestErrorKind(t *testing.T) {
	for _, tc := range []struct {
		code uint16
		msg  string
		want string
	}{
		{503, "503 Service Unavailable", "HTTP 503"},
		{0, `Get "http://127.0.0.1:1/x": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, "timeout"},
		{0, "read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer", "connection reset"},
		{0, `Get "http://127.0.0.1:1/x": EOF`, "connection closed (EOF)"},
		{0, `Get "http://127.0.0.1:1/x": something odd`, "something odd"},
	} {
		if got := errorKind(tc.code, tc.msg); got != tc.want {
			t.Errorf("errorKind(%d, %q) = %q, want %q", tc.code, tc.msg, got, tc.want)
		}
	}
}

const pgPlan = `Limit  (cost=2997.52..2997.52 rows=1 width=410) (actual time=11.103..11.112 rows=50 loops=1)
  Buffers: shared hit=334 read=575
  ->  Sort  (cost=2997.52..2997.52 rows=1 width=410) (actual time=11.101..11.106 rows=50 loops=1)
        Sort Key: received_at DESC, id DESC
        Sort Method: top-N heapsort  Memory: 77kB
        ->  Bitmap Heap Scan on evidence e  (cost=26.51..2997.51 rows=1 width=410) (actual time=0.959..10.558 rows=897 loops=1)
              Recheck Cond: (geom && '0103'::geometry)
              ->  Bitmap Index Scan on evidence_geom  (cost=0.00..26.26 rows=900 width=0) (actual time=0.8..0.8 rows=900 loops=1)
Planning Time: 0.225 ms
Execution Time: 11.321 ms`

const pgSeqPlan = `Limit  (cost=0.42..3.10 rows=50 width=410)
  ->  Index Scan using evidence_received on evidence e  (cost=0.42..53.61 rows=1000 width=410)
        Filter: ((lon >= '118.3'::double precision))
  ->  Seq Scan on evidence_flags f  (cost=0.00..1.00 rows=1 width=4)`

const sqlitePlan = `SEARCH e USING INTEGER PRIMARY KEY (rowid=?)
LIST SUBQUERY 1
  SCAN evidence_rtree VIRTUAL TABLE INDEX 2:D1B0D3B2
USE TEMP B-TREE FOR ORDER BY`

func TestSummarizePlan(t *testing.T) {
	for _, tc := range []struct {
		name, backend, plan string
		want                PlanSummary
	}{
		{"PostgresGiST", "postgres", pgPlan, PlanSummary{Indexes: []string{"evidence_geom"}, Sort: true, Spatial: true, ExecutionMS: 11.321}},
		{"PostgresNoSpatial", "postgres", pgSeqPlan, PlanSummary{Indexes: []string{"evidence_received"}, FullScans: []string{"evidence_flags"}}},
		{"SQLiteRTree", "sqlite", sqlitePlan, PlanSummary{Indexes: []string{"INTEGER PRIMARY KEY", "evidence_rtree (virtual table)"}, Sort: true, Spatial: true}},
		{"SQLiteFullScan", "sqlite", "SCAN e\nUSE TEMP B-TREE FOR ORDER BY", PlanSummary{FullScans: []string{"e"}, Sort: true}},
		{"SQLiteListingIndex", "sqlite", "SCAN e USING INDEX evidence_received", PlanSummary{Indexes: []string{"evidence_received"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := summarizePlan(tc.backend, tc.plan)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) || got.Spatial != tc.want.Spatial || got.ExecutionMS != tc.want.ExecutionMS {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRowGen(t *testing.T) {
	box := geo.Box{MinLon: 118, MinLat: 40, MaxLon: 118.5, MaxLat: 40.4}
	a, b := newRowGen(7, box, 1000), newRowGen(7, box, 1000)
	seen := map[string]bool{}
	var prev time.Time
	n := 0
	for {
		ra, ok := a.next()
		rb, okb := b.next()
		if ok != okb {
			t.Fatal("generators of the same seed end apart")
		}
		if !ok {
			break
		}
		n++
		if ra != rb {
			t.Fatalf("row %d differs between generators of the same seed", n)
		}
		if !box.Contains(geo.Point{Lon: ra.lon, Lat: ra.lat}) {
			t.Fatalf("row %d at %v,%v outside the box", n, ra.lon, ra.lat)
		}
		if seen[ra.sha] {
			t.Fatalf("row %d repeats a SHA-256", n)
		}
		seen[ra.sha] = true
		if !ra.received.After(prev) || ra.captured.After(ra.received) {
			t.Fatalf("row %d: received %v after %v, captured %v", n, ra.received, prev, ra.captured)
		}
		prev = ra.received
		u := uuid.UUID(ra.id)
		if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("id %s is not a UUID v7", u)
		}
		sec, nsec := u.Time().UnixTime()
		if ms := sec*1000 + nsec/1e6; ms != ra.received.UnixMilli() {
			t.Fatalf("id %s has time %d ms, row received at %d ms", u, ms, ra.received.UnixMilli())
		}
	}
	if n != 1000 {
		t.Fatalf("%d rows", n)
	}
}

func TestRandomBoxes(t *testing.T) {
	within := geo.Box{MinLon: 117.99, MinLat: 39.98, MaxLon: 118.62, MaxLat: 40.41}
	for _, b := range randomBoxes(rand.New(rand.NewPCG(1, 2)), within, 500, 1000, 2000) {
		if b.MinLon < within.MinLon || b.MaxLon > within.MaxLon || b.MinLat < within.MinLat || b.MaxLat > within.MaxLat {
			t.Fatalf("%v outside %v", b, within)
		}
		h := (b.MaxLat - b.MinLat) * metresPerDegLat
		w := (b.MaxLon - b.MinLon) * metresPerDegLat * math.Cos((b.MinLat+b.MaxLat)/2*math.Pi/180)
		if h < 999 || h > 2001 || math.Abs(w-h) > 0.01*h {
			t.Fatalf("%v is %.0f m × %.0f m", b, w, h)
		}
	}
}

func TestParseGoBench(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/fieldwatch/fieldwatch/geo
cpu: AMD EPYC
BenchmarkLocate/Synthetic-2         	   10000	     23492 ns/op	         0.4034 in-township/op	      93 B/op	       1 allocs/op
BenchmarkLocate/Demo-2              	   60048	      4657 ns/op	      80 B/op	       1 allocs/op
BenchmarkNoProcs 	 5	 10 ns/op
Benchmark output that is a log line
PASS
ok  	github.com/fieldwatch/fieldwatch/geo	3.1s
`
	ctx, bs, err := parseGoBench(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if ctx["pkg"] != "github.com/fieldwatch/fieldwatch/geo" || ctx["cpu"] != "AMD EPYC" {
		t.Fatalf("context %v", ctx)
	}
	want := []GoBenchmark{
		{Name: "Locate/Synthetic", Procs: 2, Iterations: 10000, NsPerOp: 23492, BytesPerOp: 93, AllocsPerOp: 1, Metrics: map[string]float64{"in-township/op": 0.4034}},
		{Name: "Locate/Demo", Procs: 2, Iterations: 60048, NsPerOp: 4657, BytesPerOp: 80, AllocsPerOp: 1},
		{Name: "NoProcs", Procs: 1, Iterations: 5, NsPerOp: 10},
	}
	if fmt.Sprint(bs) != fmt.Sprint(want) {
		t.Fatalf("got %+v\nwant %+v", bs, want)
	}
}

func TestSummarizeProfile(t *testing.T) {
	self, err := parsePerfReport(strings.NewReader(`# header
    24.28%  [k] finish_task_switch.isra.0                          -      -
     2.25%  [.] crypto/internal/fips140/edwards25519/field.feMul.abi0  -  -
     1.13%  [.] runtime.mallocgcSmallScanNoHeader
     0.59%  [.] encoding/json.(*decodeState).object
     0.54%  [.] github.com/gorilla/mux.(*routeRegexp).Match
`))
	if err != nil || len(self) != 5 {
		t.Fatalf("self rows %v, %v", self, err)
	}
	incl, err := parsePerfReport(strings.NewReader(`
    55.31%     0.05%  [.] github.com/labstack/echo/v4.(*Echo).ServeHTTP
    47.92%     0.88%  [k] do_syscall_64
    32.26%     0.05%  [.] github.com/fieldwatch/fieldwatch/store.(*Store).readTx
    24.47%     0.10%  [.] github.com/fieldwatch/fieldwatch/auth.(*Service).Authenticate
    24.00%     0.10%  [.] github.com/fieldwatch/fieldwatch/api.(*Server).observe-fm.(*Server).observe.func1
     3.00%     0.10%  [.] github.com/getkin/kin-openapi/openapi3filter.ValidateRequest
     0.50%     0.10%  [.] github.com/fieldwatch/fieldwatch/store.scanEvidence
`))
	if err != nil || len(incl) != 7 || incl[0].pct != 55.31 {
		t.Fatalf("inclusive rows %v, %v", incl, err)
	}
	groups, frames, top := summarizeProfile(self, incl)
	if groups[0].Name != "kernel (system calls, loopback TCP, scheduling)" || groups[0].Pct != 24.3 {
		t.Fatalf("groups %v", groups)
	}
	wantFrames := "[{do_syscall_64 47.9} {store.(*Store).readTx 32.3} {auth.(*Service).Authenticate 24.5} {github.com/getkin/kin-openapi/openapi3filter.ValidateRequest 3}]"
	if fmt.Sprint(frames) != wantFrames {
		t.Fatalf("frames %v\nwant %s", frames, wantFrames)
	}
	if len(top) != 5 || top[1].Name != "crypto/internal/fips140/edwards25519/field.feMul.abi0" {
		t.Fatalf("top %v", top)
	}
	for _, l := range []struct {
		sym  string
		want string
	}{
		{"github.com/jackc/pgx/v5/pgconn.(*PgConn).Exec", "database/sql, pgx (PostgreSQL driver)"},
		{"github.com/getkin/kin-openapi/openapi3.(*Schema).visitJSON", "OpenAPI request validation (kin-openapi, its router, regexp)"},
		{"log/slog.(*JSONHandler).Handle", "logging and metrics"},
		{"github.com/fieldwatch/fieldwatch/api.evidenceOut", "fieldwatch"},
		{"modernc.org/sqlite/lib.Xsqlite3VdbeExec", "SQLite (modernc.org/sqlite, in process)"},
	} {
		if got := codeGroup(perfLine{symbol: l.sym}); got != l.want {
			t.Errorf("codeGroup(%s) = %q, want %q", l.sym, got, l.want)
		}
	}
}

func TestTargets(t *testing.T) {
	hold := func(fw, pg float64) AttackStats {
		return AttackStats{OK: 100, CPUPerRequestUS: map[string]float64{"fieldwatch": fw, "postgres": pg}}
	}
	r := Report{
		Results: []RunResult{
			{Mode: "local", Throughput: ThroughputResult{Ratio: 0.9}, Thumbnails: &ThumbnailResult{MSPerPhoto: 90}},
			{Mode: "s3", Throughput: ThroughputResult{Ratio: 0.48},
				UploadProfile: &UploadProfile{PhotoBytes: 4 << 20, NoThumbnailsMS: 17.5, ThumbnailsFound: true},
				Thumbnails:    &ThumbnailResult{MSPerPhoto: 218}},
		},
		Slow: &SlowResult{Clients: 1000, PeakMiB: 180.5, InFlightPeak: 1001, Errors: map[string]int{"timeout": 2},
			Reads: AttackStats{OK: 600, Errors: map[string]int{"HTTP 503": 1}, LatencyMS: Percentiles{P99: 612}}},
		Reads: &ReadsResult{Mode: "s3", RatioGetToHealthz: 0.25, Targets: []ReadTarget{{Name: "healthz", Sustainable: 8000},
			{Name: "get", Hold: hold(330, 150), HoldPassed: true}, {Name: "list", Hold: hold(850, 900), HoldPassed: true}}},
		ReadsOther: []ReadsResult{{Mode: "local", RatioGetToHealthz: 0.29, Targets: []ReadTarget{{Name: "healthz", Sustainable: 9000}}}},
		GoBench:    &GoBenchResult{Benchmarks: []GoBenchmark{{Name: "Locate/SyntheticFar", NsPerOp: 90000}, {Name: "Locate/Synthetic", NsPerOp: 15500}}},
	}
	got := targets(r)
	want := []struct {
		name          string
		measured, met bool
		value         float64
		margin        string
	}{
		{"GET /v1/evidence/{id}: fieldwatch CPU", true, false, 330, "180 µs (120%) over"},
		{"GET /v1/evidence/{id}: PostgreSQL CPU", true, false, 150, "70 µs (88%) over"},
		{"GET /v1/evidence/{id}: sustainable rate, SQLite (local)", true, false, 0.29, "0.01× (3%) short"},
		{"GET /v1/evidence/{id}: sustainable rate, PostGIS (s3)", true, true, 0.25, "0.05× (25%) to spare"},
		{"bbox list of 50: fieldwatch CPU", true, true, 850, "50 µs (6%) to spare"},
		{"bbox list of 50: PostgreSQL CPU", true, false, 900, "400 µs (80%) over"},
		{"4 MiB upload: fieldwatch CPU, thumbnails off", true, false, 17.5, "2.5 ms (17%) over"},
		{"upload throughput, thumbnails on", true, false, 0.48, "0.17× (26%) short"}, // the s3 ratio, not the local one
		{"thumbnails: CPU per 12 MP JPEG", true, false, 218, "93 ms (74%) over"},     // s3's, not local's
		{"uploads in flight at once: peak RSS", true, true, 180.5, "75.5 MiB (29%) to spare"},
		{"uploads in flight at once: failures", true, false, 3, "3 over"},
		{"uploads in flight at once: reads meanwhile", true, false, 612, "112 ms (22%) over"},
		{"uploads in flight at once: reached", true, true, 1001, "1 (0%) to spare"},
		{"geo.Index.Locate", true, false, 15.5, "10.5 µs (210%) over"}, // Synthetic, not SyntheticFar
		{"bbox list at 1M rows", false, false, 0, "not measured in this run"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d targets, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name || g.Measured != w.measured || g.Met != w.met || g.Value != w.value || g.Margin != w.margin {
			t.Errorf("%s: got measured %v met %v value %v margin %q; want %+v", g.Name, g.Measured, g.Met, g.Value, g.Margin, w)
		}
		if g.Issue == "" {
			t.Errorf("%s: no issue", g.Name)
		}
	}
	// Nothing measured: every target says so, none is met.
	for _, g := range targets(Report{}) {
		if g.Measured || g.Met || g.Margin != "not measured in this run" {
			t.Errorf("empty report: %+v", g)
		}
	}
	// Upload profile without a sample in the thumbnail functions: the
	// whole of fieldwatch's CPU is judged (an upper bound, never
	// flattering), and the target says so.
	r.Results[1].UploadProfile.ThumbnailsFound = false
	found := false
	for _, g := range targets(r) {
		if g.Name == "4 MiB upload: fieldwatch CPU, thumbnails off" {
			found = true
			if !g.Measured || g.Value != 17.5 || !strings.Contains(g.Want, "no sample") {
				t.Errorf("without a thumbnail sample: %+v", g)
			}
		}
	}
	if !found {
		t.Error("no upload CPU target")
	}
}

// TestCPUSample: CPU per request comes from the hold; without one that
// passed, from the best passing step, said so, rather than not at all.
func TestCPUSample(t *testing.T) {
	step := func(rate, us float64, verdict string) AttackStats {
		return AttackStats{OfferedRate: rate, OK: 10, Verdict: verdict, CPUPerRequestUS: map[string]float64{"fieldwatch": us}}
	}
	for _, c := range []struct {
		name  string
		t     ReadTarget
		us    float64
		where string
	}{
		{"hold", ReadTarget{Hold: step(800, 300, "ok"), HoldPassed: true, Steps: []AttackStats{step(1600, 250, "ok")}}, 300, ""},
		{"best step", ReadTarget{Hold: step(800, 300, "FAILS"), Steps: []AttackStats{step(100, 500, "ok"), step(400, 350, "ok"), step(800, 320, "FAILS")}},
			350, "; this run: no hold passed, at the ramp's 400/s"},
		{"nothing passed", ReadTarget{Steps: []AttackStats{step(200, 900, "FAILS"), step(100, 700, "FAILS")}}, 700, "; this run: nothing sustained, at a failing 100/s"},
		{"nothing", ReadTarget{}, 0, ""},
	} {
		st, where := cpuSample(c.t)
		if st.CPUPerRequestUS["fieldwatch"] != c.us || where != c.where {
			t.Errorf("%s: got %v µs, %q; want %v, %q", c.name, st.CPUPerRequestUS["fieldwatch"], where, c.us, c.where)
		}
	}
}

func TestFindStages(t *testing.T) {
	incl, err := parsePerfReport(strings.NewReader(`
    80.00%     0.05%  [.] github.com/fieldwatch/fieldwatch/api.(*Server).CreateEvidence
    30.00%     0.05%  [.] github.com/fieldwatch/fieldwatch.(*Intake).Receive
    20.00%     0.05%  [.] github.com/fieldwatch/fieldwatch.(*spoolWriter).Write
    25.00%     0.05%  [.] github.com/fieldwatch/fieldwatch.(*Intake).storeBytes
    22.00%     0.05%  [.] github.com/fieldwatch/fieldwatch/blob/s3blob.(*Bucket).Put
    12.00%     0.05%  [.] github.com/fieldwatch/fieldwatch.(*Thumbnailer).make.func1
    10.00%     0.05%  [.] github.com/fieldwatch/fieldwatch/media.MakeThumbnails
     4.00%     0.05%  [.] github.com/fieldwatch/fieldwatch/store.(*Store).CommitEvidence
     3.00%     0.05%  [.] github.com/minio/minio-go/v7.(*Client).PutObject
     9.00%     0.05%  [.] net/http.(*persistConn).writeLoop
     8.00%     0.05%  [.] github.com/fieldwatch/fieldwatch/blob.(*PutReader).Read
`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Stage{}
	for _, s := range findStages(incl, uploadStageDefs, 20) {
		got[s.Name] = s
	}
	if len(got) != len(uploadStageDefs) {
		t.Fatalf("stages %v", got)
	}
	for name, want := range map[string]struct {
		found bool
		ms    float64
		sym   string
	}{
		"receive + SHA-256 + spool (Intake.Receive)": {true, 6, "fieldwatch.(*Intake).Receive"}, // outermost, not + the writer
		"EXIF / inspection (Intake.describe, media)": {false, 0, ""},                            // renamed away: not found, not 0
		// the request's goroutine plus the transport's, which writes the body
		uploadStageDefs[3].name:         {true, 6.8, "fieldwatch.(*Intake).storeBytes + net/http.(*persistConn).writeLoop"},
		"commit (Store.CommitEvidence)": {true, 0.8, "store.(*Store).CommitEvidence"},
		thumbnailStage:                  {true, 2.4, "fieldwatch.(*Thumbnailer).make.func1"},
	} {
		g := got[name]
		if g.Found != want.found || g.MS != want.ms || g.Symbol != want.sym {
			t.Errorf("%s: got %+v, want %+v", name, g, want)
		}
	}
	if c := got["EXIF / inspection (Intake.describe, media)"].cell(); !strings.HasPrefix(c, "not found") {
		t.Errorf("cell of a stage not found: %q", c)
	}
}

func TestScaledJPEG(t *testing.T) {
	photos, err := loadPhotos("../../testdata/photos")
	if err != nil {
		t.Fatal(err)
	}
	big, err := scaledJPEG(photos, 400, 300) // small in the test: the same code
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(big.data))
	if err != nil || cfg.Width != 400 || cfg.Height != 300 {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	if _, err := jpeg.Decode(bytes.NewReader(big.data)); err != nil {
		t.Fatal(err)
	}
	src := photos[slices.IndexFunc(photos, func(p basePhoto) bool { return p.at != nil && jpegAPP1(p.data) != nil })]
	if !bytes.Equal(jpegAPP1(big.data), jpegAPP1(src.data)) || big.at != src.at {
		t.Fatal("EXIF block not carried over")
	}
	if jpegAPP1([]byte{0xff, 0xd8, 0xff, 0xda, 0, 2}) != nil {
		t.Fatal("APP1 found in a JPEG without one")
	}
}

func TestSpreadDialer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dial := spreadDialer(0, addrsFor(250, 100)) // three addresses
	seen := map[string]bool{}
	for range 6 {
		c, err := dial(t.Context(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		host, _, _ := net.SplitHostPort(s.RemoteAddr().String())
		seen[host] = true
		c.Close()
		s.Close()
	}
	if len(seen) != 3 || seen["127.0.0.1"] {
		t.Fatalf("source addresses %v", seen)
	}
}

// TestRenderMarkdown checks that a report with every run renders every
// section (the layout itself is for people to judge).
func TestRenderMarkdown(t *testing.T) {
	r := Report{
		Machine: Machine{NProc: 2},
		Results: []RunResult{{Mode: "s3", Throughput: ThroughputResult{Baseline: []LoadStats{{}, {}}, Ratio: 0.5},
			UploadProfile: &UploadProfile{Uploads: 48, PhotoBytes: 4 << 20, NoThumbnailsMS: 17.5, ThumbnailsFound: true,
				CPU:    CPUUse{PerUploadMS: map[string]float64{"fieldwatch": 20}},
				Stages: findStages(nil, uploadStageDefs, 20)},
			Thumbnails: &ThumbnailResult{Photos: 16, Pixels: "4000x3000", MSPerPhoto: 200, PerSecondPerCore: 5, Stage: Stage{Found: true, Pct: 80}}}},
		Slow: &SlowResult{Mode: "s3", Clients: 200, RateBytesPerS: 250_000, PhotoBytes: 15_000_000,
			WallSeconds: 60, CPU: CPUUse{Seconds: map[string]float64{"fieldwatch": 30, "other": 30}},
			Timeline: []SlowSample{{T: 1, RSSMiB: 60, DBSessions: -1}, {T: 6, RSSMiB: 70, DBSessions: 3, Reads: 20, ReadMaxMS: 5}}},
		Reads: &ReadsResult{Mode: "s3", Targets: []ReadTarget{{Name: "healthz", Sustainable: 100, Steps: []AttackStats{{OfferedRate: 100}},
			Profile: &Profile{Seconds: 5, Groups: []Share{{"kernel", 50}}, Frames: []Share{{"do_syscall_64", 40}}}},
			{Name: "get", Sustainable: 50, Hold: AttackStats{OK: 500, CPUPerRequestUS: map[string]float64{"fieldwatch": 300, "postgres": 150}},
				Profile: &Profile{Seconds: 5, Groups: []Share{{"crypto (token signature, hashing)", 25}}, Frames: []Share{{"auth.(*Service).Authenticate", 30}}}}}},
		ReadsOther: []ReadsResult{{Mode: "local", Targets: []ReadTarget{{Name: "healthz", Sustainable: 200}}}},
		Spatial:    &SpatialResult{Rows: 1_000_000, Backends: []SpatialBackend{{Name: "postgres", Plan: pgPlan}, {Name: "sqlite", Plan: sqlitePlan}}},
		GoBench:    &GoBenchResult{Benchmarks: []GoBenchmark{{Name: "Locate/Demo", NsPerOp: 4657}}},
		Notes:      reportNotes,
	}
	r.Targets, r.Load = targets(r), machineLoad(r)
	md := renderMarkdown(r)
	for _, want := range []string{"### Targets", "### Run 1: upload throughput", "### Run 2:", "### Run 3:", "### Run 4: bbox list query with 1,000,000",
		"Bitmap Index Scan on evidence_geom", "### Run 5:", "| `Locate/Demo` | 4,657 |", "### Machine load", "self time in",
		"### Run 3: reads against /healthz (local)", "| crypto (token signature, hashing) | 75 |", "| **fieldwatch, all** | **300** |",
		"`auth.(*Service).Authenticate` 30.0% (90 µs)", "### Run 1: fieldwatch CPU per upload by stage", "| receive + SHA-256 + spool (Intake.Receive) | not found |",
		"| **fieldwatch, thumbnails off** | **17.50** |", "### Run 1: thumbnails of 12 MP JPEGs", "**200 ms**", "| #15 | GET /v1/evidence/{id}: fieldwatch CPU |", "| 5 | 0 | 0 | 0 | 0 | 70 | 3 / 0 / 0 / 0 | 20 | 5 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// TestComponentsOnce: a process counted twice would double its CPU time
// and hide other work in "other".
func TestComponentsOnce(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range newCPUMeter(11, 12, 13).comps {
		if seen[c.name] {
			t.Fatalf("component %s twice", c.name)
		}
		seen[c.name] = true
	}
	if !seen["fwbench"] || !seen["fieldwatch"] || !seen["postgres"] || !seen["versitygw"] {
		t.Fatalf("components %v", seen)
	}
	if m := newCPUMeter(0, 0, 0); len(m.comps) == 0 || m.comps[0].name != "fwbench" {
		t.Fatalf("without processes: %v", m.comps)
	}
}

func TestNextLowerPassing(t *testing.T) {
	ok := sustains(100 * time.Millisecond)
	pass := func(r float64) AttackStats {
		return AttackStats{OfferedRate: r, Requests: 1, OK: 1, AchievedRate: r, LatencyMS: Percentiles{P99: 1}}
	}
	fail := pass(1600)
	fail.LatencyMS.P99 = 500
	steps := []AttackStats{pass(100), pass(200), pass(800), pass(1131), fail}
	if got := nextLowerPassing(steps, 1131, ok); got != 800 {
		t.Fatalf("got %v, want 800", got)
	}
	if got := nextLowerPassing(steps, 100, ok); got != 0 {
		t.Fatalf("got %v below the lowest step", got)
	}
}

func TestHoldRates(t *testing.T) {
	ok := sustains(100 * time.Millisecond)
	pass := func(r float64) AttackStats {
		return AttackStats{OfferedRate: r, Requests: 1, OK: 1, AchievedRate: r, LatencyMS: Percentiles{P99: 1}}
	}
	steps := []AttackStats{pass(100), pass(200), pass(400), pass(800)}
	if got := fmt.Sprint(holdRates(steps, 800, ok)); got != "[800 566 400]" {
		t.Fatalf("got %s", got)
	}
	if got := fmt.Sprint(holdRates(steps[:1], 100, ok)); got != "[100]" {
		t.Fatalf("lowest step: %s", got)
	}
	if got := holdRates(nil, 0, ok); got != nil {
		t.Fatalf("nothing passed: %v", got)
	}
}

func TestRerender(t *testing.T) {
	dir := t.TempDir()
	r := Report{Schema: 2, Revision: "aaaa", Machine: Machine{NProc: 2}, Notes: reportNotes,
		Spatial: &SpatialResult{Rows: 1_000_000, Backends: []SpatialBackend{{Name: "postgres", LatencyMS: Percentiles{P95: 9.1}}}}}
	r.Targets, r.Load = targets(r), machineLoad(r)
	in := dir + "/in.json"
	if err := writeJSON(in, r); err != nil {
		t.Fatal(err)
	}
	md := dir + "/b.md"
	if err := os.WriteFile(md, []byte("# B\n\n"+mdBegin+"\nold\n"+mdEnd+"\n\nmine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := run(t.Context(), []string{"report", "-rerender", in, "-rev", "bbbb", "-json", dir + "/out.json", "-md", md}, func(string) string { return "" }, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := readJSON(dir+"/out.json", &got); err != nil {
		t.Fatal(err)
	}
	if got.Revision != "bbbb" || got.Dirty || got.Spatial == nil || got.Spatial.Backends[0].LatencyMS.P95 != 9.1 {
		t.Fatalf("re-rendered report: %+v", got)
	}
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "revision `bbbb`") || !strings.HasSuffix(string(b), "\nmine\n") || strings.Contains(string(b), "\nold\n") {
		t.Fatalf("markdown:\n%s", b)
	}
	if err := run(t.Context(), []string{"report", "-rerender", in, "-in", in}, func(string) string { return "" }, &out, io.Discard); exitCode(err) != 2 {
		t.Fatalf("-rerender with -in: %v", err)
	}
}

// TestReportReadsPerMode: run 3 of each deployment reaches the report, the
// s3 one first whatever the order of -reads.
func TestReportReadsPerMode(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for _, m := range []string{"local", "s3"} {
		in := dir + "/reads-" + m + ".json"
		if err := writeJSON(in, ReadsResult{Mode: m, RatioGetToHealthz: map[string]float64{"local": 0.3, "s3": 0.2}[m],
			Targets: []ReadTarget{{Name: "healthz", Sustainable: 1000}}}); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-reads", in)
	}
	args = append([]string{"report"}, append(args, "-json", dir+"/out.json", "-md", dir+"/b.md")...)
	if err := run(t.Context(), args, func(string) string { return "" }, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := readJSON(dir+"/out.json", &got); err != nil {
		t.Fatal(err)
	}
	if got.Reads == nil || got.Reads.Mode != "s3" || len(got.ReadsOther) != 1 || got.ReadsOther[0].Mode != "local" {
		t.Fatalf("reads %+v, others %+v", got.Reads, got.ReadsOther)
	}
	met := 0
	for _, tg := range got.Targets {
		if strings.HasPrefix(tg.Name, "GET /v1/evidence/{id}: sustainable rate") && tg.Measured && tg.Met {
			met++
		}
	}
	if met != 2 {
		t.Fatalf("sustainable-rate targets met: %d, want 2 (%+v)", met, got.Targets)
	}
}

// TestProfileRun profiles this test process with the real perf: the load
// must be recorded from its first moment (perf is enabled before it
// starts), so a short burst of system calls shows (kernel symbols: a test
// binary's own are stripped). Skipped without perf.
func TestProfileRun(t *testing.T) {
	perfBin, err := exec.LookPath("perf")
	if err != nil {
		t.Skip("no perf")
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	prof, err := profileRun(t.Context(), perfBin, os.Getpid(), t.TempDir(), false, func() error {
		b := []byte("x")
		for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
			if _, err := null.Write(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Skipf("perf cannot profile here: %v", err)
	}
	st := findStages(prof.incl, []stageDef{stage("writes", `any:^(ksys_write|__x64_sys_write)$`)}, 100)[0]
	// Only that the writes were sampled at all: had perf attached after
	// the load, there would be none. Their share depends on the race
	// detector and on what else shares the cores, so it is not asserted.
	if !st.Found {
		t.Fatalf("writes: %+v (profile %.3f CPU s over %.3f s; top %v)", st, prof.CPUSeconds, prof.Seconds, prof.Top)
	}
}
