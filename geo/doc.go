// Package geo holds fieldwatch's coordinate arithmetic: validation of
// longitude/latitude pairs, conversion between the coordinate systems that
// Chinese phones and map SDKs produce (WGS-84, GCJ-02, BD-09), distances in
// metres, and point-to-line distances for linking evidence to river reaches;
// validation of imported township and reach GeoJSON ([ParseTownships],
// [ParseReaches], which name every bad feature), and the linking [Index]:
// [Index.Locate] finds the township covering a point (on a shared edge or
// vertex: the lowest code, decided exactly) and the nearest reaches in
// metres.
//
// Everything is stored and computed in WGS-84 longitude/latitude degrees
// (EPSG:4326, the order of RFC 7946 GeoJSON). A [Point] is a plain value with
// named fields, so the lon/lat order can never be confused at a call site;
// line geometries use go-geom types so that they come straight from
// github.com/twpayne/go-geom/encoding/geojson or ewkb.
//
// The package is pure: no I/O, no clocks, no package-level mutable state.
//
// Accuracy, as measured by this package's tests:
//   - [Distance] is Vincenty's inverse formula on the WGS-84 ellipsoid; it
//     agrees with published geodesic references to better than 1 mm.
//   - [GCJ02ToWGS84] and [BD09ToWGS84] invert the public GCJ-02/BD-09
//     formulas iteratively; round trips over China close to 2e-11 degrees
//     (about 2 µm), where the commonly copied one-step inverse is off by up
//     to 4 m.
//   - [LocalProjection] is an equirectangular projection whose distances stay
//     within 0.003% of [Distance] up to 1 km from the origin at 40°N and
//     within 0.03% up to 10 km.
//   - [DistanceToLineString] finds the closest point in a [LocalProjection]
//     centred on the query point and measures the final distance on the
//     ellipsoid; against brute force it is within 2.2e-7 of the true
//     minimum up to 10 km.
package geo
