package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/demo"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/store"
)

// spatialConfig is what `fwbench spatial` was asked to measure.
type spatialConfig struct {
	PGURL      string // a fresh, migrated PostgreSQL database ("" skips it)
	SQLitePath string // a fresh, migrated SQLite file ("" skips it)
	DBPID      int    // the postmaster, for CPU accounting (optional)
	User       string // username owning the seeded rows (created by `fieldwatch user add`)
	Rows       int
	Boxes      int
	Warmup     int
	MinSideM   float64
	MaxSideM   float64
	Seed       uint64
	SeedLimit  time.Duration // bound on seeding each database
	Timeout    time.Duration // the whole command
	Out        string
}

func parseSpatialFlags(args []string, stderr io.Writer) (spatialConfig, error) {
	var c spatialConfig
	fs := flag.NewFlagSet("fwbench spatial", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.PGURL, "pg-url", "", "URL of a fresh PostgreSQL database with the store's migrations applied, on a loopback address")
	fs.StringVar(&c.SQLitePath, "sqlite", "", "path of a fresh SQLite database with the store's migrations applied")
	fs.IntVar(&c.DBPID, "db-pid", 0, "pid of the PostgreSQL postmaster, for CPU accounting (optional)")
	fs.StringVar(&c.User, "user", "bench", "username that owns the seeded evidence (must exist in both databases)")
	fs.IntVar(&c.Rows, "rows", 1_000_000, "evidence rows to seed")
	fs.IntVar(&c.Boxes, "boxes", 300, "random bboxes timed per database")
	fs.IntVar(&c.Warmup, "warmup", 30, "queries before timing (other boxes, not counted)")
	fs.Float64Var(&c.MinSideM, "min-side", 1000, "smallest bbox side, metres")
	fs.Float64Var(&c.MaxSideM, "max-side", 2000, "largest bbox side, metres")
	fs.Uint64Var(&c.Seed, "seed", 9, "seed of the rows and boxes (the same seed gives the same data)")
	fs.DurationVar(&c.SeedLimit, "seed-timeout", 8*time.Minute, "bound on seeding each database")
	fs.DurationVar(&c.Timeout, "timeout", 14*time.Minute, "bound on the whole command")
	fs.StringVar(&c.Out, "out", "", "file for the JSON result (required)")
	err := parseFlags(fs, args, func() []error {
		var errs []error
		if c.PGURL == "" && c.SQLitePath == "" {
			errs = append(errs, errors.New("give -pg-url, -sqlite or both"))
		}
		if c.PGURL != "" {
			if err := requireLoopbackURL(c.PGURL); err != nil {
				errs = append(errs, fmt.Errorf("-pg-url: %w", err))
			}
		}
		if c.Out == "" {
			errs = append(errs, errors.New("-out is required"))
		}
		inRange(&errs, "rows", float64(c.Rows), 1000, 10_000_000)
		inRange(&errs, "boxes", float64(c.Boxes), 10, 10_000)
		inRange(&errs, "warmup", float64(c.Warmup), 0, 1000)
		inRange(&errs, "min-side", c.MinSideM, 10, 50_000)
		inRange(&errs, "max-side", c.MaxSideM, c.MinSideM, 50_000)
		inRange(&errs, "seed-timeout", c.SeedLimit.Seconds(), 1, 1800)
		inRange(&errs, "timeout", c.Timeout.Seconds(), 1, 1800)
		return errs
	})
	return c, err
}

// requireLoopbackURL refuses a database URL whose host is not a literal
// loopback address.
func requireLoopbackURL(raw string) error {
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return err
	}
	return requireLoopback(net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
}

// SpatialResult is run 4: the store's bbox list query on a large table.
type SpatialResult struct {
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt time.Time  `json:"finished_at"`
	Machine    Machine    `json:"machine"`
	Rows       int        `json:"rows"`
	CountyBox  string     `json:"county_bbox"` // where the rows lie, uniformly
	Boxes      int        `json:"boxes"`
	Warmup     int        `json:"warmup"`
	SideM      [2]float64 `json:"box_side_m"` // square boxes, side uniform in this range
	// Via says what was timed.
	Via      string           `json:"via"`
	Backends []SpatialBackend `json:"backends"`
}

// SpatialBackend is one database's seeding, timings and plan.
type SpatialBackend struct {
	Name     string  `json:"name"` // postgres, sqlite
	Analyzed bool    `json:"analyzed"`
	SeedSec  float64 `json:"seed_seconds,omitempty"` // bulk load, indexes maintained
	// AnalyzeSec is VACUUM ANALYZE (PostgreSQL) or ANALYZE (SQLite).
	AnalyzeSec float64 `json:"analyze_seconds,omitempty"`
	SizeMiB    float64 `json:"size_mib,omitempty"`
	// LatencyMS is store.ListEvidence with the bbox, in process.
	LatencyMS Percentiles `json:"latency_ms"`
	MeanMS    float64     `json:"mean_ms"`
	// ReturnedMean is the mean number of items returned (the page is 50);
	// MatchesP50/Max the rows inside the boxes.
	ReturnedMean float64 `json:"returned_mean"`
	MatchesP50   int     `json:"matches_p50"`
	MatchesMax   int     `json:"matches_max"`
	CPU          CPUUse  `json:"cpu"`
	// TimingSec is the wall time of the timed queries, one after another.
	TimingSec float64 `json:"timing_seconds"`
	// PlanBox is the box holding the median number of rows; PlanQuery
	// and Plan are store.Store.ExplainListEvidence for it.
	PlanBox     string      `json:"plan_box"`
	PlanQuery   string      `json:"plan_query"`
	Plan        string      `json:"plan"`
	PlanSummary PlanSummary `json:"plan_summary"`
}

// runSpatial seeds both databases at once, then times each alone.
func runSpatial(ctx context.Context, c spatialConfig, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	say := func(format string, a ...any) { fmt.Fprintf(stdout, "    "+format+"\n", a...) }
	county, err := demo.CountyBox()
	if err != nil {
		return err
	}
	res := SpatialResult{StartedAt: time.Now().UTC(), Machine: describeMachine(), Rows: c.Rows, Boxes: c.Boxes,
		Warmup: c.Warmup, SideM: [2]float64{c.MinSideM, c.MaxSideM}, CountyBox: boxString(county),
		Via: "store.Store.ListEvidence(EvidenceFilter{BBox}) called in process by fwbench (no HTTP): one statement, no transaction: the page's ids chosen first, then their rows with their flags; default page of 50"}

	var pg, lite SpatialBackend
	g, gctx := errgroup.WithContext(ctx)
	if c.PGURL != "" {
		g.Go(func() error {
			sctx, cancel := context.WithTimeout(gctx, c.SeedLimit)
			defer cancel()
			var err error
			pg, err = seedPostgres(sctx, c, county)
			if err != nil {
				return fmt.Errorf("seeding PostgreSQL: %w", err)
			}
			say("postgres: %d rows in %.1fs, VACUUM ANALYZE %.1fs, %.0f MiB", c.Rows, pg.SeedSec, pg.AnalyzeSec, pg.SizeMiB)
			return nil
		})
	}
	if c.SQLitePath != "" {
		g.Go(func() error {
			sctx, cancel := context.WithTimeout(gctx, c.SeedLimit)
			defer cancel()
			var err error
			lite, err = seedSQLite(sctx, c, county)
			if err != nil {
				return fmt.Errorf("seeding SQLite: %w", err)
			}
			say("sqlite: %d rows in %.1fs, %.0f MiB", c.Rows, lite.SeedSec, lite.SizeMiB)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	rng := rand.New(rand.NewPCG(c.Seed, 2))
	warm := randomBoxes(rng, county, c.Warmup, c.MinSideM, c.MaxSideM)
	boxes := randomBoxes(rng, county, c.Boxes, c.MinSideM, c.MaxSideM)
	cpu := newCPUMeter(0, 0, c.DBPID)

	if c.PGURL != "" {
		s, err := store.OpenPostgres(ctx, c.PGURL)
		if err != nil {
			return err
		}
		err = timeBackend(ctx, s, &pg, warm, boxes, cpu)
		err = errors.Join(err, s.Close())
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		say("postgres: %s; plan: %s", pg.latencySummary(), pg.PlanSummary)
		res.Backends = append(res.Backends, pg)
	}
	if c.SQLitePath != "" {
		// As the server leaves it (it never runs ANALYZE), then analysed.
		for _, analyze := range []bool{false, true} {
			b := lite
			if analyze {
				db, err := sql.Open("sqlite", sqliteSeedDSN(c.SQLitePath))
				if err != nil {
					return err
				}
				t := time.Now()
				_, err = db.ExecContext(ctx, "ANALYZE")
				b.AnalyzeSec = round3(time.Since(t).Seconds())
				if err = errors.Join(err, db.Close()); err != nil {
					return fmt.Errorf("sqlite: ANALYZE: %w", err)
				}
				b.Analyzed = true
				b.SeedSec = 0
			}
			s, err := store.OpenSQLite(ctx, c.SQLitePath)
			if err != nil {
				return err
			}
			err = timeBackend(ctx, s, &b, warm, boxes, cpu)
			if err = errors.Join(err, s.Close()); err != nil {
				return fmt.Errorf("sqlite: %w", err)
			}
			say("sqlite (analyzed %v): %s; plan: %s", analyze, b.latencySummary(), b.PlanSummary)
			res.Backends = append(res.Backends, b)
		}
	}
	res.FinishedAt = time.Now().UTC()
	return writeJSON(c.Out, res)
}

func (b SpatialBackend) latencySummary() string {
	l := b.LatencyMS
	return fmt.Sprintf("p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.1f ms (%.1f items per answer, %d rows in the median box)",
		l.P50, l.P95, l.P99, l.Max, b.ReturnedMean, b.MatchesP50)
}

func boxString(b geo.Box) string {
	return fmt.Sprintf("%.6f,%.6f,%.6f,%.6f", b.MinLon, b.MinLat, b.MaxLon, b.MaxLat)
}

// randomBoxes returns n square boxes with sides uniform in [minM, maxM]
// metres, lying inside within.
func randomBoxes(rng *rand.Rand, within geo.Box, n int, minM, maxM float64) []geo.Box {
	out := make([]geo.Box, n)
	for i := range out {
		side := minM + rng.Float64()*(maxM-minM)
		midLat := (within.MinLat + within.MaxLat) / 2
		dLat := side / metresPerDegLat
		dLon := side / (metresPerDegLat * math.Cos(midLat*math.Pi/180))
		lon := within.MinLon + rng.Float64()*max(within.MaxLon-within.MinLon-dLon, 0)
		lat := within.MinLat + rng.Float64()*max(within.MaxLat-within.MinLat-dLat, 0)
		out[i] = geo.Box{MinLon: lon, MinLat: lat, MaxLon: lon + dLon, MaxLat: lat + dLat}
	}
	return out
}

// metresPerDegLat is the mean length of a degree of latitude; good enough
// to size a box.
const metresPerDegLat = 111_195.0

// seedRow is one evidence row as the store would have written it.
type seedRow struct {
	id       [16]byte
	category string
	sha      string
	size     int64
	received time.Time
	captured time.Time
	lon, lat float64
}

// rowGen makes the same rows, in the same order, for both databases:
// received times one per (2 years / rows) ending at end, ids UUID v7 of
// that time, distinct SHA-256s, positions uniform over box.
type rowGen struct {
	rng  *rand.Rand
	box  geo.Box
	n    int
	end  time.Time
	step time.Duration
	seed uint64
	i    int
}

var seedCategories = []string{"dust_site", "open_burning", "river_section", "other"}

func newRowGen(seed uint64, box geo.Box, n int) *rowGen {
	return &rowGen{rng: rand.New(rand.NewPCG(seed, 1)), box: box, n: n, seed: seed,
		end: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), step: 2 * 365 * 24 * time.Hour / time.Duration(n)}
}

// next returns row i (0, 1, …); false after the last.
func (g *rowGen) next() (seedRow, bool) {
	if g.i >= g.n {
		return seedRow{}, false
	}
	i := g.i
	g.i++
	var r seedRow
	r.received = g.end.Add(-time.Duration(g.n-1-i) * g.step).Truncate(time.Microsecond)
	r.captured = r.received.Add(-time.Duration(g.rng.Int64N(int64(2 * time.Hour)))).Truncate(time.Microsecond)
	r.id = uuidV7(r.received, g.rng)
	var in [16]byte
	binary.BigEndian.PutUint64(in[:8], g.seed)
	binary.BigEndian.PutUint64(in[8:], uint64(i))
	sum := sha256.Sum256(in[:])
	r.sha = hex.EncodeToString(sum[:])
	r.size = 1<<20 + g.rng.Int64N(7<<20)
	r.category = seedCategories[g.rng.IntN(len(seedCategories))]
	r.lon = g.box.MinLon + g.rng.Float64()*(g.box.MaxLon-g.box.MinLon)
	r.lat = g.box.MinLat + g.rng.Float64()*(g.box.MaxLat-g.box.MinLat)
	return r, true
}

// uuidV7 is an RFC 9562 version 7 UUID for t: 48 bits of Unix
// milliseconds, then random bits, as the store's ids (uuid.NewV7).
func uuidV7(t time.Time, rng *rand.Rand) [16]byte {
	var u [16]byte
	binary.BigEndian.PutUint64(u[8:], rng.Uint64())
	binary.BigEndian.PutUint64(u[:8], uint64(t.UnixMilli())<<16|rng.Uint64()&0x0fff)
	u[6] = u[6]&0x0f | 0x70 // version 7
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return u
}

// seededCols are the columns the seeders fill; the rest take their
// defaults (subcategory, note, thumbnails, details) or stay NULL
// (exif_device_distance_m, duplicate_of: every row has distinct bytes;
// township_code, reach_code, responsibility: not linked). Every row has a
// position from EXIF and a capture time from EXIF, as a phone photo does.
var seededCols = []string{"id", "uploader_id", "category", "sha256", "size", "content_type", "object_key",
	"width", "height", "received_at", "captured_at", "capture_time_source", "lon", "lat", "location_source"}

// seedPostgres bulk-loads the rows with COPY (every index, the generated
// geom column and its GiST index maintained as rows arrive), then runs
// VACUUM ANALYZE, as autovacuum eventually would.
func seedPostgres(ctx context.Context, c spatialConfig, county geo.Box) (SpatialBackend, error) {
	b := SpatialBackend{Name: "postgres", Analyzed: true}
	conn, err := pgx.Connect(ctx, c.PGURL)
	if err != nil {
		return b, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var uid [16]byte
	if err := conn.QueryRow(ctx, `SELECT id FROM users WHERE username = $1`, c.User).Scan(&uid); err != nil {
		return b, fmt.Errorf("user %q: %w", c.User, err)
	}
	var existing int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM evidence`).Scan(&existing); err != nil {
		return b, err
	}
	if existing != 0 {
		return b, fmt.Errorf("the database already holds %d evidence rows: give a fresh one", existing)
	}
	gen := newRowGen(c.Seed, county, c.Rows)
	t := time.Now()
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"evidence"}, seededCols, pgx.CopyFromFunc(func() ([]any, error) {
		r, ok := gen.next()
		if !ok {
			return nil, nil
		}
		return []any{r.id, uid, r.category, r.sha, r.size, "image/jpeg", fieldwatch.ObjectKey(r.sha), int32(4000), int32(3000),
			r.received, r.captured, "exif", r.lon, r.lat, "exif"}, nil
	}))
	if err != nil {
		return b, err
	}
	if n != int64(c.Rows) {
		return b, fmt.Errorf("COPY stored %d rows, want %d", n, c.Rows)
	}
	b.SeedSec = round3(time.Since(t).Seconds())
	t = time.Now()
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE evidence`); err != nil {
		return b, err
	}
	b.AnalyzeSec = round3(time.Since(t).Seconds())
	var size int64
	if err := conn.QueryRow(ctx, `SELECT pg_total_relation_size('evidence')`).Scan(&size); err != nil {
		return b, err
	}
	b.SizeMiB = kib(size / 1024)
	return b, nil
}

// sqliteSeedDSN opens the file the way the store does (WAL, foreign keys)
// with a larger page cache for the load.
func sqliteSeedDSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "cache_size(-262144)")
	q.Add("_pragma", "temp_store(MEMORY)") // statement journals (the R*Tree trigger) in memory, not in temp files
	abs, _ := filepath.Abs(path)
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}).String()
}

// sqliteBatch is the rows per INSERT statement when seeding SQLite.
const sqliteBatch = 50

// sqliteTime is the store's text form of a time (store.timeLayout).
const sqliteTime = "2006-01-02T15:04:05.000000Z"

// seedSQLite inserts the rows in one transaction through one prepared
// statement (sqliteBatch rows each); the schema's triggers fill the R*Tree as they would for the
// store's inserts.
func seedSQLite(ctx context.Context, c spatialConfig, county geo.Box) (SpatialBackend, error) {
	b := SpatialBackend{Name: "sqlite"}
	db, err := sql.Open("sqlite", sqliteSeedDSN(c.SQLitePath))
	if err != nil {
		return b, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var uid string
	if err := db.QueryRowContext(ctx, `SELECT id FROM users WHERE username = ?`, c.User).Scan(&uid); err != nil {
		return b, fmt.Errorf("user %q: %w", c.User, err)
	}
	var existing int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM evidence`).Scan(&existing); err != nil {
		return b, err
	}
	if existing != 0 {
		return b, fmt.Errorf("the database already holds %d evidence rows: give a fresh one", existing)
	}
	gen := newRowGen(c.Seed, county, c.Rows)
	t := time.Now()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return b, err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit: nothing to undo
	// Rows go in batches of sqliteBatch per INSERT: fewer statements to
	// run, the same rows and triggers.
	insert := func(n int) string {
		marks := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(seededCols)), ", ") + ")"
		return `INSERT INTO evidence (` + strings.Join(seededCols, ", ") + `) VALUES ` +
			strings.TrimSuffix(strings.Repeat(marks+", ", n), ", ")
	}
	stmt, err := tx.PrepareContext(ctx, insert(sqliteBatch))
	if err != nil {
		return b, err
	}
	defer stmt.Close()
	args := make([]any, 0, sqliteBatch*len(seededCols))
	for done := false; !done; {
		args = args[:0]
		for len(args) < cap(args) {
			r, ok := gen.next()
			if !ok {
				done = true
				break
			}
			args = append(args, uuid.UUID(r.id).String(), uid, r.category, r.sha, r.size, "image/jpeg",
				fieldwatch.ObjectKey(r.sha), 4000, 3000, r.received.Format(sqliteTime), r.captured.Format(sqliteTime), "exif",
				r.lon, r.lat, "exif")
		}
		switch n := len(args) / len(seededCols); {
		case n == sqliteBatch:
			_, err = stmt.ExecContext(ctx, args...)
		case n > 0:
			_, err = tx.ExecContext(ctx, insert(n), args...)
		}
		if err != nil {
			return b, err
		}
	}
	if err := errors.Join(stmt.Close(), tx.Commit()); err != nil {
		return b, err
	}
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return b, err
	}
	b.SeedSec = round3(time.Since(t).Seconds())
	if st, err := os.Stat(c.SQLitePath); err == nil {
		b.SizeMiB = kib(st.Size() / 1024)
	}
	return b, nil
}

// timeBackend times ListEvidence over boxes on s (after warm-up queries),
// counts the rows in each box and explains the query for the box holding
// the median number of rows.
func timeBackend(ctx context.Context, s *store.Store, b *SpatialBackend, warm, boxes []geo.Box, cpu *cpuMeter) error {
	for _, bx := range warm {
		if _, err := s.ListEvidence(ctx, fieldwatch.EvidenceFilter{BBox: &bx}); err != nil {
			return err
		}
	}
	lat := make([]time.Duration, len(boxes))
	returned := 0
	s0, err := cpu.snapshot()
	if err != nil {
		return err
	}
	t0 := time.Now()
	for i := range boxes {
		t := time.Now()
		list, err := s.ListEvidence(ctx, fieldwatch.EvidenceFilter{BBox: &boxes[i]})
		lat[i] = time.Since(t)
		if err != nil {
			return err
		}
		returned += len(list)
	}
	b.TimingSec = round3(time.Since(t0).Seconds())
	s1, err := cpu.snapshot()
	if err != nil {
		return err
	}
	b.CPU = cpu.use(s0, s1, 0)
	b.LatencyMS = percentiles(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	b.MeanMS = ms(sum / time.Duration(len(lat)))
	b.ReturnedMean = round3(float64(returned) / float64(len(boxes)))

	matches := make([]int, len(boxes))
	for i, bx := range boxes {
		if matches[i], err = countInBox(ctx, s, bx); err != nil {
			return fmt.Errorf("counting: %w", err)
		}
	}
	sorted := slices.Clone(matches)
	slices.Sort(sorted)
	b.MatchesP50, b.MatchesMax = sorted[(len(sorted)-1)/2], sorted[len(sorted)-1]

	// Explain the box holding the median number of rows: the same box in
	// every database, since they hold the same rows.
	order := make([]int, len(boxes))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return matches[x] - matches[y] })
	bx := boxes[order[(len(order)-1)/2]]
	plan, err := s.ExplainListEvidence(ctx, fieldwatch.EvidenceFilter{BBox: &bx})
	if err != nil {
		return err
	}
	b.PlanBox, b.PlanQuery, b.Plan = boxString(bx), plan.Query, plan.Plan
	b.PlanSummary = summarizePlan(s.Backend(), b.Plan)
	return nil
}

// countInBox counts the rows ListEvidence finds in bx, page by page.
func countInBox(ctx context.Context, s *store.Store, bx geo.Box) (int, error) {
	f := fieldwatch.EvidenceFilter{BBox: &bx, Limit: store.MaxEvidenceLimit}
	n := 0
	for {
		page, err := s.ListEvidence(ctx, f)
		if err != nil {
			return 0, err
		}
		n += len(page)
		if len(page) < f.Limit {
			return n, nil
		}
		last := page[len(page)-1]
		f.AfterTime, f.AfterID = &last.ReceivedAt, last.ID
	}
}

// PlanSummary is what a query plan says about index use.
type PlanSummary struct {
	// Indexes used, in plan order ("INTEGER PRIMARY KEY" for SQLite's
	// rowid lookups, "evidence_rtree (virtual table)" for the R*Tree).
	Indexes []string `json:"indexes"`
	// FullScans are tables read from end to end.
	FullScans []string `json:"full_scans,omitempty"`
	// Sort: the rows are sorted after they are found (no index order).
	Sort bool `json:"sort"`
	// Spatial: the spatial index (GiST evidence_geom, R*Tree
	// evidence_rtree) selects the candidates.
	Spatial bool `json:"spatial_index"`
	// ExecutionMS is PostgreSQL's "Execution Time" (EXPLAIN ANALYZE).
	ExecutionMS float64 `json:"execution_ms,omitempty"`
}

func (p PlanSummary) String() string {
	s := "indexes " + strings.Join(p.Indexes, ", ")
	if len(p.Indexes) == 0 {
		s = "no index"
	}
	if len(p.FullScans) > 0 {
		s += "; full scan of " + strings.Join(p.FullScans, ", ")
	}
	if p.Sort {
		s += "; sorts the matches"
	}
	return s
}

var (
	pgIndexRe   = regexp.MustCompile(`(?:Bitmap Index Scan on|Index (?:Only )?Scan(?: Backward)? using) (\S+)`)
	pgSeqRe     = regexp.MustCompile(`Seq Scan on (\S+)`)
	pgExecRe    = regexp.MustCompile(`Execution Time: ([0-9.]+) ms`)
	liteIndexRe = regexp.MustCompile(`USING (?:COVERING )?INDEX (\S+)`)
	liteVTabRe  = regexp.MustCompile(`SCAN (\S+) VIRTUAL TABLE INDEX`)
	liteScanRe  = regexp.MustCompile(`^\s*SCAN (\S+)\s*$`)
)

// summarizePlan reads index use out of EXPLAIN (PostgreSQL, text format)
// or EXPLAIN QUERY PLAN (SQLite) output.
func summarizePlan(backend, plan string) PlanSummary {
	var p PlanSummary
	add := func(list *[]string, v string) {
		if !slices.Contains(*list, v) {
			*list = append(*list, v)
		}
	}
	for line := range strings.Lines(plan) {
		line = strings.TrimRight(line, "\n")
		if backend == "postgres" {
			if m := pgIndexRe.FindStringSubmatch(line); m != nil {
				add(&p.Indexes, m[1])
			}
			if m := pgSeqRe.FindStringSubmatch(line); m != nil {
				add(&p.FullScans, m[1])
			}
			if strings.Contains(line, "Sort Key:") {
				p.Sort = true
			}
			if m := pgExecRe.FindStringSubmatch(line); m != nil {
				p.ExecutionMS, _ = strconv.ParseFloat(m[1], 64)
			}
			continue
		}
		switch {
		case liteVTabRe.MatchString(line):
			add(&p.Indexes, liteVTabRe.FindStringSubmatch(line)[1]+" (virtual table)")
		case liteIndexRe.MatchString(line):
			add(&p.Indexes, liteIndexRe.FindStringSubmatch(line)[1])
		case strings.Contains(line, "USING INTEGER PRIMARY KEY"):
			add(&p.Indexes, "INTEGER PRIMARY KEY")
		case liteScanRe.MatchString(line):
			add(&p.FullScans, liteScanRe.FindStringSubmatch(line)[1])
		}
		if strings.Contains(line, "TEMP B-TREE FOR ORDER BY") {
			p.Sort = true
		}
	}
	for _, ix := range p.Indexes {
		if ix == "evidence_geom" || strings.HasPrefix(ix, "evidence_rtree") {
			p.Spatial = true
		}
	}
	return p
}
