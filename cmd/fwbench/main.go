// Command fwbench measures fieldwatch's upload path on a running server and
// compares it with a baseline measured in the same run, on the same
// machine, with the same bytes: raw minio-go PutObject calls to the same S3
// server, or raw durable file writes next to the server's data directory.
//
// It is driven by scripts/bench.sh (`make bench`), which starts the
// services and the real fieldwatch binary; fwbench itself only talks to
// loopback addresses and refuses anything else.
//
// Usage:
//
//	fwbench run -mode s3|local -url http://127.0.0.1:PORT -server-pid PID [flags] -out FILE
//	fwbench report -in FILE [-in FILE ...] -json docs/benchmarks.json -md docs/benchmarks.md
//
// run measures, each phase bounded in count and time:
//
//  1. throughput: COUNT distinct photos of SIZE bytes from CONCURRENCY
//     clients, raw baseline before and after the API run;
//  2. memory: BURST distinct photos of BURST-SIZE bytes sent at once, with
//     the server's peak RSS (VmHWM, reset first), sampled RSS, goroutines
//     and open file descriptors before, during and after;
//  3. latency percentiles of every phase, and CPU seconds per component.
//
// The password of the bench user comes from FWBENCH_PASSWORD and the S3
// credentials from FIELDWATCH_TEST_S3_*, never from the command line.
// Any upload failure other than load shedding (429 or 503 with
// Retry-After) stops the run with exit status 1.
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

const usage = `fwbench: upload benchmarks for fieldwatch (see scripts/bench.sh, make bench)

Usage:
  fwbench run -mode s3|local -url URL -server-pid PID [flags] -out FILE
  fwbench report -in FILE [-in FILE ...] -json FILE -md FILE [flags]

Run "fwbench run -h" or "fwbench report -h" for the flags.
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
