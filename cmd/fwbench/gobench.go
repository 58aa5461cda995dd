package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// gobenchConfig is what `fwbench gobench` runs: a compiled Go test binary
// with -test.bench flags.
type gobenchConfig struct {
	Cmd     []string
	Label   string // how the command is shown in the report
	Timeout time.Duration
	Out     string
}

func parseGobenchFlags(args []string, stderr io.Writer) (gobenchConfig, error) {
	var c gobenchConfig
	fs := flag.NewFlagSet("fwbench gobench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Label, "label", "", "the command as the report shows it (default: the command run)")
	fs.DurationVar(&c.Timeout, "timeout", 3*time.Minute, "bound on the command")
	fs.StringVar(&c.Out, "out", "", "file for the JSON result (required)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, usageError{err}
	}
	c.Cmd = fs.Args()
	var errs []error
	if len(c.Cmd) == 0 {
		errs = append(errs, errors.New("give the benchmark command after the flags (e.g. -- ./geo.test -test.bench Locate)"))
	}
	if c.Out == "" {
		errs = append(errs, errors.New("-out is required"))
	}
	inRange(&errs, "timeout", c.Timeout.Seconds(), 1, 1800)
	if len(errs) > 0 {
		return c, usageError{errors.Join(errs...)}
	}
	if c.Label == "" {
		c.Label = strings.Join(c.Cmd, " ")
	}
	return c, nil
}

// GoBenchResult is run 5: Go benchmark results.
type GoBenchResult struct {
	StartedAt time.Time `json:"started_at"`
	Command   string    `json:"command"`
	Machine   Machine   `json:"machine"`
	// Goos etc. as the benchmark printed them.
	Context    map[string]string `json:"context"`
	Benchmarks []GoBenchmark     `json:"benchmarks"`
	// CPU: the benchmark process's own CPU seconds ("fwbench" here means
	// the benchmark binary) and what else the machine did meanwhile.
	CPU         CPUUse  `json:"cpu"`
	WallSeconds float64 `json:"wall_seconds"`
}

// GoBenchmark is one line of `go test -bench` output.
type GoBenchmark struct {
	Name        string             `json:"name"` // without the "Benchmark" prefix and the -GOMAXPROCS suffix
	Procs       int                `json:"procs"`
	Iterations  int64              `json:"iterations"`
	NsPerOp     float64            `json:"ns_per_op"`
	BytesPerOp  float64            `json:"bytes_per_op"`
	AllocsPerOp float64            `json:"allocs_per_op"`
	Metrics     map[string]float64 `json:"metrics,omitempty"` // other units, e.g. in-township/op
}

func runGobench(ctx context.Context, c gobenchConfig, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	res := GoBenchResult{StartedAt: time.Now().UTC(), Command: c.Label, Machine: describeMachine()}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, c.Cmd[0], c.Cmd[1:]...)
	cmd.Stdout = io.MultiWriter(&out, stdout)
	cmd.Stderr = stdout
	m0, err := readMachineTicks()
	if err != nil {
		return err
	}
	t := time.Now()
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", c.Label, err)
	}
	res.WallSeconds = round3(time.Since(t).Seconds())
	m1, err := readMachineTicks()
	if err != nil {
		return err
	}
	// The child's CPU from its rusage; the rest of the machine's busy time
	// went to other work.
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		own := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		busy := float64(m1.busy-m0.busy) / userHZ
		res.CPU = CPUUse{Seconds: map[string]float64{"fwbench": round3(own), "other": round3(max(busy-own, 0))}}
		if total := m1.total - m0.total; total > 0 {
			res.CPU.MachineBusyPct = math.Round(float64(m1.busy-m0.busy)/float64(total)*1000) / 10
			res.CPU.IOWaitPct = math.Round(float64(m1.iowait-m0.iowait)/float64(total)*1000) / 10
		}
	}
	res.Context, res.Benchmarks, err = parseGoBench(&out)
	if err != nil {
		return err
	}
	if len(res.Benchmarks) == 0 {
		return fmt.Errorf("%s: printed no benchmark results", c.Label)
	}
	return writeJSON(c.Out, res)
}

// parseGoBench reads `go test -bench` output: "key: value" context lines
// (goos, goarch, pkg, cpu) and result lines
//
//	BenchmarkLocate/Demo-2   352122   3381 ns/op   80 B/op   1 allocs/op
//
// with any number of value-unit pairs.
func parseGoBench(r io.Reader) (map[string]string, []GoBenchmark, error) {
	ctx := map[string]string{}
	var out []GoBenchmark
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.Contains(k, " ") && !strings.HasPrefix(k, "Benchmark") {
			switch k {
			case "goos", "goarch", "pkg", "cpu":
				ctx[k] = strings.TrimSpace(v)
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		b := GoBenchmark{Name: strings.TrimPrefix(f[0], "Benchmark"), Procs: 1}
		if i := strings.LastIndexByte(b.Name, '-'); i > 0 {
			if p, err := strconv.Atoi(b.Name[i+1:]); err == nil {
				b.Name, b.Procs = b.Name[:i], p
			}
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue // not a result line (e.g. a log line starting with "Benchmark")
		}
		b.Iterations = n
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("benchmark output: %q: value %q", line, f[i])
			}
			switch unit := f[i+1]; unit {
			case "ns/op":
				b.NsPerOp = v
			case "B/op":
				b.BytesPerOp = v
			case "allocs/op":
				b.AllocsPerOp = v
			default:
				if b.Metrics == nil {
					b.Metrics = map[string]float64{}
				}
				b.Metrics[unit] = v
			}
		}
		out = append(out, b)
	}
	return ctx, out, sc.Err()
}
