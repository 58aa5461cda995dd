package main

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The generated part of docs/benchmarks.md: prose with fmt, tables with
// table.

// table is a Markdown table. align has one letter per column: 'l' for
// text, 'r' for numbers.
type table struct {
	head  []string
	align string
	rows  [][]string
}

func newTable(align string, head ...string) *table { return &table{head: head, align: align} }

// add appends a row; values that are not strings are printed with %v.
func (t *table) add(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.rows = append(t.rows, row)
}

func (t *table) write(b *bytes.Buffer) {
	line := func(cells []string) { fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | ")) }
	line(t.head)
	b.WriteString("|")
	for _, a := range t.align {
		b.WriteString(map[rune]string{'l': "---|", 'r': "---:|"}[a])
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		line(r)
	}
}

// f formats a number for a cell.
func f(format string, a ...any) string { return fmt.Sprintf(format, a...) }

func renderMarkdown(r Report) string {
	var b bytes.Buffer
	p := printer(&b)
	rev := r.Revision
	if r.Dirty {
		rev += " with uncommitted changes"
	}
	m := r.Machine
	p("Measured %s UTC with `%s` at revision `%s`.\n\n", r.Date.Format("2006-01-02 15:04"), r.Command, rev)
	p("- Machine: %s, %d CPUs (nproc), %.1f GiB RAM, Linux %s; %s.\n", m.CPUModel, m.NProc, float64(m.MemTotalKiB)/(1<<20), m.Kernel, m.GoVersion)
	var sw []string
	for _, k := range slices.Sorted(maps.Keys(r.Software)) {
		sw = append(sw, k+" "+r.Software[k])
	}
	if len(sw) > 0 {
		p("- Software: %s.\n", strings.Join(sw, ", "))
	}
	p("- Client (fwbench), fieldwatch, PostgreSQL and the S3 server all run on this machine, on 127.0.0.1, sharing its cores.\n")
	for _, res := range r.Results {
		p("- %s: %s", res.Mode, res.Label)
		if res.DataFS != "" {
			p(" (data directory on %s)", res.DataFS)
		}
		p(". Run 1 got %d × 201", res.Created)
		if r.Slow != nil && r.Slow.Mode == res.Mode {
			p(", run 2 %d more", r.Slow.Created)
		}
		if res.CheckedRows > 0 {
			p("; afterwards `fieldwatch check` re-hashed every stored photo and verified %d evidence rows", res.CheckedRows)
		}
		p(".\n")
	}
	for _, n := range r.Notes[len(reportNotes):] {
		p("- %s\n", n)
	}
	renderTargets(&b, r)
	renderUploads(&b, r)
	renderSlow(&b, r)
	renderReads(&b, r)
	renderSpatial(&b, r)
	renderGoBench(&b, r)
	renderLoad(&b, r)
	p("\nRaw numbers, units and method notes: [benchmarks.json](benchmarks.json).\n")
	return b.String()
}

func printer(b *bytes.Buffer) func(string, ...any) {
	return func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
}

func (t Target) valueString() string {
	if !t.Measured {
		return "–"
	}
	switch t.Unit {
	case "×":
		return f("%.2f×", t.Value)
	case " MiB":
		return f("%.1f MiB", t.Value)
	case " ms":
		return f("%.2f ms", t.Value)
	case " µs":
		if t.Value < 100 {
			return f("%.1f µs", t.Value)
		}
		return f("%.0f µs", t.Value)
	}
	return trimFloat(t.Value)
}

func renderTargets(b *bytes.Buffer, r Report) {
	b.WriteString("\n### Targets\n\n")
	t := newTable("lllrl", "issue", "target", "wanted", "measured", "verdict")
	for _, tg := range r.Targets {
		verdict := tg.Margin
		if tg.Measured {
			verdict = map[bool]string{true: "**met**: ", false: "**missed**: "}[tg.Met] + tg.Margin
		}
		issue := "–"
		if tg.Issue != "" {
			issue = "#" + tg.Issue
		}
		t.add(issue, tg.Name, tg.Want, tg.valueString(), verdict)
	}
	t.write(b)
	b.WriteString("\nWhy each target was met or missed, with the evidence: see *Interpretation* below the generated part.\n")
}

// cpuCells prints CPU seconds per component in a fixed order.
func cpuCells(u CPUUse, comps []string, format string) []string {
	var cells []string
	for _, c := range comps {
		if v, ok := u.Seconds[c]; ok {
			cells = append(cells, f(format, v))
		} else {
			cells = append(cells, "–")
		}
	}
	return cells
}

var cpuComps = []string{"fieldwatch", "versitygw", "postgres", "fwbench", "kernel", "other"}

// baselineWhen names the i-th baseline run.
func baselineWhen(i int) string { return []string{"before", "after"}[min(i, 1)] }

// disturbedPhase names a phase in which other work took more than
// disturbedShare of the machine, or nothing.
func disturbedPhase(name string, u CPUUse, wall float64, nproc int) []string {
	if d := u.disturbedBy(wall, nproc); d > disturbedShare {
		return []string{f("%s (%.0f%%)", name, d*100)}
	}
	return nil
}

// renderUploads writes run 1: throughput, CPU per upload, memory.
func renderUploads(b *bytes.Buffer, r Report) {
	if len(r.Results) == 0 {
		return
	}
	p := printer(b)
	t0 := r.Results[0].Throughput
	p("\n### Run 1: upload throughput: %d distinct %.0f MiB JPEGs, %d concurrent clients\n\n", t0.Uploads, mib(t0.PhotoBytes), t0.Concurrency)
	tp := newTable("llrrrrrr", "mode", "path", "MiB/s", "uploads/s", "p50 ms", "p95 ms", "p99 ms", "shed")
	cpu := newTable("llrrrrrrrrrr", append(append([]string{"mode", "phase"}, cpuComps...), "total", "machine busy", "iowait", "busy in the second before")...)
	var disturbed []string
	for _, res := range r.Results {
		t := res.Throughput
		for i, s := range t.Baseline {
			l := s.LatencyMS
			tp.add(res.Mode, s.Path+", "+baselineWhen(i)+" the API run", f("%.1f", s.MiBPerSec), f("%.2f", s.UploadsPerSec), f("%.0f", l.P50), f("%.0f", l.P95), f("%.0f", l.P99), s.Shed)
		}
		s, l := t.API, t.API.LatencyMS
		tp.add(res.Mode, "API `POST /v1/evidence`", f("%.1f", s.MiBPerSec), f("%.2f", s.UploadsPerSec), f("%.0f", l.P50), f("%.0f", l.P95), f("%.0f", l.P99), s.Shed)
		tp.add(res.Mode, "API, counting the background work it leaves (sustained)", f("%.1f", t.SustainedMiBPerSec), f("%.2f", t.SustainedUploadsPerSec), "", "", "", "")
		tp.add(res.Mode, "**ratio API / baseline** (mean of the two baseline runs)", f("**%.2f**", t.Ratio), "", "", "", "", "")
		tp.add(res.Mode, "**ratio sustained API / baseline**", f("**%.2f**", t.SustainedRatio), "", "", "", "", "")

		phase := func(name, label string, u CPUUse, wall, before float64) {
			row := []any{res.Mode, name}
			var total float64
			for _, c := range cpuComps {
				v, ok := u.PerUploadMS[c]
				row = append(row, map[bool]string{true: f("%.0f", v), false: "–"}[ok])
				total += v
			}
			bf := "–"
			if before >= 0 {
				bf = f("%.0f%%", before)
			}
			cpu.add(append(row, f("%.0f", total), f("%.0f%%", u.MachineBusyPct), f("%.0f%%", u.IOWaitPct), bf)...)
			disturbed = append(disturbed, disturbedPhase(res.Mode+" "+label, u, wall, r.Machine.NProc)...)
		}
		for i, s := range t.Baseline {
			phase("baseline "+baselineWhen(i), "baseline "+baselineWhen(i), s.CPU, s.WallSeconds, s.BusyBeforePct)
		}
		phase("API", "API", t.API.CPU, t.API.WallSeconds, t.API.BusyBeforePct)
		phase("API: background work after the run", "background work after the API run", t.DrainCPU, t.DrainSeconds+1, -1)
		disturbed = append(disturbed, disturbedPhase(res.Mode+" memory burst", res.Memory.Load.CPU, res.Memory.Load.WallSeconds, r.Machine.NProc)...)
	}
	tp.write(b)
	for _, res := range r.Results {
		t := res.Throughput
		p("\nAfter the API run the %s server stayed busy for %.0f s with background work (thumbnails)%s; \"sustained\" divides the photo bytes by the API run's %.1f s plus that time.",
			res.Mode, t.DrainSeconds, notIf(t.Drained, ", and was still busy when the bench stopped waiting"), t.API.WallSeconds)
	}
	p("\n\n### CPU per upload in the throughput phase (ms of CPU per upload, by process)\n\n")
	cpu.write(b)
	if len(disturbed) > 0 {
		p("\n**Disturbed phases** (other work took more than %.0f%% of the machine, so these numbers are low): %s.\n",
			disturbedShare*100, strings.Join(disturbed, "; "))
	} else {
		p("\nNo phase was disturbed: other work took at most %.0f%% of the machine in each.\n", disturbedShare*100)
	}
	p("\n\"kernel\" is kernel threads (page-cache writeback, block I/O, softirq daemons); \"other\" is the rest of the machine's busy time: interrupts not charged to a process, and any other workload that shared the cores during the phase.\n")

	renderUploadStages(b, r)
	renderThumbnails(b, r)

	mm := r.Results[0].Memory
	p("\n### Run 1: memory: %d concurrent distinct %.0f MiB uploads, on the freshly started server\n\n", mm.Concurrent, mib(mm.PhotoBytes))
	head := []string{""}
	for _, res := range r.Results {
		head = append(head, res.Mode)
	}
	mt := newTable("l"+strings.Repeat("r", len(r.Results)), head...)
	row := func(name string, cell func(MemoryResult) string) {
		cells := []any{name}
		for _, res := range r.Results {
			cells = append(cells, cell(res.Memory))
		}
		mt.add(cells...)
	}
	mb := func(v float64) string { return f("%.1f MiB", v) }
	row("uploads ok / shed", func(m MemoryResult) string { return f("%d / %d", m.Load.OK, m.Load.Shed) })
	row("uploads in flight at once (peak seen in /metrics)", func(m MemoryResult) string { return fmt.Sprint(m.InFlightPeak) })
	row("server RSS before", func(m MemoryResult) string { return mb(m.RSSBeforeMiB) })
	row("peak RSS during the burst (VmHWM, reset before)", func(m MemoryResult) string {
		return mb(m.PeakMiB) + notIf(m.HWMReset, " (not reset: lifetime peak)")
	})
	row("peak RSS sampled every 20 ms", func(m MemoryResult) string { return mb(m.PeakSampledMiB) })
	row("**RSS growth per upload in flight** (peak − before) / uploads", func(m MemoryResult) string {
		return f("**%.2f MiB**", m.GrowthPerUploadMiB)
	})
	row("what holding every body in memory would add, at least", func(m MemoryResult) string {
		return f("%.0f MiB", mib(m.PhotoBytes*int64(m.Concurrent)))
	})
	row("peak RSS including the thumbnails made afterwards", func(m MemoryResult) string { return mb(m.PeakWithBackgroundMiB) })
	row("RSS after (background work done)", func(m MemoryResult) string { return mb(m.RSSAfterMiB) })
	row("goroutines before / peak / after", func(m MemoryResult) string {
		return f("%d / %d / %d", m.GoroutinesBefore, m.GoroutinesPeak, m.GoroutinesAfter)
	})
	row("open fds before / peak / after", func(m MemoryResult) string { return f("%d / %d / %d", m.FDsBefore, m.FDsPeak, m.FDsAfter) })
	row("burst wall time, rate", func(m MemoryResult) string { return f("%.1f s, %.1f MiB/s", m.Load.WallSeconds, m.Load.MiBPerSec) })
	row("latency p50 / p95 / p99", func(m MemoryResult) string {
		l := m.Load.LatencyMS
		return f("%.0f / %.0f / %.0f ms", l.P50, l.P95, l.P99)
	})
	row("thumbnails afterwards", func(m MemoryResult) string { return f("%.0f s", m.DrainSeconds) })
	mt.write(b)
	p("\n")
	for _, res := range r.Results {
		p("- %s descriptors before: %s; after: %s.\n", res.Mode, kinds(res.Memory.FDKindsBefore), kinds(res.Memory.FDKindsAfter))
	}
}

func renderSlow(b *bytes.Buffer, r Report) {
	s := r.Slow
	if s == nil {
		return
	}
	p := printer(b)
	p("\n### Run 2: %d slow uploads at once, %.1f Mbit/s each, %.0f reads/s meanwhile (%s)\n\n",
		s.Clients, s.RateBytesPerS*8/1e6, s.Reads.OfferedRate, s.Mode)
	p("Each upload is a distinct %.1f MiB photo (a test JPEG and filler bytes) whose request body fwbench throttles to %.0f kB/s, so it lasts about %.0f s; "+
		"the %d uploads start spread over %.0f s (from %d loopback source addresses) on a freshly restarted server that already holds run 1's evidence. "+
		"Meanwhile vegeta sends `GET /v1/evidence/{id}` (bearer token) at a constant %.0f/s. "+
		"Server caps: `FIELDWATCH_UPLOADS_PER_USER=%d`, `FIELDWATCH_UPLOADS_TOTAL=%d`.\n\n",
		mib(s.PhotoBytes), s.RateBytesPerS/1000, float64(s.PhotoBytes)/s.RateBytesPerS, s.Clients, s.StaggerSeconds, max(s.SourceAddrs, 1),
		s.Reads.OfferedRate, s.CapPerUser, s.CapTotal)
	mb := func(v float64) string { return f("%.1f MiB", v) }
	rl := s.Reads.LatencyMS
	t := newTable("lr", "", s.Mode)
	t.add("uploads stored (201) / failed", f("%d / %d", s.OK, s.errorCount()))
	t.add("failures by kind", kinds(s.Errors))
	t.add("first upload start to last answer", f("%.1f s", s.WallSeconds))
	t.add("each upload took p50 / p99 / max", f("%.1f / %.1f / %.1f s", s.UploadSeconds.P50, s.UploadSeconds.P99, s.UploadSeconds.Max))
	t.add("reads sent / answered 200 / failed", f("%d / %d / %d", s.Reads.Requests, s.Reads.OK, s.Reads.errorCount()))
	t.add("read failures by kind", kinds(s.Reads.Errors))
	t.add("**read latency p50 / p95 / p99** (max)", f("**%.1f / %.1f / %.1f ms** (%.0f ms)", rl.P50, rl.P95, rl.P99, rl.Max))
	t.add("server RSS before", mb(s.RSSBeforeMiB))
	t.add("**peak RSS until the last answer** (VmHWM, reset before)", "**"+mb(s.PeakMiB)+notIf(s.HWMReset, " (not reset: lifetime peak)")+"**")
	t.add("peak RSS sampled every 20 ms", mb(s.PeakSampledMiB))
	t.add("peak RSS including the thumbnails made afterwards", mb(s.PeakWithBackgroundMiB))
	t.add("RSS after (background work done)", mb(s.RSSAfterMiB))
	t.add("goroutines before / peak / after", f("%d / %d / %d", s.GoroutinesBefore, s.GoroutinesPeak, s.GoroutinesAfter))
	t.add("open fds before / peak / after", f("%d / %d / %d", s.FDsBefore, s.FDsPeak, s.FDsAfter))
	t.add("requests in flight (peak seen in /metrics)", s.InFlightPeak)
	t.add("background work after the last answer (thumbnails)", f("%.0f s", s.DrainSeconds)+notIf(s.Drained, ", still busy when the bench stopped waiting"))
	t.add("CPU s during the uploads: "+strings.Join(cpuComps, " / "),
		strings.Join(cpuCells(s.CPU, cpuComps, "%.1f"), " / ")+f(" (machine %.0f%% busy)", s.CPU.MachineBusyPct))
	t.write(b)
	p("\nDescriptors before: %s; after: %s.\n", kinds(s.FDKindsBefore), kinds(s.FDKindsAfter))
	renderTimeline(b, s.Timeline, 5)
	if len(s.ErrorSamples) > 0 {
		p("\nFailures (first %d distinct):\n\n", len(s.ErrorSamples))
		for _, e := range s.ErrorSamples {
			p("- `%s`\n", e)
		}
	}
}

// renderTimeline writes run 2's timeline in windows of step seconds: the
// highest value of each gauge in the window, uploads answered at its end,
// reads sent in it and the slowest of them.
func renderTimeline(b *bytes.Buffer, tl []SlowSample, step int) {
	if len(tl) == 0 {
		return
	}
	fmt.Fprintf(b, "\nTimeline (seconds since the first upload started; each row the highest value in its %d s, uploads answered at its end):\n\n", step)
	t := newTable("rrrrrrlrr", "t s", "uploads answered", "requests in flight", "goroutines", "fds", "RSS MiB",
		"DB sessions: all / active / waiting for a lock / idle in transaction", "reads sent", "slowest read ms")
	for i := 0; i < len(tl); {
		w := SlowSample{T: tl[i].T / step * step, DBSessions: -1, DBActive: -1, DBLockWait: -1, DBIdleInTx: -1}
		end := w.T + step
		for ; i < len(tl) && tl[i].T < end; i++ {
			x := tl[i]
			w.Answered = x.Answered
			w.InFlight, w.Goroutines, w.FDs = max(w.InFlight, x.InFlight), max(w.Goroutines, x.Goroutines), max(w.FDs, x.FDs)
			w.RSSMiB = max(w.RSSMiB, x.RSSMiB)
			w.DBSessions, w.DBActive = max(w.DBSessions, x.DBSessions), max(w.DBActive, x.DBActive)
			w.DBLockWait, w.DBIdleInTx = max(w.DBLockWait, x.DBLockWait), max(w.DBIdleInTx, x.DBIdleInTx)
			w.Reads += x.Reads
			w.ReadMaxMS = max(w.ReadMaxMS, x.ReadMaxMS)
		}
		db := "–"
		if w.DBSessions >= 0 {
			db = f("%d / %d / %d / %d", w.DBSessions, w.DBActive, w.DBLockWait, w.DBIdleInTx)
		}
		t.add(w.T, w.Answered, w.InFlight, w.Goroutines, w.FDs, f("%.0f", w.RSSMiB), db, w.Reads, f("%.0f", w.ReadMaxMS))
	}
	t.write(b)
}

func renderReads(b *bytes.Buffer, r Report) {
	if r.Reads != nil {
		renderReadsOf(b, r.Reads)
	}
	for i := range r.ReadsOther {
		renderReadsOf(b, &r.ReadsOther[i])
	}
}

func renderReadsOf(b *bytes.Buffer, rd *ReadsResult) {
	p := printer(b)
	p("\n### Run 3: reads against /healthz (%s)\n\n", rd.Mode)
	p("vegeta (library, open model: constant arrival rate whatever the latency) on loopback. For each endpoint a ramp of %.0f s steps, "+
		"doubling the rate from the first until a step fails, then narrowing the gap between the last passing and the first failing rate; "+
		"a step passes with %s. The highest passing rate is then held for %.0f s under the same rule; if that fails, the hold is tried at the geometric middle between it and the next lower passing step, then at that step. "+
		"`GET /v1/evidence/{id}` cycles through %d ids; the bbox `%s` holds %d evidence items and each list answer carries %d.\n\n",
		rd.Step, rd.Rule, rd.Hold, rd.EvidenceIDs, rd.BBox, rd.BBoxItems, rd.PageItems)
	comps := []string{"fieldwatch", "postgres", "fwbench", "kernel", "other"}
	t := newTable("lrrrrrrrl", "endpoint", "sustainable req/s", "held: answered/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors",
		"CPU µs per request: "+strings.Join(comps, " / "))
	steps := newTable("lrrrrrlrl", "endpoint", "offered/s", "answered/s", "p50 ms", "p99 ms", "max ms", "errors", "machine busy", "passes")
	for _, tg := range rd.Targets {
		h := tg.Hold
		sus := f("%.0f", tg.Sustainable)
		if tg.Capped {
			sus = "≥ " + sus + " (highest tried)"
		}
		for _, fh := range tg.FailedHolds {
			sus += f("; held not at %.0f/s (p99 %.0f ms)", fh.OfferedRate, fh.LatencyMS.P99)
		}
		if !tg.HoldPassed && tg.Sustainable > 0 {
			sus += "; **no hold passed**: the ramp's rate"
		}
		var cpu []string
		for _, c := range comps {
			cpu = append(cpu, f("%.0f", h.CPUPerRequestUS[c]))
		}
		l := h.LatencyMS
		t.add(tg.Request, sus, f("%.0f", h.AchievedRate), f("%.2f", l.P50), f("%.2f", l.P95), f("%.2f", l.P99), f("%.1f", l.Max), h.errorCount(), strings.Join(cpu, " / "))
		for _, s := range tg.Steps {
			steps.add(tg.Name, f("%.0f", s.OfferedRate), f("%.0f", s.AchievedRate), f("%.2f", s.LatencyMS.P50), f("%.2f", s.LatencyMS.P99),
				f("%.1f", s.LatencyMS.Max), orNone(s.Errors), f("%.0f%%", s.CPU.MachineBusyPct), map[string]string{"ok": "yes", "FAILS": "no"}[s.Verdict])
		}
	}
	t.write(b)
	p("\n**Authenticated GET / healthz (sustainable requests/s): %.2f**; bbox list / healthz: %.2f.\n", rd.RatioGetToHealthz, rd.RatioListToHealthz)
	renderComponents(b, rd)
	renderProfiles(b, rd)
	p("\nRamp steps (the holds are in the table above):\n\n")
	steps.write(b)
}

// fieldwatchUS is the fieldwatch CPU per request at a target's hold, µs
// (0: unknown).
func fieldwatchUS(t ReadTarget) float64 {
	if t.Hold.OK == 0 {
		return 0
	}
	return t.Hold.CPUPerRequestUS["fieldwatch"]
}

// renderComponents writes the CPU per request by kind of code, in µs: the
// profile's shares of self time applied to the fieldwatch CPU per request
// measured (from /proc) in the hold at the same rate, with PostgreSQL's
// own CPU per request beside them.
func renderComponents(b *bytes.Buffer, rd *ReadsResult) {
	var ts []ReadTarget
	for _, t := range rd.Targets {
		if t.Profile != nil && fieldwatchUS(t) > 0 {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		return
	}
	p := printer(b)
	p("\nCPU per request by component (%s), µs: fieldwatch's CPU per request in the hold (from /proc) split by the profile's shares of self time (below); PostgreSQL's processes beside it.\n\n", rd.Mode)
	head := []string{"component"}
	var names []string
	for _, t := range ts {
		head = append(head, f("%s (µs per request)", t.Name))
		for _, g := range t.Profile.Groups {
			if !slices.Contains(names, g.Name) {
				names = append(names, g.Name)
			}
		}
	}
	tb := newTable("l"+strings.Repeat("r", len(ts)), head...)
	for _, n := range names {
		row := []any{n}
		for _, t := range ts {
			v := "–"
			if i := slices.IndexFunc(t.Profile.Groups, func(s Share) bool { return s.Name == n }); i >= 0 {
				v = f("%.0f", t.Profile.Groups[i].Pct/100*fieldwatchUS(t))
			}
			row = append(row, v)
		}
		tb.add(row...)
	}
	total, pg := []any{"**fieldwatch, all**"}, []any{"PostgreSQL (its processes; not in the fieldwatch total)"}
	for _, t := range ts {
		total = append(total, f("**%.0f**", fieldwatchUS(t)))
		if v, ok := t.Hold.CPUPerRequestUS["postgres"]; ok {
			pg = append(pg, f("%.0f", v))
		} else {
			pg = append(pg, "–")
		}
	}
	tb.add(total...)
	tb.add(pg...)
	tb.write(b)
}

// renderProfiles writes where the server's CPU went at each sustainable
// rate.
func renderProfiles(b *bytes.Buffer, rd *ReadsResult) {
	var ts []ReadTarget
	for _, t := range rd.Targets {
		if t.Profile != nil {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		return
	}
	p := printer(b)
	p("\nWhere the server's CPU went at each sustainable rate (`perf record -g` of the fieldwatch process, %.0f s, after the hold), %% of its samples:\n\n", ts[0].Profile.Seconds)
	head := []string{"self time in"}
	var names []string
	for _, t := range ts {
		head = append(head, f("%s at %.0f/s (%.1f CPU s)", t.Name, t.Profile.Rate, t.Profile.CPUSeconds))
		for _, g := range t.Profile.Groups {
			if !slices.Contains(names, g.Name) {
				names = append(names, g.Name)
			}
		}
	}
	tb := newTable("l"+strings.Repeat("r", len(ts)), head...)
	for _, n := range names {
		row := []any{n}
		for _, t := range ts {
			v := "–"
			if i := slices.IndexFunc(t.Profile.Groups, func(s Share) bool { return s.Name == n }); i >= 0 {
				v = f("%.1f%%", t.Profile.Groups[i].Pct)
			}
			row = append(row, v)
		}
		tb.add(row...)
	}
	tb.write(b)
	p("\nInclusive time (the function and all it calls) of the server's own functions and landmarks:\n\n")
	for _, t := range ts {
		var parts []string
		us := fieldwatchUS(t)
		for _, fr := range t.Profile.Frames {
			if us > 0 {
				parts = append(parts, f("`%s` %.1f%% (%.0f µs)", fr.Name, fr.Pct, fr.Pct/100*us))
			} else {
				parts = append(parts, f("`%s` %.1f%%", fr.Name, fr.Pct))
			}
		}
		p("- %s: %s.\n", t.Name, strings.Join(parts, ", "))
	}
}

func orNone(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	return kinds(m)
}

// ifPositive formats v, or leaves the cell empty when v is 0.
func ifPositive(format string, v float64) string {
	if v > 0 {
		return f(format, v)
	}
	return ""
}

func renderSpatial(b *bytes.Buffer, r Report) {
	sp := r.Spatial
	if sp == nil {
		return
	}
	p := printer(b)
	p("\n### Run 4: bbox list query with %s evidence rows\n\n", thousands(sp.Rows))
	p("Fresh databases, migrated with `fieldwatch migrate` (every index and trigger of the migrations in place while loading), "+
		"then %s rows loaded (PostgreSQL: `COPY`; SQLite: one transaction, one prepared multi-row `INSERT`): "+
		"distinct SHA-256s, UUID v7 ids, received over two years, positions uniform over the demo county's bbox `%s`, one uploader, no flags, not linked to townships. "+
		"Then %d random square boxes with sides of %.0f–%.0f m inside the county (after %d warm-up queries on other boxes), one at a time. "+
		"Timed: %s. The plans are `store.Store.ExplainListEvidence`: the very query text and arguments `ListEvidence` runs.\n\n",
		thousands(sp.Rows), sp.CountyBox, sp.Boxes, sp.SideM[0], sp.SideM[1], sp.Warmup, sp.Via)
	t := newTable("lrrrrrrrrrrl", "database", "load", "analyse", "size", "p50 ms", "p95 ms", "p99 ms", "max ms", "mean ms",
		"items per answer", "rows in the box p50 / max", "plan")
	for _, bk := range sp.Backends {
		name := "PostgreSQL/PostGIS after `VACUUM ANALYZE`"
		if bk.Name == "sqlite" {
			name = "sqlite" + map[bool]string{false: " (as the server leaves it: never analysed)", true: " after `ANALYZE`"}[bk.Analyzed]
		}
		l := bk.LatencyMS
		t.add(name, ifPositive("%.0f s", bk.SeedSec), ifPositive("%.1f s", bk.AnalyzeSec), ifPositive("%.0f MiB", bk.SizeMiB),
			f("%.2f", l.P50), f("**%.2f**", l.P95), f("%.2f", l.P99), f("%.1f", l.Max), f("%.2f", bk.MeanMS), f("%.1f", bk.ReturnedMean),
			f("%d / %d", bk.MatchesP50, bk.MatchesMax), bk.PlanSummary)
	}
	t.write(b)
	for _, bk := range sp.Backends {
		title := "PostgreSQL, `EXPLAIN (ANALYZE, BUFFERS)`"
		if bk.Name == "sqlite" {
			title = "SQLite, `EXPLAIN QUERY PLAN`" + map[bool]string{false: ", never analysed", true: ", after `ANALYZE`"}[bk.Analyzed]
		}
		p("\n#### Plan: %s, for the box holding the median number of rows (`%s`)\n\n```text\n%s\n```\n", title, bk.PlanBox, bk.Plan)
	}
	for _, bk := range sp.Backends {
		if bk.Name == "postgres" {
			p("\nThe query (PostgreSQL; SQLite's differs in its bbox condition, `e.seq IN (SELECT id FROM evidence_rtree WHERE …)`, and `?` placeholders):\n\n```sql\n%s\n```\n", bk.PlanQuery)
		}
	}
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), ",")
}

func renderGoBench(b *bytes.Buffer, r Report) {
	g := r.GoBench
	if g == nil {
		return
	}
	p := printer(b)
	p("\n### Run 5: `geo.Index.Locate` (Go benchmarks)\n\n`%s` (%s, %s); %.0f s, machine %.0f%% busy, of which other work %.1f CPU s.\n\n",
		g.Command, g.Context["pkg"], g.Context["cpu"], g.WallSeconds, g.CPU.MachineBusyPct, g.CPU.Seconds["other"])
	t := newTable("lrrrl", "benchmark", "ns/op", "B/op", "allocs/op", "other")
	for _, bm := range g.Benchmarks {
		var other []string
		for k, v := range bm.Metrics {
			other = append(other, trimFloat(v)+" "+k)
		}
		t.add("`"+bm.Name+"`", thousands(int(bm.NsPerOp+0.5)), f("%.0f", bm.BytesPerOp), f("%.0f", bm.AllocsPerOp), strings.Join(other, ", "))
	}
	t.write(b)
	p("\n`Synthetic`: 1,000 townships × 1,000 vertices and 10,000 reaches × 200 vertices, random points over the area; " +
		"`SyntheticFar`: a point 150 km outside it (the worst case of the nearest-reach search); `Demo`: the demo county (14 townships, 15 reaches).\n")
}

func renderLoad(b *bytes.Buffer, r Report) {
	if len(r.Load) == 0 {
		return
	}
	p := printer(b)
	p("\n### Machine load: other work during each phase\n\n")
	p("\"Other\" is the machine's busy time not used by fieldwatch, the S3 server, PostgreSQL, fwbench (or the benchmark binary) or kernel threads: other workloads sharing the cores. "+
		"Share = other CPU seconds / (phase seconds × CPUs); above %.0f%% a phase's numbers are low.\n\n", disturbedShare*100)
	t := newTable("lrrrr", "phase", "seconds", "other CPU s", "share", "machine busy")
	var disturbed []string
	var other, capacity float64
	for _, l := range r.Load {
		t.add(l.Phase, f("%.1f", l.Seconds), f("%.1f", l.OtherSeconds), f("%.0f%%", l.Share*100), f("%.0f%%", l.MachineBusyPct))
		if l.Share > disturbedShare {
			disturbed = append(disturbed, f("%s (%.0f%%)", l.Phase, l.Share*100))
		}
		other += l.OtherSeconds
		capacity += l.Seconds * float64(max(r.Machine.NProc, 1))
	}
	t.write(b)
	if capacity > 0 {
		p("\nOver the measured phases other work took %.0f%% of the machine.", other/capacity*100)
	}
	if len(disturbed) > 0 {
		p(" **Disturbed phases:** %s.\n", strings.Join(disturbed, "; "))
	} else {
		p(" No phase was disturbed.\n")
	}
}

// renderUploadStages writes the profiled uploads: fieldwatch CPU per
// upload by stage, per deployment.
func renderUploadStages(b *bytes.Buffer, r Report) {
	var rs []RunResult
	for _, res := range r.Results {
		if res.UploadProfile != nil {
			rs = append(rs, res)
		}
	}
	if len(rs) == 0 {
		return
	}
	p := printer(b)
	up0 := rs[0].UploadProfile
	p("\n### Run 1: fieldwatch CPU per upload by stage (ms)\n\n")
	p("After the throughput phase, %d more distinct %.0f MiB photos from %d clients under `perf record -g` (499 Hz) of the server. "+
		"Each is a 64×48 JPEG (a test photo scaled down, its EXIF kept) padded with random bytes to the size: the upload's work is that of any photo of the size, its thumbnails next to nothing, so this is the upload with thumbnails (nearly) off; "+
		"fieldwatch's CPU per upload (from /proc over the profiled window, perf's own cost included) is split by the inclusive share of the server's own functions in each stage "+
		"(the outermost function matching the stage's pattern, so nothing is counted twice within a stage). What the thumbnail workers still use is measured and taken out: \"thumbnails off\" is the total less their share. "+
		"In s3 mode the store stage includes the HTTP transport's goroutine that writes PUT bodies, which also carries the thumbnails' small PUTs. "+
		"\"not found\" means no sample fell in a function matching the stage's pattern: renamed code, or a stage too cheap to be sampled at 499 Hz; never read it as 0.\n\n",
		up0.Uploads, mib(up0.PhotoBytes), rs[0].Throughput.Concurrency)
	head := []string{"stage"}
	for _, res := range rs {
		head = append(head, res.Mode+" ms per upload", res.Mode+": function")
	}
	t := newTable("l"+strings.Repeat("rl", len(rs)), head...)
	for i, st := range up0.Stages {
		row := []any{st.Name}
		for _, res := range rs {
			ss := res.UploadProfile.Stages
			if i >= len(ss) || !ss[i].Found {
				row = append(row, "not found", "")
				continue
			}
			row = append(row, f("%.2f (%.1f%%)", ss[i].MS, ss[i].Pct), "`"+ss[i].Symbol+"`")
		}
		t.add(row...)
	}
	other, all, off := []any{"other (HTTP, multipart, auth, logging, GC, …)"}, []any{"**fieldwatch, all**"}, []any{"**fieldwatch, thumbnails off**"}
	for _, res := range rs {
		up := res.UploadProfile
		other = append(other, f("%.2f", up.OtherMS), "")
		all = append(all, f("**%.2f**", up.CPU.PerUploadMS["fieldwatch"]), "")
		off = append(off, f("**%.2f**", up.NoThumbnailsMS)+notIf(up.ThumbnailsFound, " (thumbnail functions not found)"), "")
	}
	t.add(other...)
	t.add(all...)
	t.add(off...)
	t.write(b)
	for _, res := range rs {
		up := res.UploadProfile
		p("\n- %s: %d uploads in %.1f s; CPU per upload by process (ms): %s.", res.Mode, up.Uploads, up.WallSeconds,
			strings.Join(cpuCells(CPUUse{Seconds: up.CPU.PerUploadMS}, cpuComps, "%.1f"), " / ")+" ("+strings.Join(cpuComps, " / ")+")")
	}
	p("\n")
}

// renderThumbnails writes the 12 MP thumbnail phase.
func renderThumbnails(b *bytes.Buffer, r Report) {
	var rs []RunResult
	for _, res := range r.Results {
		if res.Thumbnails != nil {
			rs = append(rs, res)
		}
	}
	if len(rs) == 0 {
		return
	}
	p := printer(b)
	th0 := rs[0].Thumbnails
	p("\n### Run 1: thumbnails of 12 MP JPEGs\n\n")
	p("%d distinct %s JPEGs (%.1f MiB: a test photo scaled up, quality 90, its EXIF kept) uploaded from 4 clients, then the server left until idle, "+
		"all under `perf record -g`. CPU per photo = fieldwatch's CPU over the window (from /proc) × the inclusive share of the thumbnail workers' functions, / photos.\n\n",
		th0.Photos, th0.Pixels, mib(th0.PhotoBytes))
	head := []string{""}
	for _, res := range rs {
		head = append(head, res.Mode)
	}
	t := newTable("l"+strings.Repeat("r", len(rs)), head...)
	row := func(name string, cell func(*ThumbnailResult) string) {
		cells := []any{name}
		for _, res := range rs {
			cells = append(cells, cell(res.Thumbnails))
		}
		t.add(cells...)
	}
	row("photos, first upload to idle", func(th *ThumbnailResult) string {
		return f("%d in %.1f s", th.Photos, th.WallSeconds) + notIf(th.Drained, " (still busy: not all made)")
	})
	row("**thumbnail CPU per photo**", func(th *ThumbnailResult) string {
		if th.MSPerPhoto == 0 {
			return th.Stage.cell()
		}
		return f("**%.0f ms** (%.1f%% of samples)", th.MSPerPhoto, th.Stage.Pct)
	})
	row("thumbnails per second per core", func(th *ThumbnailResult) string { return ifPositive("%.1f", th.PerSecondPerCore) })
	row("all fieldwatch CPU per photo (uploads included)", func(th *ThumbnailResult) string { return f("%.0f ms", th.AllMSPerPhoto) })
	row("machine busy", func(th *ThumbnailResult) string { return f("%.0f%%", th.CPU.MachineBusyPct) })
	t.write(b)
}
