package main

import (
	"fmt"
	"math"
	"slices"
)

// Target is one of the issue's acceptance targets and what the run made
// of it.
type Target struct {
	// Issue is the issue that set the target.
	Issue string `json:"issue"`
	Name  string `json:"name"`
	// Want is the target in words; Value and Limit its terms, with
	// HigherIsBetter saying which way it goes.
	Want           string  `json:"want"`
	Value          float64 `json:"value"`
	Limit          float64 `json:"limit"`
	Unit           string  `json:"unit"`
	HigherIsBetter bool    `json:"higher_is_better"`
	// Measured is false when the run that measures it was not part of
	// this report; Met is then false too.
	Measured bool   `json:"measured"`
	Met      bool   `json:"met"`
	Margin   string `json:"margin"` // by how much, in words
}

// judge fills in Met and Margin from Value and Limit.
func (t *Target) judge() {
	if !t.Measured {
		t.Margin = "not measured in this run"
		return
	}
	d := t.Value - t.Limit
	if !t.HigherIsBetter {
		d = -d
	}
	t.Met = d >= 0
	rel := ""
	if t.Limit != 0 {
		rel = fmt.Sprintf(" (%.0f%%)", math.Abs(t.Value-t.Limit)/math.Abs(t.Limit)*100)
	}
	amount := trimFloat(math.Abs(t.Value-t.Limit)) + t.Unit + rel
	switch {
	case t.Met && d == 0:
		t.Margin = "exactly at the target"
	case t.Met:
		t.Margin = amount + " to spare"
	case t.HigherIsBetter:
		t.Margin = amount + " short"
	default:
		t.Margin = amount + " over"
	}
}

// trimFloat prints v with up to three decimals and no trailing zeros.
func trimFloat(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

// readsIn returns run 3 of the given deployment, or nil.
func (r Report) readsIn(mode string) *ReadsResult {
	if r.Reads != nil && r.Reads.Mode == mode {
		return r.Reads
	}
	for i := range r.ReadsOther {
		if r.ReadsOther[i].Mode == mode {
			return &r.ReadsOther[i]
		}
	}
	return nil
}

// resultIn returns run 1 of the given deployment, or nil.
func (r Report) resultIn(mode string) *RunResult {
	for i := range r.Results {
		if r.Results[i].Mode == mode {
			return &r.Results[i]
		}
	}
	return nil
}

// targets judges the report against the issues' targets (issue 15's,
// and issue 9's that it did not replace).
func targets(r Report) []Target {
	var out []Target
	add := func(issue, name, want string, limit float64, unit string, higher bool, value float64, measured bool) {
		out = append(out, Target{Issue: issue, Name: name, Want: want, Limit: limit, Unit: unit, HigherIsBetter: higher,
			Value: value, Measured: measured})
	}
	// CPU per request at the sustainable rate (the hold), s3 mode.
	holdCPU := func(endpoint, comp string) (float64, string, bool) {
		rd := r.readsIn("s3")
		if rd == nil {
			return 0, "", false
		}
		t, ok := rd.target(endpoint)
		if !ok {
			return 0, "", false
		}
		st, where := cpuSample(t)
		v, ok := st.CPUPerRequestUS[comp]
		return v, where, ok && st.OK > 0
	}
	v, where, ok := holdCPU("get", "fieldwatch")
	add("15", "GET /v1/evidence/{id}: fieldwatch CPU", "≤ 150 µs per request (s3 mode, at the sustainable rate"+where+")", 150, " µs", false, v, ok)
	v, where, ok = holdCPU("get", "postgres")
	add("15", "GET /v1/evidence/{id}: PostgreSQL CPU", "≤ 80 µs per request (s3 mode"+where+")", 80, " µs", false, v, ok)
	for _, m := range []struct {
		mode, db string
		limit    float64
	}{{"local", "SQLite", 0.3}, {"s3", "PostGIS", 0.2}} {
		rd := r.readsIn(m.mode)
		ratio, ok := 0.0, false
		if rd != nil {
			if h, hok := rd.target("healthz"); hok && h.Sustainable > 0 {
				ratio, ok = rd.RatioGetToHealthz, true
			}
		}
		add("15", "GET /v1/evidence/{id}: sustainable rate, "+m.db+" ("+m.mode+")",
			f("≥ %.1f × /healthz requests/s (%s mode)", m.limit, m.mode), m.limit, "×", true, ratio, ok)
	}
	v, where, ok = holdCPU("list", "fieldwatch")
	add("15", "bbox list of 50: fieldwatch CPU", "≤ 900 µs per request (s3 mode"+where+")", 900, " µs", false, v, ok)
	v, where, ok = holdCPU("list", "postgres")
	add("15", "bbox list of 50: PostgreSQL CPU", "≤ 500 µs per request (s3 mode"+where+")", 500, " µs", false, v, ok)

	up := Target{Issue: "15", Name: "4 MiB upload: fieldwatch CPU, thumbnails off",
		Want: "≤ 15 ms per upload (s3 mode; profiled uploads less the thumbnail workers' share)", Limit: 15, Unit: " ms"}
	if res := r.resultIn("s3"); res != nil && res.UploadProfile != nil && res.UploadProfile.NoThumbnailsMS > 0 {
		// Thumbnail functions not found means no sample fell in them: the
		// profiled photos are 64×48, so their share is below the
		// profile's resolution and the total stands for "thumbnails off".
		up.Value, up.Measured = res.UploadProfile.NoThumbnailsMS, true
		if !res.UploadProfile.ThumbnailsFound {
			up.Want += " (this run: the thumbnail workers had no sample, so all of fieldwatch's CPU)"
		}
		if sz := res.UploadProfile.PhotoBytes; sz != 4<<20 {
			up.Want += f(" (this run: %.1f MiB photos)", mib(sz))
		}
	}
	out = append(out, up)
	ratio := Target{Issue: "15", Name: "upload throughput, thumbnails on", Want: "API ≥ 0.65 × raw PutObject (MiB/s, s3 mode)", Limit: 0.65, Unit: "×", HigherIsBetter: true}
	if res := r.resultIn("s3"); res != nil && res.Throughput.Ratio > 0 {
		ratio.Value, ratio.Measured = res.Throughput.Ratio, true
	}
	out = append(out, ratio)
	th := Target{Issue: "15", Name: "thumbnails: CPU per 12 MP JPEG", Want: "≤ 125 ms, i.e. ≥ 8 per second per core (s3 mode)", Limit: 125, Unit: " ms"}
	for _, mode := range []string{"s3", "local"} {
		if res := r.resultIn(mode); res != nil && res.Thumbnails != nil && res.Thumbnails.MSPerPhoto > 0 && !th.Measured {
			th.Value, th.Measured = res.Thumbnails.MSPerPhoto, true
			if mode != "s3" {
				th.Want = "≤ 125 ms, i.e. ≥ 8 per second per core (" + mode + " mode)"
			}
		}
	}
	out = append(out, th)

	// Run 2: uploads in flight at once.
	s := r.Slow
	n := "1,000"
	if s != nil && s.Clients != 1000 {
		n = thousands(s.Clients) + " (this run; the target is 1,000)"
	}
	add("15", "uploads in flight at once: peak RSS", "server peak RSS ≤ 256 MiB with "+n+" uploads in flight (run 2)", 256, " MiB", false,
		ifSlow(s, func(s *SlowResult) float64 { return s.PeakMiB }), s != nil)
	add("15", "uploads in flight at once: failures", "0 failed uploads or reads in run 2", 0, "", false,
		ifSlow(s, func(s *SlowResult) float64 { return float64(s.errorCount() + s.Reads.errorCount()) }), s != nil)
	add("15", "uploads in flight at once: reads meanwhile", "20 GET/s answered with p99 ≤ 500 ms during run 2", 500, " ms", false,
		ifSlow(s, func(s *SlowResult) float64 { return s.Reads.LatencyMS.P99 }), s != nil && s.Reads.OK > 0)
	add("15", "uploads in flight at once: reached", "requests in flight (peak in /metrics) ≥ the uploads sent at once", float64(ifSlowInt(s)), "", true,
		ifSlow(s, func(s *SlowResult) float64 { return float64(s.InFlightPeak) }), s != nil)

	loc := Target{Issue: "15", Name: "geo.Index.Locate", Want: "≤ 5 µs (`Locate/Synthetic`: 1,000 townships × 1,000 vertices, 10,000 reaches)", Limit: 5, Unit: " µs"}
	if g := r.GoBench; g != nil {
		for _, bm := range g.Benchmarks {
			if bm.Name == "Locate/Synthetic" {
				loc.Value, loc.Measured = round3(bm.NsPerOp/1000), true
			}
		}
	}
	out = append(out, loc)

	bbox := Target{Issue: "9", Name: "bbox list at 1M rows", Want: "p95 ≤ 20 ms on PostGIS with 1,000,000 evidence rows (run 4, in process)", Limit: 20, Unit: " ms"}
	if r.Spatial != nil {
		for _, b := range r.Spatial.Backends {
			if b.Name == "postgres" {
				bbox.Value, bbox.Measured = b.LatencyMS.P95, true
				if r.Spatial.Rows != 1_000_000 {
					bbox.Want += fmt.Sprintf(" (this run: %d rows)", r.Spatial.Rows)
				}
			}
		}
	}
	out = append(out, bbox)
	for i := range out {
		out[i].judge()
	}
	return out
}

// cpuSample is where a target's CPU per request is read: the hold at the
// sustainable rate; if no hold answered, the highest passing ramp step,
// else the lowest step that answered anything. where says which, when it
// is not the hold.
func cpuSample(t ReadTarget) (AttackStats, string) {
	if t.Hold.OK > 0 && t.HoldPassed {
		return t.Hold, ""
	}
	var best, low *AttackStats
	for i := range t.Steps {
		s := &t.Steps[i]
		if s.OK == 0 {
			continue
		}
		if s.Verdict == "ok" && (best == nil || s.OfferedRate > best.OfferedRate) {
			best = s
		}
		if low == nil || s.OfferedRate < low.OfferedRate {
			low = s
		}
	}
	switch {
	case best != nil:
		return *best, f("; this run: no hold passed, at the ramp's %.0f/s", best.OfferedRate)
	case low != nil:
		return *low, f("; this run: nothing sustained, at a failing %.0f/s", low.OfferedRate)
	case t.Hold.OK > 0:
		return t.Hold, "; this run: at a failing hold"
	}
	return AttackStats{}, ""
}

func ifSlow(s *SlowResult, v func(*SlowResult) float64) float64 {
	if s == nil {
		return 0
	}
	return v(s)
}

func ifSlowInt(s *SlowResult) int {
	if s == nil {
		return 1000
	}
	return s.Clients
}

// PhaseLoad is how much of the machine other work took during a phase.
type PhaseLoad struct {
	Phase        string  `json:"phase"`
	Seconds      float64 `json:"seconds"`
	OtherSeconds float64 `json:"other_cpu_seconds"`
	// Share is OtherSeconds over the machine's capacity in the phase
	// (Seconds × CPUs).
	Share          float64 `json:"share"`
	MachineBusyPct float64 `json:"machine_busy_pct"`
}

func machineLoad(r Report) []PhaseLoad {
	nproc := r.Machine.NProc
	var out []PhaseLoad
	add := func(phase string, u CPUUse, wall float64) {
		if wall <= 0 || u.Seconds == nil {
			return
		}
		out = append(out, PhaseLoad{Phase: phase, Seconds: round3(wall), OtherSeconds: u.Seconds["other"],
			Share: round3(u.disturbedBy(wall, nproc)), MachineBusyPct: u.MachineBusyPct})
	}
	for _, res := range r.Results {
		t := res.Throughput
		add(res.Mode+" run 1: memory burst", res.Memory.Load.CPU, res.Memory.Load.WallSeconds)
		for i, s := range t.Baseline {
			add(fmt.Sprintf("%s run 1: baseline %s", res.Mode, []string{"before", "after"}[min(i, 1)]), s.CPU, s.WallSeconds)
		}
		add(res.Mode+" run 1: API uploads", t.API.CPU, t.API.WallSeconds)
		if up := res.UploadProfile; up != nil {
			add(res.Mode+" run 1: profiled uploads", up.CPU, up.Profile.Seconds)
		}
		if th := res.Thumbnails; th != nil {
			add(res.Mode+" run 1: 12 MP thumbnails", th.CPU, th.WallSeconds)
		}
	}
	if s := r.Slow; s != nil {
		add(s.Mode+" run 2: slow uploads", s.CPU, s.WallSeconds)
	}
	reads := slices.Clone(r.ReadsOther)
	if r.Reads != nil {
		reads = append([]ReadsResult{*r.Reads}, reads...)
	}
	for _, rd := range reads {
		for _, t := range rd.Targets {
			var ramp CPUUse
			var wall, busy float64
			for _, st := range t.Steps {
				ramp = addCPU(ramp, st.CPU)
				wall += st.Seconds
				busy += st.CPU.MachineBusyPct * st.Seconds
			}
			if wall > 0 {
				ramp.MachineBusyPct = math.Round(busy/wall*10) / 10
			}
			add(rd.Mode+" run 3: "+t.Name+" ramp", ramp, wall)
			add(rd.Mode+" run 3: "+t.Name+" hold", t.Hold.CPU, t.Hold.Seconds)
		}
	}
	if sp := r.Spatial; sp != nil {
		for _, b := range sp.Backends {
			name := "run 4: " + b.Name + " queries"
			if b.Name == "sqlite" && !b.Analyzed {
				name += " (before ANALYZE)"
			}
			add(name, b.CPU, b.TimingSec)
		}
	}
	if g := r.GoBench; g != nil {
		add("run 5: geo benchmarks", g.CPU, g.WallSeconds)
	}
	return out
}

// addCPU sums CPU seconds (the shares are not summed).
func addCPU(a, b CPUUse) CPUUse {
	if b.Seconds == nil {
		return a
	}
	if a.Seconds == nil {
		a.Seconds = map[string]float64{}
	}
	for k, v := range b.Seconds {
		a.Seconds[k] += v
	}
	return a
}
