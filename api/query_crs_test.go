package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/geo"
)

// TestListEvidenceQueryCRS: a near= point and a bbox= sent in GCJ-02
// (Amap, Tencent) or BD-09 (Baidu) with their crs are converted to WGS-84
// on entry and find the same evidence as the WGS-84 query. The GCJ-02
// point read as WGS-84 (no crs) lies about 500 m off and finds nothing;
// an unknown crs is a 400 problem.
func TestListEvidenceQueryCRS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.mustUser("insp", "inspector", pw, "130227101")
		a.mustUser("admin", "admin", pw)
		tok, _ := a.login("insp", pw)
		admin, _ := a.login("admin", pw)
		var ids []string
		for i, f := range []string{"dust-xingcheng.jpg", "river-lh03.jpg", "river-ch03.jpg"} {
			a.clock.Advance(time.Minute)
			ids = append(ids, a.mustUpload(tok, uniquePhoto(t, f, i), map[string]any{"category": "river_section"}).Id.String())
		}
		lh03 := ids[1] // photographed at 118.27779, 40.253348 (WGS-84)

		in := func(t *testing.T, p geo.Point, crs geo.CRS) geo.Point {
			t.Helper()
			q, err := geo.FromWGS84(p, crs)
			if err != nil {
				t.Fatal(err)
			}
			return q
		}
		list := func(t *testing.T, query string) []string {
			t.Helper()
			r := a.do("GET", "/v1/evidence?"+query, admin, nil)
			if r.status != http.StatusOK {
				t.Fatalf("%s: %d %s", query, r.status, r.body)
			}
			var page api.EvidencePage
			r.json(t, &page)
			out := make([]string, len(page.Items))
			for i, e := range page.Items {
				out[i] = e.Id.String()
			}
			return out
		}
		near := geo.Point{Lon: 118.27779, Lat: 40.2535}
		lo, hi := geo.Point{Lon: 118.27, Lat: 40.25}, geo.Point{Lon: 118.29, Lat: 40.26}
		for _, tc := range []struct {
			name string
			crs  geo.CRS
			send string // crs as sent; "" leaves it out (WGS-84)
		}{
			{"wgs84-default", geo.WGS84, ""},
			{"wgs84", geo.WGS84, "wgs84"},
			{"gcj02", geo.GCJ02, "gcj02"},
			{"bd09", geo.BD09, "bd09"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				suffix := ""
				if tc.send != "" {
					suffix = "&crs=" + tc.send
				}
				p := in(t, near, tc.crs)
				got := list(t, fmt.Sprintf("near=%.7f,%.7f&radius_m=100%s", p.Lon, p.Lat, suffix))
				if len(got) != 1 || got[0] != lh03 {
					t.Fatalf("near in %s: %v, want [%s]", tc.name, got, lh03)
				}
				l, h := in(t, lo, tc.crs), in(t, hi, tc.crs)
				got = list(t, fmt.Sprintf("bbox=%.7f,%.7f,%.7f,%.7f%s", l.Lon, l.Lat, h.Lon, h.Lat, suffix))
				if len(got) != 1 || got[0] != lh03 {
					t.Fatalf("bbox in %s: %v, want [%s]", tc.name, got, lh03)
				}
			})
		}
		t.Run("gcj02-read-as-wgs84", func(t *testing.T) {
			p := in(t, near, geo.GCJ02)
			if got := list(t, fmt.Sprintf("near=%.7f,%.7f&radius_m=100", p.Lon, p.Lat)); len(got) != 0 {
				t.Fatalf("GCJ-02 point without crs found %v; the offset should miss", got)
			}
		})
		t.Run("bad-crs", func(t *testing.T) {
			for _, q := range []string{
				"near=118.27779,40.2535&radius_m=100&crs=epsg4326",
				"bbox=118.27,40.25,118.29,40.26&crs=GCJ02",
				"crs=",
			} {
				requireProblem(t, a.do("GET", "/v1/evidence?"+q, admin, nil), http.StatusBadRequest)
			}
			requireProblem(t, a.do("GET", "/v1/reaches?bbox=118,40,119,41&crs=mars", admin, nil), http.StatusBadRequest)
		})
	})
}

// TestListReachesBBoxCRS: a reaches bbox around CH-02's first vertex, sent
// in WGS-84, GCJ-02 or BD-09 with its crs, lists the same reaches.
func TestListReachesBBoxCRS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.importDemoCounty()
		a.mustUser("admin", "admin", pw)
		admin, _ := a.login("admin", pw)
		r := a.do("GET", "/v1/reaches/CH-02", admin, nil)
		if r.status != http.StatusOK {
			t.Fatalf("reach: %d %s", r.status, r.body)
		}
		var ch02 struct {
			Geometry struct {
				Type        string          `json:"type"`
				Coordinates json.RawMessage `json:"coordinates"`
			} `json:"geometry"`
		}
		r.json(t, &ch02)
		var line [][]float64
		if err := json.Unmarshal(ch02.Geometry.Coordinates, &line); err != nil {
			var multi [][][]float64
			if err := json.Unmarshal(ch02.Geometry.Coordinates, &multi); err != nil {
				t.Fatalf("CH-02 geometry %s: %v", ch02.Geometry.Type, err)
			}
			line = multi[0]
		}
		v := geo.Point{Lon: line[0][0], Lat: line[0][1]}
		lo, hi := geo.Point{Lon: v.Lon - 0.003, Lat: v.Lat - 0.003}, geo.Point{Lon: v.Lon + 0.003, Lat: v.Lat + 0.003}
		codes := func(t *testing.T, crs geo.CRS, send string) []string {
			t.Helper()
			l, err1 := geo.FromWGS84(lo, crs)
			h, err2 := geo.FromWGS84(hi, crs)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			q := fmt.Sprintf("/v1/reaches?bbox=%.7f,%.7f,%.7f,%.7f", l.Lon, l.Lat, h.Lon, h.Lat)
			if send != "" {
				q += "&crs=" + send
			}
			r := a.do("GET", q, admin, nil)
			if r.status != http.StatusOK {
				t.Fatalf("%s: %d %s", q, r.status, r.body)
			}
			var fc struct {
				Features []struct {
					Properties map[string]any `json:"properties"`
				} `json:"features"`
			}
			r.json(t, &fc)
			var out []string
			for _, f := range fc.Features {
				out = append(out, fmt.Sprint(f.Properties["code"]))
			}
			sort.Strings(out)
			return out
		}
		want := codes(t, geo.WGS84, "")
		if !slices.Contains(want, "CH-02") {
			t.Fatalf("WGS-84 box around CH-02's first vertex lists %v", want)
		}
		for _, tc := range []struct {
			crs  geo.CRS
			send string
		}{{geo.WGS84, "wgs84"}, {geo.GCJ02, "gcj02"}, {geo.BD09, "bd09"}} {
			if got := codes(t, tc.crs, tc.send); !slices.Equal(got, want) {
				t.Errorf("bbox in %s lists %v, want %v", tc.send, got, want)
			}
		}
	})
}
