package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// reportConfig is what `fwbench report` was asked to write.
type reportConfig struct {
	In       []string          // run outputs, in order
	JSON, MD string            // destinations
	Command  string            // how the numbers were produced
	Revision string            // git revision measured
	Dirty    bool              // the work tree differed from the revision
	Software map[string]string // versions of the services, name → version
	Rows     map[string]string // mode → evidence rows `fieldwatch check` verified
	// Outputs of runs 2–5 (optional).
	Slow, Spatial, GoBench string
	// Reads are run 3's outputs, one per deployment (-reads repeatable).
	Reads []string
	// Notes are extra lines for the report (e.g. how the server was
	// configured for a run), repeatable.
	Notes []string
	// Rerender, if set, is an earlier report (docs/benchmarks.json) to
	// render again with the current code, nothing measured; RevSet and
	// DirtySet say whether -rev and -dirty were given to correct it.
	Rerender         string
	RevSet, DirtySet bool
}

func parseReportFlags(args []string, stderr io.Writer) (reportConfig, error) {
	c := reportConfig{Software: map[string]string{}, Rows: map[string]string{}}
	fs := flag.NewFlagSet("fwbench report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Func("in", "a `fwbench run` output (repeatable)", func(v string) error {
		c.In = append(c.In, v)
		return nil
	})
	fs.StringVar(&c.JSON, "json", "docs/benchmarks.json", "JSON file to write")
	fs.StringVar(&c.MD, "md", "docs/benchmarks.md", "Markdown file whose generated part is rewritten")
	fs.StringVar(&c.Command, "command", "make bench", "the command that produced the numbers")
	fs.StringVar(&c.Revision, "rev", "unknown", "git revision measured")
	fs.BoolVar(&c.Dirty, "dirty", false, "the work tree had changes to tracked files")
	fs.Func("software", "name=version of a component (repeatable)", func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return fmt.Errorf("want name=version, got %q", v)
		}
		c.Software[k] = val
		return nil
	})
	fs.StringVar(&c.Rerender, "rerender", "", "render this earlier report JSON again (after a change to the report code), with -rev and -dirty if given; no other input")
	fs.StringVar(&c.Slow, "slow", "", "`fwbench slow` output (run 2)")
	fs.Func("reads", "a `fwbench reads` output (run 3; repeatable, one per deployment)", func(v string) error {
		c.Reads = append(c.Reads, v)
		return nil
	})
	fs.StringVar(&c.Spatial, "spatial", "", "`fwbench spatial` output (run 4)")
	fs.StringVar(&c.GoBench, "gobench", "", "`fwbench gobench` output (run 5)")
	fs.Func("note", "a line for the report's notes (repeatable)", func(v string) error {
		c.Notes = append(c.Notes, v)
		return nil
	})
	fs.Func("rows", "mode=N: evidence rows `fieldwatch check` verified after that mode's last run (repeatable)", func(v string) error {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return fmt.Errorf("want mode=N, got %q", v)
		}
		c.Rows[k] = val
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, err
		}
		return c, usageError{err}
	}
	fs.Visit(func(f *flag.Flag) {
		c.RevSet = c.RevSet || f.Name == "rev"
		c.DirtySet = c.DirtySet || f.Name == "dirty"
	})
	inputs := len(c.In) + len(c.Slow) + len(c.Reads) + len(c.Spatial) + len(c.GoBench)
	switch {
	case fs.NArg() > 0:
		return c, usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	case c.Rerender != "" && inputs > 0:
		return c, usageError{errors.New("-rerender takes no other result files")}
	case c.Rerender == "" && inputs == 0:
		return c, usageError{errors.New("give one or more result files (-in, -slow, -reads, -spatial, -gobench) or -rerender")}
	}
	return c, nil
}

// Report is docs/benchmarks.json.
type Report struct {
	Schema   int               `json:"schema"`
	Date     time.Time         `json:"date"`
	Command  string            `json:"command"`
	Revision string            `json:"git_revision"`
	Dirty    bool              `json:"git_dirty"`
	Machine  Machine           `json:"machine"`
	Software map[string]string `json:"software"`
	Notes    []string          `json:"notes"`
	// Targets are the acceptance targets, met or missed.
	Targets []Target `json:"targets"`
	// Results holds run 1 (upload throughput and memory) per mode.
	Results []RunResult  `json:"results"`
	Slow    *SlowResult  `json:"slow_uploads,omitempty"`
	Reads   *ReadsResult `json:"reads,omitempty"`
	// ReadsOther is run 3 in the other deployments (local: SQLite).
	ReadsOther []ReadsResult  `json:"reads_other_modes,omitempty"`
	Spatial    *SpatialResult `json:"spatial,omitempty"`
	GoBench    *GoBenchResult `json:"geo_locate,omitempty"`
	// Load is the share of the machine other work took in each measured
	// phase: the numbers of a disturbed phase are low.
	Load []PhaseLoad `json:"machine_load"`
}

var reportNotes = []string{
	"MiB = 2^20 bytes; rates are photo bytes (not multipart framing) over wall time from the first request to the last answer.",
	"Every photo is distinct: a test JPEG followed by random bytes; the same bytes go through the baseline and the API.",
	"Baselines run before and after the API in the same run, on the same machine, to the same S3 server or file system; ratio = API MiB/s / mean baseline MiB/s.",
	"Latency percentiles are nearest-rank over successful uploads, measured by the client from request start to the parsed answer.",
	"CPU seconds come from /proc/PID/stat (postgres: the postmaster and its backends); 'other' is machine busy time not used by the listed processes.",
	"peak_rss_mib is VmHWM of the server after resetting it (clear_refs 5) just before the burst; rss is VmRSS.",
	"Client, server, database and S3 server share the same cores: the numbers describe this machine, not a deployment.",
	"Run 2 throttles each request body (multipart framing included) on the client; run 3 uses vegeta's attacker as an open-model generator (constant arrival rate, latency from each request's send to its last byte).",
	"Run 4 times store.Store.ListEvidence in process; the plans are of the same query text with the same parameters (PostgreSQL: EXPLAIN (ANALYZE, BUFFERS); SQLite: EXPLAIN QUERY PLAN).",
}

// Markers around the generated part of the Markdown file; text outside
// them is written by people and kept.
const (
	mdBegin = "<!-- BEGIN fwbench report: generated by `make bench` (cmd/fwbench); edits between these markers are overwritten -->"
	mdEnd   = "<!-- END fwbench report -->"
)

func writeReport(c reportConfig, stdout io.Writer) error {
	if c.Rerender != "" {
		var r Report
		if err := readJSON(c.Rerender, &r); err != nil {
			return err
		}
		if c.RevSet {
			r.Revision = c.Revision
		}
		if c.DirtySet {
			r.Dirty = c.Dirty
		}
		r.Targets, r.Load = targets(r), machineLoad(r)
		return saveReport(c, r, stdout)
	}
	r := Report{Schema: 2, Command: c.Command, Revision: c.Revision, Dirty: c.Dirty, Software: c.Software,
		Notes: append(slices.Clone(reportNotes), c.Notes...)}
	for _, in := range c.In {
		var res RunResult
		if err := readJSON(in, &res); err != nil {
			return err
		}
		r.Results = append(r.Results, res)
	}
	for _, opt := range []struct {
		path string
		dst  any
	}{{c.Slow, &r.Slow}, {c.Spatial, &r.Spatial}, {c.GoBench, &r.GoBench}} {
		if opt.path != "" {
			if err := readJSON(opt.path, opt.dst); err != nil {
				return err
			}
		}
	}
	// Run 3: the s3 deployment's (or else the first) is Reads, the others
	// ReadsOther.
	for _, in := range c.Reads {
		var rd ReadsResult
		if err := readJSON(in, &rd); err != nil {
			return err
		}
		if r.Reads == nil {
			r.Reads = &rd
		} else if rd.Mode == "s3" && r.Reads.Mode != "s3" {
			r.ReadsOther = append(r.ReadsOther, *r.Reads)
			r.Reads = &rd
		} else {
			r.ReadsOther = append(r.ReadsOther, rd)
		}
	}
	// Every 201 must be a row that `fieldwatch check` verified after the
	// mode's last run.
	for i := range r.Results {
		res := &r.Results[i]
		rows, ok := c.Rows[res.Mode]
		if !ok {
			continue
		}
		want := res.Created
		if r.Slow != nil && r.Slow.Mode == res.Mode {
			want += r.Slow.Created
		}
		n, err := strconv.Atoi(rows)
		if err != nil || n != want {
			return fmt.Errorf("%s: fieldwatch check verified %s evidence rows, the runs created %d", res.Mode, rows, want)
		}
		res.CheckedRows = n
	}
	switch {
	case len(r.Results) > 0:
		r.Date, r.Machine = r.Results[0].StartedAt, r.Results[0].Machine
	case r.Slow != nil:
		r.Date, r.Machine = r.Slow.StartedAt, r.Slow.Machine
	case r.Reads != nil:
		r.Date, r.Machine = r.Reads.StartedAt, r.Reads.Machine
	case r.Spatial != nil:
		r.Date, r.Machine = r.Spatial.StartedAt, r.Spatial.Machine
	case r.GoBench != nil:
		r.Date, r.Machine = r.GoBench.StartedAt, r.GoBench.Machine
	}
	r.Targets = targets(r)
	r.Load = machineLoad(r)
	return saveReport(c, r, stdout)
}

// saveReport writes r as JSON and as the generated part of the Markdown.
func saveReport(c reportConfig, r Report, stdout io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.JSON, append(b, '\n'), 0o644); err != nil {
		return err
	}
	old, err := os.ReadFile(c.MD)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	md, err := spliceMarkdown(string(old), renderMarkdown(r))
	if err != nil {
		return fmt.Errorf("%s: %w", c.MD, err)
	}
	if err := os.WriteFile(c.MD, []byte(md), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "    wrote %s and %s\n", c.JSON, c.MD)
	return nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// spliceMarkdown replaces the generated part of old with gen, or starts a
// new document when old has none.
func spliceMarkdown(old, gen string) (string, error) {
	block := mdBegin + "\n" + gen + mdEnd + "\n"
	i, j := strings.Index(old, mdBegin), strings.Index(old, mdEnd)
	switch {
	case i < 0 && j < 0 && strings.TrimSpace(old) == "":
		return "# Benchmarks\n\n" + block + "\n## Interpretation\n\n(Written by hand after a run; kept when the numbers above are regenerated.)\n", nil
	case i < 0 || j < i:
		return "", errors.New("generated-part markers missing or out of order; fix them by hand")
	}
	return old[:i] + block + strings.TrimPrefix(old[j+len(mdEnd):], "\n"), nil
}

// kinds prints a descriptor breakdown, largest first.
func kinds(m map[string]int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
