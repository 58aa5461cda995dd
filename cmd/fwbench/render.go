package main

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// The Markdown sections of runs 2–5, the targets and the machine load.

func printer(b *bytes.Buffer) func(string, ...any) {
	return func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
}

func (t Target) valueString() string {
	if !t.Measured {
		return "–"
	}
	switch t.Unit {
	case "×":
		return fmt.Sprintf("%.2f×", t.Value)
	case " MiB":
		return fmt.Sprintf("%.1f MiB", t.Value)
	case " ms":
		return fmt.Sprintf("%.2f ms", t.Value)
	}
	return trimFloat(t.Value)
}

func renderTargets(b *bytes.Buffer, r Report) {
	p := printer(b)
	p("\n### Targets\n\n")
	p("| target | wanted | measured | verdict |\n|---|---|---:|---|\n")
	for _, t := range r.Targets {
		verdict := "–"
		switch {
		case !t.Measured:
			verdict = t.Margin
		case t.Met:
			verdict = "**met**: " + t.Margin
		default:
			verdict = "**missed**: " + t.Margin
		}
		p("| %s | %s | %s | %s |\n", t.Name, t.Want, t.valueString(), verdict)
	}
	p("\nWhy each target was met or missed, with the evidence: see *Interpretation* below the generated part.\n")
}

// cpuCells prints CPU seconds per component in a fixed order.
func cpuCells(u CPUUse, comps []string, format string) string {
	var cells []string
	for _, c := range comps {
		if v, ok := u.Seconds[c]; ok {
			cells = append(cells, fmt.Sprintf(format, v))
		} else {
			cells = append(cells, "–")
		}
	}
	return strings.Join(cells, " | ")
}

var cpuComps = []string{"fieldwatch", "versitygw", "postgres", "fwbench", "kernel", "other"}

func renderSlow(b *bytes.Buffer, r Report) {
	s := r.Slow
	if s == nil {
		return
	}
	p := printer(b)
	p("\n### Run 2: %d slow uploads at once, %.1f Mbit/s each, %.0f reads/s meanwhile (%s)\n\n",
		s.Clients, s.RateBytesPerS*8/1e6, s.Reads.OfferedRate, s.Mode)
	p("Each upload is a distinct %.1f MiB photo (a test JPEG and filler bytes) whose request body fwbench throttles to %.0f kB/s, so it lasts about %.0f s; "+
		"the %d uploads start spread over %.0f s on a freshly restarted server that already holds run 1's evidence. "+
		"Meanwhile vegeta sends `GET /v1/evidence/{id}` (bearer token) at a constant %.0f/s. "+
		"Server caps: `FIELDWATCH_UPLOADS_PER_USER=%d`, `FIELDWATCH_UPLOADS_TOTAL=%d`.\n\n",
		mib(s.PhotoBytes), s.RateBytesPerS/1000, float64(s.PhotoBytes)/s.RateBytesPerS, s.Clients, s.StaggerSeconds,
		s.Reads.OfferedRate, s.CapPerUser, s.CapTotal)
	mb := func(v float64) string { return fmt.Sprintf("%.1f MiB", v) }
	rows := [][2]string{
		{"uploads stored (201) / failed", fmt.Sprintf("%d / %d", s.OK, s.errorCount())},
		{"failures by kind", kinds(s.Errors)},
		{"first upload start to last answer", fmt.Sprintf("%.1f s", s.WallSeconds)},
		{"each upload took p50 / p99 / max", fmt.Sprintf("%.1f / %.1f / %.1f s", s.UploadSeconds.P50, s.UploadSeconds.P99, s.UploadSeconds.Max)},
		{"reads sent / answered 200 / failed", fmt.Sprintf("%d / %d / %d", s.Reads.Requests, s.Reads.OK, s.Reads.errorCount())},
		{"read failures by kind", kinds(s.Reads.Errors)},
		{"**read latency p50 / p95 / p99** (max)", fmt.Sprintf("**%.1f / %.1f / %.1f ms** (%.0f ms)", s.Reads.LatencyMS.P50, s.Reads.LatencyMS.P95, s.Reads.LatencyMS.P99, s.Reads.LatencyMS.Max)},
		{"server RSS before", mb(s.RSSBeforeMiB)},
		{"**peak RSS until the last answer** (VmHWM, reset before)", "**" + mb(s.PeakMiB) + notIf(s.HWMReset, " (not reset: lifetime peak)") + "**"},
		{"peak RSS sampled every 20 ms", mb(s.PeakSampledMiB)},
		{"peak RSS including the thumbnails made afterwards", mb(s.PeakWithBackgroundMiB)},
		{"RSS after (background work done)", mb(s.RSSAfterMiB)},
		{"goroutines before / peak / after", fmt.Sprintf("%d / %d / %d", s.GoroutinesBefore, s.GoroutinesPeak, s.GoroutinesAfter)},
		{"open fds before / peak / after", fmt.Sprintf("%d / %d / %d", s.FDsBefore, s.FDsPeak, s.FDsAfter)},
		{"requests in flight (peak seen in /metrics)", fmt.Sprint(s.InFlightPeak)},
		{"background work after the last answer (thumbnails)", fmt.Sprintf("%.0f s%s", s.DrainSeconds, notIf(s.Drained, ", still busy when the bench stopped waiting"))},
		{"CPU s during the uploads: " + strings.Join(cpuComps, " / "), strings.ReplaceAll(cpuCells(s.CPU, cpuComps, "%.1f"), " | ", " / ") +
			fmt.Sprintf(" (machine %.0f%% busy)", s.CPU.MachineBusyPct)},
	}
	p("|  | %s |\n|---|---:|\n", s.Mode)
	for _, rw := range rows {
		p("| %s | %s |\n", rw[0], rw[1])
	}
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
	p := printer(b)
	p("\nTimeline (seconds since the first upload started; each row the highest value in its %d s, uploads answered at its end):\n\n", step)
	p("| t s | uploads answered | requests in flight | goroutines | fds | RSS MiB | DB sessions: all / active / waiting for a lock / idle in transaction | reads sent | slowest read ms |\n")
	p("|---:|---:|---:|---:|---:|---:|---|---:|---:|\n")
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
			db = fmt.Sprintf("%d / %d / %d / %d", w.DBSessions, w.DBActive, w.DBLockWait, w.DBIdleInTx)
		}
		p("| %d | %d | %d | %d | %d | %.0f | %s | %d | %.0f |\n", w.T, w.Answered, w.InFlight, w.Goroutines, w.FDs, w.RSSMiB, db, w.Reads, w.ReadMaxMS)
	}
}

func renderReads(b *bytes.Buffer, r Report) {
	rd := r.Reads
	if rd == nil {
		return
	}
	p := printer(b)
	p("\n### Run 3: reads against /healthz (%s)\n\n", rd.Mode)
	p("vegeta (library, open model: constant arrival rate whatever the latency) on loopback. For each endpoint a ramp of %.0f s steps, "+
		"doubling the rate from the first until a step fails, then narrowing the gap between the last passing and the first failing rate; "+
		"a step passes with %s. The highest passing rate is then held for %.0f s under the same rule; if that fails, the hold is tried at the geometric middle between it and the next lower passing step, then at that step. "+
		"`GET /v1/evidence/{id}` cycles through %d ids; the bbox `%s` holds %d evidence items and each list answer carries %d.\n\n",
		rd.Step, rd.Rule, rd.Hold, rd.EvidenceIDs, rd.BBox, rd.BBoxItems, rd.PageItems)
	comps := []string{"fieldwatch", "postgres", "fwbench", "kernel", "other"}
	p("| endpoint | sustainable req/s | held: answered/s | p50 ms | p95 ms | p99 ms | max ms | errors | CPU µs per request: %s |\n", strings.Join(comps, " / "))
	p("|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, t := range rd.Targets {
		h := t.Hold
		sus := fmt.Sprintf("%.0f", t.Sustainable)
		if t.Capped {
			sus = "≥ " + sus + " (highest tried)"
		}
		for _, f := range t.FailedHolds {
			sus += fmt.Sprintf("; held not at %.0f/s (p99 %.0f ms)", f.OfferedRate, f.LatencyMS.P99)
		}
		if !t.HoldPassed && t.Sustainable > 0 {
			sus += "; **no hold passed**: the ramp's rate"
		}
		var cpu []string
		for _, c := range comps {
			cpu = append(cpu, fmt.Sprintf("%.0f", h.CPUPerRequestUS[c]))
		}
		p("| %s | %s | %.0f | %.2f | %.2f | %.2f | %.1f | %d | %s |\n", t.Request, sus, h.AchievedRate,
			h.LatencyMS.P50, h.LatencyMS.P95, h.LatencyMS.P99, h.LatencyMS.Max, h.errorCount(), strings.Join(cpu, " / "))
	}
	p("\n**Authenticated GET / healthz (sustainable requests/s): %.2f**; bbox list / healthz: %.2f.\n", rd.RatioGetToHealthz, rd.RatioListToHealthz)
	renderProfiles(b, rd)
	p("\nRamp steps (the holds are in the table above):\n\n| endpoint | offered/s | answered/s | p50 ms | p99 ms | max ms | errors | machine busy | passes |\n|---|---:|---:|---:|---:|---:|---|---:|---|\n")
	for _, t := range rd.Targets {
		for _, s := range t.Steps {
			p("| %s | %.0f | %.0f | %.2f | %.2f | %.1f | %s | %.0f%% | %s |\n", t.Name, s.OfferedRate, s.AchievedRate,
				s.LatencyMS.P50, s.LatencyMS.P99, s.LatencyMS.Max, orNone(s.Errors), s.CPU.MachineBusyPct, map[string]string{"ok": "yes", "FAILS": "no"}[s.Verdict])
		}
	}
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
	p("| self time in |")
	for _, t := range ts {
		p(" %s at %.0f/s (%.1f CPU s) |", t.Name, t.Profile.Rate, t.Profile.CPUSeconds)
	}
	p("\n|---|%s\n", strings.Repeat("---:|", len(ts)))
	var names []string
	for _, t := range ts {
		for _, g := range t.Profile.Groups {
			if !slices.Contains(names, g.Name) {
				names = append(names, g.Name)
			}
		}
	}
	for _, n := range names {
		p("| %s |", n)
		for _, t := range ts {
			v := "–"
			if i := slices.IndexFunc(t.Profile.Groups, func(s Share) bool { return s.Name == n }); i >= 0 {
				v = fmt.Sprintf("%.1f%%", t.Profile.Groups[i].Pct)
			}
			p(" %s |", v)
		}
		p("\n")
	}
	p("\nInclusive time (the function and all it calls) of the server's own functions and landmarks:\n\n")
	for _, t := range ts {
		var parts []string
		for _, f := range t.Profile.Frames {
			parts = append(parts, fmt.Sprintf("`%s` %.1f%%", f.Name, f.Pct))
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
		"Timed: %s.\n\n", thousands(sp.Rows), sp.CountyBox, sp.Boxes, sp.SideM[0], sp.SideM[1], sp.Warmup, sp.Via)
	p("| database | load | analyse | size | p50 ms | p95 ms | p99 ms | max ms | mean ms | items per answer | rows in the box p50 / max | plan |\n")
	p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, bk := range sp.Backends {
		name := bk.Name
		if bk.Name == "sqlite" {
			name += map[bool]string{false: " (as the server leaves it: never analysed)", true: " after `ANALYZE`"}[bk.Analyzed]
		} else {
			name = "PostgreSQL/PostGIS after `VACUUM ANALYZE`"
		}
		load, an, size := "", "", ""
		if bk.SeedSec > 0 {
			load = fmt.Sprintf("%.0f s", bk.SeedSec)
		}
		if bk.AnalyzeSec > 0 {
			an = fmt.Sprintf("%.1f s", bk.AnalyzeSec)
		}
		if bk.SizeMiB > 0 {
			size = fmt.Sprintf("%.0f MiB", bk.SizeMiB)
		}
		l := bk.LatencyMS
		p("| %s | %s | %s | %s | %.2f | **%.2f** | %.2f | %.1f | %.2f | %.1f | %d / %d | %s |\n", name, load, an, size,
			l.P50, l.P95, l.P99, l.Max, bk.MeanMS, bk.ReturnedMean, bk.MatchesP50, bk.MatchesMax, bk.PlanSummary)
	}
	for _, bk := range sp.Backends {
		if bk.Checked > 0 {
			p("\n%s: the explained query text answered %d of %d boxes with the same ids in the same order as `ListEvidence`", bk.Name+map[bool]string{true: " (analysed)", false: ""}[bk.Analyzed && bk.Name == "sqlite"], bk.CheckedOK, bk.Checked)
			if bk.Name == "postgres" {
				p("; the text is the one the store ran: %s", bk.TextVerified)
			}
			p(".")
		}
	}
	p("\n")
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
			if bk.StoreText != "" {
				p("\n**The store ran a different text** (the plan above may not be the store's):\n\n```sql\n%s\n```\n", bk.StoreText)
			}
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
	p("| benchmark | ns/op | B/op | allocs/op | other |\n|---|---:|---:|---:|---|\n")
	for _, bm := range g.Benchmarks {
		var other []string
		for k, v := range bm.Metrics {
			other = append(other, fmt.Sprintf("%s %s", trimFloat(v), k))
		}
		p("| `%s` | %s | %.0f | %.0f | %s |\n", bm.Name, thousands(int(bm.NsPerOp+0.5)), bm.BytesPerOp, bm.AllocsPerOp, strings.Join(other, ", "))
	}
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
	p("| phase | seconds | other CPU s | share | machine busy |\n|---|---:|---:|---:|---:|\n")
	var disturbed []string
	var other, capacity float64
	for _, l := range r.Load {
		p("| %s | %.1f | %.1f | %.0f%% | %.0f%% |\n", l.Phase, l.Seconds, l.OtherSeconds, l.Share*100, l.MachineBusyPct)
		if l.Share > disturbedShare {
			disturbed = append(disturbed, fmt.Sprintf("%s (%.0f%%)", l.Phase, l.Share*100))
		}
		other += l.OtherSeconds
		capacity += l.Seconds * float64(max(r.Machine.NProc, 1))
	}
	if capacity > 0 {
		p("\nOver the measured phases other work took %.0f%% of the machine.", other/capacity*100)
	}
	if len(disturbed) > 0 {
		p(" **Disturbed phases:** %s.\n", strings.Join(disturbed, "; "))
	} else {
		p(" No phase was disturbed.\n")
	}
}
