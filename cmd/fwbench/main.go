// Command fwbench measures fieldwatch on a running server and compares it
// with baselines measured in the same run, on the same machine: raw
// minio-go PutObject calls to the same S3 server, raw durable file writes
// next to the server's data directory, and the server's own /healthz.
//
// It is driven by scripts/bench.sh (`make bench`), which starts the
// services and the real fieldwatch binary; fwbench itself only talks to
// loopback addresses and refuses anything else.
//
// Usage:
//
//	fwbench run -mode s3|local -url http://127.0.0.1:PORT -server-pid PID [flags] -out FILE
//	fwbench slow -url URL -server-pid PID [flags] -out FILE
//	fwbench reads -url URL -server-pid PID [flags] -out FILE
//	fwbench spatial -pg-url URL -sqlite FILE [flags] -out FILE
//	fwbench gobench -out FILE -- ./geo.test -test.run '^$' -test.bench Locate -test.benchmem
//	fwbench report -in FILE [-in FILE ...] [-slow FILE -reads FILE -spatial FILE -gobench FILE] -json F -md F
//
// The runs, each bounded in count and time:
//
//  1. run, upload throughput: COUNT distinct photos of SIZE bytes from
//     CONCURRENCY clients, raw baseline before and after the API run;
//     memory: BURST distinct photos sent at once, with the server's peak
//     RSS (VmHWM, reset first), sampled RSS, goroutines and open file
//     descriptors before, during and after;
//  2. slow: CLIENTS uploads at once, each body throttled to RATE bytes/s
//     so it lasts DURATION, while GET /v1/evidence/{id} runs at READS/s;
//     errors, read latency, peak RSS, goroutines and descriptors;
//  3. reads: for /healthz, GET /v1/evidence/{id} and a bbox list, the
//     highest constant arrival rate each sustains (open model, vegeta),
//     with latency percentiles there;
//  4. spatial: ROWS evidence rows bulk-loaded into a fresh PostgreSQL and
//     a fresh SQLite database, then store.ListEvidence timed over random
//     1–2 km bboxes, and the query's plans;
//  5. gobench: a Go benchmark binary's results (geo.Index.Locate).
//
// The password of the bench user comes from FWBENCH_PASSWORD and the S3
// credentials from FIELDWATCH_TEST_S3_*, never from the command line.
// In run 1 any upload failure other than load shedding (429 or 503 with
// Retry-After) stops the run with exit status 1; run 2 counts and reports
// every failure.
//
// report merges run outputs with a description of the machine into the
// JSON file and rewrites the generated part of the Markdown file, keeping
// the hand-written text outside the markers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fwbench:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError marks a mistake in how fwbench was called (exit status 2).
type usageError struct{ error }

func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

const usage = `fwbench: benchmarks for fieldwatch (see scripts/bench.sh, make bench)

Usage:
  fwbench run -mode s3|local -url URL -server-pid PID [flags] -out FILE
  fwbench slow -url URL -server-pid PID [flags] -out FILE
  fwbench reads -url URL -server-pid PID [flags] -out FILE
  fwbench spatial [-pg-url URL] [-sqlite FILE] [flags] -out FILE
  fwbench gobench -out FILE -- BENCHMARK-BINARY [ARGS]
  fwbench report -in FILE [-in FILE ...] -json FILE -md FILE [flags]

Run "fwbench COMMAND -h" for the flags.
`

// run is the whole program: main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{errors.New("no command given")}
	}
	switch args[0] {
	case "run":
		cfg, err := parseRunFlags(args[1:], getenv, stderr)
		if err != nil {
			return err
		}
		return runBench(ctx, cfg, stdout)
	case "slow":
		cfg, err := parseSlowFlags(args[1:], getenv, stderr)
		if err != nil {
			return err
		}
		return runSlow(ctx, cfg, stdout)
	case "reads":
		cfg, err := parseReadsFlags(args[1:], getenv, stderr)
		if err != nil {
			return err
		}
		return runReads(ctx, cfg, stdout)
	case "spatial":
		cfg, err := parseSpatialFlags(args[1:], stderr)
		if err != nil {
			return err
		}
		return runSpatial(ctx, cfg, stdout)
	case "gobench":
		cfg, err := parseGobenchFlags(args[1:], stderr)
		if err != nil {
			return err
		}
		return runGobench(ctx, cfg, stdout)
	case "report":
		cfg, err := parseReportFlags(args[1:], stderr)
		if err != nil {
			return err
		}
		return writeReport(cfg, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Errorf("unknown command %q", args[0])}
	}
}
