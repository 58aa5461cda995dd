package geo_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twpayne/go-geom"

	"github.com/fieldwatch/fieldwatch/demo"
	"github.com/fieldwatch/fieldwatch/geo"
)

var updateTracks = flag.Bool("update", false, "rewrite testdata/tracks/synthetic from the track generator")

// Synthetic patrol tracks over the demo reaches. They are generated here
// and written to testdata/tracks/synthetic (go test ./geo -run
// TestPatrolSynthetic -update), where store's PostGIS oracle reads the
// same tracks; TestPatrolSynthetic fails if the files drift from the
// generator.

const syntheticTracksDir = "testdata/tracks/synthetic"

// patrolStart is when every synthetic patrol starts.
var patrolStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.FixedZone("CST", 8*3600))

const (
	walkSpeed  = 4 / 3.6  // m/s
	driveSpeed = 60 / 3.6 // m/s
	gpsJitter  = 3.0      // metres, standard deviation per axis
)

// A patrolLeg is one stretch of a synthetic track: along a demo reach from
// one fraction of its length to another at a constant speed, a fix every
// few seconds.
type patrolLeg struct {
	reach    string
	from, to float64 // fractions of the reach's length
	speed    float64 // m/s
	every    int     // seconds between fixes
	left     float64 // metres left of the reach, across the direction of travel
}

// A patrolCase is a synthetic patrol of reach and what AnalyzePatrol must
// find with the default rules.
type patrolCase struct {
	name  string
	reach string // the reach the patrol is recorded for
	legs  []patrolLeg
	edit  func(geo.Track) geo.Track // a glitch applied after generation

	covLo, covHi float64 // Coverage range
	reasons      []string
	gaps         int
	teleports    int
	vehicles     int
	check        func(t *testing.T, a geo.PatrolAnalysis)
}

// CH-02 (4.97 km) is the reach most cases patrol: a full walk takes 75
// minutes, half of it 37.
var patrolCases = []patrolCase{
	{
		name: "full-walk", reach: "CH-02",
		legs:  []patrolLeg{{"CH-02", 0, 1, walkSpeed, 10, 0}},
		covLo: 0.999, covHi: 1,
		check: func(t *testing.T, a geo.PatrolAnalysis) {
			// Jitter of 3 m per axis on 11 m steps lengthens the path by
			// about 12%.
			assertBetween(t, "LengthM", a.LengthM, 4967, 4967*1.2)
			assertBetween(t, "MedianSpeed", a.MedianSpeed, walkSpeed*0.95, walkSpeed*1.3)
			assertBetween(t, "MaxSpeed", a.MaxSpeed, walkSpeed, 2.5)
			assertBetween(t, "Duration", a.Duration.Minutes(), 74, 75)
		},
	},
	{
		// Half the reach: 37 minutes and 2.5 km of the reach covered, so
		// valid by length although coverage is under 60%.
		name: "half-walk", reach: "CH-02",
		legs:  []patrolLeg{{"CH-02", 0, 0.5, walkSpeed, 10, 0}},
		covLo: 0.5, covHi: 0.52, // plus the buffer beyond the last fix
		check: func(t *testing.T, a geo.PatrolAnalysis) {
			assertBetween(t, "CoveredM", a.CoveredM, 2483, 2540)
		},
	},
	{
		// 60 km/h for 5 km is five minutes.
		name: "drive", reach: "CH-02",
		legs:  []patrolLeg{{"CH-02", 0, 1, driveSpeed, 2, 0}},
		covLo: 0.999, covHi: 1,
		reasons: []string{geo.ReasonTooShortDuration, geo.ReasonVehicleSpeed},
		check: func(t *testing.T, a geo.PatrolAnalysis) {
			s := a.VehicleSegments[0]
			assertBetween(t, "vehicle DistanceM", s.DistanceM, 4967, 5100)
			assertBetween(t, "vehicle SpeedMS", s.SpeedMS, driveSpeed*0.98, driveSpeed*1.05)
			assertBetween(t, "MedianSpeed", a.MedianSpeed, driveSpeed*0.98, driveSpeed*1.05)
		},
	},
	{
		// Walk half, drive the rest: long enough, only the car is wrong.
		name: "walk-then-drive", reach: "CH-02",
		legs: []patrolLeg{
			{"CH-02", 0, 0.5, walkSpeed, 10, 0},
			{"CH-02", 0.5, 1, driveSpeed, 2, 0},
		},
		covLo: 0.999, covHi: 1,
		reasons: []string{geo.ReasonVehicleSpeed}, vehicles: 1,
		check: func(t *testing.T, a geo.PatrolAnalysis) {
			s := a.VehicleSegments[0]
			assertBetween(t, "vehicle DistanceM", s.DistanceM, 2400, 2600)
			if d := s.Start.Sub(patrolStart).Minutes(); d < 37 || d > 38 {
				t.Errorf("vehicle stretch starts %.1f min in, want when the walk ends (37.3)", d)
			}
		},
	},
	{
		// One fix in the middle 5 km off: out and back in 10 s each.
		name: "teleport", reach: "CH-02",
		legs: []patrolLeg{{"CH-02", 0, 1, walkSpeed, 10, 0}},
		edit: func(tr geo.Track) geo.Track {
			k := len(tr) / 2
			tr[k].Point = geo.NewLocalProjection(tr[k].Point).Unproject(5000, 0)
			return tr
		},
		covLo: 0.999, covHi: 1,
		reasons: []string{geo.ReasonTeleport}, teleports: 2,
		check: func(t *testing.T, a geo.PatrolAnalysis) {
			for _, j := range a.Teleports {
				assertBetween(t, "jump DistanceM", j.DistanceM, 4950, 5050)
				assertBetween(t, "jump SpeedMS", j.SpeedMS, 495, 505)
			}
			// The two jumps replace about 22 m of walking: the length is
			// the full walk's less that, not plus 10 km.
			assertBetween(t, "LengthM", a.LengthM, 4967, 4967*1.2)
			assertBetween(t, "MaxSpeed", a.MaxSpeed, walkSpeed, 2.5)
		},
	},
	{
		// QH-02 is 20 km from CH-02.
		name: "other-reach", reach: "CH-02",
		legs:  []patrolLeg{{"QH-02", 0, 1, walkSpeed, 10, 0}},
		covLo: 0, covHi: 0,
		reasons: []string{geo.ReasonTooShortLengthAndCoverage},
		check: func(t *testing.T, a geo.PatrolAnalysis) {
			assertBetween(t, "LengthM", a.LengthM, 2476, 2476*1.2)
		},
	},
	{
		// Along the far bank, 52 m left of the reach's line, with 3 m of
		// jitter: the track wanders in and out of the 50 m buffer, and
		// where the reach bends the inside of the bend is covered and the
		// outside is not. About half is covered, 2.5 km: valid by length.
		// A test of the geometry more than of the rules: PostGIS must
		// agree on a coverage that every metre of offset changes.
		name: "far-bank", reach: "CH-02",
		legs:  []patrolLeg{{"CH-02", 0, 1, walkSpeed, 10, 52}},
		covLo: 0.3, covHi: 0.7,
	},
	{
		// 1.5 km in 22.5 minutes: long enough, too quick.
		name: "short-walk", reach: "CH-02",
		legs:  []patrolLeg{{"CH-02", 0, 0.3, walkSpeed, 10, 0}},
		covLo: 0.3, covHi: 0.32,
		reasons: []string{geo.ReasonTooShortDuration},
	},
	{
		// No fix from minute 20 to minute 30: the 680 m in between are
		// neither length nor coverage, less the buffer at both ends (more
		// than 50 m along the reach where it bends).
		name: "gap", reach: "CH-02",
		legs: []patrolLeg{{"CH-02", 0, 1, walkSpeed, 10, 0}},
		edit: func(tr geo.Track) geo.Track {
			return slices.DeleteFunc(tr, func(f geo.Fix) bool {
				d := f.At.Sub(patrolStart)
				return d > 20*time.Minute && d < 30*time.Minute
			})
		},
		covLo: 1 - (600*walkSpeed-90)/4967, covHi: 1 - (600*walkSpeed-130)/4967,
		gaps: 1,
		check: func(t *testing.T, a geo.PatrolAnalysis) {
			g := a.Gaps[0]
			if g.Seconds != 600 || g.From.Sub(patrolStart) != 20*time.Minute {
				t.Errorf("gap %+v, want 600 s from minute 20", g)
			}
			assertBetween(t, "LengthM", a.LengthM, 4967-680, (4967-680)*1.2)
		},
	},
}

func assertBetween(t *testing.T, what string, got, lo, hi float64) {
	t.Helper()
	if !(got >= lo && got <= hi) {
		t.Errorf("%s = %.4f, want in [%.4f, %.4f]", what, got, lo, hi)
	}
}

// demoReachLines returns the demo reaches' lines by code.
func demoReachLines(t testing.TB) map[string]*geom.MultiLineString {
	t.Helper()
	rs, err := geo.ParseReaches(demo.ReachesGeoJSON, geo.ImportLimits{})
	if err != nil {
		t.Fatal(err)
	}
	lines := make(map[string]*geom.MultiLineString, len(rs))
	for _, r := range rs {
		lines[r.Code] = r.Line
	}
	return lines
}

// reachWalker gives points at arc lengths along the first line of a
// reach, in a local projection.
type reachWalker struct {
	lp     geo.LocalProjection
	xy     []float64 // projected vertices
	cum    []float64 // arc length at each vertex
	length float64
}

func newReachWalker(line *geom.MultiLineString) reachWalker {
	flat := line.LineString(0).FlatCoords()
	w := reachWalker{lp: geo.NewLocalProjection(geo.Point{Lon: flat[0], Lat: flat[1]})}
	for i := 0; i < len(flat); i += 2 {
		x, y := w.lp.Project(geo.Point{Lon: flat[i], Lat: flat[i+1]})
		if i > 0 {
			w.length += math.Hypot(x-w.xy[len(w.xy)-2], y-w.xy[len(w.xy)-1])
		}
		w.xy = append(w.xy, x, y)
		w.cum = append(w.cum, w.length)
	}
	return w
}

// at returns the planar point at arc length s, moved left metres to the
// left of the segment it lies on.
func (w reachWalker) at(s, left float64) (x, y float64) {
	i, _ := slices.BinarySearch(w.cum, s)
	i = min(max(i, 1), len(w.cum)-1)
	dx, dy := w.xy[2*i]-w.xy[2*i-2], w.xy[2*i+1]-w.xy[2*i-1]
	l := math.Hypot(dx, dy)
	t := (s - w.cum[i-1]) / l
	return w.xy[2*i-2] + t*dx - left*dy/l, w.xy[2*i-1] + t*dy + left*dx/l
}

// generate returns the track of c: its legs one after another, each fix
// displaced by Gaussian jitter and rounded to 1e-6° and whole seconds, as
// a phone would record it; then c.edit.
func (c patrolCase) generate(t testing.TB, lines map[string]*geom.MultiLineString) geo.Track {
	t.Helper()
	h := fnv.New64a()
	h.Write([]byte(c.name))
	rng := rand.New(rand.NewPCG(h.Sum64(), 20260301))
	round := func(v float64) float64 { return math.Round(v*1e6) / 1e6 }

	var tr geo.Track
	secs := 0
	for n, leg := range c.legs {
		line, ok := lines[leg.reach]
		if !ok {
			t.Fatalf("no demo reach %s", leg.reach)
		}
		w := newReachWalker(line)
		s0, s1 := leg.from*w.length, leg.to*w.length
		steps := int((s1 - s0) / (leg.speed * float64(leg.every)))
		offsets := make([]int, 0, steps+2) // seconds from the leg's start
		for j := range steps + 1 {
			offsets = append(offsets, j*leg.every)
		}
		if rest := s1 - s0 - float64(steps*leg.every)*leg.speed; rest > 0.5 {
			offsets = append(offsets, steps*leg.every+int(math.Ceil(rest/leg.speed)))
		}
		for j, off := range offsets {
			if n > 0 && j == 0 {
				continue // the previous leg's last fix
			}
			x, y := w.at(min(s0+float64(off)*leg.speed, s1), leg.left)
			p := w.lp.Unproject(x+gpsJitter*rng.NormFloat64(), y+gpsJitter*rng.NormFloat64())
			tr = append(tr, geo.Fix{
				Point: geo.Point{Lon: round(p.Lon), Lat: round(p.Lat)},
				At:    patrolStart.Add(time.Duration(secs+off) * time.Second),
			})
		}
		secs += offsets[len(offsets)-1]
	}
	if c.edit != nil {
		tr = c.edit(tr)
		for i := range tr {
			tr[i].Lon, tr[i].Lat = round(tr[i].Lon), round(tr[i].Lat)
		}
	}
	return tr
}

// encodeTrackFixture writes tr as the GeoJSON Feature ParseTrackGeoJSON
// reads, one time and one position a line, with the case name and the
// reach it patrols as properties.
func encodeTrackFixture(c patrolCase, tr geo.Track) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "{\"type\": \"Feature\",\n \"properties\": {\"case\": %q, \"reach\": %q, \"times\": [\n", c.name, c.reach)
	for i, f := range tr {
		sep := ","
		if i == len(tr)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  %q%s\n", f.At.Format(time.RFC3339), sep)
	}
	b.WriteString(" ]},\n \"geometry\": {\"type\": \"LineString\", \"coordinates\": [\n")
	for i, f := range tr {
		sep := ","
		if i == len(tr)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  [%s, %s]%s\n", strconv.FormatFloat(f.Lon, 'f', -1, 64), strconv.FormatFloat(f.Lat, 'f', -1, 64), sep)
	}
	b.WriteString(" ]}}\n")
	return b.Bytes()
}

// syntheticFixture returns the fixture of c, rewriting it with -update
// and failing if it differs from what the generator makes.
func syntheticFixture(t *testing.T, c patrolCase, lines map[string]*geom.MultiLineString) []byte {
	t.Helper()
	want := encodeTrackFixture(c, c.generate(t, lines))
	path := filepath.Join(syntheticTracksDir, c.name+".geojson")
	if *updateTracks {
		if err := os.MkdirAll(syntheticTracksDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./geo -run TestPatrolSynthetic -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the generator (run go test ./geo -run TestPatrolSynthetic -update)", path)
	}
	return got
}

func TestPatrolSynthetic(t *testing.T) {
	lines := demoReachLines(t)
	for _, c := range patrolCases {
		t.Run(c.name, func(t *testing.T) {
			data := syntheticFixture(t, c, lines)
			tr, err := geo.ParseTrackGeoJSON(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			a := geo.AnalyzePatrol(tr, lines[c.reach], geo.DefaultPatrolRules())
			t.Logf("%d fixes, %.0f m, %v, coverage %.4f (%.0f of %.0f m), speed median %.2f max %.2f m/s, reasons %v",
				len(tr), a.LengthM, a.Duration, a.Coverage, a.CoveredM, a.ReachLengthM, a.MedianSpeed, a.MaxSpeed, a.Reasons)

			assertBetween(t, "Coverage", a.Coverage, c.covLo, c.covHi)
			if !slices.Equal(a.Reasons, c.reasons) {
				t.Errorf("Reasons = %q, want %q", a.Reasons, c.reasons)
			}
			if a.Valid != (len(c.reasons) == 0) {
				t.Errorf("Valid = %v with reasons %q", a.Valid, a.Reasons)
			}
			wantVehicles := c.vehicles
			if slices.Contains(c.reasons, geo.ReasonVehicleSpeed) {
				wantVehicles = max(wantVehicles, 1)
			}
			if len(a.Gaps) != c.gaps || len(a.Teleports) != c.teleports || len(a.VehicleSegments) != wantVehicles {
				t.Errorf("%d gaps, %d teleports, %d vehicle stretches; want %d, %d, %d",
					len(a.Gaps), len(a.Teleports), len(a.VehicleSegments), c.gaps, c.teleports, wantVehicles)
			}
			if c.check != nil && !t.Failed() {
				c.check(t, a)
			}
		})
	}
}

// TestPatrolTeleportExcluded checks that the teleport case measures what
// the same walk without the bad fix measures, less the 20 s walked while
// the receiver was elsewhere: the jumps (10 km) add nothing.
func TestPatrolTeleportExcluded(t *testing.T) {
	lines := demoReachLines(t)
	jumpy := patrolCases[slices.IndexFunc(patrolCases, func(c patrolCase) bool { return c.name == "teleport" })]
	tr := jumpy.generate(t, lines)
	ja := geo.AnalyzePatrol(tr, lines["CH-02"], geo.PatrolRules{})
	if len(ja.Teleports) != 2 {
		t.Fatalf("%d teleports, want 2", len(ja.Teleports))
	}
	k := ja.Teleports[1].Index // the bad fix
	pa := geo.AnalyzePatrol(slices.Delete(slices.Clone(tr), k, k+1), lines["CH-02"], geo.PatrolRules{})
	walked := geo.Distance(tr[k-1].Point, tr[k+1].Point)
	if d := pa.LengthM - ja.LengthM; math.Abs(d-walked) > 0.01 {
		t.Errorf("teleport walk is %.3f m shorter than without the bad fix, want %.3f", d, walked)
	}
	if math.Abs(pa.Coverage-ja.Coverage) > 0.001 {
		t.Errorf("coverage %.4f with the bad fix, %.4f without", ja.Coverage, pa.Coverage)
	}
}

// straightReach returns a reach running east along 40.2°N for metres,
// and the projection centred on its middle, which is the one
// AnalyzePatrol uses.
func straightReach(metres float64) (*geom.MultiLineString, geo.LocalProjection) {
	lp := geo.NewLocalProjection(geo.Point{Lon: 118.4, Lat: 40.2})
	a, b := lp.Unproject(-metres/2, 0), lp.Unproject(metres/2, 0)
	return geom.NewMultiLineStringFlat(geom.XY, []float64{a.Lon, a.Lat, b.Lon, b.Lat}, []int{4}), lp
}

// planarTrack returns fixes at the given planar points, secs apart.
func planarTrack(lp geo.LocalProjection, secs float64, xy ...float64) geo.Track {
	var tr geo.Track
	for i := 0; i+1 < len(xy); i += 2 {
		tr = append(tr, geo.Fix{
			Point: lp.Unproject(xy[i], xy[i+1]),
			At:    patrolStart.Add(time.Duration(float64(i/2) * secs * float64(time.Second))),
		})
	}
	return tr
}

// TestPatrolCoverageGeometry checks coverage against closed forms on a
// straight 1 km reach.
func TestPatrolCoverageGeometry(t *testing.T) {
	reach, lp := straightReach(1000)
	tests := []struct {
		name  string
		track geo.Track
		want  float64
	}{
		// Parallel at 30 m over the western half: the disc at the end
		// reaches √(50²−30²) = 40 m further along.
		{"ParallelHalf", planarTrack(lp, 60, -600, 30, -300, 30, 0, 30), 0.54},
		{"ParallelOutside", planarTrack(lp, 60, -600, 60, 600, 60), 0},
		{"OnTheLine", planarTrack(lp, 60, -500, 0, 500, 0), 1},
		{"Crossing", planarTrack(lp, 60, 100, -200, 100, 200), 0.1},
		// A stationary phone covers a disc's chord: 2·√(50²−40²) = 60 m.
		{"Standing", planarTrack(lp, 60, 200, 40, 200, 40, 200, 40), 0.06},
		// Beyond the east end: 30 m of the reach are within 50 m of
		// (530, 0).
		{"PastTheEnd", planarTrack(lp, 60, 530, 0, 800, 0), 0.02},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := geo.AnalyzePatrol(tt.track, reach, geo.PatrolRules{})
			if math.Abs(a.Coverage-tt.want) > 1e-4 {
				t.Errorf("Coverage = %.6f, want %.6f", a.Coverage, tt.want)
			}
			if math.Abs(a.ReachLengthM-1000) > 0.01 {
				t.Errorf("ReachLengthM = %.4f, want 1000", a.ReachLengthM)
			}
		})
	}
}

// TestPatrolCoverageMultiLine checks that every line of a MultiLineString
// counts and that a nil or empty reach has no coverage.
func TestPatrolCoverageMultiLine(t *testing.T) {
	lp := geo.NewLocalProjection(geo.Point{Lon: 118.4, Lat: 40.2})
	pt := func(x, y float64) []float64 { p := lp.Unproject(x, y); return []float64{p.Lon, p.Lat} }
	flat := slices.Concat(pt(-500, 0), pt(0, 0), pt(0, 1000), pt(500, 1000))
	reach := geom.NewMultiLineStringFlat(geom.XY, flat, []int{4, 8})
	tr := planarTrack(lp, 60, -500, 0, 0, 0)
	a := geo.AnalyzePatrol(tr, reach, geo.PatrolRules{})
	if math.Abs(a.ReachLengthM-1000) > 0.1 || math.Abs(a.Coverage-0.5) > 1e-3 {
		t.Errorf("ReachLengthM %.3f, Coverage %.5f; want 1000, 0.5", a.ReachLengthM, a.Coverage)
	}
	for _, reach := range []*geom.MultiLineString{nil, geom.NewMultiLineString(geom.XY)} {
		a := geo.AnalyzePatrol(tr, reach, geo.PatrolRules{})
		if a.Coverage != 0 || a.ReachLengthM != 0 || !slices.Contains(a.Reasons, geo.ReasonTooShortLengthAndCoverage) {
			t.Errorf("reach %v: %+v", reach, a)
		}
	}
}

// TestPatrolJitterNotVehicle walks 40 minutes with a fix every second and
// 5 m of jitter: fix-to-fix speeds reach 10 m/s, the 10 s spans do not.
func TestPatrolJitterNotVehicle(t *testing.T) {
	reach, lp := straightReach(3000)
	rng := rand.New(rand.NewPCG(1, 2))
	var xy []float64
	for s := range 2400 {
		xy = append(xy, -1500+float64(s)*walkSpeed+5*rng.NormFloat64(), 5*rng.NormFloat64())
	}
	tr := planarTrack(lp, 1, xy...)
	a := geo.AnalyzePatrol(tr, reach, geo.PatrolRules{})
	t.Logf("%.0f m (walked 2667 m), median %.2f m/s, max %.2f m/s", a.LengthM, a.MedianSpeed, a.MaxSpeed)
	if !a.Valid || len(a.VehicleSegments) > 0 {
		t.Errorf("Valid %v, reasons %q, %d vehicle stretches", a.Valid, a.Reasons, len(a.VehicleSegments))
	}
	assertBetween(t, "MedianSpeed", a.MedianSpeed, walkSpeed*0.9, walkSpeed*1.4)
	assertBetween(t, "MaxSpeed", a.MaxSpeed, walkSpeed, 4)
}

func TestPatrolSegments(t *testing.T) {
	reach, lp := straightReach(3000)
	at := func(secs float64, x, y float64) geo.Fix {
		return geo.Fix{Point: lp.Unproject(x, y), At: patrolStart.Add(time.Duration(secs * float64(time.Second)))}
	}
	tests := []struct {
		name               string
		track              geo.Track
		teleports, gaps    int
		vehicles           int
		lengthLo, lengthHi float64
	}{
		// Fixes sharing a timestamp are a second apart: 30 m is jitter,
		// 150 m a teleport.
		{"SameSecondJitter", geo.Track{at(0, 0, 0), at(0, 30, 0), at(10, 40, 0)}, 0, 0, 0, 39.9, 40.1},
		{"SameSecondJump", geo.Track{at(0, 0, 0), at(0, 150, 0), at(10, 160, 0)}, 1, 0, 0, 9.9, 10.1},
		// 100 m in 1 s is fast but not a teleport; alone it is not a
		// vehicle stretch either (under 200 m).
		{"ShortBurst", geo.Track{at(0, 0, 0), at(1, 100, 0), at(100, 110, 0)}, 0, 0, 0, 109.9, 110.1},
		{"Gap", geo.Track{at(0, 0, 0), at(10, 10, 0), at(400, 300, 0), at(410, 310, 0)}, 0, 1, 0, 19.9, 20.1},
		// Across a gap the speed is 0.7 m/s, but a teleport wins.
		{"GapAndJump", geo.Track{at(0, 0, 0), at(1000, 60000, 0)}, 1, 0, 0, 0, 0},
		// 300 m at 10 m/s in 10 s spans.
		{"Bike", geo.Track{at(0, 0, 0), at(10, 100, 0), at(20, 200, 0), at(30, 300, 0), at(40, 305, 0)}, 0, 0, 1, 304.9, 305.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := geo.AnalyzePatrol(tt.track, reach, geo.PatrolRules{})
			if len(a.Teleports) != tt.teleports || len(a.Gaps) != tt.gaps || len(a.VehicleSegments) != tt.vehicles {
				t.Errorf("%d teleports, %d gaps, %d vehicle stretches; want %d, %d, %d",
					len(a.Teleports), len(a.Gaps), len(a.VehicleSegments), tt.teleports, tt.gaps, tt.vehicles)
			}
			assertBetween(t, "LengthM", a.LengthM, tt.lengthLo, tt.lengthHi)
			for _, v := range []float64{a.MaxSpeed, a.MedianSpeed, a.Coverage} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Errorf("non-finite result in %+v", a)
				}
			}
			for _, j := range a.Teleports {
				if math.IsInf(j.SpeedMS, 0) || math.IsNaN(j.SpeedMS) {
					t.Errorf("jump speed %v", j.SpeedMS)
				}
			}
		})
	}
}

func TestPatrolRules(t *testing.T) {
	lines := demoReachLines(t)
	short := patrolCases[slices.IndexFunc(patrolCases, func(c patrolCase) bool { return c.name == "short-walk" })]
	tr := short.generate(t, lines)
	reach := lines["CH-02"]

	def := geo.AnalyzePatrol(tr, reach, geo.DefaultPatrolRules())
	zero := geo.AnalyzePatrol(tr, reach, geo.PatrolRules{})
	if fmt.Sprint(def) != fmt.Sprint(zero) {
		t.Errorf("PatrolRules{} differs from DefaultPatrolRules():\n%+v\n%+v", zero, def)
	}

	tests := []struct {
		name    string
		rules   func(*geo.PatrolRules)
		reasons []string
	}{
		{"Defaults", func(*geo.PatrolRules) {}, []string{geo.ReasonTooShortDuration}},
		{"ShorterMinimum", func(r *geo.PatrolRules) { r.MinDuration = 20 * time.Minute }, nil},
		{"LongerMinimumLength", func(r *geo.PatrolRules) { r.MinDuration = 20 * time.Minute; r.MinLength = 2000 },
			[]string{geo.ReasonTooShortLengthAndCoverage}},
		{"LowerCoverage", func(r *geo.PatrolRules) {
			r.MinDuration = 20 * time.Minute
			r.MinLength = 2000
			r.MinCoverage = 0.25
		}, nil},
		// Walking pace counts as a vehicle at 3 km/h.
		{"SlowVehicle", func(r *geo.PatrolRules) { r.MinDuration = 20 * time.Minute; r.VehicleSpeed = 3 / 3.6 },
			[]string{geo.ReasonVehicleSpeed}},
		// With a 0.5 m buffer, 3 m of jitter keeps the track off the
		// reach most of the time: 5% (241 m) covered.
		{"NarrowBuffer", func(r *geo.PatrolRules) { r.MinDuration = 20 * time.Minute; r.Buffer = 0.5 },
			[]string{geo.ReasonTooShortLengthAndCoverage}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := geo.DefaultPatrolRules()
			tt.rules(&r)
			a := geo.AnalyzePatrol(tr, reach, r)
			t.Logf("coverage %.3f, covered %.0f m", a.Coverage, a.CoveredM)
			if !slices.Equal(a.Reasons, tt.reasons) {
				t.Errorf("Reasons = %q, want %q (coverage %.3f, covered %.0f m)", a.Reasons, tt.reasons, a.Coverage, a.CoveredM)
			}
		})
	}
}

func TestPatrolDegenerate(t *testing.T) {
	reach, lp := straightReach(1000)
	for _, tr := range []geo.Track{nil, planarTrack(lp, 1, 0, 0)} {
		a := geo.AnalyzePatrol(tr, reach, geo.PatrolRules{})
		want := []string{geo.ReasonTooShortDuration, geo.ReasonTooShortLengthAndCoverage}
		if a.Valid || !slices.Equal(a.Reasons, want) || a.LengthM != 0 || a.Coverage != 0 {
			t.Errorf("%d fixes: %+v", len(tr), a)
		}
	}

	// Invalid input gives meaningless results, never a panic.
	nan := math.NaN()
	tr := planarTrack(lp, 240, -500, 0, 0, 0, 500, 0)
	tr[1].Lon = nan
	geo.AnalyzePatrol(tr, reach, geo.PatrolRules{})
	for _, bad := range []*geom.MultiLineString{
		geom.NewMultiLineStringFlat(geom.XY, []float64{118.4, 40.2, nan, 40.2}, []int{4}),
		geom.NewMultiLineStringFlat(geom.XY, []float64{118.4, 40.2, math.Inf(1), 40.2}, []int{4}),
		geom.NewMultiLineStringFlat(geom.XY, []float64{118.4, 40.2, 118.5}, []int{3}),
		geom.NewMultiLineStringFlat(geom.XYZ, []float64{118.4, 40.2, 7, 118.41, 40.2, 8}, []int{6}),
	} {
		a := geo.AnalyzePatrol(planarTrack(lp, 240, -500, 0, 500, 0), bad, geo.PatrolRules{})
		if bad.Layout() == geom.XYZ {
			// Z is ignored: of the 851 m from 118.40°E to 118.41°E, the
			// 500 m walked and 50 m beyond are covered.
			if math.Abs(a.ReachLengthM-851.4) > 0.1 || math.Abs(a.CoveredM-550) > 0.01 {
				t.Errorf("XYZ reach: length %.1f, covered %.2f; want 851.4, 550", a.ReachLengthM, a.CoveredM)
			}
		} else if a.ReachLengthM != 0 || a.Coverage != 0 {
			t.Errorf("reach %v: length %v, coverage %v", bad.FlatCoords(), a.ReachLengthM, a.Coverage)
		}
	}
}

func BenchmarkAnalyzePatrol(b *testing.B) {
	lines := demoReachLines(b)
	// LH-03 is 10.2 km; 1 m/s with a fix every 2 s gives 5,116 fixes.
	c := patrolCase{name: "bench", reach: "LH-03", legs: []patrolLeg{{"LH-03", 0, 1, 1, 2, 0}}}
	along := c.generate(b, lines)
	// 60 m north of the reach, mostly outside the buffer: no capsule
	// covers a reach segment, so every candidate is examined.
	beside := slices.Clone(along)
	for i := range beside {
		beside[i].Point = geo.NewLocalProjection(beside[i].Point).Unproject(0, 60)
	}
	reach := lines["LH-03"]
	rules := geo.DefaultPatrolRules()
	for _, bc := range []struct {
		name  string
		track geo.Track
	}{{"Along", along}, {"Beside", beside}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportMetric(float64(len(bc.track)), "fixes")
			for b.Loop() {
				geo.AnalyzePatrol(bc.track, reach, rules)
			}
		})
	}
}

func ExampleAnalyzePatrol() {
	// A reach running 1.2 km east along 40.2°N, walked end to end at
	// 4 km/h with a fix every 30 s.
	reach := geom.NewMultiLineStringFlat(geom.XY, []float64{118.40, 40.20, 118.414094, 40.20}, []int{4})
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var track geo.Track
	for i := range 37 {
		track = append(track, geo.Fix{
			Point: geo.Point{Lon: 118.40 + 0.014094*float64(i)/36, Lat: 40.20},
			At:    start.Add(time.Duration(i) * 30 * time.Second),
		})
	}
	a := geo.AnalyzePatrol(track, reach, geo.DefaultPatrolRules())
	fmt.Printf("%.0f m in %v at %.1f km/h, %.0f%% of the reach\n", a.LengthM, a.Duration, a.MedianSpeed*3.6, a.Coverage*100)
	fmt.Println(a.Valid, strings.Join(a.Reasons, ", "))
	// Output:
	// 1200 m in 18m0s at 4.0 km/h, 100% of the reach
	// false too_short_duration
}

// TestSyntheticFixtureProperties checks the properties store's PostGIS
// oracle reads from the fixtures: the case name and the reach patrolled.
func TestSyntheticFixtureProperties(t *testing.T) {
	for _, c := range patrolCases {
		data, err := os.ReadFile(filepath.Join(syntheticTracksDir, c.name+".geojson"))
		if err != nil {
			t.Fatal(err)
		}
		var f struct {
			Properties struct{ Case, Reach string }
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatal(err)
		}
		if f.Properties.Case != c.name || f.Properties.Reach != c.reach {
			t.Errorf("%s: properties %+v", c.name, f.Properties)
		}
	}
}
