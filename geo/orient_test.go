package geo

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestOrientNearDegenerate follows Kettner et al., "Classroom examples of
// robustness problems in geometric computations" (2008): the orientation
// of a point swept over a 256×256 grid of ulp steps around a point nearly
// on the line through two others. The naive float64 determinant gets many
// signs wrong there; orient must agree with exact rational arithmetic
// everywhere.
func TestOrientNearDegenerate(t *testing.T) {
	for _, tc := range []struct {
		name           string
		px, py         float64
		ax, ay, bx, by float64
	}{
		{"Kettner", 0.5, 0.5, 12, 12, 24, 24},
		{"KettnerShifted", 0.50000000000002531, 0.5000000000000171, 17.300000000000001, 17.300000000000001, 24.00000000000005, 24.0000000000000517765},
		// A township edge at the demo county's coordinates.
		// The midpoint of a township edge at the demo county's coordinates
		// (a constant expression, rounded once to float64).
		{"County", (118.321765 + 118.339444) / 2, (40.221176 + 40.132778) / 2, 118.321765, 40.221176, 118.339444, 40.132778},
	} {
		t.Run(tc.name, func(t *testing.T) {
			naiveWrong, zeros := 0, 0
			x := tc.px
			for range 256 {
				y := tc.py
				for range 256 {
					got := orient(tc.ax, tc.ay, tc.bx, tc.by, x, y)
					want := orientExact(tc.ax, tc.ay, tc.bx, tc.by, x, y)
					if got != want {
						t.Fatalf("orient(%v, %v) = %d, exact %d", x, y, got, want)
					}
					if naive := sign((tc.ax-x)*(tc.by-y) - (tc.ay-y)*(tc.bx-x)); naive != want {
						naiveWrong++
					}
					if want == 0 {
						zeros++
					}
					y = math.Nextafter(y, math.Inf(1))
				}
				x = math.Nextafter(x, math.Inf(1))
			}
			t.Logf("naive float64 wrong on %d of 65536 points; %d exactly collinear", naiveWrong, zeros)
		})
	}
}

func TestOrientRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		ax, ay := 118+rng.Float64(), 40+rng.Float64()
		bx, by := 118+rng.Float64(), 40+rng.Float64()
		// A point on the segment, rounded, and nudged by a few ulps.
		s := rng.Float64()
		cx, cy := ax+s*(bx-ax), ay+s*(by-ay)
		for range rng.IntN(3) {
			cx = math.Nextafter(cx, math.Inf(1))
		}
		if got, want := orient(ax, ay, bx, by, cx, cy), orientExact(ax, ay, bx, by, cx, cy); got != want {
			t.Fatalf("orient(%v,%v %v,%v %v,%v) = %d, exact %d", ax, ay, bx, by, cx, cy, got, want)
		}
	}
	// Tiny differences (products that underflow) go to the exact path.
	for _, c := range [][2]float64{
		{2e-200, 2e-200},
		{2e-200, math.Nextafter(2e-200, 1)},
		{2e-200, math.Nextafter(2e-200, -1)},
	} {
		if got, want := orient(0, 0, 1e-200, 1e-200, c[0], c[1]), orientExact(0, 0, 1e-200, 1e-200, c[0], c[1]); got != want || (c[1] != 2e-200 && got == 0) {
			t.Errorf("underflow case %v: orient = %d, exact %d", c, got, want)
		}
	}
}

// TestBandedPolygonBounded checks the memory bound of the band index on a
// ring of long zig-zag edges, each spanning the whole latitude range.
func TestBandedPolygonBounded(t *testing.T) {
	const teeth = 5000
	var xy []float64
	for i := range teeth {
		x := 118 + float64(i)/teeth
		xy = append(xy, x, 40, x+0.5/teeth, 41)
	}
	xy = append(xy, 119, 40, 119, 39, 118, 39, 118, 40)
	bp := newBandedPolygon(xy, []int{len(xy)})
	edges := len(xy)/2 - 1
	if entries := len(bp.bandEdges); entries > maxEntriesPerEdge*edges {
		t.Errorf("%d band entries for %d edges", entries, edges)
	}
	t.Logf("%d edges, %d bands, %d entries", edges, bp.bands, len(bp.bandEdges))
	// Still correct: inside a tooth's gap below its top is inside.
	if covered, _ := bp.covers(118.5, 39.5); !covered {
		t.Error("(118.5, 39.5) not covered")
	}
	if covered, on := bp.covers(118.5, 39); !covered || !on {
		t.Errorf("point on the bottom edge: covered %v, on boundary %v", covered, on)
	}
	if covered, _ := bp.covers(118+0.5/teeth, 40.5); !covered {
		t.Error("point in a tooth not covered")
	}
	if covered, _ := bp.covers(118+1.0/teeth, 40.5); covered {
		t.Error("point between two teeth covered")
	}
}
