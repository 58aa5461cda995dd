package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/demo"
)

func TestGeographyImportAndScope(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.mustUser("admin", "admin", pw)
		admin, _ := a.login("admin", pw)
		geoJSON := "application/geo+json"

		t.Run("BadGeoJSONNamesTheFeature", func(t *testing.T) {
			bad := strings.Replace(string(demo.TownshipsGeoJSON), `"130227103"`, `"130227101"`, 1) // duplicate code
			p := requireProblem(t, a.do("POST", "/v1/townships:import", admin, bad, "Content-Type", geoJSON), 422)
			if p.Fields == nil || !strings.HasPrefix((*p.Fields)[0].Field, "/features/") {
				t.Fatalf("problem does not name the feature: %+v", p)
			}
			var list []api.TownshipInfo
			a.do("GET", "/v1/townships", admin, nil).json(t, &list)
			if len(list) != 0 {
				t.Fatalf("a refused import stored %d townships", len(list))
			}
		})

		// Real boundaries run to megabytes: more than other JSON bodies.
		padded := strings.Replace(string(demo.TownshipsGeoJSON), "{", "{"+strings.Repeat(" ", 2<<20), 1)
		if r := a.do("POST", "/v1/townships:import", admin, padded, "Content-Type", geoJSON); r.status != 201 {
			t.Fatalf("import townships: %d %s", r.status, r.body)
		}
		if r := a.do("POST", "/v1/reaches:import", admin, string(demo.ReachesGeoJSON), "Content-Type", geoJSON); r.status != 201 {
			t.Fatalf("import reaches: %d %s", r.status, r.body)
		}
		var list []api.TownshipInfo
		a.do("GET", "/v1/townships", admin, nil).json(t, &list)
		if len(list) != 14 {
			t.Fatalf("%d townships", len(list))
		}

		// Chiefs: LH-03 gets a village chief; the chief's scope follows.
		chiefID := a.mustUser("chief", "river_chief", pw)
		chief, _ := a.login("chief", pw)
		r := a.do("PUT", "/v1/reaches/LH-03/chiefs", admin, []map[string]any{{"user_id": chiefID, "level": "village"}})
		if r.status != 200 {
			t.Fatalf("set chiefs: %d %s", r.status, r.body)
		}
		a.mustUser("notchief", "inspector", pw)
		inspectorID := userID(t, a, func() string { tk, _ := a.login("notchief", pw); return tk }())
		requireProblem(t, a.do("PUT", "/v1/reaches/LH-03/chiefs", admin, []map[string]any{{"user_id": inspectorID, "level": "village"}}), 422)
		var mine []string
		a.do("GET", "/v1/me/reaches", chief, nil).json(t, &mine)
		if len(mine) != 1 || mine[0] != "LH-03" {
			t.Fatalf("chief's reaches %v", mine)
		}

		// Evidence by the LH-03 river links to the reach and its chief, and
		// is visible to the chief and the township's officer, not others.
		a.mustUser("insp", "inspector", pw)
		insp, _ := a.login("insp", pw)
		a.clock.Advance(time.Minute)
		// Chiefs are those assigned at capture time; this photo has no EXIF
		// time, so receipt (after the assignment) counts.
		e := a.mustUpload(insp, uniquePhoto(t, "no-exif.jpg", 300), map[string]any{"category": "river_section",
			"device_location": map[string]any{"lon": 118.27779, "lat": 40.253348, "accuracy_m": 8}})
		if e.ReachCode == nil || *e.ReachCode != "LH-03" || e.Responsibility == nil || len(e.Responsibility.Chiefs) != 1 ||
			e.Responsibility.Chiefs[0].UserId.String() != chiefID {
			t.Fatalf("responsibility %+v", e.Responsibility)
		}
		a.mustUser("officer", "township_officer", pw, *e.TownshipCode)
		a.mustUser("elsewhere", "township_officer", pw, "130227114")
		officer, _ := a.login("officer", pw)
		elsewhere, _ := a.login("elsewhere", pw)
		for _, tc := range []struct {
			who   string
			token string
			want  int
		}{{"chief", chief, 200}, {"officer", officer, 200}, {"other township", elsewhere, 404}} {
			if r := a.do("GET", "/v1/evidence/"+e.Id.String(), tc.token, nil); r.status != tc.want {
				t.Fatalf("%s: %d, want %d", tc.who, r.status, tc.want)
			}
		}
		var page api.EvidencePage
		a.do("GET", "/v1/evidence?reach=LH-03", officer, nil).json(t, &page)
		if len(page.Items) != 1 {
			t.Fatalf("officer's list by reach: %d", len(page.Items))
		}
		// The reach as GeoJSON with its chiefs.
		r = a.do("GET", "/v1/reaches/LH-03", chief, nil)
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"LineString"`) && !strings.Contains(string(r.body), `"MultiLineString"`) {
			t.Fatalf("reach: %d %.200s", r.status, r.body)
		}
	})
}
