package geo_test

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/twpayne/go-geom"

	"github.com/fieldwatch/fieldwatch/geo"
)

// Synthetic data for benchmarks, generated deterministically: a grid of
// wavy-circle townships (star-shaped, so simple) and random-walk reaches
// over a 2° × 1.25° area around the demo county.

// starVertex returns vertex i of n of a wavy circle of radius r degrees
// around c: the radius varies by ±10% with 13 waves, the angle grows
// monotonically, so the ring is simple. Longitudes are stretched by
// 1/cos(lat) so that the shape is round on the ground.
func starVertex(c geo.Point, r float64, i, n int) geo.Point {
	a := 2 * math.Pi * float64(i) / float64(n)
	w := r * (1 + 0.1*math.Sin(13*a))
	return geo.Point{Lon: c.Lon + w*math.Cos(a)/math.Cos(c.Lat*math.Pi/180), Lat: c.Lat + w*math.Sin(a)}
}

type synthetic struct {
	townships []geo.IndexTownship
	reaches   []geo.IndexReach
	area      geo.Box
}

// newSynthetic returns nt townships (on a grid of 40 columns) of nv
// vertices each and nr random-walk reaches of rv vertices with 25 m steps.
func newSynthetic(nt, nv, nr, rv int) synthetic {
	area := geo.Box{MinLon: 117.5, MinLat: 39.5, MaxLon: 119.5, MaxLat: 40.75}
	cols := 40
	rows := (nt + cols - 1) / cols
	cellW, cellH := (area.MaxLon-area.MinLon)/float64(cols), (area.MaxLat-area.MinLat)/float64(rows)
	var s synthetic
	s.area = area
	for k := range nt {
		c := geo.Point{
			Lon: area.MinLon + (float64(k%cols)+0.5)*cellW,
			Lat: area.MinLat + (float64(k/cols)+0.5)*cellH,
		}
		// Radius so that the ring (up to 1.1 r, stretched in longitude)
		// stays inside its cell: townships do not overlap.
		r := 0.45 * min(cellH, cellW*math.Cos(c.Lat*math.Pi/180)) / 1.1
		flat := make([]float64, 0, 2*(nv+1))
		for i := range nv {
			p := starVertex(c, r, i, nv)
			flat = append(flat, p.Lon, p.Lat)
		}
		flat = append(flat, flat[0], flat[1])
		s.townships = append(s.townships, geo.IndexTownship{
			Code:     fmt.Sprintf("9%08d", k),
			Boundary: geom.NewMultiPolygonFlat(geom.XY, flat, [][]int{{len(flat)}}),
		})
	}
	rng := rand.New(rand.NewPCG(2026, 130227))
	const stepM = 25.0
	for k := range nr {
		p := geo.Point{
			Lon: area.MinLon + rng.Float64()*(area.MaxLon-area.MinLon),
			Lat: area.MinLat + rng.Float64()*(area.MaxLat-area.MinLat),
		}
		heading := rng.Float64() * 2 * math.Pi
		flat := make([]float64, 0, 2*rv)
		for range rv {
			flat = append(flat, p.Lon, p.Lat)
			heading += rng.NormFloat64() * 0.2
			lp := geo.NewLocalProjection(p)
			p = lp.Unproject(stepM*math.Cos(heading), stepM*math.Sin(heading))
		}
		s.reaches = append(s.reaches, geo.IndexReach{
			Code: fmt.Sprintf("R-%05d", k),
			Line: geom.NewMultiLineStringFlat(geom.XY, flat, []int{len(flat)}),
		})
	}
	return s
}

func (s synthetic) points(n int, seed uint64) []geo.Point {
	rng := rand.New(rand.NewPCG(seed, 1))
	ps := make([]geo.Point, n)
	for i := range ps {
		ps[i] = geo.Point{
			Lon: s.area.MinLon + rng.Float64()*(s.area.MaxLon-s.area.MinLon),
			Lat: s.area.MinLat + rng.Float64()*(s.area.MaxLat-s.area.MinLat),
		}
	}
	return ps
}

// TestLocateSyntheticBruteForce checks the pruned search against brute
// force where many reaches compete (so pruning by part and chunk matters).
func TestLocateSyntheticBruteForce(t *testing.T) {
	s := newSynthetic(120, 200, 600, 100)
	ix := mustIndex(t, s.townships, s.reaches)
	n := 400
	if testing.Short() {
		n = 50
	}
	for _, p := range s.points(n, 5) {
		loc := ix.Locate(p, 100)
		want := ""
		for _, tw := range s.townships {
			if naiveCovers(tw.Boundary, p) && (want == "" || tw.Code < want) {
				want = tw.Code
			}
		}
		if loc.Township != want {
			t.Errorf("Locate(%v).Township = %q, brute force %q", p, loc.Township, want)
		}
		all := make([]geo.Candidate, 0, len(s.reaches))
		for _, r := range s.reaches {
			d, _, err := geo.DistanceToLineString(p, r.Line.LineString(0))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, geo.Candidate{Code: r.Code, DistanceM: d})
		}
		slices.SortFunc(all, func(a, b geo.Candidate) int {
			return cmp.Or(cmp.Compare(a.DistanceM, b.DistanceM), cmp.Compare(a.Code, b.Code))
		})
		if len(loc.Candidates) != geo.MaxCandidates {
			t.Fatalf("Locate(%v): %d candidates", p, len(loc.Candidates))
		}
		for i, c := range loc.Candidates {
			if c.Code != all[i].Code || math.Abs(c.DistanceM-all[i].DistanceM) > 1e-6*all[i].DistanceM+1e-6 {
				t.Fatalf("Locate(%v).Candidates = %v, brute force %v", p, loc.Candidates, all[:geo.MaxCandidates])
			}
		}
	}
}

// BenchmarkLocate: 1,000 townships of 1,000 vertices and 10,000 reaches of
// 200 vertices (2,000,000 reach vertices) for random points over the
// area; "Far" locates a point 150 km outside it (Beijing), the worst case
// for the unbounded candidate search; "Demo" is the demo county.
func BenchmarkLocate(b *testing.B) {
	s := newSynthetic(1000, 1000, 10000, 200)
	ix, err := geo.NewIndex(s.townships, s.reaches)
	if err != nil {
		b.Fatal(err)
	}
	points := s.points(4096, 9)
	b.Run("Synthetic", func(b *testing.B) {
		b.ReportAllocs()
		i, found := 0, 0
		cpu := cpuTime()
		for b.Loop() {
			if ix.Locate(points[i%len(points)], 50).Township != "" {
				found++
			}
			i++
		}
		reportCPU(b, cpu, i)
		b.ReportMetric(float64(found)/float64(i), "in-township/op")
	})
	b.Run("SyntheticFar", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		cpu := cpuTime()
		for b.Loop() {
			ix.Locate(geo.Point{Lon: 116.397, Lat: 39.909}, 50)
			i++
		}
		reportCPU(b, cpu, i)
	})
	b.Run("Demo", func(b *testing.B) {
		demo := demoIndex(b)
		dp := []geo.Point{{Lon: 118.3, Lat: 40.14}, {Lon: 118.56, Lat: 40.3}, {Lon: 118.27779, Lat: 40.253348}, {Lon: 118.453357, Lat: 40.210197}}
		b.ReportAllocs()
		i := 0
		cpu := cpuTime()
		for b.Loop() {
			demo.Locate(dp[i%len(dp)], 50)
			i++
		}
		reportCPU(b, cpu, i)
	})
}

// reportCPU reports the CPU time per operation since start (see cpuTime),
// if the platform measures it.
func reportCPU(b *testing.B, start time.Duration, ops int) {
	if d := cpuTime() - start; d > 0 && ops > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(ops), "cpu-ns/op")
	}
}

func BenchmarkNewIndex(b *testing.B) {
	s := newSynthetic(1000, 1000, 10000, 200)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := geo.NewIndex(s.townships, s.reaches); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseTownships(b *testing.B) {
	data := collection(func() []string {
		var fs []string
		for k := range 100 {
			c := geo.Point{Lon: 117.5 + 0.05*float64(k%40), Lat: 39.5 + 0.05*float64(k/40)}
			var ring []string
			for i := range 1000 {
				p := starVertex(c, 0.015, i, 1000)
				ring = append(ring, fmt.Sprintf("[%.7f,%.7f]", p.Lon, p.Lat))
			}
			ring = append(ring, ring[0])
			fs = append(fs, feature(fmt.Sprintf("9%08d", k), `{"type":"Polygon","coordinates":[[`+joinComma(ring)+`]]}`))
		}
		return fs
	}()...)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := geo.ParseTownships(data, geo.ImportLimits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func joinComma(s []string) string {
	n := 0
	for _, x := range s {
		n += len(x) + 1
	}
	out := make([]byte, 0, n)
	for i, x := range s {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, x...)
	}
	return string(out)
}
