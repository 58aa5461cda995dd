package geo

import (
	"fmt"
	"math"

	"github.com/twpayne/go-geom"
)

// A Point is a WGS-84 position in decimal degrees.
//
// It is a value type with named fields rather than a *geom.Point because
// points are created on every upload and passed around by value, and because
// Point{Lon: …, Lat: …} makes the axis order explicit where [2]float64 or
// geom.Coord would not. Use [Point.Geom] to hand it to go-geom codecs.
type Point struct {
	Lon float64 // longitude, east positive, [-180, 180]
	Lat float64 // latitude, north positive, [-90, 90]
}

// Geom returns p as a go-geom point with layout XY (X = longitude,
// Y = latitude) and SRID 4326.
func (p Point) Geom() *geom.Point {
	return geom.NewPointFlat(geom.XY, []float64{p.Lon, p.Lat}).SetSRID(4326)
}

// Validate is ValidateLonLat(p.Lon, p.Lat).
func (p Point) Validate() error {
	return ValidateLonLat(p.Lon, p.Lat)
}

// ValidateLonLat returns an error wrapping ErrInvalidCoordinate if lon or lat
// is NaN, infinite, or outside [-180, 180] and [-90, 90] respectively.
//
// Every coordinate from a client or from EXIF must pass through it before it
// is stored: one NaN in a row makes every JSON list that includes the row
// fail to encode.
func ValidateLonLat(lon, lat float64) error {
	if reason := invalidReason(lon, lat); reason != "" {
		return fmt.Errorf("%w: %s", ErrInvalidCoordinate, reason)
	}
	return nil
}

// invalidReason returns why lon, lat is not a valid coordinate, or "".
func invalidReason(lon, lat float64) string {
	switch {
	case !isFinite(lon):
		return fmt.Sprintf("longitude is %v", lon)
	case !isFinite(lat):
		return fmt.Sprintf("latitude is %v", lat)
	case lon < -180 || lon > 180:
		return fmt.Sprintf("longitude %v outside [-180, 180]", lon)
	case lat < -90 || lat > 90:
		return fmt.Sprintf("latitude %v outside [-90, 90]", lat)
	}
	return ""
}

// Rough extent of China used to recognise swapped pairs. It is deliberately
// generous (the country spans about 73.5–135.1°E and 3.8–53.6°N): it only has
// to separate "a Chinese longitude" from "a Chinese latitude", and those
// ranges do not overlap.
const (
	chinaMinLon, chinaMaxLon = 73.0, 136.0
	chinaMinLat, chinaMaxLat = 3.0, 54.0
)

// LikelySwapped reports whether lon, lat only makes sense as a position in
// China when read the other way round, that is lat is in [73, 136] and lon is
// in [3, 54]. Such a pair is either out of range (lat > 90) or in the Arctic
// Ocean, never in a Chinese county.
func LikelySwapped(lon, lat float64) bool {
	return lat >= chinaMinLon && lat <= chinaMaxLon &&
		lon >= chinaMinLat && lon <= chinaMaxLat
}

// ValidateChinaLonLat is ValidateLonLat for coordinates that are expected
// in China, such as a device fix sent by an inspector's phone. It returns an
// error wrapping ErrSwappedLonLat (and so ErrInvalidCoordinate) when
// LikelySwapped is true, which lets the API answer with a message the
// client's developer can act on instead of "latitude 118.3 outside [-90, 90]".
//
// Positions elsewhere in the world are valid: a photo taken in Beijing is
// accepted and flagged as outside the county, not rejected.
func ValidateChinaLonLat(lon, lat float64) error {
	if LikelySwapped(lon, lat) {
		return fmt.Errorf("%w: got lon %v, lat %v", ErrSwappedLonLat, lon, lat)
	}
	return ValidateLonLat(lon, lat)
}

func isFinite(x float64) bool {
	return !math.IsNaN(x) && !math.IsInf(x, 0)
}
