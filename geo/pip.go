package geo

import "math"

// A bandedPolygon is one polygon (a shell and its holes) prepared for
// point-in-polygon tests that cost O(1) edges on ordinary boundaries instead
// of O(vertices).
//
// The polygon's latitude range is cut into horizontal bands of equal height,
// and each band lists the edges whose latitude range meets it. A horizontal
// ray from a point can only cross, and the point can only lie on, edges
// whose latitude range contains the point's latitude, and all of those are
// listed in the point's band. band() is a monotone function of latitude, so
// an edge spanning [y0, y1] is listed in every band any y in [y0, y1] maps
// to, whatever the rounding.
//
// Memory is bounded: the band count starts at a quarter of the edge count
// and is halved until the band lists hold at most 8 entries per edge, so an
// adversarial ring of long zig-zag edges degrades towards one band (a
// linear scan), never to quadratic memory.
type bandedPolygon struct {
	xy         []float64 // flat XY of all rings, each closed (first == last)
	minX, minY float64
	maxX, maxY float64
	scale      float64 // bands per degree of latitude
	bands      int32
	bandStart  []int32 // bandStart[b]:bandStart[b+1] indexes bandEdges
	bandEdges  []int32 // edge e runs from vertex e to vertex e+1
}

// Band count limits.
const (
	maxBands          = 1 << 16
	edgesPerBand      = 4 // initial band count is edges/edgesPerBand
	maxEntriesPerEdge = 8
)

// newBandedPolygon prepares the polygon whose rings (closed, at least one)
// are given as flat XY coordinates with ring end offsets (in float64s, as
// go-geom's Ends). Callers have validated the rings.
func newBandedPolygon(xy []float64, ends []int) bandedPolygon {
	bp := bandedPolygon{
		xy:   xy,
		minX: math.Inf(1), minY: math.Inf(1),
		maxX: math.Inf(-1), maxY: math.Inf(-1),
	}
	for i := 0; i < len(xy); i += 2 {
		bp.minX, bp.maxX = math.Min(bp.minX, xy[i]), math.Max(bp.maxX, xy[i])
		bp.minY, bp.maxY = math.Min(bp.minY, xy[i+1]), math.Max(bp.maxY, xy[i+1])
	}
	edges := make([]int32, 0, len(xy)/2)
	start := 0
	for _, end := range ends {
		for v := start / 2; v < end/2-1; v++ {
			edges = append(edges, int32(v))
		}
		start = end
	}

	nb := max(1, min(len(edges)/edgesPerBand, maxBands))
	for {
		bp.setBands(nb)
		total := 0
		for _, e := range edges {
			b0, b1 := bp.edgeBands(e)
			total += int(b1-b0) + 1
		}
		if nb == 1 || total <= maxEntriesPerEdge*len(edges) {
			bp.fill(edges, total)
			return bp
		}
		nb /= 2
	}
}

func (bp *bandedPolygon) setBands(nb int) {
	bp.bands = int32(nb)
	bp.scale = 0
	if h := bp.maxY - bp.minY; h > 0 {
		bp.scale = float64(nb) / h
	}
}

// band returns the band holding latitude y, clamped to the valid bands.
func (bp *bandedPolygon) band(y float64) int32 {
	f := (y - bp.minY) * bp.scale
	switch {
	case !(f > 0): // also NaN
		return 0
	case f >= float64(bp.bands):
		return bp.bands - 1
	}
	return int32(f)
}

// edgeBands returns the first and last band that edge e meets.
func (bp *bandedPolygon) edgeBands(e int32) (int32, int32) {
	y0, y1 := bp.xy[2*e+1], bp.xy[2*e+3]
	if y0 > y1 {
		y0, y1 = y1, y0
	}
	return bp.band(y0), bp.band(y1)
}

// fill builds the band lists (compressed rows) holding total entries.
func (bp *bandedPolygon) fill(edges []int32, total int) {
	bp.bandStart = make([]int32, bp.bands+1)
	for _, e := range edges {
		b0, b1 := bp.edgeBands(e)
		for b := b0; b <= b1; b++ {
			bp.bandStart[b+1]++
		}
	}
	for b := int32(1); b <= bp.bands; b++ {
		bp.bandStart[b] += bp.bandStart[b-1]
	}
	bp.bandEdges = make([]int32, total)
	next := make([]int32, bp.bands)
	copy(next, bp.bandStart)
	for _, e := range edges {
		b0, b1 := bp.edgeBands(e)
		for b := b0; b <= b1; b++ {
			bp.bandEdges[next[b]] = e
			next[b]++
		}
	}
}

// covers reports whether the closed polygon (interior or boundary) contains
// (px, py), and whether the point lies on the boundary. Interior means odd
// crossing parity over all rings (shell and holes), so a point in a hole is
// outside and a point on a hole's ring is on the boundary. The decision is
// exact for the float64 coordinates, with edges as straight lines in
// longitude/latitude (as in RFC 7946 and PostGIS geometry).
func (bp *bandedPolygon) covers(px, py float64) (covered, onBoundary bool) {
	if !(px >= bp.minX && px <= bp.maxX && py >= bp.minY && py <= bp.maxY) {
		return false, false
	}
	b := bp.band(py)
	xy := bp.xy
	inside := false
	for _, e := range bp.bandEdges[bp.bandStart[b]:bp.bandStart[b+1]] {
		ax, ay, bx, by := xy[2*e], xy[2*e+1], xy[2*e+2], xy[2*e+3]
		if (ay > py) != (by > py) {
			// The edge straddles the horizontal line through p (half-open
			// at its lower end, so a ray through a vertex counts once).
			switch {
			case ax < px && bx < px:
				continue // crosses west of p
			case ax > px && bx > px:
				inside = !inside // crosses east of p
				continue
			}
			o := orient(ax, ay, bx, by, px, py)
			if o == 0 {
				return true, true // on the line within the edge's latitude range
			}
			if (o > 0) == (by > ay) {
				inside = !inside // p is west of the crossing
			}
			continue
		}
		// Not straddling: p can only lie on the edge if the edge is the
		// horizontal line through p, or p is one of its end points.
		switch {
		case ay == py && by == py:
			if px >= min(ax, bx) && px <= max(ax, bx) {
				return true, true
			}
		case (ay == py && ax == px) || (by == py && bx == px):
			return true, true
		}
	}
	return inside, false
}
