package geo

import (
	"errors"
	"math"
	"testing"

	"github.com/twpayne/go-geom"
)

func TestValidateLonLat(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name     string
		lon, lat float64
		wantErr  bool
	}{
		{"OK", 118.33, 40.2, false},
		{"OKOrigin", 0, 0, false},
		{"OKCorners", 180, 90, false},
		{"OKNegativeCorners", -180, -90, false},
		{"ErrLonNaN", nan, 40, true},
		{"ErrLatNaN", 118, nan, true},
		{"ErrLonInf", inf, 40, true},
		{"ErrLatNegInf", 118, -inf, true},
		{"ErrLonRange", 180.000001, 40, true},
		{"ErrLonNegRange", -181, 40, true},
		{"ErrLatRange", 118, 90.5, true},
		{"ErrLatNegRange", 118, -91, true},
		// Swapped but out of range: ValidateLonLat only says invalid.
		{"ErrSwappedOutOfRange", 40.2, 118.33, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateLonLat(tc.lon, tc.lat)
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("ValidateLonLat(%v, %v) = %v, want error %v", tc.lon, tc.lat, err, tc.wantErr)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, ErrInvalidCoordinate) {
				t.Errorf("error %v does not wrap ErrInvalidCoordinate", err)
			}
			if errors.Is(err, ErrSwappedLonLat) {
				t.Errorf("error %v wraps ErrSwappedLonLat; only ValidateChinaLonLat infers swapping", err)
			}
			if err := (Point{Lon: tc.lon, Lat: tc.lat}).Validate(); err == nil {
				t.Errorf("Point.Validate accepted what ValidateLonLat rejects")
			}
		})
	}
}

func TestValidateChinaLonLat(t *testing.T) {
	for _, tc := range []struct {
		name        string
		lon, lat    float64
		wantErr     error
		wantSwapped bool
	}{
		{"OK", 118.33, 40.2, nil, false},
		{"OKBeijing", 116.397, 39.909, nil, false},
		{"OKAbroad", -0.1276, 51.5072, nil, false}, // London: valid, flagged elsewhere
		{"ErrSwappedOutOfRange", 40.2, 118.33, ErrSwappedLonLat, true},
		// Lat 80 is in range, but lon 40 / lat 80 is the Barents Sea.
		{"ErrSwappedInRange", 40.2, 80, ErrSwappedLonLat, true},
		{"ErrSwappedEdges", 3, 136, ErrSwappedLonLat, true},
		{"ErrOutOfRangeNotSwapped", 2, 118, ErrInvalidCoordinate, false},
		{"ErrNaN", math.NaN(), 40, ErrInvalidCoordinate, false},
		{"ErrInf", 118, math.Inf(-1), ErrInvalidCoordinate, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateChinaLonLat(tc.lon, tc.lat)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("ValidateChinaLonLat(%v, %v) = %v, want nil", tc.lon, tc.lat, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !errors.Is(err, ErrInvalidCoordinate) {
				t.Fatalf("ValidateChinaLonLat(%v, %v) = %v, want %v", tc.lon, tc.lat, err, tc.wantErr)
			}
			if got := errors.Is(err, ErrSwappedLonLat); got != tc.wantSwapped {
				t.Errorf("errors.Is(%v, ErrSwappedLonLat) = %v, want %v", err, got, tc.wantSwapped)
			}
			if got := LikelySwapped(tc.lon, tc.lat); got != tc.wantSwapped {
				t.Errorf("LikelySwapped(%v, %v) = %v, want %v", tc.lon, tc.lat, got, tc.wantSwapped)
			}
		})
	}
}

func TestPointGeom(t *testing.T) {
	g := Point{Lon: 118.33, Lat: 40.2}.Geom()
	if g.Layout() != geom.XY || g.SRID() != 4326 || g.X() != 118.33 || g.Y() != 40.2 {
		t.Errorf("Geom() = layout %v, SRID %d, (%v, %v)", g.Layout(), g.SRID(), g.X(), g.Y())
	}
}
