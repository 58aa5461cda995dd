package store

import (
	"math"

	"github.com/fieldwatch/fieldwatch/geo"
)

// Spatial filters. Both backends answer a bounding-box filter identically:
// the index (GiST in PostgreSQL, R*Tree in SQLite) narrows the candidates
// and an exact comparison of the stored double-precision lon/lat decides,
// edges included, as geo.Box.Contains does.
//
// A radius filter (Near, RadiusM) measures differently at the edge:
//
//   - PostgreSQL: ST_DWithin on geography, the geodesic distance on the
//     WGS-84 spheroid (accurate to well under a millimetre here).
//   - SQLite, which has no geodesy: planar distance in the
//     geo.LocalProjection centred on Near, computed in SQL with arithmetic
//     only: kx²·Δlon² + ky²·Δlat² ≤ r², with kx, ky the WGS-84 metres per
//     degree of longitude and latitude at Near's latitude, computed in Go.
//
// The two disagree only for points whose distance lies within the
// projection's error of the radius. Its relative error grows by about
// 2.5e-8 per metre of radius at 40°N (geo.LocalProjection), so the band is
// about 0.25 mm wide at 100 m, 2.5 cm at 1 km, 2.5 m at 10 km and 65 m at
// the 50 km maximum (MaxNearRadiusM). A point that close to the circle may
// be in on one backend and out on the other; nothing else differs.
//
// (The textbook constants cos(lat0)·111320 and 110574 m per degree would
// make that band much wider: 110574 is a degree of latitude at the equator,
// 0.4 % short of one at 40°N, so a point 100.3 m due north would count as
// inside 100 m on SQLite and outside on PostGIS.)

// sqliteBoxIndex selects candidates through the R*Tree, which holds each
// point as a degenerate box keyed by the evidence row's seq.
func sqliteBoxIndex(b geo.Box) (string, []any) {
	return `e.seq IN (SELECT id FROM evidence_rtree WHERE max_lon >= ? AND min_lon <= ? AND max_lat >= ? AND min_lat <= ?)`,
		[]any{b.MinLon, b.MaxLon, b.MinLat, b.MaxLat}
}

// postgresBoxIndex selects candidates through the GiST index on geom.
func postgresBoxIndex(b geo.Box) (string, []any) {
	return `e.geom && ST_MakeEnvelope(?, ?, ?, ?, 4326)`, []any{b.MinLon, b.MinLat, b.MaxLon, b.MaxLat}
}

// sqliteReachBoxIndex selects reach candidates through reaches_rtree,
// which holds each reach version's bounding box keyed by its seq.
func sqliteReachBoxIndex(b geo.Box) (string, []any) {
	return `r.seq IN (SELECT id FROM reaches_rtree WHERE max_lon >= ? AND min_lon <= ? AND max_lat >= ? AND min_lat <= ?)`,
		[]any{b.MinLon, b.MaxLon, b.MinLat, b.MaxLat}
}

// postgresReachBoxIndex selects reach candidates through the GiST index
// on line.
func postgresReachBoxIndex(b geo.Box) (string, []any) {
	return `r.line && ST_MakeEnvelope(?, ?, ?, ?, 4326)`, []any{b.MinLon, b.MinLat, b.MaxLon, b.MaxLat}
}

// postgresWithin is the geodesic test on the WGS-84 spheroid.
func postgresWithin(c geo.Point, r float64) (string, []any) {
	return `ST_DWithin(e.geom::geography, ST_SetSRID(ST_MakePoint(?, ?), 4326)::geography, ?)`, []any{c.Lon, c.Lat, r}
}

// sqliteWithin is the planar test in the local projection centred on c.
func sqliteWithin(c geo.Point, r float64) (string, []any) {
	kx, ky := localScales(c)
	return `(e.lon - ?) * (e.lon - ?) * ? + (e.lat - ?) * (e.lat - ?) * ? <= ?`,
		[]any{c.Lon, c.Lon, kx * kx, c.Lat, c.Lat, ky * ky, r * r}
}

// localScales returns the metres per degree of longitude and of latitude
// of geo.LocalProjection at c. The projection is linear in Δlon and Δlat,
// so projecting a point half a degree away (towards the equator and the
// prime meridian, never across the antimeridian or a pole) and dividing
// gives the scales exactly.
func localScales(c geo.Point) (kx, ky float64) {
	lp := geo.NewLocalProjection(c)
	const step = 0.5
	x, _ := lp.Project(geo.Point{Lon: c.Lon - math.Copysign(step, c.Lon), Lat: c.Lat})
	_, y := lp.Project(geo.Point{Lon: c.Lon, Lat: c.Lat - math.Copysign(step, c.Lat)})
	return math.Abs(x) / step, math.Abs(y) / step
}

// nearBox is the bounding box of the circle of radius r around c, with
// margin: geo.Box.Expand guarantees at least r on every side.
func nearBox(c geo.Point, r float64) geo.Box {
	return geo.Box{MinLon: c.Lon, MinLat: c.Lat, MaxLon: c.Lon, MaxLat: c.Lat}.Expand(r * 1.01)
}
