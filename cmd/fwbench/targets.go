package main

import (
	"fmt"
	"math"
)

// Target is one of the acceptance targets and what the run made
// of it.
type Target struct {
	Name string `json:"name"`
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

// targets judges the report against the targets.
func targets(r Report) []Target {
	upload := Target{Name: "upload throughput", Want: "API ≥ 0.8 × raw PutObject (MiB/s, s3 mode)", Limit: 0.8, Unit: "×", HigherIsBetter: true}
	for _, res := range r.Results {
		if res.Mode == "s3" && res.Throughput.Ratio > 0 {
			upload.Value, upload.Measured = res.Throughput.Ratio, true
		}
	}
	rss := Target{Name: "slow uploads: peak RSS", Want: "server peak RSS ≤ 256 MiB in run 2", Limit: 256, Unit: " MiB"}
	errs := Target{Name: "slow uploads: errors", Want: "0 failed uploads or reads in run 2", Limit: 0, Unit: ""}
	if s := r.Slow; s != nil {
		rss.Value, rss.Measured = s.PeakMiB, true
		errs.Value, errs.Measured = float64(s.errorCount()+s.Reads.errorCount()), true
	}
	reads := Target{Name: "authenticated reads", Want: "GET /v1/evidence/{id} ≥ 0.5 × /healthz requests/s", Limit: 0.5, Unit: "×", HigherIsBetter: true}
	if r.Reads != nil {
		if h, ok := r.Reads.target("healthz"); ok && h.Sustainable > 0 {
			reads.Value, reads.Measured = r.Reads.RatioGetToHealthz, true
		}
	}
	bbox := Target{Name: "bbox list at 1M rows", Want: "p95 ≤ 20 ms on PostGIS with 1,000,000 evidence rows", Limit: 20, Unit: " ms"}
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
	out := []Target{upload, rss, errs, reads, bbox}
	for i := range out {
		out[i].judge()
	}
	return out
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
	}
	if s := r.Slow; s != nil {
		add(s.Mode+" run 2: slow uploads", s.CPU, s.WallSeconds)
	}
	if rd := r.Reads; rd != nil {
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
