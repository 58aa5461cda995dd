package store

import (
	"fmt"

	"github.com/twpayne/go-geom"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
)

// srid is the only spatial reference the store keeps: WGS-84 degrees.
const srid = 4326

// Geometries are checked before any query, so that both backends refuse
// the same input with fieldwatch.ErrInvalid: PostGIS would reject an unclosed
// ring or a Z coordinate with a server error, and SQLite would store any
// bytes. Rings and lines are checked for shape, not for validity in the
// OGC sense (self-intersections are stored as given).

// checkLayout accepts 2D geometries with SRID 0 (unset) or 4326, whose
// flat coordinates are whole, valid WGS-84 positions.
func checkLayout(field string, g geom.T) error {
	if g.Layout() != geom.XY {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "%s: layout %v, want XY", field, g.Layout())
	}
	if s := g.SRID(); s != 0 && s != srid {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "%s: SRID %d, want %d", field, s, srid)
	}
	flat := g.FlatCoords()
	if len(flat) == 0 || len(flat)%2 != 0 {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "%s: %w", field, geo.ErrEmptyGeometry)
	}
	for i := 0; i < len(flat); i += 2 {
		if err := geo.ValidateLonLat(flat[i], flat[i+1]); err != nil {
			return fieldwatch.Errorf(fieldwatch.EINVALID, "%s: vertex %d: %w", field, i/2, err)
		}
	}
	return nil
}

// checkEnds checks that ends are increasing offsets into n flat values,
// each part holding at least minPos positions, starting at start.
func checkEnds(ends []int, start, n, minPos int) (int, bool) {
	prev := start
	for _, e := range ends {
		if e > n || e%2 != 0 || e-prev < 2*minPos {
			return prev, false
		}
		prev = e
	}
	return prev, true
}

// checkMultiPolygon checks a township boundary: at least one polygon, each
// with an exterior ring, every ring closed with at least four positions.
func checkMultiPolygon(field string, mp *geom.MultiPolygon) error {
	if mp == nil || mp.Empty() {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "%s: %w", field, geo.ErrEmptyGeometry)
	}
	if err := checkLayout(field, mp); err != nil {
		return err
	}
	flat, endss := mp.FlatCoords(), mp.Endss()
	start := 0
	for i, ends := range endss {
		if len(ends) == 0 {
			return fieldwatch.Errorf(fieldwatch.EINVALID, "%s: polygon %d is empty", field, i)
		}
		end, ok := checkEnds(ends, start, len(flat), 4)
		if !ok {
			return fieldwatch.Errorf(fieldwatch.EINVALID, "%s: polygon %d has a ring of fewer than 4 positions or bad offsets", field, i)
		}
		for j, e := range ends {
			s := start
			if j > 0 {
				s = ends[j-1]
			}
			if flat[s] != flat[e-2] || flat[s+1] != flat[e-1] {
				return fieldwatch.Errorf(fieldwatch.EINVALID, "%s: polygon %d ring %d is not closed", field, i, j)
			}
		}
		start = end
	}
	if start != len(flat) {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "%s: coordinates beyond the last ring", field)
	}
	return nil
}

// checkMultiLineString checks a reach line: at least one line, each of at
// least two positions.
func checkMultiLineString(field string, ml *geom.MultiLineString) error {
	if ml == nil || ml.Empty() {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "%s: %w", field, geo.ErrEmptyGeometry)
	}
	if err := checkLayout(field, ml); err != nil {
		return err
	}
	flat := ml.FlatCoords()
	end, ok := checkEnds(ml.Ends(), 0, len(flat), 2)
	if !ok || end != len(flat) {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "%s: a line has fewer than 2 positions or bad offsets", field)
	}
	return nil
}

// bounds returns the exact bounding box of a checked geometry.
func bounds(g geom.T) geo.Box {
	b := g.Bounds()
	return geo.Box{MinLon: b.Min(0), MinLat: b.Min(1), MaxLon: b.Max(0), MaxLat: b.Max(1)}
}

// geomArg encodes a checked geometry for the dialect's geomParam.
func (d *dialect) geomArg(g geom.T) ([]byte, error) {
	b, err := d.encodeGeom(g)
	if err != nil {
		return nil, fieldwatch.Errorf(fieldwatch.EINVALID, "encode geometry: %w", err)
	}
	return b, nil
}

// multiPolygonScan reads a geometry column holding a MultiPolygon.
type multiPolygonScan struct {
	d   *dialect
	dst **geom.MultiPolygon
}

// Scan implements sql.Scanner.
func (s multiPolygonScan) Scan(src any) error {
	g, err := s.d.scanGeom(src)
	if err != nil {
		return err
	}
	mp, ok := g.(*geom.MultiPolygon)
	if !ok {
		return fmt.Errorf("store: stored geometry is %T, want a MultiPolygon", g)
	}
	*s.dst = mp.SetSRID(srid)
	return nil
}

// multiLineStringScan reads a geometry column holding a MultiLineString.
type multiLineStringScan struct {
	d   *dialect
	dst **geom.MultiLineString
}

// Scan implements sql.Scanner.
func (s multiLineStringScan) Scan(src any) error {
	g, err := s.d.scanGeom(src)
	if err != nil {
		return err
	}
	ml, ok := g.(*geom.MultiLineString)
	if !ok {
		return fmt.Errorf("store: stored geometry is %T, want a MultiLineString", g)
	}
	*s.dst = ml.SetSRID(srid)
	return nil
}

func (d *dialect) scanGeom(src any) (geom.T, error) {
	b, ok := src.([]byte)
	if !ok {
		return nil, fmt.Errorf("store: cannot scan %T into a geometry", src)
	}
	g, err := d.decodeGeom(b)
	if err != nil {
		return nil, fmt.Errorf("store: bad stored geometry: %w", err)
	}
	return g, nil
}
