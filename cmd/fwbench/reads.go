package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// readsConfig is what `fwbench reads` was asked to measure.
type readsConfig struct {
	serverConfig
	Step  time.Duration // each ramp step
	Hold  time.Duration // the confirmation run at the sustainable rate
	Pause time.Duration // between steps, for queues to empty
	Start float64       // first rate of every ramp (0: each target's own, below)
	// First rates of each target's ramp: near the last known sustainable
	// rate divided by a few factors, so the ramp spends its steps where
	// it matters.
	StartHealthz, StartGet, StartList float64
	Factor                            float64
	MaxRate                           float64
	Refine                            int
	P99Max                            time.Duration // pass rule
	ReqLimit                          time.Duration // per-request timeout
	BBoxHalf                          float64       // half the side of the list's bbox, degrees
	Page                              int           // list page size
	Profile                           time.Duration // perf profile of the server at each sustainable rate (0: none)
	Perf                              string        // the perf binary
}

func parseReadsFlags(args []string, getenv func(string) string, stderr io.Writer) (readsConfig, error) {
	var c readsConfig
	fs := flag.NewFlagSet("fwbench reads", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.serverConfig.register(fs, getenv, 8*time.Minute, 60*time.Second)
	fs.DurationVar(&c.Step, "step", 3*time.Second, "duration of each ramp step")
	fs.DurationVar(&c.Hold, "hold", 8*time.Second, "duration of the confirmation run at the sustainable rate")
	fs.DurationVar(&c.Pause, "pause", 500*time.Millisecond, "pause between steps")
	fs.Float64Var(&c.Start, "start-rate", 0, "first rate of every ramp, requests/s (0: -start-healthz, -start-get, -start-list)")
	fs.Float64Var(&c.StartHealthz, "start-healthz", 1600, "first rate of the /healthz ramp, requests/s")
	fs.Float64Var(&c.StartGet, "start-get", 200, "first rate of the GET /v1/evidence/{id} ramp, requests/s")
	fs.Float64Var(&c.StartList, "start-list", 100, "first rate of the bbox list ramp, requests/s")
	fs.Float64Var(&c.Factor, "factor", 2, "rate multiplier between ramp steps")
	fs.Float64Var(&c.MaxRate, "max-rate", 51200, "highest rate tried, requests/s")
	fs.IntVar(&c.Refine, "refine", 2, "steps that narrow the gap between the last passing and the first failing rate")
	fs.DurationVar(&c.P99Max, "p99-max", 100*time.Millisecond, "a step passes with no error, answers ≥ 95% of the offered rate and p99 within this")
	fs.DurationVar(&c.ReqLimit, "request-timeout", 5*time.Second, "per-request timeout")
	fs.Float64Var(&c.BBoxHalf, "bbox-half", 0.005, "half the side of the listed bbox, degrees (0.005° ≈ 0.5 km)")
	fs.IntVar(&c.Page, "page", 50, "list page size")
	fs.DurationVar(&c.Profile, "profile", 4*time.Second, "after each hold, profile the server with perf for this long at the same rate (0: no profile)")
	fs.StringVar(&c.Perf, "perf", "perf", "the perf binary (no profile when it is not found)")
	err := parseFlags(fs, args, func() []error {
		errs := c.serverConfig.validate()
		inRange(&errs, "step", c.Step.Seconds(), 0.5, 60)
		inRange(&errs, "hold", c.Hold.Seconds(), 0.5, 120)
		inRange(&errs, "pause", c.Pause.Seconds(), 0, 10)
		if c.Start != 0 {
			inRange(&errs, "start-rate", c.Start, 1, 100000)
			c.StartHealthz, c.StartGet, c.StartList = c.Start, c.Start, c.Start
		}
		inRange(&errs, "start-healthz", c.StartHealthz, 1, 100000)
		inRange(&errs, "start-get", c.StartGet, 1, 100000)
		inRange(&errs, "start-list", c.StartList, 1, 100000)
		inRange(&errs, "factor", c.Factor, 1.1, 10)
		inRange(&errs, "max-rate", c.MaxRate, max(c.StartHealthz, c.StartGet, c.StartList), 200000)
		inRange(&errs, "refine", float64(c.Refine), 0, 6)
		inRange(&errs, "p99-max", c.P99Max.Seconds(), 0.001, 10)
		inRange(&errs, "request-timeout", c.ReqLimit.Seconds(), 0.1, 60)
		inRange(&errs, "bbox-half", c.BBoxHalf, 0.0001, 0.5)
		inRange(&errs, "page", float64(c.Page), 1, 500)
		inRange(&errs, "profile", c.Profile.Seconds(), 0, 60)
		return errs
	})
	return c, err
}

// ReadsResult is run 3: read throughput and latency against /healthz.
type ReadsResult struct {
	Mode       string    `json:"mode"`
	Label      string    `json:"label"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Machine    Machine   `json:"machine"`
	// EvidenceIDs is how many evidence ids the GET target cycles through.
	EvidenceIDs int `json:"evidence_ids"`
	// BBox is the listed box; BBoxItems the evidence in it visible to
	// the caller (up to 500 counted), PageItems the items per answer.
	BBox      string  `json:"bbox"`
	BBoxItems int     `json:"bbox_items"`
	PageItems int     `json:"page_items"`
	Step      float64 `json:"step_seconds"`
	Hold      float64 `json:"hold_seconds"`
	// Rule is the pass rule of a step, in words.
	Rule    string       `json:"rule"`
	Targets []ReadTarget `json:"targets"`
	// Ratios of sustainable rates: authenticated GET (and bbox list)
	// over /healthz.
	RatioGetToHealthz  float64 `json:"ratio_get_to_healthz"`
	RatioListToHealthz float64 `json:"ratio_list_to_healthz"`
}

// ReadTarget is one endpoint's ramp and confirmation.
type ReadTarget struct {
	Name    string        `json:"name"`    // healthz, get, list
	Request string        `json:"request"` // what is sent
	Steps   []AttackStats `json:"steps"`
	// Sustainable is the highest offered rate that passed; Capped means
	// no step failed up to the highest rate tried (the real limit is
	// higher).
	Sustainable float64     `json:"sustainable_rate"`
	Capped      bool        `json:"capped"`
	Hold        AttackStats `json:"hold"`
	HoldPassed  bool        `json:"hold_passed"`
	// RampRate is the highest rate the ramp passed. The hold is tried
	// there, then (if it fails) at the geometric middle between it and the
	// next lower passing step, then at that step (holdRates);
	// FailedHolds are the holds that failed. Sustainable is the rate
	// that held, or RampRate if none did (HoldPassed false).
	RampRate    float64       `json:"ramp_rate"`
	FailedHolds []AttackStats `json:"failed_holds,omitempty"`
	// Profile is the server's CPU profile during a further run at the
	// sustainable rate (not the hold: perf's sampling costs a little).
	Profile *Profile `json:"profile,omitempty"`
}

func (r ReadsResult) target(name string) (ReadTarget, bool) {
	for _, t := range r.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return ReadTarget{}, false
}

// runReads measures run 3 on the running server.
func runReads(ctx context.Context, c readsConfig, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	say := func(format string, a ...any) { fmt.Fprintf(stdout, "    "+format+"\n", a...) }
	res := ReadsResult{Mode: c.Mode, Label: c.Label, StartedAt: time.Now().UTC(), Machine: describeMachine(),
		Step: c.Step.Seconds(), Hold: c.Hold.Seconds(),
		Rule: fmt.Sprintf("no error, answers ≥ 95%% of the offered rate, p99 ≤ %v", c.P99Max)}
	photos, err := loadPhotos(c.PhotoDir)
	if err != nil {
		return err
	}
	api := newAPIClient(c.URL, 4)
	defer api.closeIdle()
	if err := api.login(ctx, c.Username, c.Password); err != nil {
		return err
	}
	ids, err := listIDs(ctx, api, 500)
	if err != nil {
		return err
	}
	res.EvidenceIDs = len(ids)
	box, n, err := busiestBox(ctx, api, photos, c.BBoxHalf)
	if err != nil {
		return err
	}
	res.BBox, res.BBoxItems = box, n
	listPath := "/v1/evidence?bbox=" + url.QueryEscape(box) + fmt.Sprintf("&limit=%d", c.Page)
	var page evidencePage
	if err := api.getJSON(ctx, listPath, &page); err != nil {
		return err
	}
	res.PageItems = len(page.Items)
	say("%d evidence ids; bbox %s holds %d items (%d per answer)", len(ids), box, n, res.PageItems)

	auth := http.Header{"Authorization": {"Bearer " + api.token}}
	var gets []vegeta.Target
	for _, id := range ids {
		gets = append(gets, vegeta.Target{Method: http.MethodGet, URL: api.base + "/v1/evidence/" + id, Header: auth})
	}
	targets := []struct {
		name, request string
		tg            []vegeta.Target
		start         float64
	}{
		{"healthz", "GET /healthz (no token)", []vegeta.Target{{Method: http.MethodGet, URL: api.base + "/healthz"}}, c.StartHealthz},
		{"get", fmt.Sprintf("GET /v1/evidence/{id} (bearer token, %d ids in turn)", len(ids)), gets, c.StartGet},
		{"list", fmt.Sprintf("GET /v1/evidence?bbox=…&limit=%d (bearer token, %d items per answer)", c.Page, res.PageItems),
			[]vegeta.Target{{Method: http.MethodGet, URL: api.base + listPath, Header: auth}}, c.StartList},
	}
	cpu := newCPUMeter(c.ServerPID, c.S3PID, c.DBPID)
	atk := newAttacker(c.ReqLimit, cpu)
	defer atk.closeIdle()
	perfBin := ""
	if c.Profile > 0 {
		if perfBin, err = exec.LookPath(c.Perf); err != nil {
			say("no profiles: %v", err)
			perfBin = ""
		}
	}
	ok := sustains(c.P99Max)
	for _, t := range targets {
		rt := ReadTarget{Name: t.name, Request: t.request}
		say("ramp %s", t.request)
		settle(ctx, c.ServerPID, 20*time.Second)
		measure := func(rate float64) (AttackStats, error) {
			s, err := atk.run(ctx, t.name, t.tg, rate, c.Step, nil)
			if err != nil {
				return s, err
			}
			s.Verdict = verdict(ok(s))
			say("  %s  %s", s.summary(), s.Verdict)
			return s, sleepCtx(ctx, c.Pause)
		}
		rt.Steps, rt.Sustainable, err = findSustainable(measure, ok, t.start, c.Factor, c.MaxRate, c.Refine)
		if err != nil {
			return err
		}
		rt.Capped = len(rt.Steps) > 0 && ok(rt.Steps[len(rt.Steps)-1])
		rt.RampRate = rt.Sustainable
		// Hold the highest passing rate; if it does not hold, the rate
		// halfway (geometrically) to the next lower passing step, then
		// that step.
		for _, rate := range holdRates(rt.Steps, rt.RampRate, ok) {
			atk.closeIdle()
			settle(ctx, c.ServerPID, 20*time.Second)
			h, err := atk.run(ctx, t.name, t.tg, rate, c.Hold, nil)
			if err != nil {
				return err
			}
			h.Verdict = verdict(ok(h))
			say("  hold %s  %s", h.summary(), h.Verdict)
			if rt.HoldPassed = ok(h); rt.HoldPassed {
				rt.Hold, rt.Sustainable = h, rate
				break
			}
			rt.FailedHolds = append(rt.FailedHolds, h)
			rt.Hold = h
		}
		if rt.Sustainable > 0 {
			if perfBin != "" {
				prof, err := profileWhile(ctx, perfBin, c.ServerPID, c.Profile, os.TempDir(), func() error {
					_, err := atk.run(ctx, t.name, t.tg, rt.Sustainable, c.Profile, nil)
					return err
				})
				if err != nil {
					say("  no profile: %v", err)
				} else {
					prof.Rate = rt.Sustainable
					rt.Profile = &prof
					say("  profile: %.1f CPU s; %s", prof.CPUSeconds, sharesString(prof.Groups, 4))
				}
			}
		}
		atk.closeIdle()
		res.Targets = append(res.Targets, rt)
	}
	h, _ := res.target("healthz")
	g, _ := res.target("get")
	l, _ := res.target("list")
	if h.Sustainable > 0 {
		res.RatioGetToHealthz = round3(g.Sustainable / h.Sustainable)
		res.RatioListToHealthz = round3(l.Sustainable / h.Sustainable)
	}
	say("sustainable: healthz %.0f/s, GET %.0f/s, list %.0f/s; GET / healthz %.3f",
		h.Sustainable, g.Sustainable, l.Sustainable, res.RatioGetToHealthz)
	res.FinishedAt = time.Now().UTC()
	return writeJSON(c.Out, res)
}

// evidencePage is the part of GET /v1/evidence's answer fwbench reads.
type evidencePage struct {
	Items []struct {
		ID string `json:"id"`
	} `json:"items"`
	Next string `json:"next_cursor"`
}

// listIDs returns up to max evidence ids visible to the client, newest
// first.
func listIDs(ctx context.Context, api *apiClient, max int) ([]string, error) {
	var page evidencePage
	if err := api.getJSON(ctx, fmt.Sprintf("/v1/evidence?limit=%d", max), &page); err != nil {
		return nil, err
	}
	var ids []string
	for _, it := range page.Items {
		ids = append(ids, it.ID)
	}
	if len(ids) == 0 {
		return nil, errors.New("the server lists no evidence: run the upload benchmark first")
	}
	return ids, nil
}

// busiestBox returns the bbox around the test photos' positions that holds
// the most evidence (counted up to 500), and that count.
func busiestBox(ctx context.Context, api *apiClient, photos []basePhoto, half float64) (string, int, error) {
	best, bestN := "", -1
	for _, p := range photos {
		if p.at == nil {
			continue
		}
		box := fmt.Sprintf("%.6f,%.6f,%.6f,%.6f", p.at.Lon-half, p.at.Lat-half, p.at.Lon+half, p.at.Lat+half)
		var page evidencePage
		if err := api.getJSON(ctx, "/v1/evidence?limit=500&bbox="+url.QueryEscape(box), &page); err != nil {
			return "", 0, err
		}
		if len(page.Items) > bestN {
			best, bestN = box, len(page.Items)
		}
	}
	if bestN <= 0 {
		return "", 0, errors.New("no evidence near any test photo's position: run the upload benchmark first")
	}
	return best, bestN, nil
}

// writeJSON writes v, indented, to path.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// sharesString prints the first n shares.
func sharesString(ss []Share, n int) string {
	var parts []string
	for _, s := range ss[:min(n, len(ss))] {
		parts = append(parts, fmt.Sprintf("%s %.1f%%", s.Name, s.Pct))
	}
	return strings.Join(parts, ", ")
}

// holdRates are the rates a hold is tried at, highest first: the ramp's
// best, the geometric middle between it and the next lower passing step,
// and that step.
func holdRates(steps []AttackStats, best float64, ok func(AttackStats) bool) []float64 {
	if best <= 0 {
		return nil
	}
	out := []float64{best}
	if lower := nextLowerPassing(steps, best, ok); lower > 0 {
		if mid := math.Round(math.Sqrt(lower * best)); mid > lower && mid < best {
			out = append(out, mid)
		}
		out = append(out, lower)
	}
	return out
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAILS"
}

// nextLowerPassing returns the highest rate below rate at which a step
// passed, or 0.
func nextLowerPassing(steps []AttackStats, rate float64, ok func(AttackStats) bool) float64 {
	best := 0.0
	for _, s := range steps {
		if s.OfferedRate < rate && ok(s) {
			best = max(best, s.OfferedRate)
		}
	}
	return best
}
