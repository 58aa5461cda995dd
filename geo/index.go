package geo

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/tidwall/rtree"
	"github.com/twpayne/go-geom"
)

// An IndexTownship is a township boundary to index: its code and its
// boundary in WGS-84 longitude/latitude (X, Y; further ordinates such as Z
// are ignored).
type IndexTownship struct {
	Code     string
	Boundary *geom.MultiPolygon
}

// An IndexReach is a river reach to index: its code and its line in WGS-84
// longitude/latitude.
type IndexReach struct {
	Code string
	Line *geom.MultiLineString
}

// A Location is what Locate found at a point.
type Location struct {
	// Township is the code of the township covering the point, or "" if
	// none does. See Index for the rule at shared edges and vertices.
	Township string

	// Reach is the code of the nearest reach if it lies within the
	// tolerance passed to Locate, otherwise "".
	Reach string

	// ReachDistanceM is the distance in metres from the point to Reach, or
	// 0 when Reach is "".
	ReachDistanceM float64

	// Candidates are the nearest reaches, at most MaxCandidates, whatever
	// their distance (they explain why Reach was or was not chosen), sorted
	// by distance and then by code. Nil if the index holds no reaches or the
	// point is invalid.
	Candidates []Candidate
}

// A Candidate is a reach near a located point.
type Candidate struct {
	Code      string
	DistanceM float64 // ellipsoidal distance from the point to the reach
}

// MaxCandidates is the number of nearest reaches Locate reports.
const MaxCandidates = 3

// An Index links points to the township that covers them and to the
// nearest river reaches. It is immutable and safe for concurrent use.
//
// # Townships
//
// A township covers a point when the point lies in the interior or on the
// boundary of one of its polygons. Polygons use the even-odd rule over all
// their rings, so a point in a hole is not covered by that polygon (it
// belongs to whichever township covers the hole, such as an enclave, or to
// none), while a point on a hole's ring is on the boundary and covered.
// Edges are straight lines in longitude/latitude, as in RFC 7946 and
// PostGIS geometry, and the test is exact for the float64 coordinates: no
// tolerance, no rounding-dependent answers.
//
// Rule for shared boundaries (docs/reliability.md#a5): when several townships cover
// a point, which happens exactly on a shared edge or vertex (and wherever
// invalid data makes townships overlap), the point belongs to the township
// with the lowest code in byte order (numeric order for 9-digit codes).
// The rule depends only on the point and the set of boundaries, never on
// the order of input or the direction in which a polygon lists its edges,
// so every replica and every re-run gives the same answer.
//
// # Reaches
//
// Reach distances are in metres on the WGS-84 ellipsoid: the closest point
// of each reach is found in a LocalProjection centred on the query point,
// and the distance to it is measured with Distance, as DistanceToLineString
// does. Candidates are ranked by that ellipsoidal distance, then by code.
//
// # Cost
//
// An R-tree (github.com/tidwall/rtree) holds the bounds of each polygon,
// and within a polygon a band index finds the edges at the point's
// latitude (see bandedPolygon). Reach segments are bucketed in a uniform
// grid of cells with each cell's coordinates stored contiguously (see
// reachGrid); the search visits rings of cells around the point, nearest
// cells first, until the rest are farther than the candidates found, and
// a point far outside the grid starts at the grid's nearest cells. Memory
// is about 16 bytes per township vertex plus the band lists (at most 32
// bytes per polygon edge), and for reaches 16 bytes per segment and cell
// it passes through, 32 more per run of consecutive segments in a cell
// (a header and the run's first vertex) and 4 bytes per cell: 21.5 bytes
// per segment for the 10,000 random-walk reaches of BenchmarkLocate, and
// never more than about 2 copies of each segment (see reachGrid).
//
// The index keeps its own copy of the coordinates; callers may reuse the
// geometries passed to NewIndex.
type Index struct {
	townships []string       // codes, sorted; a township's id is its position
	polygons  []indexPolygon // every polygon of every township
	polyTree  rtreeOf[int32] // polygon bounds → position in polygons
	reaches   []string       // codes, sorted
	grid      reachGrid      // the segments of all reaches
}

type rtreeOf[T any] = rtree.RTreeGN[float64, T]

type indexPolygon struct {
	township int32
	bandedPolygon
}

// box4 is a longitude/latitude bounding box: min lon, min lat, max lon, max lat.
type box4 [4]float64

// maxIndexVertices bounds the vertex count of an index, so vertex indices
// fit in int32.
const maxIndexVertices = math.MaxInt32 / 2

// NewIndex builds an index over townships and reaches.
//
// It returns an error wrapping ErrInvalidGeometry for an empty or duplicate
// code, a ring that is not closed or has fewer than 4 positions, a line with
// fewer than 2 positions, or a geometry without X and Y; ErrEmptyGeometry for
// a nil or empty boundary or line; and ErrInvalidCoordinate for a coordinate
// outside [-180, 180] × [-90, 90] or not finite. It does not repeat the full
// validation of ParseTownships (self-intersections, holes outside shells):
// geometries should come from there or from storage written from there.
// An invalid polygon never makes Locate panic; it only makes its answers
// for that polygon as arbitrary as the polygon.
func NewIndex(townships []IndexTownship, reaches []IndexReach) (*Index, error) {
	ix := &Index{}
	if err := ix.addTownships(townships); err != nil {
		return nil, err
	}
	if err := ix.addReaches(reaches); err != nil {
		return nil, err
	}
	return ix, nil
}

// sortedCodes returns the order in which items with the given codes are
// indexed (by code) after checking the codes are non-empty and unique.
func sortedCodes(what string, n int, code func(int) string) ([]int, error) {
	order := make([]int, n)
	for i := range order {
		order[i] = i
		if code(i) == "" {
			return nil, fmt.Errorf("%w: %ss[%d] has an empty code", ErrInvalidGeometry, what, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(code(a), code(b)) })
	for i := 1; i < n; i++ {
		if code(order[i]) == code(order[i-1]) {
			return nil, fmt.Errorf("%w: duplicate %s code %q", ErrInvalidGeometry, what, code(order[i]))
		}
	}
	return order, nil
}

func (ix *Index) addTownships(townships []IndexTownship) error {
	order, err := sortedCodes("township", len(townships), func(i int) string { return townships[i].Code })
	if err != nil {
		return err
	}
	total := 0
	ix.townships = make([]string, 0, len(townships))
	for id, i := range order {
		t := townships[i]
		ix.townships = append(ix.townships, t.Code)
		if t.Boundary == nil || t.Boundary.NumPolygons() == 0 {
			return fmt.Errorf("%w: township %s", ErrEmptyGeometry, t.Code)
		}
		if _, _, err := flatXY(t.Boundary); err != nil {
			return fmt.Errorf("%w: township %s", err, t.Code)
		}
		for j := range t.Boundary.NumPolygons() {
			xy, ends, err := closedRingsXY(t.Boundary.Polygon(j), fmt.Sprintf("township %s polygon %d", t.Code, j))
			if err != nil {
				return err
			}
			if total += len(xy) / 2; total > maxIndexVertices {
				return fmt.Errorf("%w: more than %d township vertices", ErrInvalidGeometry, maxIndexVertices)
			}
			ix.polygons = append(ix.polygons, indexPolygon{township: int32(id), bandedPolygon: newBandedPolygon(xy, ends)})
		}
	}
	for i := range ix.polygons {
		p := &ix.polygons[i]
		ix.polyTree.Insert([2]float64{p.minX, p.minY}, [2]float64{p.maxX, p.maxY}, int32(i))
	}
	return nil
}

// closedRingsXY copies the XY coordinates of p's rings after checking that
// each is closed, has at least 4 positions and valid coordinates. The ends
// it returns are offsets into the copy, as go-geom's Ends.
func closedRingsXY(p *geom.Polygon, ctx string) ([]float64, []int, error) {
	if p.NumLinearRings() == 0 {
		return nil, nil, fmt.Errorf("%w: %s has no rings", ErrEmptyGeometry, ctx)
	}
	stride := p.Stride()
	flat := p.FlatCoords()
	xy := make([]float64, 0, len(flat)/stride*2)
	ends := make([]int, 0, p.NumLinearRings())
	start := 0
	for r, end := range p.Ends() {
		if end < start || end > len(flat) || (end-start)%stride != 0 {
			return nil, nil, fmt.Errorf("%w: %s ring %d: ragged coordinates", ErrInvalidGeometry, ctx, r)
		}
		n := (end - start) / stride
		if n < 4 {
			return nil, nil, fmt.Errorf("%w: %s ring %d has %d positions, want at least 4", ErrInvalidGeometry, ctx, r, n)
		}
		for i := start; i < end; i += stride {
			q := Point{Lon: flat[i], Lat: flat[i+1]}
			if !inRange(q) {
				return nil, nil, fmt.Errorf("%w: %s ring %d vertex %d: %s", ErrInvalidCoordinate, ctx, r, (i-start)/stride, invalidReason(q.Lon, q.Lat))
			}
			xy = append(xy, q.Lon, q.Lat)
		}
		if flat[start] != flat[end-stride] || flat[start+1] != flat[end-stride+1] {
			return nil, nil, fmt.Errorf("%w: %s ring %d is not closed", ErrInvalidGeometry, ctx, r)
		}
		ends = append(ends, len(xy))
		start = end
	}
	return xy, ends, nil
}

func (ix *Index) addReaches(reaches []IndexReach) error {
	order, err := sortedCodes("reach", len(reaches), func(i int) string { return reaches[i].Code })
	if err != nil {
		return err
	}
	vertices, nparts := 0, 0
	for _, r := range reaches {
		if r.Line != nil && r.Line.Stride() >= 2 {
			vertices += len(r.Line.FlatCoords()) / r.Line.Stride()
			nparts += r.Line.NumLineStrings()
		}
	}
	if vertices > maxIndexVertices {
		return fmt.Errorf("%w: more than %d reach vertices", ErrInvalidGeometry, maxIndexVertices)
	}
	// All vertices one after another, in code order: what the grid is
	// built from (it keeps its own copies).
	xy := make([]float64, 0, 2*vertices)
	parts := make([]gridPart, 0, nparts)
	ix.reaches = make([]string, 0, len(reaches))
	for id, i := range order {
		r := reaches[i]
		ix.reaches = append(ix.reaches, r.Code)
		if r.Line == nil || r.Line.NumLineStrings() == 0 {
			return fmt.Errorf("%w: reach %s", ErrEmptyGeometry, r.Code)
		}
		if _, _, err := flatXY(r.Line); err != nil {
			return fmt.Errorf("%w: reach %s", err, r.Code)
		}
		stride, flat := r.Line.Stride(), r.Line.FlatCoords()
		start := 0
		for j, end := range r.Line.Ends() {
			if end < start || end > len(flat) || (end-start)%stride != 0 {
				return fmt.Errorf("%w: reach %s line %d: ragged coordinates", ErrInvalidGeometry, r.Code, j)
			}
			n := (end - start) / stride
			if n < 2 {
				return fmt.Errorf("%w: reach %s line %d has %d positions, want at least 2", ErrInvalidGeometry, r.Code, j, n)
			}
			if len(xy)/2+n > maxIndexVertices {
				return fmt.Errorf("%w: more than %d reach vertices", ErrInvalidGeometry, maxIndexVertices)
			}
			first := len(xy) / 2
			for k := start; k < end; k += stride {
				q := Point{Lon: flat[k], Lat: flat[k+1]}
				if !inRange(q) {
					return fmt.Errorf("%w: reach %s line %d vertex %d: %s", ErrInvalidCoordinate, r.Code, j, (k-start)/stride, invalidReason(q.Lon, q.Lat))
				}
				xy = append(xy, q.Lon, q.Lat)
			}
			parts = append(parts, gridPart{reach: int32(id), first: int32(first), n: int32(n)})
			start = end
		}
	}
	ix.grid = newReachGrid(xy, parts)
	return nil
}

// Townships returns the number of townships in the index.
func (ix *Index) Townships() int { return len(ix.townships) }

// Reaches returns the number of reaches in the index.
func (ix *Index) Reaches() int { return len(ix.reaches) }

// Locate returns the township covering p and the reaches nearest to it.
// Reach is set when the nearest reach lies within toleranceM metres
// (inclusive); a tolerance that is not positive, or NaN, links no reach but
// still reports Candidates. A point that is not a valid coordinate (see
// ValidateLonLat) gets the zero Location.
//
// Candidates have no distance limit: a photo 150 km away still learns
// which reach is nearest. Each distance is the ellipsoidal distance
// (Distance) to the point of the reach that is closest in a
// LocalProjection centred on p, so it is the true distance to a point of
// the reach and exceeds the true minimum only by a second-order error
// (well under a millimetre for the demo county's 25 m segments at 10 km).
// Every reach that could rank in the top three on the ellipsoid is
// measured: the planar search continues a margin of four times the
// projection's error (see LocalProjection) beyond the third candidate,
// which holds for points up to about 1,000 km away. Against PostGIS
// geography distances and a projection-free Vincenty referee (see
// store/geo_oracle_test.go) the rankings agree except where PostGIS's
// own error exceeds the gap between two reaches.
//
// Locate allocates only the Candidates slice.
func (ix *Index) Locate(p Point, toleranceM float64) Location {
	if !inRange(p) {
		return Location{}
	}
	loc := Location{Township: ix.township(p)}
	var s reachSearch
	ix.nearestReaches(p, &s)
	if s.n == 0 {
		return loc
	}
	loc.Candidates = make([]Candidate, s.n)
	for i, h := range s.top[:s.n] {
		loc.Candidates[i] = Candidate{Code: ix.reaches[h.reach], DistanceM: h.metres}
	}
	if c := loc.Candidates[0]; c.DistanceM <= toleranceM {
		loc.Reach, loc.ReachDistanceM = c.Code, c.DistanceM
	}
	return loc
}

// township returns the code of the township with the lowest code among
// those covering p, or "".
func (ix *Index) township(p Point) string {
	best := int32(len(ix.townships))
	pt := [2]float64{p.Lon, p.Lat}
	ix.polyTree.Search(pt, pt, func(_, _ [2]float64, i int32) bool {
		poly := &ix.polygons[i]
		if poly.township < best {
			if covered, _ := poly.covers(p.Lon, p.Lat); covered {
				best = poly.township
			}
		}
		return true
	})
	if best == int32(len(ix.townships)) {
		return ""
	}
	return ix.townships[best]
}

// reachSearch holds the state of a nearest-reach search: the best reaches
// found so far, by planar distance in the local projection centred on p.
type reachSearch struct {
	p      Point
	kx, ky float64 // metres per degree at p
	n      int
	top    [reachPool]reachHit
	stop2  float64 // squared planar distance beyond which nothing can rank
	lim    float64 // squared planar distance beyond which no segment can matter, with slack
	cells  int     // cells scanned, for tests
	walks  int     // pending cell walks, heap[:walks]
	heap   [maxWalks]cellWalk
}

// reachPool is how many reaches the planar search keeps before the final
// ellipsoidal ranking: more than MaxCandidates, so that reaches which the
// projection ranks a little too far still compete.
const reachPool = 8

type reachHit struct {
	reach  int32
	seg    int32   // number of the closest segment (see gridPart)
	v      uint32  // word of reachGrid.data where that segment starts
	t      float64 // parameter of the closest point on that segment
	d2     float64 // squared planar distance, metres²
	metres float64 // ellipsoidal distance, set at the end
}

// planarMargin returns the relative margin by which a planar distance of d
// metres may understate the ellipsoidal one, with a factor of 4 over the
// error measured for LocalProjection (2.6e-8 per metre at 40°N) and a floor
// for rounding.
func planarMargin(d float64) float64 { return 1e-6 + 1e-7*d }

// nearestReaches searches the reach grid in the projection centred on p
// (see reachGrid.nearest). Cells are skipped, and the search stops, once
// their planar distance exceeds the third best reach's distance by more
// than the projection can be off, so every reach that could rank in the
// top three on the ellipsoid has been measured; or once it exceeds the
// pool's last entry, which nothing farther could displace.
func (ix *Index) nearestReaches(p Point, s *reachSearch) {
	if len(ix.grid.data) == 0 {
		return
	}
	s.p = p
	s.kx, s.ky = metresPerDegree(p.Lat)
	s.stop2, s.lim = math.Inf(1), math.Inf(1)
	ix.grid.nearest(s)
	ix.rankEllipsoidal(s)
}

// boxDist2 is the squared planar distance from p to box b.
func (s *reachSearch) boxDist2(b box4) float64 {
	var dx, dy float64
	switch {
	case s.p.Lon < b[0]:
		dx = (b[0] - s.p.Lon) * s.kx
	case s.p.Lon > b[2]:
		dx = (s.p.Lon - b[2]) * s.kx
	}
	switch {
	case s.p.Lat < b[1]:
		dy = (b[1] - s.p.Lat) * s.ky
	case s.p.Lat > b[3]:
		dy = (s.p.Lat - b[3]) * s.ky
	}
	return dx*dx + dy*dy
}

// updateLimit sets lim from stop2 and the pool: a segment farther than
// both the stop distance and the pool's last entry (when the pool is full)
// changes nothing. The slack of a micrometre covers the rounding by which
// a segment's computed distance may fall below the computed distance of a
// cell that holds it.
func (s *reachSearch) updateLimit() {
	lim := s.stop2
	if s.n == len(s.top) {
		lim = min(lim, s.top[s.n-1].d2)
	}
	if d := math.Sqrt(lim) + 1e-6; d < math.Inf(1) {
		s.lim = d * d
	}
}

// hitLess orders hits by planar distance, then by reach (code order).
func hitLess(a, b *reachHit) bool {
	return a.d2 < b.d2 || (a.d2 == b.d2 && a.reach < b.reach)
}

// offer records h if it improves on its reach's best (nearer, or as near
// on a segment with a lower number, so that the outcome does not depend on
// the order in which cells are visited) or makes the pool.
func (s *reachSearch) offer(h reachHit) {
	if s.n == len(s.top) && h.d2 > s.top[s.n-1].d2 {
		return // neither in the pool nor able to improve a member
	}
	i := 0
	for ; i < s.n && s.top[i].reach != h.reach; i++ {
	}
	switch {
	case i < s.n:
		if !(h.d2 < s.top[i].d2 || h.d2 == s.top[i].d2 && h.seg < s.top[i].seg) {
			return
		}
		s.top[i] = h
	case s.n < len(s.top):
		s.top[s.n] = h
		s.n++
		i = s.n - 1
	case hitLess(&h, &s.top[s.n-1]):
		i = s.n - 1
		s.top[i] = h
	default:
		return
	}
	for ; i > 0 && hitLess(&s.top[i], &s.top[i-1]); i-- {
		s.top[i], s.top[i-1] = s.top[i-1], s.top[i]
	}
	if s.n >= MaxCandidates {
		d := math.Sqrt(s.top[MaxCandidates-1].d2)
		stop := d * (1 + 2*planarMargin(d))
		s.stop2 = stop * stop
	}
	s.updateLimit()
}

// rankEllipsoidal measures the pool's contenders on the ellipsoid, orders
// them by that distance and code, and keeps MaxCandidates.
func (ix *Index) rankEllipsoidal(s *reachSearch) {
	// Only reaches within the margin of the third planar distance can rank.
	n := s.n
	if n > MaxCandidates {
		limit := s.top[MaxCandidates-1].d2
		d := math.Sqrt(limit)
		m := 1 + 2*planarMargin(d)
		limit *= m * m
		for n > MaxCandidates && s.top[n-1].d2 > limit {
			n--
		}
	}
	for i := range s.top[:n] {
		h := &s.top[i]
		xy := ix.grid.data[h.v : h.v+4]
		a, b := Point{Lon: xy[0], Lat: xy[1]}, Point{Lon: xy[2], Lat: xy[3]}
		h.metres = Distance(s.p, interpolate(a, b, h.t))
	}
	top := s.top[:n]
	slices.SortFunc(top, func(a, b reachHit) int {
		if c := cmp.Compare(a.metres, b.metres); c != 0 {
			return c
		}
		return cmp.Compare(a.reach, b.reach)
	})
	s.n = min(n, MaxCandidates)
}
