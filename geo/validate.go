package geo

import (
	"fmt"
	"slices"
	"sort"
)

// Polygon validation for imports: simple rings, holes inside their shell.
//
// Rings are checked for intersections with a sweep along longitude: the
// edges of all rings of a polygon are sorted by their western end, and each
// edge is compared with the edges still "active" (whose eastern end lies
// beyond its western end) whose latitude ranges overlap. For a boundary
// that a meridian crosses k times this costs O(n log n + n·k); real
// township boundaries have small k. A pathological ring (thousands of long
// edges spanning the same meridians) would make it quadratic, so the sweep
// stops after sweepWorkPerEdge comparisons per edge on average and the
// feature is reported as too complex to validate, rather than accepted
// unchecked or checked for minutes.
//
// Intersection tests use the exact orient predicate. The rules, stricter
// than OGC where they differ:
//   - consecutive duplicate positions are ignored;
//   - a ring needs at least 3 distinct positions;
//   - two edges of one ring may only share the vertex between consecutive
//     edges (no crossing, touching, or overlapping, no spikes);
//   - edges of different rings of a polygon may not meet at all (OGC
//     allows a hole to touch its shell at one point; we do not);
//   - each hole lies inside its shell and outside every other hole.
//
// Overlaps between the polygons of a MultiPolygon, and between townships,
// are not checked; Index resolves them by its lowest-code rule.

// sweepWorkPerEdge bounds the sweep to this many edge comparisons per edge
// on average, plus sweepWorkBase.
const (
	sweepWorkPerEdge = 256
	sweepWorkBase    = 1 << 20
)

// A sweepEdge is one edge of a ring being validated, with its bounds.
type sweepEdge struct {
	minX, maxX, minY, maxY float64
	ring                   int32
	v                      int32 // start vertex in the deduplicated XY
}

// validatePolygon checks the rings of one polygon (ring 0 the shell),
// given as flat XY with go-geom style ends, all closed with at least 4
// positions. It returns "" or a description of the first problem found.
// ringName names ring r for messages.
func validatePolygon(xy []float64, ends []int, ringName func(r int) string) string {
	// Drop consecutive duplicates, remembering original position numbers.
	dxy := make([]float64, 0, len(xy))
	orig := make([]int32, 0, len(xy)/2) // deduplicated vertex → position in its ring
	dends := make([]int, 0, len(ends))
	start := 0
	for r, end := range ends {
		n := 0
		for i := start; i < end; i += 2 {
			if n > 0 && xy[i] == dxy[len(dxy)-2] && xy[i+1] == dxy[len(dxy)-1] {
				continue
			}
			dxy = append(dxy, xy[i], xy[i+1])
			orig = append(orig, int32((i-start)/2))
			n++
		}
		if n < 4 {
			return fmt.Sprintf("%s has fewer than 3 distinct positions", ringName(r))
		}
		dends = append(dends, len(dxy))
		start = end
	}

	if msg := sweepIntersections(dxy, dends, orig, ringName); msg != "" {
		return msg
	}
	return checkHoles(dxy, dends, ringName)
}

// sweepIntersections reports the first pair of edges that meet where they
// should not, or "".
func sweepIntersections(xy []float64, ends []int, orig []int32, ringName func(int) string) string {
	var edges []sweepEdge
	ringStart := make([]int32, len(ends)) // first vertex of each ring
	ringLast := make([]int32, len(ends))  // start vertex of each ring's last edge
	start := 0
	for r, end := range ends {
		ringStart[r] = int32(start / 2)
		ringLast[r] = int32(end/2 - 2)
		for v := start / 2; v < end/2-1; v++ {
			ax, ay, bx, by := xy[2*v], xy[2*v+1], xy[2*v+2], xy[2*v+3]
			edges = append(edges, sweepEdge{
				minX: min(ax, bx), maxX: max(ax, bx),
				minY: min(ay, by), maxY: max(ay, by),
				ring: int32(r), v: int32(v),
			})
		}
		start = end
	}
	slices.SortFunc(edges, func(a, b sweepEdge) int {
		switch {
		case a.minX < b.minX:
			return -1
		case a.minX > b.minX:
			return 1
		}
		return int(a.v - b.v)
	})

	budget := sweepWorkBase + sweepWorkPerEdge*len(edges)
	active := make([]sweepEdge, 0, 64)
	for _, e := range edges {
		kept := active[:0]
		for _, a := range active {
			if a.maxX >= e.minX {
				kept = append(kept, a)
			}
		}
		active = kept
		if budget -= len(active) + 1; budget < 0 {
			return fmt.Sprintf("too complex to check for self-intersections (more than %d edge comparisons); simplify the boundary", sweepWorkBase+sweepWorkPerEdge*len(edges))
		}
		for _, a := range active {
			if a.maxY < e.minY || a.minY > e.maxY {
				continue
			}
			f, g := a, e
			if f.v > g.v {
				f, g = g, f
			}
			if !edgesConflict(xy, f, g, ringStart, ringLast) {
				continue
			}
			fr, gr := int(f.ring), int(g.ring)
			if fr == gr {
				return fmt.Sprintf("%s intersects itself: edge %s and edge %s meet",
					ringName(fr), edgeName(orig, f.v), edgeName(orig, g.v))
			}
			return fmt.Sprintf("%s and %s intersect: edge %s of the first meets edge %s of the second",
				ringName(fr), ringName(gr), edgeName(orig, f.v), edgeName(orig, g.v))
		}
		active = append(active, e)
	}
	return ""
}

// edgeName names the edge starting at deduplicated vertex v by the
// positions of the input ring it joins, e.g. "2–3".
func edgeName(orig []int32, v int32) string {
	return fmt.Sprintf("%d–%d", orig[v], orig[v+1])
}

// edgesConflict reports whether edges f and g (f.v < g.v) meet in a way a
// valid polygon forbids.
func edgesConflict(xy []float64, f, g sweepEdge, ringStart, ringLast []int32) bool {
	p1x, p1y, p2x, p2y := xy[2*f.v], xy[2*f.v+1], xy[2*f.v+2], xy[2*f.v+3]
	q1x, q1y, q2x, q2y := xy[2*g.v], xy[2*g.v+1], xy[2*g.v+2], xy[2*g.v+3]
	if f.ring == g.ring {
		switch {
		case g.v == f.v+1:
			// Consecutive: they share p2 = q1 and may only meet there. They
			// overlap if collinear and q2 turns back over f (or further).
			return orient(p1x, p1y, p2x, p2y, q2x, q2y) == 0 &&
				(onCollinearSegment(p1x, p1y, p2x, p2y, q2x, q2y) || onCollinearSegment(q1x, q1y, q2x, q2y, p1x, p1y))
		case f.v == ringStart[f.ring] && g.v == ringLast[f.ring]:
			// The closing pair: they share p1 = q2.
			return orient(q1x, q1y, q2x, q2y, p2x, p2y) == 0 &&
				(onCollinearSegment(q1x, q1y, q2x, q2y, p2x, p2y) || onCollinearSegment(p1x, p1y, p2x, p2y, q1x, q1y))
		}
	}
	return segmentsMeet(p1x, p1y, p2x, p2y, q1x, q1y, q2x, q2y)
}

// segmentsMeet reports whether closed segments p1p2 and q1q2 share a point.
func segmentsMeet(p1x, p1y, p2x, p2y, q1x, q1y, q2x, q2y float64) bool {
	o1 := orient(p1x, p1y, p2x, p2y, q1x, q1y)
	o2 := orient(p1x, p1y, p2x, p2y, q2x, q2y)
	o3 := orient(q1x, q1y, q2x, q2y, p1x, p1y)
	o4 := orient(q1x, q1y, q2x, q2y, p2x, p2y)
	if o1*o2 < 0 && o3*o4 < 0 {
		return true
	}
	return o1 == 0 && onCollinearSegment(p1x, p1y, p2x, p2y, q1x, q1y) ||
		o2 == 0 && onCollinearSegment(p1x, p1y, p2x, p2y, q2x, q2y) ||
		o3 == 0 && onCollinearSegment(q1x, q1y, q2x, q2y, p1x, p1y) ||
		o4 == 0 && onCollinearSegment(q1x, q1y, q2x, q2y, p2x, p2y)
}

// onCollinearSegment reports whether c, known to be collinear with a and
// b, lies on the closed segment ab.
func onCollinearSegment(ax, ay, bx, by, cx, cy float64) bool {
	return cx >= min(ax, bx) && cx <= max(ax, bx) && cy >= min(ay, by) && cy <= max(ay, by)
}

// checkHoles reports a hole outside its shell or inside another hole. It
// runs after sweepIntersections, so rings neither cross nor touch, and one
// vertex of a hole decides where the whole hole lies.
func checkHoles(xy []float64, ends []int, ringName func(int) string) string {
	if len(ends) < 2 {
		return ""
	}
	shell := newBandedPolygon(xy[:ends[0]], ends[:1])
	for r := 1; r < len(ends); r++ {
		if covered, _ := shell.covers(xy[ends[r-1]], xy[ends[r-1]+1]); !covered {
			return fmt.Sprintf("%s lies outside the shell (ring 0)", ringName(r))
		}
	}
	if len(ends) < 3 {
		return ""
	}
	// All holes in one banded polygon; a hole's first vertex is inside
	// another hole when the other holes' edges cross a ray from it an odd
	// number of times.
	base := ends[0]
	holeEnds := make([]int, len(ends)-1)
	for i := range holeEnds {
		holeEnds[i] = ends[i+1] - base
	}
	holes := newBandedPolygon(xy[base:], holeEnds)
	for r := 1; r < len(ends); r++ {
		px, py := xy[ends[r-1]], xy[ends[r-1]+1]
		if other := holes.insideOtherRing(holeEnds, r-1, px, py); other >= 0 {
			return fmt.Sprintf("%s lies inside %s", ringName(r), ringName(other+1))
		}
	}
	return ""
}

// insideOtherRing returns the ring (other than own) of bp whose interior
// contains (px, py) by the crossing parity of rings other than own, or −1.
// Rings must not touch or cross. When the parity is odd it returns the
// ring of the nearest crossing to the east, which is the innermost ring
// around the point.
func (bp *bandedPolygon) insideOtherRing(ends []int, own int, px, py float64) int {
	ringOf := func(e int32) int {
		return sort.SearchInts(ends, 2*int(e)+2)
	}
	b := bp.band(py)
	xy := bp.xy
	inside := false
	nearest, nearestX := -1, 0.0
	for _, e := range bp.bandEdges[bp.bandStart[b]:bp.bandStart[b+1]] {
		ax, ay, bx, by := xy[2*e], xy[2*e+1], xy[2*e+2], xy[2*e+3]
		if (ay > py) == (by > py) {
			continue
		}
		r := ringOf(e)
		if r == own {
			continue
		}
		if o := orient(ax, ay, bx, by, px, py); (o > 0) == (by > ay) && o != 0 {
			inside = !inside
			x := ax + (py-ay)*(bx-ax)/(by-ay)
			if nearest < 0 || x < nearestX {
				nearest, nearestX = r, x
			}
		}
	}
	if !inside {
		return -1
	}
	return nearest
}
