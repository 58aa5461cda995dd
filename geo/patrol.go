package geo

import (
	"math"
	"slices"
	"time"

	"github.com/twpayne/go-geom"
)

// Patrol (巡河) analysis: how far a river chief walked, for how long, how
// much of the reach the walk came near, and whether the track looks like a
// walk at all.
//
// A track is cut into segments between consecutive fixes. Each segment is
// one of:
//   - a teleport: longer than teleportMinDistance and faster than
//     PatrolRules.TeleportSpeed. A receiver that jumps kilometres in
//     seconds (a multipath or cell-tower fix, or a location-spoofing app)
//     has not been walked;
//   - a gap: longer in time than PatrolRules.MaxGap. Nobody knows where the
//     chief went in between, and a straight line from the last fix to the
//     next would let "switch the phone off at one end, on at the other"
//     cover a straight reach;
//   - walked: everything else, including vehicle speeds (they are flagged
//     separately).
//
// Only walked segments count towards length, speeds and coverage.

// teleportMinDistance is the shortest jump that can be a teleport, so that
// jitter between fixes stamped within the same second (tens of metres in
// a street canyon) is never one.
const teleportMinDistance = 100.0

// speedSpan is the shortest time over which speeds are measured. A
// phone's fixes jitter by a few metres each, so the speed between fixes a
// second apart is noise of several m/s; over 10 s it is under 1 m/s.
const speedSpan = 10 * time.Second

// Default patrol rules; see PatrolRules.
const (
	DefaultPatrolBuffer          = 50.0
	DefaultPatrolMinDuration     = 30 * time.Minute
	DefaultPatrolMinLength       = 1000.0
	DefaultPatrolMinCoverage     = 0.6
	DefaultPatrolVehicleSpeed    = 25 / 3.6 // 25 km/h in m/s
	DefaultPatrolVehicleDistance = 200.0
	DefaultPatrolTeleportSpeed   = 50.0 // 180 km/h
	DefaultPatrolMaxGap          = 5 * time.Minute
)

// PatrolRules are the thresholds AnalyzePatrol applies. A field that is
// zero, negative, NaN or infinite takes its default, so PatrolRules{} is
// DefaultPatrolRules(). To switch a minimum off, set it to a value every
// track meets (MinDuration: time.Nanosecond).
//
// A patrol is valid when it lasts at least MinDuration, covers at least
// MinLength metres of the reach or at least MinCoverage of its length,
// has no vehicle stretch and no teleport.
type PatrolRules struct {
	// Buffer is how close to the track, in metres, a point of the reach
	// must be to count as covered. Default 50 m: a riverbank path, GPS
	// error, and the width of a small river.
	Buffer float64

	// MinDuration is the shortest valid patrol, from first to last fix.
	// Default 30 minutes.
	MinDuration time.Duration

	// MinLength is the covered length of the reach, in metres, that makes
	// a patrol long enough whatever its coverage. Default 1000 m. It is
	// measured along the reach (PatrolAnalysis.CoveredM), not along the
	// track: a kilometre walked elsewhere patrols nothing.
	MinLength float64

	// MinCoverage is the share of the reach (0..1) that makes a patrol
	// long enough whatever its length; it lets a short reach pass. Default
	// 0.6.
	MinCoverage float64

	// VehicleSpeed, in m/s, is the speed above which a stretch of
	// VehicleDistance metres or more counts as driven or ridden. Default
	// 25 km/h (6.94 m/s): a brisk walk is 6 km/h, a bicycle 15–25 km/h.
	VehicleSpeed float64

	// VehicleDistance is the shortest vehicle stretch, in metres. Default
	// 200 m, so that a short jog or a burst of GPS noise is not one.
	VehicleDistance float64

	// TeleportSpeed, in m/s, is the speed above which a single segment of
	// more than 100 m is a teleport. Default 50 m/s (180 km/h).
	TeleportSpeed float64

	// MaxGap is the longest time between fixes that is not a gap. Default
	// 5 minutes.
	MaxGap time.Duration
}

// DefaultPatrolRules returns the default rules: a 50 m buffer, at least 30
// minutes, at least 1 km or 60% of the reach covered, no 200 m stretch
// faster than 25 km/h, teleports above 50 m/s, gaps over 5 minutes.
func DefaultPatrolRules() PatrolRules {
	return PatrolRules{
		Buffer:          DefaultPatrolBuffer,
		MinDuration:     DefaultPatrolMinDuration,
		MinLength:       DefaultPatrolMinLength,
		MinCoverage:     DefaultPatrolMinCoverage,
		VehicleSpeed:    DefaultPatrolVehicleSpeed,
		VehicleDistance: DefaultPatrolVehicleDistance,
		TeleportSpeed:   DefaultPatrolTeleportSpeed,
		MaxGap:          DefaultPatrolMaxGap,
	}
}

func (r PatrolRules) withDefaults() PatrolRules {
	d := DefaultPatrolRules()
	pick := func(v *float64, def float64) {
		if !(*v > 0) || math.IsInf(*v, 1) { // NaN too
			*v = def
		}
	}
	pick(&r.Buffer, d.Buffer)
	pick(&r.MinLength, d.MinLength)
	pick(&r.MinCoverage, d.MinCoverage)
	pick(&r.VehicleSpeed, d.VehicleSpeed)
	pick(&r.VehicleDistance, d.VehicleDistance)
	pick(&r.TeleportSpeed, d.TeleportSpeed)
	if r.MinDuration <= 0 {
		r.MinDuration = d.MinDuration
	}
	if r.MaxGap <= 0 {
		r.MaxGap = d.MaxGap
	}
	return r
}

// Reasons why a patrol is invalid, in the order PatrolAnalysis.Reasons
// lists them. They are stable machine codes for clients and reports.
const (
	// ReasonTooShortDuration: the track lasts less than MinDuration.
	ReasonTooShortDuration = "too_short_duration"

	// ReasonTooShortLengthAndCoverage: less than MinLength metres and less
	// than MinCoverage of the reach are covered. A walk along another
	// reach gives this reason.
	ReasonTooShortLengthAndCoverage = "too_short_length_and_coverage"

	// ReasonVehicleSpeed: the track has at least one vehicle stretch.
	ReasonVehicleSpeed = "vehicle_speed"

	// ReasonTeleport: the track has at least one teleport. Teleports are
	// already left out of length and coverage, so they cannot make a
	// patrol valid; the reason exists because a receiver that jumps
	// kilometres is broken or spoofed, which makes its other fixes
	// suspect too. A reviewer decides.
	ReasonTeleport = "teleport"
)

// A Gap is a time of more than PatrolRules.MaxGap without a fix.
type Gap struct {
	Index    int       // the gap lies between fixes Index and Index+1
	From, To time.Time // times of those fixes
	Seconds  float64   // To − From
}

// A Jump is a teleport: a segment longer than 100 m and faster than
// PatrolRules.TeleportSpeed.
type Jump struct {
	Index     int     // the jump is from fix Index to fix Index+1
	DistanceM float64 // metres on the ellipsoid
	// SpeedMS is DistanceM over the time between the fixes in m/s; fixes
	// that share a timestamp are taken as a second apart, as receivers
	// stamp whole seconds, so it is always finite.
	SpeedMS float64
}

// A Stretch is a run of fixes, such as one driven at vehicle speed.
type Stretch struct {
	From, To   int       // fixes From … To of the track
	Start, End time.Time // their times
	DistanceM  float64   // length, measured like PatrolAnalysis.LengthM
	SpeedMS    float64   // DistanceM over the time from Start to End
}

// A PatrolAnalysis is what AnalyzePatrol found.
type PatrolAnalysis struct {
	// LengthM is the length of the track in metres on the ellipsoid,
	// without teleports and gaps, measured like the speeds: as straight
	// lines over spans of at least 10 s. Fix to fix, GPS jitter would add
	// up: a walk at 4 km/h with a fix every second and 5 m of independent
	// jitter would measure eight times its length; over 10 s spans it
	// measures a fifth more. With 3 m of jitter and fixes 10 s apart the
	// excess is 8%. Turns tighter than 10 s of travel are cut.
	LengthM float64

	// Duration is the time from the first fix to the last, gaps included.
	Duration time.Duration

	// ReachLengthM is the length of the reach and CoveredM the length of
	// the parts of it within Buffer of the track (without teleports and
	// gaps), both in metres; Coverage is CoveredM / ReachLengthM, 0..1.
	ReachLengthM float64
	CoveredM     float64
	Coverage     float64

	// MaxSpeed and MedianSpeed are in m/s, measured over spans of at
	// least 10 s of walked segments (consecutive segments are joined
	// until they last 10 s; a leftover shorter span joins the previous
	// one) as the straight line from the span's first fix to its last
	// over its duration. MaxSpeed is the fastest span. MedianSpeed is the
	// median of span speeds weighted by span duration: the chief moved at
	// most this fast for half of the recorded time, stops included. Both
	// are 0 if no segment has a positive duration.
	MaxSpeed    float64
	MedianSpeed float64

	Gaps      []Gap
	Teleports []Jump

	// VehicleSegments are the maximal runs of consecutive spans faster
	// than VehicleSpeed that add up to VehicleDistance or more.
	VehicleSegments []Stretch

	// Valid is true when Reasons is empty.
	Valid bool

	// Reasons are the Reason… codes that make the patrol invalid, in the
	// order of their declaration.
	Reasons []string
}

// segment kinds
const (
	segWalked = iota
	segTeleport
	segGap
)

// A speedSpanOf is consecutive walked segments first … last joined for
// measuring length and speed.
type speedSpanOf struct {
	first, last int     // segment indices
	dist, secs  float64 // straight-line length and duration
}

func (s speedSpanOf) speed() float64 { return s.dist / s.secs }

// AnalyzePatrol measures track as a patrol of reach under rules (see
// PatrolRules and PatrolAnalysis for what is measured and why).
//
// The track should pass Track.Validate, as the parsers' results do; for
// other tracks the results are meaningless but AnalyzePatrol does not
// panic. A nil or empty reach, one without X and Y, or one with a
// coordinate that is not valid WGS-84 has length and coverage 0.
//
// Segment lengths are ellipsoidal: a local equirectangular step at the
// segment's mid-latitude, within 3e-7 of Vincenty for segments shorter
// than 0.1° in both directions (about 10 km; measured at 20–50°N), and
// Distance for longer ones. Coverage is computed in a LocalProjection
// centred on the reach: each reach segment is intersected with the
// capsule of every nearby walked track segment (the points within Buffer
// of it), exactly in the plane, and the union of those intervals is
// measured. On the demo reaches it agrees with PostGIS's
// ST_Intersection of the reach with ST_Buffer of the track in UTM to 1e-5
// when PostGIS's buffer is made round (quad_segs=256) and scaled to UTM;
// ST_Buffer's default 32-gon is up to 0.24% narrower, which moves the
// coverage of a track along the buffer's edge by up to 2 percentage
// points. A grid of cells of at least twice the buffer holds the track
// segments, so the cost is about linear in the number of fixes and
// reach vertices: about 2 ms for a 10 km reach and a 5,000-fix track.
func AnalyzePatrol(track Track, reach *geom.MultiLineString, rules PatrolRules) PatrolAnalysis {
	r := rules.withDefaults()
	var a PatrolAnalysis
	n := len(track)
	if n >= 2 {
		a.Duration = track[n-1].At.Sub(track[0].At)
	}

	kinds := make([]uint8, max(n-1, 0))
	secs := make([]float64, len(kinds))
	for i := range kinds {
		d := segmentLength(track[i].Point, track[i+1].Point)
		dt := track[i+1].At.Sub(track[i].At)
		secs[i] = max(dt.Seconds(), 0)
		switch speed := d / max(secs[i], 1); {
		case d > teleportMinDistance && speed > r.TeleportSpeed:
			kinds[i] = segTeleport
			a.Teleports = append(a.Teleports, Jump{Index: i, DistanceM: d, SpeedMS: speed})
		case dt > r.MaxGap:
			kinds[i] = segGap
			a.Gaps = append(a.Gaps, Gap{Index: i, From: track[i].At, To: track[i+1].At, Seconds: dt.Seconds()})
		}
	}

	spans := speedSpans(track, kinds, secs)
	for _, s := range spans {
		a.LengthM += s.dist
	}
	a.MaxSpeed, a.MedianSpeed = spanSpeeds(spans)
	a.VehicleSegments = vehicleStretches(track, spans, r)

	a.ReachLengthM, a.CoveredM = coverage(track, kinds, reach, r.Buffer)
	if a.ReachLengthM > 0 {
		a.Coverage = min(1, a.CoveredM/a.ReachLengthM)
	}

	if a.Duration < r.MinDuration {
		a.Reasons = append(a.Reasons, ReasonTooShortDuration)
	}
	if a.CoveredM < r.MinLength && a.Coverage < r.MinCoverage {
		a.Reasons = append(a.Reasons, ReasonTooShortLengthAndCoverage)
	}
	if len(a.VehicleSegments) > 0 {
		a.Reasons = append(a.Reasons, ReasonVehicleSpeed)
	}
	if len(a.Teleports) > 0 {
		a.Reasons = append(a.Reasons, ReasonTeleport)
	}
	a.Valid = len(a.Reasons) == 0
	return a
}

// segmentLength returns the ellipsoidal distance between consecutive
// fixes. Fixes are metres apart, where an equirectangular step with the
// radii of curvature at the mid-latitude is exact to second order and
// costs a square root instead of Vincenty's iteration.
func segmentLength(a, b Point) float64 {
	dlon := normalizeLon(b.Lon - a.Lon)
	dlat := b.Lat - a.Lat
	if math.Abs(dlon) > 0.1 || math.Abs(dlat) > 0.1 {
		return Distance(a, b)
	}
	kx, ky := metresPerDegree((a.Lat + b.Lat) / 2)
	return math.Hypot(dlon*kx, dlat*ky)
}

// speedSpans joins runs of walked segments into spans of at least
// speedSpan and measures each as the straight line from its first fix to
// its last. Segments of zero duration join their neighbours; a run that
// never lasts longer than zero gives no span.
func speedSpans(track Track, kinds []uint8, secs []float64) []speedSpanOf {
	var spans []speedSpanOf
	minSecs := speedSpan.Seconds()
	runStart := 0 // index in spans of the first span of the current run
	var cur speedSpanOf
	open := false
	flush := func() {
		if !open {
			return
		}
		switch {
		case cur.secs >= minSecs || len(spans) == runStart:
			if cur.secs > 0 {
				spans = append(spans, cur)
			}
		default: // a short leftover joins the run's previous span
			p := &spans[len(spans)-1]
			p.last, p.secs = cur.last, p.secs+cur.secs
		}
		open = false
	}
	for i, k := range kinds {
		if k != segWalked {
			flush()
			runStart = len(spans)
			continue
		}
		if !open {
			cur, open = speedSpanOf{first: i}, true
		}
		cur.last = i
		cur.secs += secs[i]
		if cur.secs >= minSecs {
			spans = append(spans, cur)
			open = false
		}
	}
	flush()
	for i := range spans {
		s := &spans[i]
		s.dist = segmentLength(track[s.first].Point, track[s.last+1].Point)
	}
	return spans
}

// spanSpeeds returns the fastest span speed and the duration-weighted
// median span speed.
func spanSpeeds(spans []speedSpanOf) (maxSpeed, median float64) {
	if len(spans) == 0 {
		return 0, 0
	}
	type weighted struct{ speed, secs float64 }
	ws := make([]weighted, len(spans))
	total := 0.0
	for i, s := range spans {
		ws[i] = weighted{s.speed(), s.secs}
		total += s.secs
		maxSpeed = max(maxSpeed, ws[i].speed)
	}
	slices.SortFunc(ws, func(a, b weighted) int {
		switch {
		case a.speed < b.speed:
			return -1
		case a.speed > b.speed:
			return 1
		}
		return 0
	})
	acc := 0.0
	for _, w := range ws {
		acc += w.secs
		if acc >= total/2 {
			return maxSpeed, w.speed
		}
	}
	return maxSpeed, ws[len(ws)-1].speed
}

// vehicleStretches returns the maximal runs of adjacent spans faster than
// r.VehicleSpeed whose length (the sum of their chords) reaches
// r.VehicleDistance.
func vehicleStretches(track Track, spans []speedSpanOf, r PatrolRules) []Stretch {
	var out []Stretch
	var run speedSpanOf
	inRun := false
	end := func() {
		if inRun && run.dist >= r.VehicleDistance {
			from, to := run.first, run.last+1
			out = append(out, Stretch{
				From: from, To: to,
				Start: track[from].At, End: track[to].At,
				DistanceM: run.dist, SpeedMS: run.speed(),
			})
		}
		inRun = false
	}
	for _, s := range spans {
		fast := s.speed() > r.VehicleSpeed
		switch {
		case fast && inRun && s.first == run.last+1:
			run.last, run.dist, run.secs = s.last, run.dist+s.dist, run.secs+s.secs
		case fast:
			end()
			run, inRun = s, true
		default:
			end()
		}
	}
	end()
	return out
}

// coverage returns the length of reach and the length of its parts within
// buffer metres of the walked segments of track, in a LocalProjection
// centred on the reach's bounding box.
func coverage(track Track, kinds []uint8, reach *geom.MultiLineString, buffer float64) (total, covered float64) {
	if reach == nil {
		return 0, 0
	}
	flat, stride, err := flatXY(reach)
	if err != nil {
		return 0, 0
	}
	b := reach.Bounds()
	lp := NewLocalProjection(Point{Lon: (b.Min(0) + b.Max(0)) / 2, Lat: (b.Min(1) + b.Max(1)) / 2})

	// Reach vertices in the plane, with the start of each line.
	rxy := make([]float64, 0, len(flat)/stride*2)
	var lineEnds []int // in rxy
	start := 0
	for _, end := range reach.Ends() {
		for i := start; i+1 < end && i+1 < len(flat); i += stride {
			p := Point{Lon: flat[i], Lat: flat[i+1]}
			if !inRange(p) {
				return 0, 0 // NaN would size the grid
			}
			x, y := lp.Project(p)
			rxy = append(rxy, x, y)
		}
		lineEnds = append(lineEnds, len(rxy))
		start = end
	}

	// Walked track segments, projected; only those whose capsule can meet
	// the reach's box matter.
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for i := 0; i < len(rxy); i += 2 {
		minX, maxX = min(minX, rxy[i]), max(maxX, rxy[i])
		minY, maxY = min(minY, rxy[i+1]), max(maxY, rxy[i+1])
	}
	g := capsuleGrid{minX: minX - buffer, minY: minY - buffer, maxX: maxX + buffer, maxY: maxY + buffer, r: buffer}
	txy := make([]float64, 0, 4*len(kinds)) // 4 values per segment: ax, ay, bx, by
	var px, py float64
	for i := range track {
		x, y := lp.Project(track[i].Point)
		if i > 0 && kinds[i-1] == segWalked {
			sx0, sx1 := min(px, x)-buffer, max(px, x)+buffer
			sy0, sy1 := min(py, y)-buffer, max(py, y)+buffer
			if sx1 >= g.minX && sx0 <= g.maxX && sy1 >= g.minY && sy0 <= g.maxY {
				txy = append(txy, px, py, x, y)
			}
		}
		px, py = x, y
	}

	if len(txy) > 0 {
		g.build(txy, rxy, lineEnds)
	}
	var ivs [][2]float64
	seen := make([]int32, len(txy)/4) // last reach segment that looked at a track segment, +1
	start = 0
	seg := int32(0)
	for _, end := range lineEnds {
		for i := start; i+3 < end; i += 2 {
			ax, ay, bx, by := rxy[i], rxy[i+1], rxy[i+2], rxy[i+3]
			dx, dy := bx-ax, by-ay
			l := math.Hypot(dx, dy)
			total += l
			seg++
			if l == 0 || len(txy) == 0 {
				continue
			}
			ivs = ivs[:0]
			x0, y0 := min(ax, bx)-buffer, min(ay, by)-buffer
			x1, y1 := max(ax, bx)+buffer, max(ay, by)+buffer
			g.candidates(min(ax, bx), min(ay, by), max(ax, bx), max(ay, by), func(k int32) bool {
				if seen[k] == seg {
					return true
				}
				seen[k] = seg
				t := txy[4*k : 4*k+4]
				if max(t[0], t[2]) < x0 || min(t[0], t[2]) > x1 || max(t[1], t[3]) < y0 || min(t[1], t[3]) > y1 {
					return true
				}
				lo, hi, ok := capsuleInterval(ax, ay, dx, dy, t[0], t[1], t[2], t[3], buffer)
				if !ok {
					return true
				}
				ivs = append(ivs, [2]float64{lo, hi})
				// On a walk along the reach one capsule usually covers a
				// whole reach segment: nothing more to learn.
				return lo > 0 || hi < 1
			})
			covered += l * unionLength(ivs)
		}
		start = end
	}
	return total, covered
}

// unionLength returns the total length of the union of intervals in
// [0, 1]; it sorts ivs.
func unionLength(ivs [][2]float64) float64 {
	if len(ivs) == 0 {
		return 0
	}
	slices.SortFunc(ivs, func(a, b [2]float64) int {
		switch {
		case a[0] < b[0]:
			return -1
		case a[0] > b[0]:
			return 1
		}
		return 0
	})
	sum := 0.0
	lo, hi := ivs[0][0], ivs[0][1]
	for _, iv := range ivs[1:] {
		if iv[0] > hi {
			sum += hi - lo
			lo, hi = iv[0], iv[1]
			continue
		}
		hi = max(hi, iv[1])
	}
	return sum + hi - lo
}

// capsuleInterval returns the parameters [lo, hi] ⊆ [0, 1] of the points
// (ax, ay) + s·(dx, dy) that lie within r of the segment from (px, py) to
// (qx, qy), and false if there are none. The capsule (the segment grown by
// r) is convex, so the points form one interval. The capsule is the union
// of the discs around the ends and the rectangle between them; each
// meets the line in an interval, and the union of the three is the
// answer, so taking their smallest low and largest high is exact.
func capsuleInterval(ax, ay, dx, dy, px, py, qx, qy, r float64) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	grow := func(l, h float64) {
		if l <= h {
			lo, hi = min(lo, l), max(hi, h)
		}
	}
	d2 := dx*dx + dy*dy
	disc := func(cx, cy float64) {
		fx, fy := ax-cx, ay-cy
		b := fx*dx + fy*dy // half the linear coefficient
		c := fx*fx + fy*fy - r*r
		if q := b*b - d2*c; q >= 0 {
			s := math.Sqrt(q)
			grow((-b-s)/d2, (-b+s)/d2)
		}
	}
	disc(px, py)
	ex, ey := qx-px, qy-py
	if e2 := ex*ex + ey*ey; e2 > 0 {
		disc(qx, qy)
		// Along the segment: u(s) = ((A + s·d − P)·e)/|e|² in [0, 1];
		// across it: h(s) = ((A + s·d − P) × e)/|e| in [−r, r].
		fx, fy := ax-px, ay-py
		el := math.Sqrt(e2)
		l1, h1 := linearRange((fx*ex+fy*ey)/e2, (dx*ex+dy*ey)/e2, 0, 1)
		l2, h2 := linearRange((fx*ey-fy*ex)/el, (dx*ey-dy*ex)/el, -r, r)
		grow(max(l1, l2), min(h1, h2))
	}
	lo, hi = max(lo, 0), min(hi, 1)
	return lo, hi, lo <= hi
}

// linearRange returns the interval of s with lo ≤ c0 + c1·s ≤ hi: all
// reals, none (an empty interval) or a closed interval.
func linearRange(c0, c1, lo, hi float64) (float64, float64) {
	if c1 == 0 {
		if c0 >= lo && c0 <= hi {
			return math.Inf(-1), math.Inf(1)
		}
		return math.Inf(1), math.Inf(-1)
	}
	s0, s1 := (lo-c0)/c1, (hi-c0)/c1
	return min(s0, s1), max(s0, s1)
}

// maxGridCells bounds the cells of a capsuleGrid.
const maxGridCells = 1 << 18

// A capsuleGrid buckets track segments by the cells their capsules'
// bounding boxes overlap, in compressed rows: the segments of cell c are
// ids[start[c]:start[c+1]].
type capsuleGrid struct {
	minX, minY, maxX, maxY float64
	r                      float64
	cell                   float64
	nx, ny                 int
	start                  []int32
	ids                    []int32
}

// build chooses the cell size and fills the grid. Cells start at twice
// the buffer (a walk's segments are metres long, so a cell holds a few
// dozen) and double until the cells that all boxes overlap add up to a
// small multiple of the segment count, which bounds the work for tracks
// of long straight segments or a tiny buffer.
func (g *capsuleGrid) build(txy, rxy []float64, lineEnds []int) {
	w, h := g.maxX-g.minX, g.maxY-g.minY
	g.cell = max(2*g.r, math.Sqrt(w*h/maxGridCells), (w+h)/maxGridCells, 1)
	nseg := len(txy)/4 + len(rxy)/2
	budget := 16*nseg + 1<<16
	for {
		g.nx, g.ny = int(w/g.cell)+1, int(h/g.cell)+1
		work := 0
		for k := 0; k+3 < len(txy) && work <= budget; k += 4 {
			work += g.boxCells(txy[k], txy[k+1], txy[k+2], txy[k+3], g.r)
		}
		start := 0
		for _, end := range lineEnds {
			for i := start; i+3 < end && work <= budget; i += 2 {
				work += g.boxCells(rxy[i], rxy[i+1], rxy[i+2], rxy[i+3], 0)
			}
			start = end
		}
		if work <= budget || g.nx*g.ny == 1 {
			break
		}
		g.cell *= 2
	}

	count := make([]int32, g.nx*g.ny+1)
	for k := 0; k+3 < len(txy); k += 4 {
		g.each(txy[k], txy[k+1], txy[k+2], txy[k+3], g.r, func(c int) { count[c+1]++ })
	}
	for c := 1; c < len(count); c++ {
		count[c] += count[c-1]
	}
	g.start = count
	g.ids = make([]int32, count[len(count)-1])
	fill := slices.Clone(count[:len(count)-1])
	for k := 0; k+3 < len(txy); k += 4 {
		id := int32(k / 4)
		g.each(txy[k], txy[k+1], txy[k+2], txy[k+3], g.r, func(c int) {
			g.ids[fill[c]] = id
			fill[c]++
		})
	}
}

// cellRange returns the cells overlapped by the box of the segment from
// (ax, ay) to (bx, by) grown by pad, clipped to the grid; empty ranges
// have i1 < i0 or j1 < j0.
func (g *capsuleGrid) cellRange(ax, ay, bx, by, pad float64) (i0, j0, i1, j1 int) {
	clamp := func(v float64, n int) int {
		return int(min(max(v, 0), float64(n-1)))
	}
	x0, x1 := min(ax, bx)-pad, max(ax, bx)+pad
	y0, y1 := min(ay, by)-pad, max(ay, by)+pad
	if x1 < g.minX || x0 > g.maxX || y1 < g.minY || y0 > g.maxY {
		return 0, 0, -1, -1
	}
	i0, i1 = clamp((x0-g.minX)/g.cell, g.nx), clamp((x1-g.minX)/g.cell, g.nx)
	j0, j1 = clamp((y0-g.minY)/g.cell, g.ny), clamp((y1-g.minY)/g.cell, g.ny)
	return i0, j0, i1, j1
}

func (g *capsuleGrid) boxCells(ax, ay, bx, by, pad float64) int {
	i0, j0, i1, j1 := g.cellRange(ax, ay, bx, by, pad)
	if i1 < i0 || j1 < j0 {
		return 0
	}
	return (i1 - i0 + 1) * (j1 - j0 + 1)
}

func (g *capsuleGrid) each(ax, ay, bx, by, pad float64, f func(c int)) {
	i0, j0, i1, j1 := g.cellRange(ax, ay, bx, by, pad)
	for j := j0; j <= j1; j++ {
		for i := i0; i <= i1; i++ {
			f(j*g.nx + i)
		}
	}
}

// candidates calls f for every track segment in the cells the box
// (x0, y0)–(x1, y1) overlaps, until f returns false; a segment in several
// cells comes several times.
func (g *capsuleGrid) candidates(x0, y0, x1, y1 float64, f func(k int32) bool) {
	i0, j0, i1, j1 := g.cellRange(x0, y0, x1, y1, 0)
	for j := j0; j <= j1; j++ {
		for i := i0; i <= i1; i++ {
			c := j*g.nx + i
			for _, k := range g.ids[g.start[c]:g.start[c+1]] {
				if !f(k) {
					return
				}
			}
		}
	}
}
