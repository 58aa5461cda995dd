package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Profile is where a process spent its CPU while a load ran, from
// `perf record -g` sampling (Go binaries keep frame pointers, so the
// call chains are complete).
type Profile struct {
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"rate"` // the load's requests per second
	// CPUSeconds is the process's CPU time the samples stand for.
	CPUSeconds float64 `json:"cpu_seconds"`
	// Groups is self time by kind of code, in % of samples.
	Groups []Share `json:"groups"`
	// Frames is inclusive time (the function and what it calls) of the
	// server's own named functions and a few landmarks (system calls,
	// the garbage collector), in % of samples, highest first.
	Frames []Share `json:"frames"`
	// Top is the functions with the most self time.
	Top []Share `json:"top_self"`
}

// Share is a part of a profile.
type Share struct {
	Name string  `json:"name"`
	Pct  float64 `json:"pct"`
}

// profileWhile runs perf record on pid for d while load runs, and returns
// the summary. perfBin "" means perf is not available.
func profileWhile(ctx context.Context, perfBin string, pid int, d time.Duration, dir string, load func() error) (Profile, error) {
	p := Profile{Seconds: d.Seconds()}
	data := filepath.Join(dir, fmt.Sprintf("perf-%d-%d.data", pid, time.Now().UnixNano()))
	defer os.Remove(data)
	rec := exec.CommandContext(ctx, perfBin, "record", "-q", "-e", "cpu-clock", "-F", "499", "-g", "-p", strconv.Itoa(pid), "-o", data,
		"--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 3, 64))
	rec.Stdout, rec.Stderr = io.Discard, io.Discard
	if err := rec.Start(); err != nil {
		return p, fmt.Errorf("perf record: %w", err)
	}
	lerr := load()
	if err := rec.Wait(); err != nil {
		return p, fmt.Errorf("perf record: %w", err)
	}
	if lerr != nil {
		return p, lerr
	}
	var err error
	self, err := perfReport(ctx, perfBin, data, false)
	if err != nil {
		return p, err
	}
	incl, err := perfReport(ctx, perfBin, data, true)
	if err != nil {
		return p, err
	}
	p.CPUSeconds = perfCPUSeconds(ctx, perfBin, data)
	p.Groups, p.Frames, p.Top = summarizeProfile(self, incl)
	return p, nil
}

// perfLine is one row of `perf report --stdio`.
type perfLine struct {
	pct    float64 // children (inclusive) or self
	kernel bool
	symbol string
}

var perfRowRe = regexp.MustCompile(`^\s*([0-9.]+)%\s+(?:([0-9.]+)%\s+)?\[(.)\]\s+(\S+)`)

func perfReport(ctx context.Context, perfBin, data string, children bool) ([]perfLine, error) {
	mode := "--no-children"
	if children {
		mode = "--children"
	}
	out, err := exec.CommandContext(ctx, perfBin, "report", "-i", data, mode, "--sort", "symbol", "--stdio", "-g", "none").Output()
	if err != nil {
		return nil, fmt.Errorf("perf report: %w", err)
	}
	return parsePerfReport(strings.NewReader(string(out)))
}

// parsePerfReport reads the rows of `perf report --stdio -g none --sort
// symbol`: the first percentage (children with --children, else self),
// [k] for kernel or [.] for user space, the symbol.
func parsePerfReport(r io.Reader) ([]perfLine, error) {
	var out []perfLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := perfRowRe.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			continue
		}
		out = append(out, perfLine{pct: v, kernel: m[3] == "k", symbol: m[4]})
	}
	return out, sc.Err()
}

// perfCPUSeconds returns the CPU time the samples stand for (cpu-clock
// counts nanoseconds).
func perfCPUSeconds(ctx context.Context, perfBin, data string) float64 {
	out, err := exec.CommandContext(ctx, perfBin, "report", "-i", data, "--stdio", "--sort", "symbol", "-g", "none").Output()
	if err != nil {
		return 0 // the total is a nicety
	}
	m := regexp.MustCompile(`(?m)^# Event count \(approx\.\): ([0-9]+)`).FindStringSubmatch(string(out))
	if m == nil || !strings.Contains(string(out), "cpu-clock") {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return round3(v / 1e9)
}

// codeGroup names the kind of code a symbol belongs to.
func codeGroup(l perfLine) string {
	s := l.symbol
	has := func(prefixes ...string) bool {
		return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(s, p) })
	}
	switch {
	case l.kernel:
		return "kernel (system calls, loopback TCP, scheduling)"
	case has("runtime.", "internal/runtime", "gcWriteBarrier", "aeshash", "memeqbody", "cmpbody", "indexbytebody"):
		return "Go runtime (allocation, GC, scheduler)"
	case has("github.com/jackc/", "database/sql."):
		return "PostgreSQL driver (pgx, database/sql)"
	case has("github.com/getkin/", "github.com/oapi-codegen/", "github.com/gorilla/mux", "regexp."):
		return "OpenAPI request validation (kin-openapi, its router, regexp)"
	case has("crypto/", "golang.org/x/crypto/", "github.com/golang-jwt/"):
		return "crypto (token signature, hashing)"
	case has("encoding/json", "encoding/base64", "reflect.", "strconv.", "unicode/", "strings.", "bytes.", "sort.", "slices."):
		return "encoding, reflection, strings"
	case has("log/slog", "github.com/prometheus/"):
		return "logging and metrics"
	case has("github.com/labstack/"):
		return "echo"
	case has("net/", "net.", "bufio.", "internal/poll", "syscall.", "io.", "time.", "context.", "sync."):
		return "net/http, sockets, sync (user space)"
	case has("github.com/fieldwatch/fieldwatch/"):
		return "fieldwatch"
	}
	return "other"
}

var wrapperRe = regexp.MustCompile(`\.func[0-9]|-fm$|\.gowrap[0-9]`)

// summarizeProfile groups self time by kind of code and picks the
// inclusive share of the server's own named functions (not the closures
// that wrap them) and of two landmarks.
func summarizeProfile(self, incl []perfLine) (groups, frames, top []Share) {
	sum := map[string]float64{}
	for _, l := range self {
		sum[codeGroup(l)] += l.pct
	}
	for k, v := range sum {
		groups = append(groups, Share{k, round1(v)})
	}
	slices.SortFunc(groups, func(a, b Share) int { return cmpDesc(a.Pct, b.Pct, a.Name, b.Name) })
	for _, l := range self {
		if len(top) == 12 {
			break
		}
		top = append(top, Share{l.symbol, round1(l.pct)})
	}
	for _, l := range incl {
		s := l.symbol
		own := strings.HasPrefix(s, "github.com/fieldwatch/fieldwatch/") && !wrapperRe.MatchString(s)
		landmark := s == "do_syscall_64" || s == "runtime.gcBgMarkWorker" ||
			s == "github.com/getkin/kin-openapi/openapi3filter.ValidateRequest"
		if (own || landmark) && l.pct >= 1 && len(frames) < 16 {
			frames = append(frames, Share{strings.TrimPrefix(s, "github.com/fieldwatch/fieldwatch/"), round1(l.pct)})
		}
	}
	return groups, frames, top
}

func round1(v float64) float64 { return float64(int(v*10+0.5)) / 10 }

func cmpDesc(a, b float64, an, bn string) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return strings.Compare(an, bn)
}
