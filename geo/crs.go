package geo

import (
	"fmt"
	"math"
	"strings"
)

// A CRS names the coordinate system a client used for a longitude/latitude
// pair. Phone GPS and EXIF are WGS84; positions picked on an AMap or Tencent
// map are GCJ02; positions from the Baidu SDK are BD09. fieldwatch stores
// WGS84 and records the CRS it received.
type CRS string

// Coordinate systems; the string values are the wire and database values.
const (
	WGS84 CRS = "wgs84" // World Geodetic System 1984, EPSG:4326
	GCJ02 CRS = "gcj02" // 国测局 "Mars" coordinates, obfuscated WGS-84
	BD09  CRS = "bd09"  // Baidu coordinates, a further offset of GCJ-02
)

// CRSs lists every CRS by its wire name.
func CRSs() []CRS { return []CRS{WGS84, GCJ02, BD09} }

// ParseCRS returns the CRS named by s. It ignores case, surrounding space and
// hyphens ("WGS-84", "GCJ-02", "BD-09"), because SDKs and documents spell them
// all ways, and accepts "bd09ll", the Baidu SDK's name for BD-09 longitude and
// latitude. Anything else, including Baidu's Mercator metres "bd09mc", returns
// an error wrapping ErrUnknownCRS.
func ParseCRS(s string) (CRS, error) {
	switch c := CRS(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "")); c {
	case WGS84, GCJ02, BD09:
		return c, nil
	case "bd09ll":
		return BD09, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownCRS, s)
}

// String returns the wire name of c.
func (c CRS) String() string { return string(c) }

// ToWGS84 validates p and converts it from crs to WGS-84. It returns an error
// wrapping ErrInvalidCoordinate or ErrUnknownCRS; a point it returns without
// error is a valid coordinate.
func ToWGS84(p Point, crs CRS) (Point, error) {
	if err := p.Validate(); err != nil {
		return Point{}, err
	}
	switch crs {
	case WGS84:
		return p, nil
	case GCJ02:
		return GCJ02ToWGS84(p), nil
	case BD09:
		return BD09ToWGS84(p), nil
	}
	return Point{}, fmt.Errorf("%w: %q", ErrUnknownCRS, string(crs))
}

// FromWGS84 validates p and converts it from WGS-84 to crs, for display on a
// map SDK that expects crs. It returns an error wrapping ErrInvalidCoordinate
// or ErrUnknownCRS.
func FromWGS84(p Point, crs CRS) (Point, error) {
	if err := p.Validate(); err != nil {
		return Point{}, err
	}
	switch crs {
	case WGS84:
		return p, nil
	case GCJ02:
		return WGS84ToGCJ02(p), nil
	case BD09:
		return WGS84ToBD09(p), nil
	}
	return Point{}, fmt.Errorf("%w: %q", ErrUnknownCRS, string(crs))
}

// The GCJ-02 obfuscation was never published. The formulas below are the
// reverse-engineered ones shared by every open-source converter (googollee
// eviltransform, wandergis coordtransform, gcoord): offsets on the
// Krasovsky 1940 ellipsoid from two fixed trigonometric series.
const (
	krasovskyA  = 6378245.0
	krasovskyE2 = 0.00669342162296594323
)

// OutOfChina reports whether p lies outside the rectangle 72.004–137.8347°E,
// 0.8293–55.8271°N in which GCJ-02 offsets are applied. The rectangle is the
// one used by the reverse-engineered algorithm (eviltransform,
// wandergis/coordtransform); it is a coarse box, not China's border, so it
// also covers parts of Mongolia, Korea, Japan and South-East Asia, where a
// conversion would wrongly shift points. fieldwatch only converts
// points that a client declared as GCJ-02 or BD-09, which are in China.
func OutOfChina(p Point) bool {
	return p.Lon < 72.004 || p.Lon > 137.8347 || p.Lat < 0.8293 || p.Lat > 55.8271
}

// gcjOffset returns the GCJ-02 offset in degrees at WGS-84 position lon, lat,
// without the OutOfChina test (the inverse iteration may step just outside
// the rectangle and must keep a smooth function).
func gcjOffset(lon, lat float64) (dlon, dlat float64) {
	// Written term by term in the order of the reference implementations so
	// that results agree with them to the last bit or two.
	x, y := lon-105.0, lat-35.0
	dlat = -100.0 + 2.0*x + 3.0*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	dlat += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	dlat += (20.0*math.Sin(y*math.Pi) + 40.0*math.Sin(y/3.0*math.Pi)) * 2.0 / 3.0
	dlat += (160.0*math.Sin(y/12.0*math.Pi) + 320*math.Sin(y*math.Pi/30.0)) * 2.0 / 3.0
	dlon = 300.0 + x + 2.0*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	dlon += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	dlon += (20.0*math.Sin(x*math.Pi) + 40.0*math.Sin(x/3.0*math.Pi)) * 2.0 / 3.0
	dlon += (150.0*math.Sin(x/12.0*math.Pi) + 300.0*math.Sin(x/30.0*math.Pi)) * 2.0 / 3.0

	// The series above are (roughly) metres on the Krasovsky ellipsoid; convert to
	// degrees with its meridian and prime-vertical radii at lat.
	radLat := lat / 180.0 * math.Pi
	s := math.Sin(radLat)
	magic := 1 - krasovskyE2*s*s
	sqrtMagic := math.Sqrt(magic)
	dlat = (dlat * 180.0) / ((krasovskyA * (1 - krasovskyE2)) / (magic * sqrtMagic) * math.Pi)
	dlon = (dlon * 180.0) / (krasovskyA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return dlon, dlat
}

// WGS84ToGCJ02 converts a WGS-84 position to GCJ-02. Points for which
// OutOfChina is true are returned unchanged.
func WGS84ToGCJ02(p Point) Point {
	if OutOfChina(p) {
		return p
	}
	dlon, dlat := gcjOffset(p.Lon, p.Lat)
	return Point{Lon: p.Lon + dlon, Lat: p.Lat + dlat}
}

// Inverse iterations stop when the forward image of the estimate is within
// inverseTolerance degrees (about 1 µm) of the input, or after
// maxInverseIterations steps. Each step shrinks the error by a factor of
// several hundred, so over a 0.5° grid of China the tolerance is reached
// after 3–5 steps for GCJ-02 and 1–3 for BD-09 (which starts from the
// published approximate inverse); the cap only bounds the work for
// non-finite input.
const (
	inverseTolerance     = 1e-11
	maxInverseIterations = 30
)

// GCJ02ToWGS84 converts a GCJ-02 position to WGS-84. Points for which
// OutOfChina is true are returned unchanged.
//
// The GCJ-02 offset has no closed-form inverse. The widely copied one-step
// approximation (subtract the offset computed at the GCJ-02 position) is off
// by up to 4.3 m (measured on a grid over China). This function instead solves
// WGS84ToGCJ02(w) = p by fixed-point iteration starting from that
// approximation, so WGS84ToGCJ02(GCJ02ToWGS84(p)) reproduces p to within
// 1e-11 degrees. That is the accuracy relative to the public formula; how
// closely the formula matches a given map vendor is beyond what can be tested
// here.
func GCJ02ToWGS84(p Point) Point {
	if OutOfChina(p) {
		return p
	}
	w := p
	for range maxInverseIterations {
		dlon, dlat := gcjOffset(w.Lon, w.Lat)
		rlon, rlat := w.Lon+dlon-p.Lon, w.Lat+dlat-p.Lat
		if math.Abs(rlon) < inverseTolerance && math.Abs(rlat) < inverseTolerance {
			break
		}
		w.Lon -= rlon
		w.Lat -= rlat
	}
	return w
}

// xPi is the constant of the BD-09 formulas, π·3000/180.
const xPi = math.Pi * 3000.0 / 180.0

// GCJ02ToBD09 converts a GCJ-02 position to BD-09 with the standard formula
// (a small rotation and scaling about the origin plus a fixed shift). Like
// GCJ-02, and like eviltransform's gcj2bd, it leaves points for which
// OutOfChina is true unchanged, so that no conversion can push a position
// past ±180° or ±90°.
func GCJ02ToBD09(p Point) Point {
	if OutOfChina(p) {
		return p
	}
	return gcjToBD(p)
}

// gcjToBD is the BD-09 formula without the OutOfChina test.
func gcjToBD(p Point) Point {
	z := math.Sqrt(p.Lon*p.Lon+p.Lat*p.Lat) + 0.00002*math.Sin(p.Lat*xPi)
	theta := math.Atan2(p.Lat, p.Lon) + 0.000003*math.Cos(p.Lon*xPi)
	return Point{Lon: z*math.Cos(theta) + 0.0065, Lat: z*math.Sin(theta) + 0.006}
}

// bd09ToGCJ02Approx is the standard published inverse of GCJ02ToBD09. It
// evaluates the perturbation terms at the BD-09 position instead of the
// GCJ-02 one, which leaves an error of up to 0.2 m.
func bd09ToGCJ02Approx(p Point) Point {
	x, y := p.Lon-0.0065, p.Lat-0.006
	z := math.Sqrt(x*x+y*y) - 0.00002*math.Sin(y*xPi)
	theta := math.Atan2(y, x) - 0.000003*math.Cos(x*xPi)
	return Point{Lon: z * math.Cos(theta), Lat: z * math.Sin(theta)}
}

// BD09ToGCJ02 converts a BD-09 position to GCJ-02. It starts from the
// standard published inverse and refines it by fixed-point iteration until
// GCJ02ToBD09 of the result reproduces p to within 1e-11 degrees. Points for
// which OutOfChina is true are returned unchanged.
func BD09ToGCJ02(p Point) Point {
	if OutOfChina(p) {
		return p
	}
	g := bd09ToGCJ02Approx(p)
	for range maxInverseIterations {
		b := gcjToBD(g)
		rlon, rlat := b.Lon-p.Lon, b.Lat-p.Lat
		if math.Abs(rlon) < inverseTolerance && math.Abs(rlat) < inverseTolerance {
			break
		}
		g.Lon -= rlon
		g.Lat -= rlat
	}
	return g
}

// WGS84ToBD09 converts a WGS-84 position to BD-09 through GCJ-02.
func WGS84ToBD09(p Point) Point {
	return GCJ02ToBD09(WGS84ToGCJ02(p))
}

// BD09ToWGS84 converts a BD-09 position to WGS-84 through GCJ-02, with the
// accuracy of BD09ToGCJ02 and GCJ02ToWGS84.
func BD09ToWGS84(p Point) Point {
	return GCJ02ToWGS84(BD09ToGCJ02(p))
}
