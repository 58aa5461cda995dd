package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/api"
)

// syntheticTrack reads a generated track over CH-02 (geo/testdata) and
// moves it in time so it starts at start.
func syntheticTrack(t *testing.T, name string, start time.Time) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "geo", "testdata", "tracks", "synthetic", name+".geojson"))
	if err != nil {
		t.Fatal(err)
	}
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	props := f["properties"].(map[string]any)
	times := props["times"].([]any)
	first, err := time.Parse(time.RFC3339, times[0].(string))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range times {
		at, err := time.Parse(time.RFC3339, v.(string))
		if err != nil {
			t.Fatal(err)
		}
		times[i] = start.Add(at.Sub(first)).Format(time.RFC3339)
	}
	return map[string]any{"type": "Feature", "geometry": f["geometry"], "properties": map[string]any{"times": times}}
}

func (a *testAPI) patrol(token string, body map[string]any, key string) response {
	a.t.Helper()
	return a.do("POST", "/v1/patrols", token, body, "Idempotency-Key", key)
}

// TestPatrols records synthetic patrols over the demo reach CH-02 through
// HTTP and checks the verdicts, scope and idempotency.
func TestPatrols(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.importDemoCounty()
		a.mustUser("p.admin", "admin", pw)
		chief := a.mustUser("p.chief", "river_chief", pw)
		a.mustUser("p.officer", "township_officer", pw, "130227108") // CH-02's township
		a.mustUser("p.other", "township_officer", pw, townshipA)
		a.mustUser("p.ins", "inspector", pw, "130227108")
		admin, _ := a.login("p.admin", pw)
		if r := a.do("PUT", "/v1/reaches/CH-02/chiefs", admin, []map[string]any{{"user_id": chief, "level": "village"}}); r.status != http.StatusOK {
			t.Fatalf("chiefs: %d %s", r.status, r.body)
		}
		tok := map[string]string{}
		for _, n := range []string{"p.chief", "p.officer", "p.other", "p.ins"} {
			tok[n], _ = a.login(n, pw)
		}
		start := time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC) // Saturday 13:00 in China, before the clock

		ids := map[string]string{}
		for _, tc := range []struct {
			name     string
			valid    bool
			reason   string
			coverage [2]float64
		}{
			{"full-walk", true, "", [2]float64{0.99, 1}},
			{"half-walk", true, "", [2]float64{0.49, 0.53}},
			{"drive", false, "vehicle_speed", [2]float64{0.99, 1}},
			{"teleport", false, "teleport", [2]float64{0, 1}},
			{"other-reach", false, "too_short_length_and_coverage", [2]float64{0, 0}},
		} {
			key := uuid.NewString()
			body := map[string]any{"reach_code": "CH-02", "track": syntheticTrack(t, tc.name, start), "note": "巡河 " + tc.name}
			r := a.patrol(tok["p.chief"], body, key)
			if r.status != http.StatusCreated {
				t.Fatalf("%s: %d %s", tc.name, r.status, r.body)
			}
			var p api.Patrol
			r.json(t, &p)
			if p.Valid != tc.valid || (tc.reason != "" && !strings.Contains(strings.Join(p.Reasons, ","), tc.reason)) ||
				p.Coverage < tc.coverage[0] || p.Coverage > tc.coverage[1] || p.TownshipCode == nil || *p.TownshipCode != "130227108" {
				t.Fatalf("%s: %s", tc.name, mustJSON(p))
			}
			ids[tc.name] = p.Id.String()
			// A retry answers the same patrol; the key with another body is refused.
			if r := a.patrol(tok["p.chief"], body, key); r.status != http.StatusOK || !strings.Contains(string(r.body), p.Id.String()) {
				t.Fatalf("%s retry: %d %s", tc.name, r.status, r.body)
			}
		}
		if r := a.patrol(tok["p.chief"], map[string]any{"reach_code": "CH-02", "track": syntheticTrack(t, "gap", start)}, uuid.NewString()); r.status != http.StatusCreated {
			t.Fatalf("gap: %d %s", r.status, r.body)
		}

		// GPX works too; a track with times going backwards is refused
		// with the fix named.
		gpx, err := os.ReadFile(filepath.Join("..", "geo", "testdata", "tracks", "valid.gpx"))
		if err != nil {
			t.Fatal(err)
		}
		if r := a.patrol(tok["p.chief"], map[string]any{"reach_code": "CH-02", "gpx": string(gpx)}, uuid.NewString()); r.status != http.StatusCreated {
			t.Fatalf("gpx: %d %s", r.status, r.body)
		}
		bad := syntheticTrack(t, "short-walk", start)
		bad["properties"].(map[string]any)["times"].([]any)[5] = "2026-11-01T00:00:00Z"
		p := requireProblem(t, a.patrol(tok["p.chief"], map[string]any{"reach_code": "CH-02", "track": bad}, uuid.NewString()),
			http.StatusUnprocessableEntity)
		if p.Fields == nil || !strings.HasPrefix((*p.Fields)[0].Field, "/track/fixes/") {
			t.Fatalf("bad track: %s", mustJSON(p))
		}
		requireProblem(t, a.patrol(tok["p.chief"], map[string]any{"reach_code": "CH-02"}, uuid.NewString()), http.StatusUnprocessableEntity)

		// Scope: a chief patrols only their reaches; inspectors do not patrol.
		requireProblem(t, a.patrol(tok["p.chief"], map[string]any{"reach_code": "LH-03", "track": syntheticTrack(t, "full-walk", start)},
			uuid.NewString()), http.StatusNotFound)
		requireProblem(t, a.patrol(tok["p.ins"], map[string]any{"reach_code": "CH-02", "track": syntheticTrack(t, "full-walk", start)},
			uuid.NewString()), http.StatusForbidden)
		for name, want := range map[string]int{"p.chief": 7, "p.officer": 7, "p.other": 0, "p.ins": 0} {
			var page api.PatrolPage
			a.do("GET", "/v1/patrols?limit=100", tok[name], nil).json(t, &page)
			if len(page.Items) != want {
				t.Errorf("%s lists %d patrols, want %d", name, len(page.Items), want)
			}
		}
		var valid api.PatrolPage
		a.do("GET", "/v1/reaches/CH-02/patrols", tok["p.officer"], nil).json(t, &valid)
		if len(valid.Items) != 7 {
			t.Fatalf("reach patrols: %d", len(valid.Items))
		}
		requireProblem(t, a.do("GET", "/v1/reaches/CH-02/patrols", tok["p.other"], nil), http.StatusNotFound)
		requireProblem(t, a.do("GET", "/v1/patrols/"+ids["full-walk"], tok["p.other"], nil), http.StatusNotFound)
		var d api.PatrolDetail
		r := a.do("GET", "/v1/patrols/"+ids["full-walk"], tok["p.officer"], nil)
		r.json(t, &d)
		if r.status != http.StatusOK || d.Track.Geometry["type"] != "LineString" || len(d.Track.Properties["times"].([]any)) != d.Fixes {
			t.Fatalf("detail: %d %s", r.status, r.body[:min(len(r.body), 300)])
		}

		// Compliance for November: the village chief's one week (the one
		// they were assigned in, ending Sunday 29th) has valid patrols.
		var c api.Compliance
		r = a.do("GET", "/v1/patrols/compliance?month=2026-11", tok["p.officer"], nil)
		r.json(t, &c)
		if r.status != http.StatusOK || len(c.Items) != 1 {
			t.Fatalf("compliance: %d %s", r.status, r.body)
		}
		row := c.Items[0]
		if row.ChiefId.String() != chief || row.Required != 1 || row.Met != 1 || !row.Compliant || row.ValidPatrols != 3 || row.Level != "village" {
			t.Fatalf("compliance row %s", mustJSON(row))
		}
		var other api.Compliance
		a.do("GET", "/v1/patrols/compliance?month=2026-11", tok["p.other"], nil).json(t, &other)
		if len(other.Items) != 0 {
			t.Fatalf("other township sees %d rows", len(other.Items))
		}
		requireProblem(t, a.do("GET", "/v1/patrols/compliance?month=2026-13", tok["p.officer"], nil), http.StatusBadRequest)
	})
}
