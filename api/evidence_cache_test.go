package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/demo"
)

// GET /v1/evidence/{id} answers from the replica's evidence cache
// (--evidence-cache-ttl) without ever widening what a caller sees or
// hiding this replica's own changes: with the clock standing still (every
// cached row still fresh), an officer of another township gets 404 for an
// item others just read, a thumbnail made and a relink show at once, and
// a relink moves who may see the item at once.
func TestEvidenceCacheScopeAndLocalChanges(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.importDemoCounty()
		a.mustUser("admin", "admin", pw)
		a.mustUser("insp", "inspector", pw)
		a.mustUser("here", "township_officer", pw, "130227101")
		a.mustUser("there", "township_officer", pw, "130227102")
		insp, _ := a.login("insp", pw)
		e := a.mustUpload(insp, uniquePhoto(t, "dust-xingcheng.jpg", 410), map[string]any{"category": "dust_site"})
		if e.TownshipCode == nil || *e.TownshipCode != "130227101" {
			t.Fatalf("linked to %v", e.TownshipCode)
		}
		path := "/v1/evidence/" + e.Id.String()
		get := func(token string, want int) api.Evidence {
			t.Helper()
			r := a.do("GET", path, token, nil)
			if r.status != want {
				t.Fatalf("GET: %d %s, want %d", r.status, r.body, want)
			}
			var got api.Evidence
			if want == http.StatusOK {
				r.json(t, &got)
			}
			return got
		}
		scope := func(hereWant, thereWant int) {
			t.Helper()
			admin, _ := a.login("admin", pw)
			here, _ := a.login("here", pw)
			there, _ := a.login("there", pw)
			get(admin, http.StatusOK) // warm (or a hit)
			get(here, hereWant)
			get(there, thereWant)
			get(there, thereWant) // and again, from a warm cache
		}
		scope(http.StatusOK, http.StatusNotFound)

		admin, _ := a.login("admin", pw)
		if st := get(admin, http.StatusOK).ThumbnailState; st == nil || *st != api.EvidenceThumbnailStatePending {
			t.Fatalf("thumbnail state %v before the worker ran", show(st))
		}
		a.makeThumbnails(e.Id.String())
		if st := get(admin, http.StatusOK).ThumbnailState; st == nil || *st != api.EvidenceThumbnailStateReady {
			t.Fatalf("thumbnail state %v right after the worker ran, want ready", show(st))
		}

		// Version 2 swaps the codes of 130227101 and 130227102; the row is
		// read (cached) after the import, then relinked with the clock
		// standing still.
		swapped := strings.NewReplacer(`"130227101"`, `"130227102"`, `"130227102"`, `"130227101"`).Replace(string(demo.TownshipsGeoJSON))
		a.clock.Advance(time.Hour)
		admin, _ = a.login("admin", pw)
		if r := a.do("POST", "/v1/townships:import", admin, swapped, "Content-Type", "application/geo+json"); r.status != 201 {
			t.Fatalf("import v2: %d %s", r.status, r.body)
		}
		scope(http.StatusOK, http.StatusNotFound)
		var rep struct{ Changed int }
		a.do("POST", "/v1/admin/relink", admin, nil).json(t, &rep)
		if rep.Changed != 1 {
			t.Fatalf("relink: %+v", rep)
		}
		if got := get(admin, http.StatusOK); got.TownshipCode == nil || *got.TownshipCode != "130227102" {
			t.Fatalf("right after the relink: township %v, want 130227102", show(got.TownshipCode))
		}
		scope(http.StatusNotFound, http.StatusOK)
	})
}

// show prints what an optional field points at.
func show[T any](p *T) any {
	if p == nil {
		return "none"
	}
	return *p
}
