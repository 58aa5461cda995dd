package geo

import "math"

// WGS-84 ellipsoid.
const (
	wgs84A  = 6378137.0               // semi-major axis, metres
	wgs84F  = 1 / 298.257223563       // flattening
	wgs84B  = wgs84A * (1 - wgs84F)   // semi-minor axis, metres
	wgs84E2 = wgs84F * (2 - wgs84F)   // first eccentricity squared
	meanR   = (2*wgs84A + wgs84B) / 3 // IUGG mean radius R1, 6371008.77 m
	degRad  = math.Pi / 180           // radians per degree
	vinTol  = 1e-12                   // λ convergence, radians (≈ 0.006 mm)
	vinIter = 200                     // Vincenty iteration cap
)

// Distance returns the geodesic distance in metres between a and b on the
// WGS-84 ellipsoid, by Vincenty's inverse formula (Survey Review XXIII, 1975).
//
// Vincenty is accurate to about 0.5 mm; the tests check it against
// published references to 1 mm. For nearly antipodal points (more than about
// 19,900 km apart) the iteration may not converge; Distance then falls back to
// a great-circle distance on a sphere of the mean radius, which is within
// 0.5% there. Such distances never occur within a county.
//
// Inputs are not validated: a NaN coordinate gives a NaN result. Validate
// points on entry with ValidateLonLat.
func Distance(a, b Point) float64 {
	if d, ok := vincenty(a, b); ok {
		return d
	}
	return sphericalDistance(a, b)
}

// vincenty returns the ellipsoidal distance and whether the iteration
// converged.
func vincenty(a, b Point) (float64, bool) {
	l := normalizeLon(b.Lon-a.Lon) * degRad
	// Reduced latitudes, via tan to keep precision near the equator.
	tanU1 := (1 - wgs84F) * math.Tan(a.Lat*degRad)
	cosU1 := 1 / math.Sqrt(1+tanU1*tanU1)
	sinU1 := tanU1 * cosU1
	tanU2 := (1 - wgs84F) * math.Tan(b.Lat*degRad)
	cosU2 := 1 / math.Sqrt(1+tanU2*tanU2)
	sinU2 := tanU2 * cosU2

	lambda := l
	var sinSigma, cosSigma, sigma, cos2Alpha, cos2SigmaM float64
	converged := false
	for range vinIter {
		sinLambda, cosLambda := math.Sincos(lambda)
		t := cosU1*sinU2 - sinU1*cosU2*cosLambda
		sinSigma = math.Sqrt(cosU2*sinLambda*cosU2*sinLambda + t*t)
		if sinSigma == 0 {
			return 0, true // coincident points
		}
		cosSigma = sinU1*sinU2 + cosU1*cosU2*cosLambda
		sigma = math.Atan2(sinSigma, cosSigma)
		sinAlpha := cosU1 * cosU2 * sinLambda / sinSigma
		cos2Alpha = 1 - sinAlpha*sinAlpha
		cos2SigmaM = 0
		if cos2Alpha != 0 { // both points on the equator otherwise
			cos2SigmaM = cosSigma - 2*sinU1*sinU2/cos2Alpha
		}
		c := wgs84F / 16 * cos2Alpha * (4 + wgs84F*(4-3*cos2Alpha))
		prev := lambda
		lambda = l + (1-c)*wgs84F*sinAlpha*
			(sigma+c*sinSigma*(cos2SigmaM+c*cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)))
		if math.Abs(lambda-prev) < vinTol {
			converged = true
			break
		}
		if math.Abs(lambda) > math.Pi {
			break // nearly antipodal: the series diverges
		}
	}
	if !converged {
		return 0, false
	}
	u2 := cos2Alpha * (wgs84A*wgs84A - wgs84B*wgs84B) / (wgs84B * wgs84B)
	aa := 1 + u2/16384*(4096+u2*(-768+u2*(320-175*u2)))
	bb := u2 / 1024 * (256 + u2*(-128+u2*(74-47*u2)))
	deltaSigma := bb * sinSigma * (cos2SigmaM + bb/4*(cosSigma*(-1+2*cos2SigmaM*cos2SigmaM)-
		bb/6*cos2SigmaM*(-3+4*sinSigma*sinSigma)*(-3+4*cos2SigmaM*cos2SigmaM)))
	return wgs84B * aa * (sigma - deltaSigma), true
}

// sphericalDistance is the haversine distance on a sphere of the mean
// radius: the fallback for Vincenty's non-convergence and the baseline the
// tests compare against.
func sphericalDistance(a, b Point) float64 {
	lat1, lat2 := a.Lat*degRad, b.Lat*degRad
	sinDLat := math.Sin((lat2 - lat1) / 2)
	sinDLon := math.Sin(normalizeLon(b.Lon-a.Lon) * degRad / 2)
	h := sinDLat*sinDLat + math.Cos(lat1)*math.Cos(lat2)*sinDLon*sinDLon
	return 2 * meanR * math.Asin(math.Sqrt(math.Min(1, h)))
}

// normalizeLon maps a longitude difference into [-180, 180], so that
// distances across the antimeridian take the short way round.
func normalizeLon(d float64) float64 {
	switch {
	case d > 180:
		return d - 360
	case d < -180:
		return d + 360
	}
	return d
}
