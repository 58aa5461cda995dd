package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
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

	// incl is every inclusive row, for callers that look for their own
	// functions (uploadStages); not kept in the report.
	incl []perfLine
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
	p.incl = incl
	return p, nil
}

// profileRun runs perf record on pid from just before load starts until
// it returns (perf is stopped with SIGINT, which makes it write its data
// and exit), and returns the summary; Seconds is the time perf ran.
//
// With keep set, the perf data stays there for `perf report` (to check
// the stage patterns against the real symbols).
func profileRun(ctx context.Context, perfBin string, pid int, dir string, keep bool, load func() error) (Profile, error) {
	var p Profile
	data := filepath.Join(dir, fmt.Sprintf("perf-%d-%d.data", pid, time.Now().UnixNano()))
	if !keep {
		defer os.Remove(data)
	}
	// perf starts with its events disabled and enables them when told
	// through a control FIFO, acknowledging on another: the load starts
	// only once perf records (on a busy machine perf can take a second to
	// attach, longer than a short load lasts).
	ctl, ack := data+".ctl", data+".ack"
	for _, f := range []string{ctl, ack} {
		if err := syscall.Mkfifo(f, 0o600); err != nil {
			return p, fmt.Errorf("perf control: %w", err)
		}
		defer os.Remove(f)
	}
	rec := exec.CommandContext(ctx, perfBin, "record", "-q", "-D", "-1", "--control", "fifo:"+ctl+","+ack,
		"-e", "cpu-clock", "-F", "499", "-g", "-p", strconv.Itoa(pid), "-o", data)
	rec.Stdout, rec.Stderr = io.Discard, io.Discard
	if err := rec.Start(); err != nil {
		return p, fmt.Errorf("perf record: %w", err)
	}
	if err := perfEnable(ctx, ctl, ack, 30*time.Second); err != nil {
		_ = rec.Process.Kill()
		_ = rec.Wait()
		return p, err
	}
	t0 := time.Now()
	lerr := load()
	_ = rec.Process.Signal(os.Interrupt)
	werr := rec.Wait()
	p.Seconds = round3(time.Since(t0).Seconds())
	if lerr != nil {
		return p, lerr
	}
	if st, err := os.Stat(data); err != nil || st.Size() == 0 {
		return p, fmt.Errorf("perf record wrote no data: %v", errors.Join(werr, err))
	}
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
	p.incl = incl
	return p, nil
}

// perfEnable tells perf record (started with -D -1 --control
// fifo:ctl,ack) to enable its events and waits for its acknowledgement,
// at most wait.
func perfEnable(ctx context.Context, ctl, ack string, wait time.Duration) error {
	done := make(chan error, 1)
	go func() {
		c, err := os.OpenFile(ctl, os.O_WRONLY, 0) // blocks until perf opens it
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		if _, err := c.WriteString("enable\n"); err != nil {
			done <- err
			return
		}
		a, err := os.OpenFile(ack, os.O_RDONLY, 0)
		if err != nil {
			done <- err
			return
		}
		defer a.Close()
		buf := make([]byte, 16)
		n, err := a.Read(buf)
		if err == nil && !strings.HasPrefix(string(buf[:n]), "ack") {
			err = fmt.Errorf("perf control: answered %q", buf[:n])
		}
		done <- err
	}()
	tm := time.NewTimer(wait)
	defer tm.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("perf control: %w", err)
		}
		return nil
	case <-tm.C:
	case <-ctx.Done():
	}
	// Unblock the goroutine's opens, whatever perf did.
	for _, f := range []string{ctl, ack} {
		if fd, err := syscall.Open(f, syscall.O_RDWR|syscall.O_NONBLOCK, 0); err == nil {
			syscall.Close(fd)
		}
	}
	return fmt.Errorf("perf record did not start recording within %v", wait)
}

// Stage is a part of the server's work found by function names in a
// profile: the highest inclusive share among the server's functions that
// match Pattern (the outermost match, so nested matches are not counted
// twice). Found false means no function matched: the code was renamed or
// the stage did not run, which is not the same as costing nothing.
type Stage struct {
	Name    string  `json:"name"`
	Pattern string  `json:"pattern"`
	Found   bool    `json:"found"`
	Symbol  string  `json:"symbol,omitempty"` // the matching function with the highest share
	Pct     float64 `json:"pct"`              // of the profile's samples
	// MS is Pct of the fieldwatch CPU per unit of work (per upload, per
	// photo), in ms.
	MS float64 `json:"ms"`
}

// stageDef names a stage and the functions that make it up: each group
// is a pattern whose outermost match counts (so nested matches are not
// counted twice); the groups are added up, for work done in goroutines of
// their own (an HTTP client writes a request body in its transport's
// goroutine, not the caller's). A group pattern matches the server's own
// functions, without the module path ("fieldwatch.(*Intake).Receive",
// "blob/s3blob.(*Bucket).Put"), unless it starts with "any:", then any
// symbol.
type stageDef struct {
	name   string
	groups []*regexp.Regexp
}

func stage(name string, patterns ...string) stageDef {
	d := stageDef{name: name}
	for _, p := range patterns {
		d.groups = append(d.groups, regexp.MustCompile(p))
	}
	return d
}

// uploadStageDefs are the stages of an upload (intake.go, api/evidence.go,
// the blob stores) and the background thumbnails, by function name. The
// patterns are loose on purpose: a renamed function should still match,
// and one that no longer matches shows as "not found", never as 0.
var uploadStageDefs = []stageDef{
	stage("receive + SHA-256 + spool (Intake.Receive)", `(?i)\(\*?Intake\)\.Receive|\(\*?spoolWriter\)\.Write|\.receive\w*$`),
	stage("EXIF / inspection (Intake.describe, media)", `(?i)\(\*?Intake\)\.(describe|inspect)|^media\.(Sniff|Inspect|ReadEXIF)`),
	stage("township / reach link (Intake.link, geo)", `(?i)\(\*?Intake\)\.link$|\(\*?\w+\)\.Link$|^geo\.\(\*?Index\)\.Locate`),
	stage("store the bytes (Intake.storeBytes; S3: the PUT body written by the HTTP transport)",
		`(?i)\(\*?Intake\)\.(storeBytes|store\w*)$|^blob/(s3blob|fileblob)\..*\.Put\w*$`,
		`any:^net/http\.\(\*persistConn\)\.(writeLoop|readLoop)$`),
	stage("commit (Store.CommitEvidence)", `(?i)\.CommitEvidence$`),
	stage(thumbnailStage, `(?i)\(\*?Thumbnailer\)\.`),
}

// thumbnailStage is the stage that is not part of the upload's request.
const thumbnailStage = "thumbnails (background, Thumbnailer)"

// findStages returns each stage's share of incl and its ms of perUnitMS.
func findStages(incl []perfLine, defs []stageDef, perUnitMS float64) []Stage {
	var out []Stage
	for _, d := range defs {
		st := Stage{Name: d.name}
		var pats, syms []string
		for _, g := range d.groups {
			pat, anySym := strings.CutPrefix(g.String(), "any:")
			re := g
			if anySym {
				re = regexp.MustCompile(pat)
			}
			pats = append(pats, pat)
			best, sym := 0.0, ""
			for _, l := range incl {
				s, own := ownSymbol(l.symbol)
				if !own && !anySym {
					continue
				}
				if re.MatchString(wrapperRe.ReplaceAllString(s, "")) && (sym == "" || l.pct > best) {
					best, sym = l.pct, s
				}
			}
			if sym != "" {
				st.Found = true
				st.Pct += best
				syms = append(syms, sym)
			}
		}
		st.Pattern, st.Symbol = strings.Join(pats, " + "), strings.Join(syms, " + ")
		st.Pct = round1(st.Pct)
		st.MS = round3(st.Pct / 100 * perUnitMS)
		out = append(out, st)
	}
	return out
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
		return "database/sql, pgx (PostgreSQL driver)"
	case has("modernc.org/"):
		return "SQLite (modernc.org/sqlite, in process)"
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

// ownSymbol reports whether sym is one of the server's functions (the
// root package fieldwatch or one below it) and returns it without the
// module path: "fieldwatch.(*Intake).Receive", "store.(*Store).readTx".
func ownSymbol(sym string) (string, bool) {
	const mod = "github.com/fieldwatch/fieldwatch"
	if s, ok := strings.CutPrefix(sym, mod+"/"); ok {
		return s, true
	}
	if s, ok := strings.CutPrefix(sym, mod+"."); ok {
		return "fieldwatch." + s, true
	}
	return sym, false
}
