package geo

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twpayne/go-geom"
)

// bruteReaches is the reference for Locate's Candidates: the definition
// of the nearest-reach search written out without any index. Every
// segment of every reach is measured in the LocalProjection centred on p
// (the same arithmetic as the index: closestOnSegment on the planar
// offsets, no normalisation of longitudes); each reach keeps its nearest
// segment, the first in its vertex order on a tie; the reachPool nearest
// reaches by planar distance and code are kept, those beyond the margin of
// the third are dropped, and the rest are ranked by ellipsoidal distance
// and code.
func bruteReaches(reaches []IndexReach, p Point) []Candidate {
	if len(reaches) == 0 {
		return nil
	}
	sorted := slices.Clone(reaches)
	slices.SortFunc(sorted, func(a, b IndexReach) int { return cmp.Compare(a.Code, b.Code) })
	kx, ky := metresPerDegree(p.Lat)
	type hit struct {
		reach  int
		d2     float64
		at     Point
		metres float64
	}
	hits := make([]hit, len(sorted))
	for id, r := range sorted {
		h := hit{reach: id, d2: math.Inf(1)}
		for _, ls := range r.Line.Coords() {
			for i := 0; i+1 < len(ls); i++ {
				a, b := Point{Lon: ls[i][0], Lat: ls[i][1]}, Point{Lon: ls[i+1][0], Lat: ls[i+1][1]}
				ax, ay := (a.Lon-p.Lon)*kx, (a.Lat-p.Lat)*ky
				bx, by := (b.Lon-p.Lon)*kx, (b.Lat-p.Lat)*ky
				t := closestOnSegment(ax, ay, bx, by)
				cx, cy := ax+t*(bx-ax), ay+t*(by-ay)
				if d2 := cx*cx + cy*cy; d2 < h.d2 {
					h.d2, h.at = d2, interpolate(a, b, t)
				}
			}
		}
		hits[id] = h
	}
	slices.SortFunc(hits, func(a, b hit) int { return cmp.Or(cmp.Compare(a.d2, b.d2), cmp.Compare(a.reach, b.reach)) })
	n := min(len(hits), reachPool)
	if n > MaxCandidates {
		limit := hits[MaxCandidates-1].d2
		m := 1 + 2*planarMargin(math.Sqrt(limit))
		limit *= m * m
		for n > MaxCandidates && hits[n-1].d2 > limit {
			n--
		}
	}
	top := hits[:n]
	for i := range top {
		top[i].metres = Distance(p, top[i].at)
	}
	slices.SortFunc(top, func(a, b hit) int { return cmp.Or(cmp.Compare(a.metres, b.metres), cmp.Compare(a.reach, b.reach)) })
	out := make([]Candidate, min(n, MaxCandidates))
	for i := range out {
		out[i] = Candidate{Code: sorted[top[i].reach].Code, DistanceM: top[i].metres}
	}
	return out
}

// reachSet is a named set of reaches with the points to try on it.
type reachSet struct {
	name    string
	reaches []IndexReach
	points  []Point
}

func lineReach(code string, lines ...[]float64) IndexReach {
	var flat []float64
	var ends []int
	for _, l := range lines {
		flat = append(flat, l...)
		ends = append(ends, len(flat))
	}
	return IndexReach{Code: code, Line: geom.NewMultiLineStringFlat(geom.XY, flat, ends)}
}

// walkReaches returns n random-walk reaches of v vertices with steps of
// about step degrees, starting in box b.
func walkReaches(rng *rand.Rand, prefix string, n, v int, step float64, b Box) []IndexReach {
	out := make([]IndexReach, 0, n)
	for k := range n {
		x := b.MinLon + rng.Float64()*(b.MaxLon-b.MinLon)
		y := b.MinLat + rng.Float64()*(b.MaxLat-b.MinLat)
		heading := rng.Float64() * 2 * math.Pi
		flat := make([]float64, 0, 2*v)
		for range v {
			flat = append(flat, x, y)
			heading += rng.NormFloat64() * 0.3
			x = min(180, max(-180, x+step*math.Cos(heading)/math.Cos(y*degRad)))
			y = min(90, max(-90, y+step*math.Sin(heading)))
		}
		out = append(out, lineReach(fmt.Sprintf("%s-%05d", prefix, k), flat))
	}
	return out
}

// zigzag returns a reach that sweeps the 0.2° square from (lon, lat) in
// 200 rows 0.001° apart (offset by dy), each of 300 vertices, so that it
// lies in every cell of its grid.
func zigzag(code string, lon, lat, dy float64) IndexReach {
	var flat []float64
	for r := range 200 {
		for i := range 300 {
			x := float64(i) * 0.2 / 299
			if r%2 == 1 {
				x = 0.2 - x
			}
			flat = append(flat, lon+x, lat+dy+float64(r)*0.001)
		}
	}
	return lineReach(code, flat)
}

// vertexPoints returns every vertex of the reaches and the midpoints of
// their first segments: points exactly on a reach.
func vertexPoints(reaches []IndexReach, every int) []Point {
	var out []Point
	for _, r := range reaches {
		flat := r.Line.FlatCoords()
		s := r.Line.Stride()
		for i := 0; i < len(flat); i += s * every {
			out = append(out, Point{Lon: flat[i], Lat: flat[i+1]})
		}
		if len(flat) >= 2*s {
			out = append(out, Point{Lon: (flat[0] + flat[s]) / 2, Lat: (flat[1] + flat[s+1]) / 2})
		}
	}
	return out
}

func randomPoints(rng *rand.Rand, n int, b Box) []Point {
	out := make([]Point, n)
	for i := range out {
		out[i] = Point{Lon: b.MinLon + rng.Float64()*(b.MaxLon-b.MinLon), Lat: b.MinLat + rng.Float64()*(b.MaxLat-b.MinLat)}
	}
	return out
}

// farPoints are outside any test area: 150 km west of the county (the
// SyntheticFar benchmark), across a continent, near a pole, across the
// antimeridian.
var farPoints = []Point{
	{Lon: 116.397, Lat: 39.909}, {Lon: 120.9, Lat: 41.5}, {Lon: 2.35, Lat: 48.85},
	{Lon: -70, Lat: -33}, {Lon: 118, Lat: 89.9}, {Lon: -179.99, Lat: 40}, {Lon: 180, Lat: -90},
}

func reachSets(short bool) []reachSet {
	rng := rand.New(rand.NewPCG(15, 2026))
	county := Box{MinLon: 117.9, MinLat: 39.9, MaxLon: 118.7, MaxLat: 40.5}
	around := Box{MinLon: county.MinLon - 0.3, MinLat: county.MinLat - 0.3, MaxLon: county.MaxLon + 0.3, MaxLat: county.MaxLat + 0.3}
	nPoints := 1500
	nWalk := 400
	if short {
		nPoints, nWalk = 200, 100
	}
	walks := walkReaches(rng, "W", nWalk, 80, 0.0003, county)
	// Long segments across the whole area among short ones: they lie in
	// many cells.
	long := slices.Clone(walks[:nWalk/2])
	for k := range 12 {
		y := county.MinLat + float64(k)*0.05
		long = append(long, lineReach(fmt.Sprintf("L-%02d", k),
			[]float64{county.MinLon - 0.1, y, county.MaxLon + 0.1, y + 0.31, county.MinLon, county.MaxLat}))
	}
	long = append(long, lineReach("L-V", []float64{118.3, county.MinLat, 118.3, county.MaxLat}))
	// Two clusters 600 km apart.
	clusters := append(walkReaches(rng, "A", 60, 40, 0.0003, Box{MinLon: 118, MinLat: 40, MaxLon: 118.1, MaxLat: 40.1}),
		walkReaches(rng, "B", 60, 40, 0.0003, Box{MinLon: 124, MinLat: 41, MaxLon: 124.1, MaxLat: 41.1})...)
	north := []float64{118.0, 40.0, 118.0, 40.05, 118.0, 40.1}
	return []reachSet{
		{"Walks", walks, slices.Concat(randomPoints(rng, nPoints, around), vertexPoints(walks[:20], 7), farPoints)},
		{"LongSegments", long, slices.Concat(randomPoints(rng, nPoints, around), vertexPoints(long[len(long)-13:], 1), farPoints)},
		{"Clusters", clusters, slices.Concat(randomPoints(rng, nPoints/2, Box{MinLon: 117.5, MinLat: 39.5, MaxLon: 124.5, MaxLat: 41.5}),
			randomPoints(rng, nPoints/4, Box{MinLon: 117.95, MinLat: 39.95, MaxLon: 118.15, MaxLat: 40.15}), vertexPoints(clusters[:10], 5), farPoints)},
		{"Single", []IndexReach{lineReach("X-1", []float64{118, 40, 118.1, 40, 118.1, 40.05})},
			slices.Concat(randomPoints(rng, 100, around), []Point{{Lon: 118, Lat: 40}, {Lon: 118.1, Lat: 40}, {Lon: 118.05, Lat: 40}}, farPoints)},
		{"SinglePoint", []IndexReach{lineReach("P-1", []float64{118, 40, 118, 40})},
			slices.Concat(randomPoints(rng, 50, around), []Point{{Lon: 118, Lat: 40}}, farPoints)},
		{"Degenerate", []IndexReach{
			lineReach("D-1", []float64{118, 40, 118, 40, 118, 40, 118.01, 40, 118.01, 40}),
			lineReach("D-2", []float64{118.02, 40.01, 118.02, 40.01}, []float64{118.03, 40.02, 118.03, 40.02, 118.04, 40.02}),
			lineReach("D-3", []float64{118.005, 40.005, 118.005, 40.005}),
		}, slices.Concat(randomPoints(rng, 300, Box{MinLon: 117.9, MinLat: 39.9, MaxLon: 118.2, MaxLat: 40.1}),
			[]Point{{Lon: 118, Lat: 40}, {Lon: 118.01, Lat: 40}, {Lon: 118.02, Lat: 40.01}, {Lon: 118.005, Lat: 40}}, farPoints)},
		// Exact ties: the same line under two codes, and lines at equal
		// binary-fraction offsets on both sides of points on a meridian.
		{"Ties", []IndexReach{
			lineReach("T-4", north), lineReach("T-2", north),
			lineReach("T-3", []float64{117.875, 40.0, 117.875, 40.125}),
			lineReach("T-1", []float64{118.125, 40.0, 118.125, 40.125}),
			lineReach("T-5", []float64{117.75, 40.0, 117.75, 40.125}, []float64{118.25, 40.0, 118.25, 40.125}),
			lineReach("T-6", []float64{118.25, 40.0, 118.25, 40.125}),
			lineReach("T-7", []float64{118.0, 40.25, 118.0, 40.375}),
		}, slices.Concat(
			[]Point{{Lon: 118, Lat: 40.0625}, {Lon: 118, Lat: 40.05}, {Lon: 118, Lat: 40}, {Lon: 118, Lat: 40.1875}, {Lon: 118.0625, Lat: 40.0625}},
			randomPoints(rng, 300, Box{MinLon: 117.7, MinLat: 39.9, MaxLon: 118.3, MaxLat: 40.4}), farPoints)},
		// Two long reaches over many cells: with fewer than three
		// reaches the search has no limit and visits every occupied cell,
		// more walks than the heap holds.
		{"TwoReaches", []IndexReach{zigzag("Z-1", 118, 40, 0), zigzag("Z-2", 118, 40, 0.0005)},
			slices.Concat([]Point{{Lon: 118.1, Lat: 40.1}}, randomPoints(rng, 30, Box{MinLon: 117.9, MinLat: 39.9, MaxLon: 118.3, MaxLat: 40.3}), farPoints[:2])},
		// All on one meridian: a grid one cell wide.
		{"Meridian", walkReaches(rng, "M", 30, 2, 0, Box{MinLon: 118, MinLat: 40, MaxLon: 118, MaxLat: 40.5}),
			slices.Concat(randomPoints(rng, 300, around), farPoints)},
		// Across the antimeridian, which the planar metric does not wrap.
		{"Antimeridian", walkReaches(rng, "E", 50, 30, 0.001, Box{MinLon: 179.9, MinLat: 50, MaxLon: 180, MaxLat: 50.1}),
			slices.Concat(randomPoints(rng, 300, Box{MinLon: 179.5, MinLat: 49.9, MaxLon: 180, MaxLat: 50.3}),
				randomPoints(rng, 50, Box{MinLon: -180, MinLat: 49.9, MaxLon: -179.5, MaxLat: 50.3}), farPoints)},
	}
}

// TestLocateCandidatesMatchReference checks that the indexed search gives
// exactly (same codes, same float64 distances, same order) what the
// unindexed definition gives, on random points, points on vertices and
// segments, far points, exact ties, one reach, degenerate segments and
// long segments.
func TestLocateCandidatesMatchReference(t *testing.T) {
	for _, set := range reachSets(testing.Short()) {
		t.Run(set.name, func(t *testing.T) {
			ix, err := NewIndex(nil, set.reaches)
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for _, p := range set.points {
				got := ix.Locate(p, 100).Candidates
				want := bruteReaches(set.reaches, p)
				if !slices.Equal(got, want) {
					t.Errorf("Locate(%v).Candidates = %v, reference %v", p, got, want)
					if bad++; bad > 5 {
						t.FailNow()
					}
				}
			}
		})
	}
	t.Run("Empty", func(t *testing.T) {
		ix, err := NewIndex(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range farPoints {
			if got := ix.Locate(p, 100); got.Candidates != nil || got.Reach != "" {
				t.Errorf("empty index: Locate(%v) = %+v", p, got)
			}
		}
	})
}

// TestReachGridBounds checks the grid's limits on memory and work: long
// segments across the whole area are not copied into every cell they
// span beyond maxCopies, the cells stay within maxCellsPerSeg per segment,
// and a point far outside the grid scans only cells near the grid's
// nearest edge, not the grid cell by cell.
func TestReachGridBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	area := Box{MinLon: 117.5, MinLat: 39.5, MaxLon: 119.5, MaxLat: 40.75}
	t.Run("LongSegments", func(t *testing.T) {
		// 2,000 diagonals across the area: a cell size chosen for the
		// segment count would copy each into hundreds of cells.
		var rs []IndexReach
		for k := range 2000 {
			f := rng.Float64()
			rs = append(rs, lineReach(fmt.Sprintf("D-%04d", k), []float64{
				area.MinLon, area.MinLat + f*(area.MaxLat-area.MinLat), area.MaxLon, area.MaxLat - f*(area.MaxLat-area.MinLat),
			}))
		}
		ix, err := NewIndex(nil, rs)
		if err != nil {
			t.Fatal(err)
		}
		g := &ix.grid
		segs := len(rs)
		// Every copy of a segment takes at least 6 words (header and two
		// vertices).
		if copies := len(g.data) / 6; copies > maxCopies*segs+1024 {
			t.Errorf("%d segment copies for %d segments, want at most %d", copies, segs, maxCopies*segs+1024)
		}
		if cells := g.nx * g.ny; cells > maxCellsPerSeg*segs+1024 {
			t.Errorf("%d cells for %d segments", cells, segs)
		}
		for _, p := range randomPoints(rng, 50, area) {
			if got, want := ix.Locate(p, 100).Candidates, bruteReaches(rs, p); !slices.Equal(got, want) {
				t.Fatalf("Locate(%v).Candidates = %v, reference %v", p, got, want)
			}
		}
	})
	t.Run("FarPoint", func(t *testing.T) {
		rs := walkReaches(rng, "R", 3000, 60, 0.000225, area)
		ix, err := NewIndex(nil, rs)
		if err != nil {
			t.Fatal(err)
		}
		g := &ix.grid
		occupied := 0
		for c := range g.numCells() {
			if g.cells[c+1] > g.cells[c] {
				occupied++
			}
		}
		for _, p := range []Point{{Lon: 116.397, Lat: 39.909}, {Lon: 121, Lat: 42}, {Lon: 118.5, Lat: 38}} {
			var s reachSearch
			ix.nearestReaches(p, &s)
			if s.cells == 0 || s.cells > occupied/20 {
				t.Errorf("Locate(%v) scanned %d of %d occupied cells", p, s.cells, occupied)
			}
			if got, want := ix.Locate(p, 100).Candidates, bruteReaches(rs, p); !slices.Equal(got, want) {
				t.Errorf("Locate(%v).Candidates = %v, reference %v", p, got, want)
			}
			t.Logf("%v: %d of %d occupied cells scanned", p, s.cells, occupied)
		}
	})
}
