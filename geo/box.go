package geo

import (
	"fmt"
	"math"

	"github.com/twpayne/go-geom"
)

// A Box is a longitude/latitude rectangle in WGS-84 degrees, edges included.
// fieldwatch uses the county's bounding box to flag evidence taken outside
// the county before the county polygon is available, and as a cheap
// pre-filter in front of point-in-polygon tests afterwards.
//
// Boxes do not cross the antimeridian (MinLon ≤ MaxLon); nothing in China
// needs that.
type Box struct {
	MinLon, MinLat, MaxLon, MaxLat float64
}

// NewBox returns the box with the given bounds, or an error wrapping
// ErrInvalidBox if a bound is not a valid coordinate or a minimum exceeds
// its maximum.
func NewBox(minLon, minLat, maxLon, maxLat float64) (Box, error) {
	b := Box{MinLon: minLon, MinLat: minLat, MaxLon: maxLon, MaxLat: maxLat}
	if err := b.Validate(); err != nil {
		return Box{}, err
	}
	return b, nil
}

// BoxOf returns the bounding box of g, for example a county polygon decoded
// from GeoJSON. It returns an error wrapping ErrEmptyGeometry for a nil or
// empty geometry, ErrInvalidGeometry for one without X and Y or with ragged
// coordinates, and ErrInvalidBox if the bounds are not valid coordinates.
func BoxOf(g geom.T) (Box, error) {
	if _, _, err := flatXY(g); err != nil {
		return Box{}, err
	}
	bounds := g.Bounds()
	return NewBox(bounds.Min(0), bounds.Min(1), bounds.Max(0), bounds.Max(1))
}

// Validate returns an error wrapping ErrInvalidBox unless every bound is a
// valid coordinate and MinLon ≤ MaxLon, MinLat ≤ MaxLat.
func (b Box) Validate() error {
	if err := ValidateLonLat(b.MinLon, b.MinLat); err != nil {
		return fmt.Errorf("%w: minimum: %w", ErrInvalidBox, err)
	}
	if err := ValidateLonLat(b.MaxLon, b.MaxLat); err != nil {
		return fmt.Errorf("%w: maximum: %w", ErrInvalidBox, err)
	}
	if b.MinLon > b.MaxLon || b.MinLat > b.MaxLat {
		return fmt.Errorf("%w: minimum (%v, %v) exceeds maximum (%v, %v)",
			ErrInvalidBox, b.MinLon, b.MinLat, b.MaxLon, b.MaxLat)
	}
	return nil
}

// Contains reports whether p lies in b, edges included. It is false for a
// point with a NaN coordinate, so invalid points are never "inside".
func (b Box) Contains(p Point) bool {
	return p.Lon >= b.MinLon && p.Lon <= b.MaxLon && p.Lat >= b.MinLat && p.Lat <= b.MaxLat
}

// Expand returns b grown on every side by at least metres, measured along
// meridians and parallels, for a tolerance such as "within 2 km of the
// county". The latitude margin uses the smallest meridian radius (at the
// equator) and the longitude margin the expanded box's parallel nearest a
// pole, so no edge point gets less than metres; elsewhere the margin is
// larger, by about 0.4% plus 1.5% per degree of box height at 40°N (0.4–1%
// for the demo county with a 2 km margin). Latitudes are clamped to ±90 and
// longitudes to ±180; a box reaching a pole spans all longitudes. A margin
// that is not positive and finite returns b unchanged.
func (b Box) Expand(metres float64) Box {
	if !(metres > 0) || math.IsInf(metres, 1) {
		return b
	}
	_, kyMin := metresPerDegree(0)
	dlat := metres / kyMin
	out := Box{
		MinLon: b.MinLon,
		MinLat: math.Max(-90, b.MinLat-dlat),
		MaxLon: b.MaxLon,
		MaxLat: math.Min(90, b.MaxLat+dlat),
	}
	kx, _ := metresPerDegree(math.Max(math.Abs(out.MinLat), math.Abs(out.MaxLat)))
	if dlon := metres / kx; kx > 0 && dlon < 180 {
		out.MinLon = math.Max(-180, b.MinLon-dlon)
		out.MaxLon = math.Min(180, b.MaxLon+dlon)
	} else {
		out.MinLon, out.MaxLon = -180, 180
	}
	return out
}
