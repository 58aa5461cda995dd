package geo

import (
	"math"
	"math/bits"
)

// A reachGrid finds the segments of reaches near a point. It is a uniform
// grid of cells over the bounding box of all reach vertices, in degrees;
// each cell lists the segments that pass through it as runs of
// consecutive segments of one line string, and a cell's runs (a header
// and the coordinates of each) lie one after another in data, so that
// measuring a cell reads memory sequentially instead of chasing tree
// nodes and chunks spread over the whole index (which is what made the
// nearest-reach search wait on cache misses).
//
// A segment through several cells is listed in each of them: its
// coordinates are stored once per cell. The cell size is chosen for a few
// segments per occupied cell, and made coarser if that would store the
// segments more than twice over (long straight segments across many
// cells), so memory stays within about 2 × 16 bytes per segment plus run
// headers.
type reachGrid struct {
	x0, y0 float64 // south-west corner of cell (0, 0), degrees
	w, h   float64 // cell width and height, degrees, > 0
	nx, ny int     // columns and rows; see cell for the numbering

	// The runs of cell c are data[cells[c]:cells[c+1]]. A run of n
	// segments is a header of two words (see runHeader) followed by the
	// longitude and latitude of its n+1 vertices.
	cells []uint32
	data  []float64

	// Occupied cells: bit x of row y at rowBits[y*rowWords:], bit y of
	// column x at colBits[x*colWords:], so that a search skips empty cells
	// without visiting them.
	rowBits, colBits   []uint64
	rowWords, colWords int
}

// tileBits is the log2 of the side of the square tiles in which cells are
// numbered: the cells of a 4 × 4 tile, row by row, then the next tile. A
// point's neighbourhood then lies in one to four stretches of data rather
// than one per row, which the processor's prefetching follows.
const tileBits = 2

// cell returns the number of cell (x, y).
func (g *reachGrid) cell(x, y int) int {
	const m = 1<<tileBits - 1
	tilesX := (g.nx + m) >> tileBits
	return ((y>>tileBits)*tilesX+x>>tileBits)<<(2*tileBits) | (y&m)<<tileBits | x&m
}

// numCells returns the number of cell numbers, including those of the
// tiles' parts beyond the grid, which stay empty.
func (g *reachGrid) numCells() int {
	const m = 1<<tileBits - 1
	return ((g.nx + m) >> tileBits) * ((g.ny + m) >> tileBits) << (2 * tileBits)
}

// runHeader returns the two header words of a run of n segments of reach
// from segment seg on: bit patterns, never read as numbers.
func runHeader(reach int32, n uint32, seg int32) (float64, float64) {
	return math.Float64frombits(uint64(uint32(reach))<<32 | uint64(n)), math.Float64frombits(uint64(uint32(seg)))
}

// readRunHeader is the inverse of runHeader.
func readRunHeader(w0, w1 float64) (reach int32, n uint32, seg int32) {
	b0 := math.Float64bits(w0)
	return int32(uint32(b0 >> 32)), uint32(b0), int32(uint32(math.Float64bits(w1)))
}

// A gridPart is one line string of a reach: vertices first … first+n−1 of
// the flat coordinates passed to newReachGrid. Segment i of the index is
// the one starting at vertex i, so segment numbers increase along a line
// string and never continue from one line string to the next.
type gridPart struct {
	reach    int32
	first, n int32
}

// Grid tuning: segsPerCell is the mean number of segments per cell aimed
// at (on BenchmarkLocate, 4 was slower for every case and 8, 16 and 32
// alike within the noise of the measurement; finer grids for thin river
// data were slower on the demo county); a segment list may hold at most
// maxCopies times as many segments as there are, and the grid at most
// maxCellsPerSeg cells per segment.
const (
	segsPerCell    = 8
	maxCopies      = 2
	maxCellsPerSeg = 4
)

// newReachGrid builds the grid over the parts, whose coordinates are the
// longitude, latitude pairs of xy.
func newReachGrid(xy []float64, parts []gridPart) reachGrid {
	var g reachGrid
	segs := 0
	for _, p := range parts {
		segs += int(p.n) - 1
	}
	if segs == 0 {
		return g
	}
	minX, minY, maxX, maxY := xy[0], xy[1], xy[0], xy[1]
	for i := 2; i < len(xy); i += 2 {
		minX, maxX = min(minX, xy[i]), max(maxX, xy[i])
		minY, maxY = min(minY, xy[i+1]), max(maxY, xy[i+1])
	}
	g.x0, g.y0 = minX, minY

	// Square cells in metres at the middle latitude, as many as segments
	// over segsPerCell if the segments filled the box evenly.
	kx, ky := metresPerDegree((minY + maxY) / 2)
	wm, hm := (maxX-minX)*kx, (maxY-minY)*ky
	target := max(1, float64(segs)/segsPerCell)
	var cellM float64
	switch {
	case wm > 0 && hm > 0:
		cellM = math.Sqrt(wm * hm / target)
	default:
		cellM = max(wm, hm) / target
	}
	size := func(span, k float64) (int, float64) {
		if !(cellM > 0) || !(k > 0) {
			return 1, max(span, 1)
		}
		c := min(cellM/k, 360)
		if span == 0 || c >= span {
			return 1, max(span, c)
		}
		n := int(math.Ceil(span / c))
		return n, span / float64(n)
	}
	g.nx, g.w = size(maxX-minX, kx)
	g.ny, g.h = size(maxY-minY, ky)
	maxCells := maxCellsPerSeg*segs + 1024
	for g.nx*g.ny > maxCells {
		g.coarsen(maxX-minX, maxY-minY)
	}

	// Refine while occupied cells are crowded (segments clustered in part
	// of the box), coarsen while segments are copied too often (long
	// segments across many cells); once coarsened, never refine again.
	var st gridCount
	coarsened := false
	for range 32 {
		st = g.count(xy, parts)
		if (st.entries > maxCopies*segs+1024 || st.words > math.MaxUint32) && g.nx*g.ny > 1 {
			g.coarsen(maxX-minX, maxY-minY)
			coarsened = true
			continue
		}
		if !coarsened && st.entries > 4*segsPerCell*st.occupied && 4*g.nx*g.ny <= maxCells &&
			(g.nx > 1 || g.ny > 1 || maxX > minX || maxY > minY) {
			g.refine(maxX-minX, maxY-minY)
			continue
		}
		break
	}
	g.fill(xy, parts, st)
	return g
}

// coarsen doubles the cell size.
func (g *reachGrid) coarsen(spanX, spanY float64) {
	g.nx, g.w = (g.nx+1)/2, g.w*2
	g.ny, g.h = (g.ny+1)/2, g.h*2
	if g.nx == 1 {
		g.w = max(g.w, spanX)
	}
	if g.ny == 1 {
		g.h = max(g.h, spanY)
	}
}

// refine halves the cell size in the dimensions that have a span.
func (g *reachGrid) refine(spanX, spanY float64) {
	if spanX > 0 {
		g.nx = int(math.Ceil(spanX / (g.w / 2)))
		g.w = spanX / float64(g.nx)
	}
	if spanY > 0 {
		g.ny = int(math.Ceil(spanY / (g.h / 2)))
		g.h = spanY / float64(g.ny)
	}
}

// cellRange returns the columns (or rows) from lo to hi covering
// coordinates a … b, with a margin of a billionth of a cell so that no
// rounding of the cell arithmetic leaves a segment out of a cell it
// touches.
func cellRange(a, b, origin, size float64, n int) (lo, hi int) {
	if a > b {
		a, b = b, a
	}
	lo = int(math.Floor((a-origin)/size - 1e-9))
	hi = int(math.Floor((b-origin)/size + 1e-9))
	return min(max(lo, 0), n-1), min(max(hi, 0), n-1)
}

// segmentCells calls visit with every cell that the segment from (ax, ay)
// to (bx, by) passes through, or may pass through within rounding: the
// cells of its bounding box when that is at most two cells wide or high,
// otherwise, column by column, the rows the segment crosses in that
// column and one more on each side.
func (g *reachGrid) segmentCells(ax, ay, bx, by float64, visit func(c int)) {
	x0, x1 := cellRange(ax, bx, g.x0, g.w, g.nx)
	y0, y1 := cellRange(ay, by, g.y0, g.h, g.ny)
	if x1-x0 <= 1 || y1-y0 <= 1 {
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				visit(g.cell(x, y))
			}
		}
		return
	}
	// bx ≠ ax: the segment spans at least three columns.
	for x := x0; x <= x1; x++ {
		lonA := max(min(ax, bx), g.x0+float64(x)*g.w)
		lonB := min(max(ax, bx), g.x0+float64(x+1)*g.w)
		ta, tb := (lonA-ax)/(bx-ax), (lonB-ax)/(bx-ax)
		latA, latB := ay+ta*(by-ay), ay+tb*(by-ay)
		r0, r1 := cellRange(latA, latB, g.y0, g.h, g.ny)
		for y := max(r0-1, y0); y <= min(r1+1, y1); y++ {
			visit(g.cell(x, y))
		}
	}
}

// gridCount is the outcome of counting the cells of every segment.
type gridCount struct {
	cellWords []uint32 // words of data per cell
	entries   int      // segments summed over cells
	occupied  int      // cells with at least one segment
	words     int      // words of data summed over cells
}

// forEachSegment calls f with every segment of the parts: its number, its
// reach and its end points.
func forEachSegment(xy []float64, parts []gridPart, f func(seg, reach int32, ax, ay, bx, by float64)) {
	for _, p := range parts {
		for v := p.first; v < p.first+p.n-1; v++ {
			f(v, p.reach, xy[2*v], xy[2*v+1], xy[2*v+2], xy[2*v+3])
		}
	}
}

// count counts the words of data each cell will hold. A segment
// continues a run of its cell if the previous segment of the same line
// string is the last one listed there; otherwise it starts a run (a
// header and two vertices).
func (g *reachGrid) count(xy []float64, parts []gridPart) gridCount {
	n := g.numCells()
	st := gridCount{cellWords: make([]uint32, n)}
	last := make([]int32, n)
	for i := range last {
		last[i] = -2
	}
	forEachSegment(xy, parts, func(seg, _ int32, ax, ay, bx, by float64) {
		g.segmentCells(ax, ay, bx, by, func(c int) {
			st.entries++
			words := uint32(2)
			if last[c] != seg-1 {
				if st.cellWords[c] == 0 {
					st.occupied++
				}
				words = 6
			}
			st.cellWords[c] += words
			st.words += int(words)
			last[c] = seg
		})
	})
	return st
}

// fill lays out the runs counted by st.
func (g *reachGrid) fill(xy []float64, parts []gridPart, st gridCount) {
	n := g.numCells()
	g.cells = make([]uint32, n+1)
	at := st.cellWords // reused as each cell's next word
	words := uint32(0)
	for c := range n {
		g.cells[c] = words
		words, at[c] = words+at[c], words
	}
	g.cells[n] = words
	g.rowWords, g.colWords = (g.nx+63)/64, (g.ny+63)/64
	g.rowBits = make([]uint64, g.ny*g.rowWords)
	g.colBits = make([]uint64, g.nx*g.colWords)
	for y := range g.ny {
		for x := range g.nx {
			if c := g.cell(x, y); g.cells[c+1] == g.cells[c] {
				continue
			}
			g.rowBits[y*g.rowWords+x/64] |= 1 << (x % 64)
			g.colBits[x*g.colWords+y/64] |= 1 << (y % 64)
		}
	}
	g.data = make([]float64, words)
	last := make([]int32, n)
	run := make([]uint32, n) // header of the cell's last run
	for i := range last {
		last[i] = -2
	}
	forEachSegment(xy, parts, func(seg, reach int32, ax, ay, bx, by float64) {
		g.segmentCells(ax, ay, bx, by, func(c int) {
			w := at[c]
			if last[c] == seg-1 {
				h := run[c]
				r, k, first := readRunHeader(g.data[h], g.data[h+1])
				g.data[h], g.data[h+1] = runHeader(r, k+1, first)
				g.data[w], g.data[w+1] = bx, by
				at[c] += 2
			} else {
				run[c] = w
				g.data[w], g.data[w+1] = runHeader(reach, 1, seg)
				g.data[w+2], g.data[w+3], g.data[w+4], g.data[w+5] = ax, ay, bx, by
				at[c] += 6
			}
			last[c] = seg
		})
	})
}

// bytes returns the memory held by the grid.
func (g *reachGrid) bytes() int {
	return 4*cap(g.cells) + 8*cap(g.data) + 8*(cap(g.rowBits)+cap(g.colBits))
}

// gridIndex converts a cell coordinate to an int, clamped far beyond any
// grid so that it stays exact in float64 arithmetic.
func gridIndex(f float64) int {
	return int(math.Floor(min(max(f, -1<<40), 1<<40)))
}

// A cellWalk is a straight run of cells, the part of one side of a ring
// from the cell nearest to p outwards: its cells only get farther from p.
type cellWalk struct {
	d2     float64 // squared planar distance from p to the next cell
	x, y   int32   // the next cell
	dx, dy int32   // step to the cell after: (±1, 0) or (0, ±1)
	end    int32   // last column (dx ≠ 0) or row (dy ≠ 0) of the walk
}

// maxWalks bounds the walks pending in a search; beyond it, a new walk is
// done at once (correct, only not in order of distance).
const maxWalks = 64

// nearest runs the search of reachSearch over the grid, cells in order of
// their planar distance to p, until the next cell is beyond the search's
// limit. The order comes from rings of cells around the cell of p: ring k
// is entered when nothing pending is nearer than the grid beyond ring k−1
// (beyond2), its sides become walks outwards from their cells nearest to
// p, and a heap of walks yields the nearest pending cell. A point far
// outside the grid starts at the first ring that meets the grid, and the
// sides are clipped to the grid, so only cells that exist are visited.
func (g *reachGrid) nearest(s *reachSearch) {
	cx := gridIndex((s.p.Lon - g.x0) / g.w)
	cy := gridIndex((s.p.Lat - g.y0) / g.h)
	k := max(0, -cx, cx-(g.nx-1), -cy, cy-(g.ny-1))
	k1 := max(cx, g.nx-1-cx, cy, g.ny-1-cy)
	ringD2 := 0.0 // nothing unvisited outside ring k−1 is nearer
	s.walks = 0
	for {
		if k <= k1 && (s.walks == 0 || ringD2 <= s.heap[0].d2) {
			if ringD2 > s.lim {
				k = k1 + 1 // no ring left can hold a cell within the limit
				continue
			}
			g.addRing(s, cx, cy, k)
			k++
			if k <= k1 {
				ringD2 = g.beyond2(s, cx, cy, k)
			}
			continue
		}
		if s.walks == 0 || s.heap[0].d2 > s.lim {
			return
		}
		w := &s.heap[0]
		g.scanCell(s, int(w.x), int(w.y), w.d2)
		if g.advance(w) {
			w.d2 = g.cellDist2(s, int(w.x), int(w.y))
			if w.d2 <= s.lim {
				s.siftDown(0)
				continue
			}
		}
		s.popWalk()
	}
}

// addRing adds the walks of ring k around cell (cx, cy), clipped to the
// grid: from the cell of each side nearest to p, outwards both ways.
func (g *reachGrid) addRing(s *reachSearch, cx, cy, k int) {
	if k == 0 {
		g.addWalk(s, cellWalk{x: int32(cx), y: int32(cy), dx: 1, end: int32(cx)})
		return
	}
	for _, y := range [2]int{cy + k, cy - k} { // rows, corners included
		if y >= 0 && y < g.ny {
			lo, hi := max(cx-k, 0), min(cx+k, g.nx-1)
			if lo <= hi {
				from := min(max(cx, lo), hi)
				g.addWalk(s, cellWalk{x: int32(from), y: int32(y), dx: 1, end: int32(hi)})
				g.addWalk(s, cellWalk{x: int32(from - 1), y: int32(y), dx: -1, end: int32(lo)})
			}
		}
	}
	for _, x := range [2]int{cx + k, cx - k} { // columns between
		if x >= 0 && x < g.nx {
			lo, hi := max(cy-k+1, 0), min(cy+k-1, g.ny-1)
			if lo <= hi {
				from := min(max(cy, lo), hi)
				g.addWalk(s, cellWalk{x: int32(x), y: int32(from), dy: 1, end: int32(hi)})
				g.addWalk(s, cellWalk{x: int32(x), y: int32(from - 1), dy: -1, end: int32(lo)})
			}
		}
	}
}

// seek moves w to the first occupied cell from its current one (included)
// to its end, and reports whether there is one. Empty cells are skipped by
// their bits in the row and column bitmaps, unvisited.
func (g *reachGrid) seek(w *cellWalk) bool {
	if w.dx != 0 {
		x := nextSet(g.rowBits[int(w.y)*g.rowWords:][:g.rowWords], int(w.x), int(w.end), int(w.dx))
		w.x = int32(x)
		return x >= 0
	}
	y := nextSet(g.colBits[int(w.x)*g.colWords:][:g.colWords], int(w.y), int(w.end), int(w.dy))
	w.y = int32(y)
	return y >= 0
}

// advance moves w to its next occupied cell, reporting whether it has one.
func (g *reachGrid) advance(w *cellWalk) bool {
	if w.x == w.end && w.dx != 0 || w.y == w.end && w.dy != 0 {
		return false
	}
	w.x += w.dx
	w.y += w.dy
	return g.seek(w)
}

// nextSet returns the first index of a set bit of line among i, i+dir, …
// end (dir is ±1), or −1 if none.
func nextSet(line []uint64, i, end, dir int) int {
	if dir > 0 {
		for i <= end {
			if w := line[i>>6] >> (i & 63); w != 0 {
				if j := i + bits.TrailingZeros64(w); j <= end {
					return j
				}
				return -1
			}
			i = (i | 63) + 1
		}
		return -1
	}
	for i >= end && i >= 0 {
		if w := line[i>>6] << (63 - i&63); w != 0 {
			if j := i - bits.LeadingZeros64(w); j >= end {
				return j
			}
			return -1
		}
		i = (i &^ 63) - 1
	}
	return -1
}

// addWalk adds w, moved to its first occupied cell, if that cell is within
// the limit; when the heap is full it walks w at once.
func (g *reachGrid) addWalk(s *reachSearch, w cellWalk) {
	if w.dx > 0 && w.x > w.end || w.dx < 0 && w.x < w.end || w.dy > 0 && w.y > w.end || w.dy < 0 && w.y < w.end {
		return
	}
	if !g.seek(&w) {
		return
	}
	w.d2 = g.cellDist2(s, int(w.x), int(w.y))
	if w.d2 > s.lim {
		return
	}
	if s.walks == maxWalks {
		for {
			g.scanCell(s, int(w.x), int(w.y), w.d2)
			if !g.advance(&w) {
				return
			}
			if w.d2 = g.cellDist2(s, int(w.x), int(w.y)); w.d2 > s.lim {
				return
			}
		}
	}
	i := s.walks
	s.heap[i] = w
	s.walks++
	for i > 0 {
		parent := (i - 1) / 2
		if !(s.heap[i].d2 < s.heap[parent].d2) {
			break
		}
		s.heap[i], s.heap[parent] = s.heap[parent], s.heap[i]
		i = parent
	}
}

// popWalk removes the nearest walk.
func (s *reachSearch) popWalk() {
	s.walks--
	s.heap[0] = s.heap[s.walks]
	s.siftDown(0)
}

// siftDown restores the heap order below i.
func (s *reachSearch) siftDown(i int) {
	h := s.heap[:s.walks]
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h[c+1].d2 < h[c].d2 {
			c++
		}
		if !(h[c].d2 < h[i].d2) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// beyond2 returns the squared planar distance from p to the cells of the
// grid in rings k and beyond: those outside the square of rings 0 … k−1.
func (g *reachGrid) beyond2(s *reachSearch, cx, cy, k int) float64 {
	x1, y1 := g.x0+float64(g.nx)*g.w, g.y0+float64(g.ny)*g.h
	d := math.Inf(1)
	if c := cx - k; c >= 0 { // columns 0 … cx−k
		d = min(d, s.boxDist2(box4{g.x0, g.y0, g.x0 + float64(min(c+1, g.nx))*g.w, y1}))
	}
	if c := cx + k; c < g.nx { // columns cx+k … nx−1
		d = min(d, s.boxDist2(box4{g.x0 + float64(max(c, 0))*g.w, g.y0, x1, y1}))
	}
	if r := cy - k; r >= 0 {
		d = min(d, s.boxDist2(box4{g.x0, g.y0, x1, g.y0 + float64(min(r+1, g.ny))*g.h}))
	}
	if r := cy + k; r < g.ny {
		d = min(d, s.boxDist2(box4{g.x0, g.y0 + float64(max(r, 0))*g.h, x1, y1}))
	}
	return d
}

// cellDist2 is the squared planar distance from p to cell (x, y).
func (g *reachGrid) cellDist2(s *reachSearch, x, y int) float64 {
	lon, lat := g.x0+float64(x)*g.w, g.y0+float64(y)*g.h
	return s.boxDist2(box4{lon, lat, lon + g.w, lat + g.h})
}

// scanCell measures every run of cell (x, y), at squared planar distance
// d2 from p: each run's closest point to p in the plane (the first of its
// segments on a tie) is offered to the search, unless the run's reach
// already has a point nearer than the cell.
func (g *reachGrid) scanCell(s *reachSearch, x, y int, d2 float64) {
	c := g.cell(x, y)
	s.cells++
	data := g.data[g.cells[c]:g.cells[c+1]]
	lb := 0.0 // a lower bound of the distance of every segment of the cell
	if d := math.Sqrt(d2) - 1e-6; d > 0 {
		lb = d * d
	}
	for i := 0; i < len(data); {
		reach, n, seg := readRunHeader(data[i], data[i+1])
		v := i + 2
		xy := data[v : v+2*int(n+1)]
		i = v + len(xy)
		if lb > 0 && s.hasBelow(reach, lb) {
			continue // nothing here can improve that reach
		}
		ax, ay := (xy[0]-s.p.Lon)*s.kx, (xy[1]-s.p.Lat)*s.ky
		best, at, bt := math.Inf(1), 0, 0.0
		for j := 2; j < len(xy); j += 2 {
			bx, by := (xy[j]-s.p.Lon)*s.kx, (xy[j+1]-s.p.Lat)*s.ky
			t := closestOnSegment(ax, ay, bx, by)
			cx, cy := ax+t*(bx-ax), ay+t*(by-ay)
			if d2 := cx*cx + cy*cy; d2 < best {
				best, at, bt = d2, j/2-1, t
			}
			ax, ay = bx, by
		}
		s.offer(reachHit{reach: reach, seg: seg + int32(at), v: g.cells[c] + uint32(v+2*at), t: bt, d2: best})
	}
}

// hasBelow reports whether the pool holds reach at a squared distance
// below d2.
func (s *reachSearch) hasBelow(reach int32, d2 float64) bool {
	for i := range s.top[:s.n] {
		if s.top[i].reach == reach {
			return s.top[i].d2 < d2
		}
	}
	return false
}
