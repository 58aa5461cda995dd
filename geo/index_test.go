package geo_test

import (
	"cmp"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/twpayne/go-geom"

	"github.com/fieldwatch/fieldwatch/geo"
)

// demoFeatures parses the demo county's townships and reaches from
// testdata (copies of demo/*.geojson).
func demoFeatures(t testing.TB) ([]geo.TownshipFeature, []geo.ReachFeature) {
	t.Helper()
	tb, err := os.ReadFile("testdata/townships.geojson")
	if err != nil {
		t.Fatal(err)
	}
	rb, err := os.ReadFile("testdata/reaches.geojson")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := geo.ParseTownships(tb, geo.ImportLimits{})
	if err != nil {
		t.Fatalf("ParseTownships(demo): %v", err)
	}
	rs, err := geo.ParseReaches(rb, geo.ImportLimits{})
	if err != nil {
		t.Fatalf("ParseReaches(demo): %v", err)
	}
	return ts, rs
}

func indexInput(ts []geo.TownshipFeature, rs []geo.ReachFeature) ([]geo.IndexTownship, []geo.IndexReach) {
	it := make([]geo.IndexTownship, len(ts))
	for i, f := range ts {
		it[i] = geo.IndexTownship{Code: f.Code, Boundary: f.Boundary}
	}
	ir := make([]geo.IndexReach, len(rs))
	for i, f := range rs {
		ir[i] = geo.IndexReach{Code: f.Code, Line: f.Line}
	}
	return it, ir
}

func mustIndex(t testing.TB, ts []geo.IndexTownship, rs []geo.IndexReach) *geo.Index {
	t.Helper()
	ix, err := geo.NewIndex(ts, rs)
	if err != nil {
		t.Fatalf("NewIndex: %v", err)
	}
	return ix
}

func demoIndex(t testing.TB) *geo.Index {
	t.Helper()
	ts, rs := indexInput(demoFeatures(t))
	return mustIndex(t, ts, rs)
}

// manifestPhoto is an entry of testdata/manifest.json (a copy of
// testdata/photos/manifest.json), with positions and expectations computed
// independently with Turf.js.
type manifestPhoto struct {
	File          string   `json:"file"`
	Lon           *float64 `json:"exif_lon"`
	Lat           *float64 `json:"exif_lat"`
	TownshipCode  *string  `json:"township_code"`
	NearestReach  string   `json:"nearest_reach"`
	NearestReachM float64  `json:"nearest_reach_m"`
}

func TestLocateManifest(t *testing.T) {
	raw, err := os.ReadFile("testdata/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Photos []manifestPhoto }
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	ix := demoIndex(t)
	located := 0
	for _, ph := range m.Photos {
		if ph.Lon == nil || ph.Lat == nil {
			continue // no position to locate
		}
		located++
		t.Run(ph.File, func(t *testing.T) {
			const tolerance = 50 // metres: the river photos are 15 and 40 m away
			loc := ix.Locate(geo.Point{Lon: *ph.Lon, Lat: *ph.Lat}, tolerance)
			want := ""
			if ph.TownshipCode != nil {
				want = *ph.TownshipCode
			}
			if loc.Township != want {
				t.Errorf("Township = %q, want %q", loc.Township, want)
			}
			if len(loc.Candidates) == 0 {
				t.Fatalf("no candidates")
			}
			c := loc.Candidates[0]
			// Turf measures on a sphere, we on the ellipsoid: 0.03–0.24%
			// apart on these photos.
			allowed := math.Max(1, 0.005*ph.NearestReachM)
			if c.Code != ph.NearestReach || math.Abs(c.DistanceM-ph.NearestReachM) > allowed {
				t.Errorf("nearest = %s at %.1f m, want %s at %.1f m (±%.1f m)",
					c.Code, c.DistanceM, ph.NearestReach, ph.NearestReachM, allowed)
			}
			wantReach := ""
			if ph.NearestReachM <= tolerance {
				wantReach = ph.NearestReach
			}
			if loc.Reach != wantReach {
				t.Errorf("Reach = %q, want %q", loc.Reach, wantReach)
			}
			t.Logf("%s %s %.2f m (Turf %.1f m, %+.3f%%)", loc.Township, c.Code, c.DistanceM,
				ph.NearestReachM, 100*(c.DistanceM-ph.NearestReachM)/ph.NearestReachM)
		})
	}
	if located < 5 {
		t.Fatalf("only %d photos with positions in the manifest", located)
	}
}

// rect returns a closed counter-clockwise rectangle ring.
func rect(x0, y0, x1, y1 float64) []geom.Coord {
	return []geom.Coord{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}
}

func multiPolygon(t testing.TB, polygons ...[][]geom.Coord) *geom.MultiPolygon {
	t.Helper()
	mp, err := geom.NewMultiPolygon(geom.XY).SetCoords(polygons)
	if err != nil {
		t.Fatal(err)
	}
	return mp
}

func multiLine(t testing.TB, lines ...[]geom.Coord) *geom.MultiLineString {
	t.Helper()
	ml, err := geom.NewMultiLineString(geom.XY).SetCoords(lines)
	if err != nil {
		t.Fatal(err)
	}
	return ml
}

// reversed returns a copy of mp with every ring reversed and rotated to
// start at another vertex: the same point sets, listed differently.
func reversed(t testing.TB, mp *geom.MultiPolygon) *geom.MultiPolygon {
	t.Helper()
	var out [][][]geom.Coord
	for _, poly := range mp.Coords() {
		var rings [][]geom.Coord
		for _, ring := range poly {
			open := slices.Clone(ring[:len(ring)-1])
			slices.Reverse(open)
			k := 1 % len(open)
			open = append(open[k:], open[:k]...)
			rings = append(rings, append(open, open[0]))
		}
		out = append(out, rings)
	}
	return multiPolygon(t, out...)
}

// The 2×2 grid of townships used for boundary rules. Coordinates are
// binary fractions, so edge and vertex points are exact.
//
//	40.25  +------+------+
//	       | 203  | 202  |
//	40.125 +------+------+
//	       | 204  | 201  |
//	40.0   +------+------+
//	     118.0  118.125  118.25
func gridTownships(t testing.TB) []geo.IndexTownship {
	return []geo.IndexTownship{
		{Code: "130227204", Boundary: multiPolygon(t, [][]geom.Coord{rect(118.0, 40.0, 118.125, 40.125)})},
		{Code: "130227201", Boundary: multiPolygon(t, [][]geom.Coord{rect(118.125, 40.0, 118.25, 40.125)})},
		{Code: "130227203", Boundary: multiPolygon(t, [][]geom.Coord{rect(118.0, 40.125, 118.125, 40.25)})},
		{Code: "130227202", Boundary: multiPolygon(t, [][]geom.Coord{rect(118.125, 40.125, 118.25, 40.25)})},
	}
}

func TestLocateSharedBoundaries(t *testing.T) {
	up, down := math.Inf(1), math.Inf(-1)
	cases := []struct {
		name string
		p    geo.Point
		want string
	}{
		{"InteriorSW", geo.Point{Lon: 118.0625, Lat: 40.0625}, "130227204"},
		{"InteriorNE", geo.Point{Lon: 118.1875, Lat: 40.1875}, "130227202"},
		// On a shared edge: the lowest code of the two.
		{"EdgeSWSE", geo.Point{Lon: 118.125, Lat: 40.0625}, "130227201"},
		{"EdgeSWNW", geo.Point{Lon: 118.0625, Lat: 40.125}, "130227203"},
		{"EdgeNWNE", geo.Point{Lon: 118.125, Lat: 40.1875}, "130227202"},
		{"EdgeSENE", geo.Point{Lon: 118.1875, Lat: 40.125}, "130227201"},
		// The vertex shared by all four: the lowest code of the four.
		{"SharedVertex", geo.Point{Lon: 118.125, Lat: 40.125}, "130227201"},
		// A vertex shared by two (on the outer boundary).
		{"OuterSharedVertex", geo.Point{Lon: 118.125, Lat: 40.0}, "130227201"},
		// Boundary of one township only: still covered.
		{"OuterEdge", geo.Point{Lon: 118.0, Lat: 40.0625}, "130227204"},
		{"OuterCorner", geo.Point{Lon: 118.0, Lat: 40.25}, "130227203"},
		// One ulp off a shared edge: only the township it is in.
		{"UlpWestOfEdge", geo.Point{Lon: math.Nextafter(118.125, down), Lat: 40.0625}, "130227204"},
		{"UlpEastOfEdge", geo.Point{Lon: math.Nextafter(118.125, up), Lat: 40.0625}, "130227201"},
		{"UlpNorthOfEdge", geo.Point{Lon: 118.0625, Lat: math.Nextafter(40.125, up)}, "130227203"},
		{"UlpSouthOfEdge", geo.Point{Lon: 118.0625, Lat: math.Nextafter(40.125, down)}, "130227204"},
		// Outside, including one ulp outside a corner.
		{"Outside", geo.Point{Lon: 117.9, Lat: 40.1}, ""},
		{"UlpOutsideCorner", geo.Point{Lon: math.Nextafter(118.0, down), Lat: 40.0}, ""},
	}

	base := gridTownships(t)
	// Every order of input and both ring directions must agree.
	variants := map[string][]geo.IndexTownship{"AsGiven": base}
	rev := slices.Clone(base)
	for i := range rev {
		rev[i].Boundary = reversed(t, rev[i].Boundary)
	}
	variants["ReversedRings"] = rev
	rng := rand.New(rand.NewPCG(1, 2))
	for k := range 4 {
		shuffled := slices.Clone(base)
		if k%2 == 1 {
			shuffled = slices.Clone(rev)
		}
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		variants["Shuffled"+string(rune('A'+k))] = shuffled
	}
	for vname, ts := range variants {
		ix := mustIndex(t, ts, nil)
		for _, tc := range cases {
			t.Run(vname+"/"+tc.name, func(t *testing.T) {
				if got := ix.Locate(tc.p, 10).Township; got != tc.want {
					t.Errorf("Locate(%v).Township = %q, want %q", tc.p, got, tc.want)
				}
			})
		}
	}
}

// TestLocateDiagonalEdge checks a shared edge that is not axis-parallel,
// where a float64 cross product is inexact: points on the edge are covered
// by both triangles (and go to the lower code), points one ulp away by one
// only. Each case runs with either triangle holding the lower code and in
// both input orders.
func TestLocateDiagonalEdge(t *testing.T) {
	// Two triangles sharing the diagonal (118, 40)–(118.25, 40.5).
	lower := multiPolygon(t, [][]geom.Coord{{{118, 40}, {118.25, 40}, {118.25, 40.5}, {118, 40}}})
	upper := multiPolygon(t, [][]geom.Coord{{{118, 40}, {118.25, 40.5}, {118, 40.5}, {118, 40}}})
	down := func(x float64, n int) float64 {
		for range n {
			x = math.Nextafter(x, math.Inf(-1))
		}
		return x
	}
	const (
		onEdge = iota
		inLower
		inUpper
		outside
	)
	cases := []struct {
		name  string
		p     geo.Point
		where int
	}{
		{"Midpoint", geo.Point{Lon: 118.125, Lat: 40.25}, onEdge},
		{"ThreeQuarters", geo.Point{Lon: 118.1875, Lat: 40.375}, onEdge},
		{"NearVertex", geo.Point{Lon: 118.0 + 0x1p-40, Lat: 40.0 + 0x1p-39}, onEdge},
		{"SharedVertex", geo.Point{Lon: 118, Lat: 40}, onEdge},
		{"UlpAbove", geo.Point{Lon: 118.125, Lat: math.Nextafter(40.25, 41)}, inUpper},
		{"UlpBelow", geo.Point{Lon: 118.125, Lat: down(40.25, 1)}, inLower},
		{"UlpWest", geo.Point{Lon: down(118.125, 1), Lat: 40.25}, inUpper},
		{"UlpEast", geo.Point{Lon: math.Nextafter(118.1875, 119), Lat: 40.375}, inLower},
		{"UlpAboveNearVertex", geo.Point{Lon: 118.0 + 0x1p-40, Lat: math.Nextafter(40.0+0x1p-39, 41)}, inUpper},
		// 118.1 and 40.2 are not binary fractions: as float64s the point
		// lies 2 ulps (1.4e-14°) above the line, checked with Python's
		// fractions; 2 ulps lower it is exactly on it.
		{"Decimal", geo.Point{Lon: 118.1, Lat: 40.2}, inUpper},
		{"DecimalDown1", geo.Point{Lon: 118.1, Lat: down(40.2, 1)}, inUpper},
		{"DecimalDown2", geo.Point{Lon: 118.1, Lat: down(40.2, 2)}, onEdge},
		{"DecimalDown3", geo.Point{Lon: 118.1, Lat: down(40.2, 3)}, inLower},
		{"WestEdgeOfUpper", geo.Point{Lon: 118.0, Lat: math.Nextafter(40.0, 41)}, inUpper},
		{"EastEdgeOfLower", geo.Point{Lon: 118.25, Lat: down(40.5, 1)}, inLower},
		{"UlpOutside", geo.Point{Lon: math.Nextafter(118.25, 119), Lat: 40.25}, outside},
	}
	for _, lowerFirst := range []bool{true, false} {
		lowerCode, upperCode := "130227001", "130227002"
		if !lowerFirst {
			lowerCode, upperCode = upperCode, lowerCode
		}
		for _, reverse := range []bool{false, true} {
			ts := []geo.IndexTownship{{Code: lowerCode, Boundary: lower}, {Code: upperCode, Boundary: upper}}
			if reverse {
				ts = []geo.IndexTownship{{Code: upperCode, Boundary: reversed(t, upper)}, {Code: lowerCode, Boundary: reversed(t, lower)}}
			}
			ix := mustIndex(t, ts, nil)
			for _, tc := range cases {
				want := map[int]string{onEdge: "130227001", inLower: lowerCode, inUpper: upperCode, outside: ""}[tc.where]
				if got := ix.Locate(tc.p, 0).Township; got != want {
					t.Errorf("lower triangle %s, reversed %v: %s: Locate(%.17g, %.17g) = %q, want %q",
						lowerCode, reverse, tc.name, tc.p.Lon, tc.p.Lat, got, want)
				}
			}
		}
	}
}

func TestLocateHoles(t *testing.T) {
	holeA := rect(118.125, 40.125, 118.25, 40.25) // filled by the enclave
	holeB := rect(118.375, 40.125, 118.5, 40.25)  // nothing fills it
	slices.Reverse(holeA)
	slices.Reverse(holeB)
	ix := mustIndex(t, []geo.IndexTownship{
		{Code: "130227302", Boundary: multiPolygon(t, [][]geom.Coord{rect(118.125, 40.125, 118.25, 40.25)})},
		{Code: "130227301", Boundary: multiPolygon(t, [][]geom.Coord{rect(118.0, 40.0, 118.625, 40.375), holeA, holeB})},
		// A township in two pieces, one of them on an island in hole B's
		// neighbour to the east (outside 301).
		{Code: "130227303", Boundary: multiPolygon(t,
			[][]geom.Coord{rect(118.75, 40.0, 118.875, 40.125)},
			[][]geom.Coord{rect(119.0, 40.0, 119.125, 40.125)})},
	}, nil)
	for _, tc := range []struct {
		name string
		p    geo.Point
		want string
	}{
		{"Shell", geo.Point{Lon: 118.0625, Lat: 40.0625}, "130227301"},
		{"InFilledHole", geo.Point{Lon: 118.1875, Lat: 40.1875}, "130227302"},
		{"OnFilledHoleRing", geo.Point{Lon: 118.125, Lat: 40.1875}, "130227301"}, // 301 and 302 cover it
		{"OnFilledHoleCorner", geo.Point{Lon: 118.25, Lat: 40.25}, "130227301"},
		{"InEmptyHole", geo.Point{Lon: 118.4375, Lat: 40.1875}, ""},
		{"OnEmptyHoleRing", geo.Point{Lon: 118.5, Lat: 40.1875}, "130227301"},
		{"UlpInsideEmptyHole", geo.Point{Lon: math.Nextafter(118.5, 118), Lat: 40.1875}, ""},
		{"UlpOutsideEmptyHole", geo.Point{Lon: math.Nextafter(118.5, 119), Lat: 40.1875}, "130227301"},
		{"MultiPolygonFirst", geo.Point{Lon: 118.8, Lat: 40.1}, "130227303"},
		{"MultiPolygonSecond", geo.Point{Lon: 119.1, Lat: 40.1}, "130227303"},
		{"BetweenPieces", geo.Point{Lon: 118.95, Lat: 40.1}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ix.Locate(tc.p, 0).Township; got != tc.want {
				t.Errorf("Locate(%v).Township = %q, want %q", tc.p, got, tc.want)
			}
		})
	}
}

func TestLocateReaches(t *testing.T) {
	north := []geom.Coord{{118.0, 40.0}, {118.0, 40.05}, {118.0, 40.1}}
	ix := mustIndex(t, nil, []geo.IndexReach{
		{Code: "AB-1", Line: multiLine(t, north)},
		{Code: "AB-3", Line: multiLine(t, []geom.Coord{{118.02, 40.0}, {118.02, 40.1}})},
		// Two parts; the second is nearer to the test point than AB-3.
		{Code: "AB-2", Line: multiLine(t, []geom.Coord{{118.1, 40.0}, {118.1, 40.1}}, []geom.Coord{{118.01, 40.04}, {118.01, 40.06}})},
		// Same line as AB-1 under another code: an exact tie.
		{Code: "AA-9", Line: multiLine(t, north)},
	})
	p := geo.Point{Lon: 118.001, Lat: 40.05}
	want := geo.Distance(p, geo.Point{Lon: 118.0, Lat: 40.05})

	loc := ix.Locate(p, 100)
	if loc.Reach != "AA-9" || math.Abs(loc.ReachDistanceM-want) > 1e-6 {
		t.Errorf("Reach = %s at %v m, want AA-9 (ties go to the lowest code) at %v m", loc.Reach, loc.ReachDistanceM, want)
	}
	codes := func(cs []geo.Candidate) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Code)
		}
		return out
	}
	if got, wantCodes := codes(loc.Candidates), []string{"AA-9", "AB-1", "AB-2"}; !slices.Equal(got, wantCodes) {
		t.Errorf("Candidates = %v, want %v", loc.Candidates, wantCodes)
	}
	if loc.Candidates[0].DistanceM != loc.Candidates[1].DistanceM {
		t.Errorf("identical lines at different distances: %v", loc.Candidates)
	}
	if d := loc.Candidates[2].DistanceM; math.Abs(d-geo.Distance(p, geo.Point{Lon: 118.01, Lat: 40.05})) > 1e-6 {
		t.Errorf("AB-2 at %v m, want its nearer part", d)
	}

	// The tolerance is inclusive and only decides Reach.
	d := loc.ReachDistanceM
	for _, tc := range []struct {
		tol  float64
		want string
	}{
		{d, "AA-9"},
		{math.Nextafter(d, 0), ""},
		{0, ""},
		{-1, ""},
		{math.NaN(), ""},
		{math.Inf(1), "AA-9"},
	} {
		loc := ix.Locate(p, tc.tol)
		if loc.Reach != tc.want || len(loc.Candidates) != geo.MaxCandidates {
			t.Errorf("tolerance %v: Reach %q, %d candidates; want %q, %d", tc.tol, loc.Reach, len(loc.Candidates), tc.want, geo.MaxCandidates)
		}
		if loc.Reach == "" && loc.ReachDistanceM != 0 {
			t.Errorf("tolerance %v: ReachDistanceM %v without a reach", tc.tol, loc.ReachDistanceM)
		}
	}
}

func TestLocateFewOrNoReaches(t *testing.T) {
	one := mustIndex(t, nil, []geo.IndexReach{{Code: "X-1", Line: multiLine(t, []geom.Coord{{118, 40}, {118.1, 40}})}})
	if loc := one.Locate(geo.Point{Lon: 118.05, Lat: 40.1}, 1e9); loc.Reach != "X-1" || len(loc.Candidates) != 1 {
		t.Errorf("one reach: %+v", loc)
	}
	none := mustIndex(t, gridTownships(t), nil)
	if loc := none.Locate(geo.Point{Lon: 118.05, Lat: 40.1}, 1e9); loc.Reach != "" || loc.Candidates != nil || loc.Township != "130227204" {
		t.Errorf("no reaches: %+v", loc)
	}
	empty := mustIndex(t, nil, nil)
	if loc := empty.Locate(geo.Point{Lon: 118.05, Lat: 40.1}, 1e9); loc.Township != "" || loc.Candidates != nil {
		t.Errorf("empty index: %+v", loc)
	}
}

func TestLocateInvalidPoint(t *testing.T) {
	ix := demoIndex(t)
	for _, p := range []geo.Point{
		{Lon: math.NaN(), Lat: 40}, {Lon: 118, Lat: math.Inf(1)}, {Lon: 181, Lat: 40}, {Lon: 118, Lat: -90.5},
	} {
		if loc := ix.Locate(p, 100); loc.Township != "" || loc.Reach != "" || loc.Candidates != nil {
			t.Errorf("Locate(%v) = %+v, want the zero Location", p, loc)
		}
	}
}

// TestLocateBruteForce compares Locate on the demo county with a plain
// even-odd test and DistanceToLineString over every reach.
func TestLocateBruteForce(t *testing.T) {
	ts, rs := demoFeatures(t)
	its, irs := indexInput(ts, rs)
	ix := mustIndex(t, its, irs)
	rng := rand.New(rand.NewPCG(7, 11))
	n := 3000
	if testing.Short() {
		n = 300
	}
	for range n {
		// The county box with a margin of about 10 km.
		p := geo.Point{Lon: 117.88 + 0.85*rng.Float64(), Lat: 39.9 + 0.6*rng.Float64()}
		loc := ix.Locate(p, 200)

		want := ""
		for _, f := range ts {
			if naiveCovers(f.Boundary, p) && (want == "" || f.Code < want) {
				want = f.Code
			}
		}
		if loc.Township != want {
			t.Errorf("Locate(%v).Township = %q, brute force %q", p, loc.Township, want)
		}

		var all []geo.Candidate
		for _, r := range rs {
			best := math.Inf(1)
			for i := range r.Line.NumLineStrings() {
				d, _, err := geo.DistanceToLineString(p, r.Line.LineString(i))
				if err != nil {
					t.Fatal(err)
				}
				best = math.Min(best, d)
			}
			all = append(all, geo.Candidate{Code: r.Code, DistanceM: best})
		}
		slices.SortFunc(all, func(a, b geo.Candidate) int {
			return cmp.Or(cmp.Compare(a.DistanceM, b.DistanceM), cmp.Compare(a.Code, b.Code))
		})
		all = all[:geo.MaxCandidates]
		for i, c := range loc.Candidates {
			if c.Code != all[i].Code || math.Abs(c.DistanceM-all[i].DistanceM) > 1e-6*all[i].DistanceM+1e-6 {
				t.Fatalf("Locate(%v).Candidates = %v, brute force %v", p, loc.Candidates, all)
			}
		}
		if len(loc.Candidates) != geo.MaxCandidates {
			t.Fatalf("Locate(%v): %d candidates", p, len(loc.Candidates))
		}
	}
}

// naiveCovers is a textbook even-odd test in float64, good enough for
// random points (which are almost never within 1e-12° of an edge).
func naiveCovers(mp *geom.MultiPolygon, p geo.Point) bool {
	for _, poly := range mp.Coords() {
		inside := false
		for _, ring := range poly {
			for i := 0; i+1 < len(ring); i++ {
				a, b := ring[i], ring[i+1]
				if (a[1] > p.Lat) != (b[1] > p.Lat) &&
					p.Lon < a[0]+(p.Lat-a[1])*(b[0]-a[0])/(b[1]-a[1]) {
					inside = !inside
				}
			}
		}
		if inside {
			return true
		}
	}
	return false
}

func TestLocateAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (sync.Pool drops items)")
	}
	ix := demoIndex(t)
	points := []geo.Point{{Lon: 118.27779, Lat: 40.253348}, {Lon: 116.397, Lat: 39.909}, {Lon: 118.3, Lat: 40.14}}
	for _, p := range points {
		if n := testing.AllocsPerRun(100, func() { ix.Locate(p, 50) }); n > 1 {
			t.Errorf("Locate(%v) allocates %v times, want at most 1 (the Candidates slice)", p, n)
		}
	}
}

func TestLocateConcurrent(t *testing.T) {
	ix := demoIndex(t)
	want := ix.Locate(geo.Point{Lon: 118.453357, Lat: 40.210197}, 50)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				got := ix.Locate(geo.Point{Lon: 118.453357, Lat: 40.210197}, 50)
				if got.Reach != want.Reach || got.Township != want.Township || !slices.Equal(got.Candidates, want.Candidates) {
					t.Errorf("concurrent Locate = %+v, want %+v", got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewIndexErrors(t *testing.T) {
	good := func() *geom.MultiPolygon { return multiPolygon(t, [][]geom.Coord{rect(118, 40, 118.1, 40.1)}) }
	line := func() *geom.MultiLineString { return multiLine(t, []geom.Coord{{118, 40}, {118.1, 40}}) }
	unclosed := geom.NewMultiPolygonFlat(geom.XY, []float64{118, 40, 118.1, 40, 118.1, 40.1, 118, 40.1}, [][]int{{8}})
	triangle := geom.NewMultiPolygonFlat(geom.XY, []float64{118, 40, 118.1, 40, 118, 40}, [][]int{{6}})
	outOfRange := geom.NewMultiPolygonFlat(geom.XY, []float64{118, 40, 218, 40, 118, 40.1, 118, 40}, [][]int{{8}})
	short := geom.NewMultiLineStringFlat(geom.XY, []float64{118, 40}, []int{2})
	nanLine := geom.NewMultiLineStringFlat(geom.XY, []float64{118, 40, math.NaN(), 40}, []int{4})
	for _, tc := range []struct {
		name    string
		ts      []geo.IndexTownship
		rs      []geo.IndexReach
		wantErr error
	}{
		{"EmptyTownshipCode", []geo.IndexTownship{{Code: "", Boundary: good()}}, nil, geo.ErrInvalidGeometry},
		{"DuplicateTownship", []geo.IndexTownship{{Code: "1", Boundary: good()}, {Code: "1", Boundary: good()}}, nil, geo.ErrInvalidGeometry},
		{"NilBoundary", []geo.IndexTownship{{Code: "1"}}, nil, geo.ErrEmptyGeometry},
		{"EmptyBoundary", []geo.IndexTownship{{Code: "1", Boundary: geom.NewMultiPolygon(geom.XY)}}, nil, geo.ErrEmptyGeometry},
		{"UnclosedRing", []geo.IndexTownship{{Code: "1", Boundary: unclosed}}, nil, geo.ErrInvalidGeometry},
		{"ShortRing", []geo.IndexTownship{{Code: "1", Boundary: triangle}}, nil, geo.ErrInvalidGeometry},
		{"OutOfRange", []geo.IndexTownship{{Code: "1", Boundary: outOfRange}}, nil, geo.ErrInvalidCoordinate},
		{"DuplicateReach", nil, []geo.IndexReach{{Code: "A-1", Line: line()}, {Code: "A-1", Line: line()}}, geo.ErrInvalidGeometry},
		{"NilLine", nil, []geo.IndexReach{{Code: "A-1"}}, geo.ErrEmptyGeometry},
		{"OnePositionLine", nil, []geo.IndexReach{{Code: "A-1", Line: short}}, geo.ErrInvalidGeometry},
		{"NaNVertex", nil, []geo.IndexReach{{Code: "A-1", Line: nanLine}}, geo.ErrInvalidCoordinate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ix, err := geo.NewIndex(tc.ts, tc.rs)
			if !errors.Is(err, tc.wantErr) || ix != nil {
				t.Fatalf("NewIndex = %v, %v; want an error wrapping %v", ix, err, tc.wantErr)
			}
			t.Log(err)
		})
	}
}

// TestNewIndexIgnoresZ checks that an XYZ boundary (from a database that
// kept heights) indexes by X and Y.
func TestNewIndexIgnoresZ(t *testing.T) {
	mp := geom.NewMultiPolygonFlat(geom.XYZ, []float64{
		118, 40, 5, 118.1, 40, 5, 118.1, 40.1, 5, 118, 40.1, 5, 118, 40, 5,
	}, [][]int{{15}})
	ls := geom.NewMultiLineStringFlat(geom.XYZ, []float64{118, 40, 1, 118.1, 40, 1}, []int{6})
	ix := mustIndex(t, []geo.IndexTownship{{Code: "1", Boundary: mp}}, []geo.IndexReach{{Code: "A-1", Line: ls}})
	if loc := ix.Locate(geo.Point{Lon: 118.05, Lat: 40.05}, 1e4); loc.Township != "1" || loc.Reach != "A-1" {
		t.Errorf("Locate = %+v", loc)
	}
}
