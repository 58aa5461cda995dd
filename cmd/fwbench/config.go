package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// runConfig is what `fwbench run` was asked to measure.
type runConfig struct {
	Mode      string // "s3" or "local"
	URL       string // base URL of the running fieldwatch server
	Username  string
	Password  string // from FWBENCH_PASSWORD
	ServerPID int    // the fieldwatch process: RSS, fds, CPU
	S3PID     int    // the S3 server process, for CPU accounting (optional)
	DBPID     int    // the PostgreSQL postmaster, for CPU accounting (optional)
	PhotoDir  string // JPEGs to build payloads from (testdata/photos)

	Count       int   // throughput phase: uploads per path
	Concurrency int   // throughput phase: clients
	Size        int64 // throughput phase: bytes per photo
	Warmup      int   // uploads per path before measuring, not counted
	Burst       int   // memory phase: uploads sent at once
	BurstSize   int64 // memory phase: bytes per photo

	// Profiled phases (need perf): uploads of Size under perf, by stage;
	// 12 MP photos whose thumbnails are measured. 0 skips a phase.
	ProfileUploads int
	ThumbPhotos    int
	Perf           string // the perf binary ("" : no profiled phases)
	KeepPerf       string // keep the profiled phases' perf data in this directory

	Timeout      time.Duration // the whole run
	PhaseTimeout time.Duration // each measured phase
	SettleMax    time.Duration // longest wait for the server to go idle

	// S3 baseline (mode s3): the server's S3, a bucket of our own.
	S3Endpoint, S3AccessKey, S3SecretKey, S3Region, S3Bucket string
	// File baseline (mode local): a directory on the data directory's
	// file system.
	RawDir, DataDir string

	DBURL string // FIELDWATCH_TEST_POSTGRES_URL, only to name its connections

	Label string // describes the deployment in the report
	Out   string // where the JSON result goes
}

// serverPort is the port of the fieldwatch URL.
func (c runConfig) serverPort() int { return portOf(c.URL) }

func portOf(base string) int {
	u, err := url.Parse(base)
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(u.Port())
	return p
}

// peers names the services by port, for the descriptor breakdown.
func (c runConfig) peers() map[int]string { return peersOf(c.Mode, c.S3Endpoint, c.DBURL) }

func peersOf(mode, s3Endpoint, dbURL string) map[int]string {
	out := map[int]string{}
	if _, p, err := net.SplitHostPort(s3Endpoint); err == nil && mode == "s3" {
		n, _ := strconv.Atoi(p)
		out[n] = "s3"
	}
	if u, err := url.Parse(dbURL); err == nil && mode == "s3" {
		n, _ := strconv.Atoi(u.Port())
		out[n] = "postgres"
	}
	return out
}

func (c serverConfig) peers() map[int]string { return peersOf(c.Mode, c.S3Endpoint, c.DBURL) }

func (c serverConfig) serverPort() int { return portOf(c.URL) }

func parseRunFlags(args []string, getenv func(string) string, stderr io.Writer) (runConfig, error) {
	c := runConfig{
		Password:    getenv("FWBENCH_PASSWORD"),
		S3Endpoint:  getenv("FIELDWATCH_TEST_S3_ENDPOINT"),
		S3AccessKey: getenv("FIELDWATCH_TEST_S3_ACCESS_KEY"),
		S3SecretKey: getenv("FIELDWATCH_TEST_S3_SECRET_KEY"),
		S3Region:    getenv("FIELDWATCH_TEST_S3_REGION"),
		DBURL:       getenv("FIELDWATCH_TEST_POSTGRES_URL"),
	}
	if c.S3Region == "" {
		c.S3Region = "us-east-1"
	}
	fs := flag.NewFlagSet("fwbench run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Mode, "mode", "", "s3 (baseline: raw PutObject to the same S3 server) or local (baseline: raw file writes)")
	fs.StringVar(&c.URL, "url", "", "fieldwatch base URL, on a loopback address")
	fs.StringVar(&c.Username, "user", "bench", "user to log in as (password from $FWBENCH_PASSWORD)")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "pid of the fieldwatch server process")
	fs.IntVar(&c.S3PID, "s3-pid", 0, "pid of the S3 server, for CPU accounting (optional)")
	fs.IntVar(&c.DBPID, "db-pid", 0, "pid of the PostgreSQL postmaster, for CPU accounting (optional)")
	fs.StringVar(&c.PhotoDir, "photos", "testdata/photos", "directory with manifest.json and the JPEGs to build payloads from")
	fs.IntVar(&c.Count, "count", 160, "throughput phase: uploads per path")
	fs.IntVar(&c.Concurrency, "concurrency", 16, "throughput phase: concurrent clients")
	fs.Int64Var(&c.Size, "size", 4<<20, "throughput phase: bytes per photo")
	fs.IntVar(&c.Warmup, "warmup", 8, "uploads per path before measuring (not counted)")
	fs.IntVar(&c.Burst, "burst", 64, "memory phase: concurrent uploads")
	fs.Int64Var(&c.BurstSize, "burst-size", 8<<20, "memory phase: bytes per photo")
	fs.IntVar(&c.ProfileUploads, "profile-uploads", 48, "uploads of -size profiled with perf for CPU per upload by stage (0: none)")
	fs.IntVar(&c.ThumbPhotos, "thumb-photos", 16, "12 MP photos uploaded, their thumbnails profiled with perf (0: none)")
	fs.StringVar(&c.Perf, "perf", "perf", "the perf binary (\"\": no profiled phases; skipped when not found)")
	fs.StringVar(&c.KeepPerf, "keep-perf", "", "keep the profiled phases' perf data in this directory (to check the stage patterns with perf report)")
	fs.DurationVar(&c.Timeout, "timeout", 4*time.Minute, "bound on the whole run")
	fs.DurationVar(&c.PhaseTimeout, "phase-timeout", 90*time.Second, "bound on each measured phase")
	fs.DurationVar(&c.SettleMax, "settle-max", 60*time.Second, "longest wait for the server to finish background work")
	fs.StringVar(&c.S3Bucket, "s3-bucket", "fwbench-raw", "bucket for the raw PutObject baseline (mode s3; created if missing)")
	fs.StringVar(&c.RawDir, "raw-dir", "", "directory for the raw file-write baseline (mode local)")
	fs.StringVar(&c.DataDir, "data-dir", "", "the server's data directory (mode local): the raw directory must be on its file system")
	fs.StringVar(&c.Label, "label", "", "deployment description for the report")
	fs.StringVar(&c.Out, "out", "", "file for the JSON result (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, usageError{err}
	}
	if fs.NArg() > 0 {
		return c, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	return c, c.validate()
}

func (c runConfig) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch c.Mode {
	case "s3":
		if c.S3Endpoint == "" || c.S3AccessKey == "" || c.S3SecretKey == "" {
			bad("mode s3 needs FIELDWATCH_TEST_S3_ENDPOINT, _ACCESS_KEY and _SECRET_KEY")
		} else if err := requireLoopback(c.S3Endpoint); err != nil {
			bad("S3 endpoint: %w", err)
		}
	case "local":
		if c.RawDir == "" || c.DataDir == "" {
			bad("mode local needs -raw-dir and -data-dir")
		}
	default:
		bad("-mode must be s3 or local, got %q", c.Mode)
	}
	errs = append(errs, validateTarget(c.URL, c.Password, c.ServerPID, c.Out)...)
	// Bounds: every loop is finite, and the payloads fit in memory.
	for _, n := range []struct {
		name      string
		v, lo, hi int64
	}{
		{"count", int64(c.Count), 1, 2000},
		{"concurrency", int64(c.Concurrency), 1, 256},
		{"warmup", int64(c.Warmup), 0, 64},
		{"burst", int64(c.Burst), 1, 256},
		{"profile-uploads", int64(c.ProfileUploads), 0, 500},
		{"thumb-photos", int64(c.ThumbPhotos), 0, 200},
		{"size", c.Size, 1 << 20, 40 << 20},
		{"burst-size", c.BurstSize, 1 << 20, 40 << 20},
	} {
		if n.v < n.lo || n.v > n.hi {
			bad("-%s %d outside [%d, %d]", n.name, n.v, n.lo, n.hi)
		}
	}
	if int64(c.Count)*c.Size > 4<<30 || int64(c.Burst)*c.BurstSize > 4<<30 {
		bad("payloads over 4 GiB: lower -count/-size or -burst/-burst-size")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", c.Timeout}, {"phase-timeout", c.PhaseTimeout}, {"settle-max", c.SettleMax}} {
		if d.v <= 0 || d.v > 30*time.Minute {
			bad("-%s %v outside (0, 30m]", d.name, d.v)
		}
	}
	if len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// requireLoopback refuses a host:port whose host is not a literal loopback
// address: the bench sends load nowhere else. Names are refused too, since
// what a name resolves to can change between the check and the dial.
func requireLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%q: want host:port: %w", hostport, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback IP address (e.g. 127.0.0.1)", host)
	}
	return nil
}

// serverConfig is the running fieldwatch server that `fwbench slow` and
// `fwbench reads` load, and how to reach and watch it.
type serverConfig struct {
	Mode      string // s3 or local: which deployment, for the report
	Label     string
	URL       string
	Username  string
	Password  string // from FWBENCH_PASSWORD
	ServerPID int
	S3PID     int
	DBPID     int
	PhotoDir  string
	Timeout   time.Duration // the whole command
	SettleMax time.Duration
	Out       string

	// Only to name the server's connections in the descriptor breakdown,
	// and (DBURL, ServerDB) to watch the server's database sessions.
	S3Endpoint, DBURL string
	ServerDB          string
}

func (c *serverConfig) register(fs *flag.FlagSet, getenv func(string) string, timeout, settleMax time.Duration) {
	c.Password = getenv("FWBENCH_PASSWORD")
	c.S3Endpoint, c.DBURL = getenv("FIELDWATCH_TEST_S3_ENDPOINT"), getenv("FIELDWATCH_TEST_POSTGRES_URL")
	fs.StringVar(&c.Mode, "mode", "s3", "deployment measured (s3 or local), for the report")
	fs.StringVar(&c.Label, "label", "", "deployment description for the report")
	fs.StringVar(&c.URL, "url", "", "fieldwatch base URL, on a loopback address")
	fs.StringVar(&c.Username, "user", "bench", "user to log in as (password from $FWBENCH_PASSWORD)")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "pid of the fieldwatch server process")
	fs.IntVar(&c.S3PID, "s3-pid", 0, "pid of the S3 server, for CPU accounting (optional)")
	fs.IntVar(&c.DBPID, "db-pid", 0, "pid of the PostgreSQL postmaster, for CPU accounting (optional)")
	fs.StringVar(&c.PhotoDir, "photos", "testdata/photos", "directory with manifest.json and the JPEGs")
	fs.DurationVar(&c.Timeout, "timeout", timeout, "bound on the whole command")
	fs.DurationVar(&c.SettleMax, "settle-max", settleMax, "longest wait for the server to finish background work")
	fs.StringVar(&c.Out, "out", "", "file for the JSON result (required)")
	fs.StringVar(&c.ServerDB, "server-db", "", "the server's PostgreSQL database: its sessions are watched through $FIELDWATCH_TEST_POSTGRES_URL (optional)")
}

func (c serverConfig) validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Mode != "s3" && c.Mode != "local" {
		bad("-mode must be s3 or local, got %q", c.Mode)
	}
	errs = append(errs, validateTarget(c.URL, c.Password, c.ServerPID, c.Out)...)
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", c.Timeout}, {"settle-max", c.SettleMax}} {
		if d.v <= 0 || d.v > 30*time.Minute {
			bad("-%s %v outside (0, 30m]", d.name, d.v)
		}
	}
	return errs
}

// parseFlags parses args into fs and turns mistakes into usage errors.
func parseFlags(fs *flag.FlagSet, args []string, validate func() []error) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	if errs := validate(); len(errs) > 0 {
		return usageError{errors.Join(errs...)}
	}
	return nil
}

// inRange checks bounds of numeric flags: every loop stays finite.
func inRange(errs *[]error, name string, v, lo, hi float64) {
	if !(v >= lo && v <= hi) {
		*errs = append(*errs, fmt.Errorf("-%s %v outside [%v, %v]", name, v, lo, hi))
	}
}

// validateTarget checks what every run needs to reach and watch the
// server under test: a loopback URL, the bench user's password, the
// server's pid and a result file.
func validateTarget(rawURL, password string, pid int, out string) []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if u, err := url.Parse(rawURL); err != nil || u.Scheme != "http" || u.Host == "" {
		bad("-url must be http://HOST:PORT, got %q", rawURL)
	} else if err := requireLoopback(u.Host); err != nil {
		bad("-url: %w", err)
	}
	if password == "" {
		bad("FWBENCH_PASSWORD is not set")
	}
	if pid <= 0 {
		bad("-server-pid is required")
	}
	if out == "" {
		bad("-out is required")
	}
	return errs
}
