package geo

import (
	"errors"
	"math"
	"testing"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"
)

func TestNewBox(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		minLon, minLat, maxLon float64
		maxLat                 float64
		wantErr                bool
	}{
		{"OK", 118.0, 39.9, 118.7, 40.5, false},
		{"OKPoint", 118, 40, 118, 40, false},
		{"OKWorld", -180, -90, 180, 90, false},
		{"ErrInvertedLon", 118.7, 39.9, 118.0, 40.5, true},
		{"ErrInvertedLat", 118.0, 40.5, 118.7, 39.9, true},
		{"ErrNaN", math.NaN(), 39.9, 118.7, 40.5, true},
		{"ErrInf", 118.0, 39.9, math.Inf(1), 40.5, true},
		{"ErrRange", 118.0, 39.9, 118.7, 90.5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewBox(tc.minLon, tc.minLat, tc.maxLon, tc.maxLat)
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("NewBox error = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidBox) {
				t.Errorf("error %v does not wrap ErrInvalidBox", err)
			}
		})
	}
}

func TestBoxContains(t *testing.T) {
	b := Box{MinLon: 118.0, MinLat: 39.9, MaxLon: 118.7, MaxLat: 40.5}
	for _, tc := range []struct {
		name string
		p    Point
		want bool
	}{
		{"Inside", Point{118.33, 40.2}, true},
		{"MinCorner", Point{118.0, 39.9}, true},
		{"MaxEdge", Point{118.7, 40.2}, true},
		{"West", Point{117.99, 40.2}, false},
		{"North", Point{118.33, 40.51}, false},
		{"Beijing", Point{116.397, 39.909}, false},
		{"Swapped", Point{40.2, 118.33}, false},
		{"NaN", Point{math.NaN(), 40.2}, false},
		{"NaNLat", Point{118.33, math.NaN()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.Contains(tc.p); got != tc.want {
				t.Fatalf("Contains(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestBoxExpand(t *testing.T) {
	b := Box{MinLon: 118.0, MinLat: 39.9, MaxLon: 118.7, MaxLat: 40.5}
	for _, m := range []float64{10, 500, 2000, 20000} {
		e := b.Expand(m)
		if err := e.Validate(); err != nil {
			t.Fatalf("Expand(%v): %v", m, err)
		}
		// The margin must be at least m. Distance is a geodesic, which cuts
		// across a parallel and so comes out up to 6 mm shorter at 20 km:
		// allow 1e-6. The excess is documented as 0.4% plus 1.5% per degree
		// of expanded box height.
		for _, tc := range []struct {
			name     string
			from, to Point
		}{
			{"South", Point{118.3, b.MinLat}, Point{118.3, e.MinLat}},
			{"North", Point{118.3, b.MaxLat}, Point{118.3, e.MaxLat}},
			{"WestAtNorth", Point{b.MinLon, e.MaxLat}, Point{e.MinLon, e.MaxLat}},
			{"EastAtSouth", Point{b.MaxLon, e.MinLat}, Point{e.MaxLon, e.MinLat}},
		} {
			height := e.MaxLat - e.MinLat
			if d := Distance(tc.from, tc.to); d < m*(1-1e-6) || d > m*(1+0.004+0.015*height) {
				t.Errorf("Expand(%v): %s margin %.3f m", m, tc.name, d)
			}
		}
		if !e.Contains(Point{b.MinLon, b.MinLat}) || !e.Contains(Point{b.MaxLon, b.MaxLat}) {
			t.Errorf("Expand(%v) = %+v does not contain b", m, e)
		}
	}

	for _, m := range []float64{0, -5, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if got := b.Expand(m); got != b {
			t.Errorf("Expand(%v) = %+v, want b unchanged", m, got)
		}
	}

	polar := Box{MinLon: 10, MinLat: 89.9, MaxLon: 20, MaxLat: 89.95}.Expand(20000)
	if polar.MaxLat != 90 || polar.MinLon != -180 || polar.MaxLon != 180 {
		t.Errorf("polar Expand = %+v, want clamped to the pole and all longitudes", polar)
	}
	edge := Box{MinLon: -179.99, MinLat: 0, MaxLon: 179.99, MaxLat: 1}.Expand(5000)
	if edge.MinLon != -180 || edge.MaxLon != 180 {
		t.Errorf("Expand beyond ±180 = %+v, want clamped", edge)
	}
}

// The demo county's bounding box holds every in-county photo of the
// manifest and not the one taken in Beijing, even with a 2 km margin.
func TestBoxOfCounty(t *testing.T) {
	var fc geojson.FeatureCollection
	mustDecodeGeoJSON(t, "testdata/county.geojson", &fc)
	if len(fc.Features) != 1 {
		t.Fatalf("county.geojson: %d features, want 1", len(fc.Features))
	}
	box, err := BoxOf(fc.Features[0].Geometry)
	if err != nil {
		t.Fatal(err)
	}
	if !box.Contains(Point{118.33, 40.20}) {
		t.Errorf("county box %+v misses the county centre", box)
	}
	margin := box.Expand(2000)
	for _, ph := range loadManifest(t) {
		if ph.Lon == nil {
			continue
		}
		p := Point{*ph.Lon, *ph.Lat}
		inCounty := ph.TownshipCode != nil
		if got := margin.Contains(p); got != inCounty {
			t.Errorf("%s at %v: in 2 km-expanded county box = %v, in county = %v", ph.File, p, got, inCounty)
		}
	}

	if _, err := BoxOf(nil); !errors.Is(err, ErrEmptyGeometry) {
		t.Errorf("BoxOf(nil) error = %v, want ErrEmptyGeometry", err)
	}
	if _, err := BoxOf(geom.NewPolygon(geom.XY)); !errors.Is(err, ErrEmptyGeometry) {
		t.Errorf("BoxOf(empty polygon) error = %v, want ErrEmptyGeometry", err)
	}
	if _, err := BoxOf(&geom.Polygon{}); !errors.Is(err, ErrInvalidGeometry) {
		t.Errorf("BoxOf(zero polygon) error = %v, want ErrInvalidGeometry", err)
	}
	bad := geom.NewLineStringFlat(geom.XY, []float64{118, 40, 118.5, 95})
	if _, err := BoxOf(bad); !errors.Is(err, ErrInvalidBox) || !errors.Is(err, ErrInvalidCoordinate) {
		t.Errorf("BoxOf(out of range) error = %v, want ErrInvalidBox wrapping ErrInvalidCoordinate", err)
	}
}
