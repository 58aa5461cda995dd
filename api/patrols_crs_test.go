package api_test

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/geo"
)

// inCRS returns a copy of a GeoJSON track feature (as syntheticTrack
// returns it) with every WGS-84 vertex converted to crs, as a phone using
// the Amap, Tencent or Baidu location SDK would record the same walk.
func inCRS(t *testing.T, track map[string]any, crs geo.CRS) map[string]any {
	t.Helper()
	geom := track["geometry"].(map[string]any)
	coords := geom["coordinates"].([]any)
	out := make([]any, len(coords))
	for i, c := range coords {
		xy := c.([]any)
		p, err := geo.FromWGS84(geo.Point{Lon: xy[0].(float64), Lat: xy[1].(float64)}, crs)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = []any{p.Lon, p.Lat}
	}
	return map[string]any{"type": "Feature", "properties": track["properties"],
		"geometry": map[string]any{"type": "LineString", "coordinates": out}}
}

// gpxOf writes a GeoJSON track feature as a GPX 1.1 document.
func gpxOf(track map[string]any) string {
	coords := track["geometry"].(map[string]any)["coordinates"].([]any)
	times := track["properties"].(map[string]any)["times"].([]any)
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<gpx version="1.1" creator="fieldwatch test" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>`)
	for i, c := range coords {
		xy := c.([]any)
		fmt.Fprintf(&b, `<trkpt lat="%.9f" lon="%.9f"><time>%s</time></trkpt>`, xy[1].(float64), xy[0].(float64), times[i])
	}
	b.WriteString(`</trkseg></trk></gpx>`)
	return b.String()
}

// TestPatrolCRS: the same walk along the demo reach CH-02, recorded in
// WGS-84, GCJ-02 (Amap, Tencent) or BD-09 (Baidu) and sent as GeoJSON or
// GPX with its crs, is converted to WGS-84 on entry and scores the same
// coverage (within 1%) and the same verdict. Before the conversion the
// GCJ-02 walk, about 560 m off the river, was invalid with coverage 0.
func TestPatrolCRS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.importDemoCounty()
		a.mustUser("c.admin", "admin", pw)
		chief := a.mustUser("c.chief", "river_chief", pw)
		admin, _ := a.login("c.admin", pw)
		if r := a.do("PUT", "/v1/reaches/CH-02/chiefs", admin, []map[string]any{{"user_id": chief, "level": "village"}}); r.status != http.StatusOK {
			t.Fatalf("chiefs: %d %s", r.status, r.body)
		}
		tok, _ := a.login("c.chief", pw)
		start := time.Date(2026, 11, 28, 5, 0, 0, 0, time.UTC)
		walk := syntheticTrack(t, "full-walk", start)

		var ref *api.Patrol
		for _, tc := range []struct {
			name   string
			crs    geo.CRS
			send   string // crs field as sent; "" leaves it out (WGS-84)
			format string // "track" or "gpx"
		}{
			{"wgs84-default", geo.WGS84, "", "track"},
			{"wgs84", geo.WGS84, "wgs84", "track"},
			{"gcj02", geo.GCJ02, "gcj02", "track"},
			{"bd09", geo.BD09, "bd09", "track"},
			{"gpx-wgs84", geo.WGS84, "", "gpx"},
			{"gpx-gcj02", geo.GCJ02, "gcj02", "gpx"},
			{"gpx-bd09", geo.BD09, "bd09", "gpx"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				track := inCRS(t, walk, tc.crs)
				body := map[string]any{"reach_code": "CH-02"}
				if tc.format == "gpx" {
					body["gpx"] = gpxOf(track)
				} else {
					body["track"] = track
				}
				if tc.send != "" {
					body["crs"] = tc.send
				}
				key := uuid.NewString()
				r := a.patrol(tok, body, key)
				if r.status != http.StatusCreated {
					t.Fatalf("%d %s", r.status, r.body)
				}
				var p api.Patrol
				r.json(t, &p)
				if ref == nil {
					if !p.Valid || p.Coverage < 0.99 {
						t.Fatalf("the WGS-84 walk: %s", mustJSON(p))
					}
					ref = &p
				}
				if p.Valid != ref.Valid || math.Abs(p.Coverage-ref.Coverage) > 0.01 || math.Abs(p.LengthM-ref.LengthM) > 0.01*ref.LengthM {
					t.Fatalf("sent in %s: valid %v coverage %v length %v; in WGS-84: valid %v coverage %v length %v",
						tc.crs, p.Valid, p.Coverage, p.LengthM, ref.Valid, ref.Coverage, ref.LengthM)
				}
				// A retry with the same body answers the same patrol.
				if r := a.patrol(tok, body, key); r.status != http.StatusOK || !strings.Contains(string(r.body), p.Id.String()) {
					t.Fatalf("retry: %d %s", r.status, r.body)
				}
			})
		}

		// The same key with the same numbers in another crs is another
		// patrol: refused, not replayed.
		key := uuid.NewString()
		gcj := inCRS(t, walk, geo.GCJ02)
		if r := a.patrol(tok, map[string]any{"reach_code": "CH-02", "track": gcj, "crs": "gcj02"}, key); r.status != http.StatusCreated {
			t.Fatalf("gcj02: %d %s", r.status, r.body)
		}
		requireProblem(t, a.patrol(tok, map[string]any{"reach_code": "CH-02", "track": gcj, "crs": "bd09"}, key), http.StatusUnprocessableEntity)

		// An unknown crs is a validation problem naming the field.
		for _, bad := range []string{"bd09mc", "WGS84", ""} {
			p := requireProblem(t, a.patrol(tok, map[string]any{"reach_code": "CH-02", "track": walk, "crs": bad}, uuid.NewString()),
				http.StatusBadRequest)
			if !strings.Contains(mustJSON(p), "crs") {
				t.Errorf("crs %q: problem does not name the field: %s", bad, mustJSON(p))
			}
		}
	})
}
