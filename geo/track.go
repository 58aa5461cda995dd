package geo

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// A Fix is one position of a GPS track and the time it was taken.
type Fix struct {
	Point
	At time.Time
}

// A Track is a GPS track: fixes in the order they were taken, times
// non-decreasing. ParseTrackGeoJSON and ParseGPX return only tracks that
// pass Validate.
type Track []Fix

// Limits of the track parsers.
const (
	// MaxTrackBytes bounds the document ParseTrackGeoJSON and ParseGPX
	// read: 16 MiB holds a 100,000-fix GPX file with elevation and some
	// extensions. Longer documents are refused without being read to the
	// end.
	MaxTrackBytes = 16 << 20

	// MaxTrackFixes bounds the number of fixes in a track: a fix a second
	// for more than 27 hours.
	MaxTrackFixes = 100_000

	// MaxTrackProblems is how many problems a TrackError lists before
	// validation stops.
	MaxTrackProblems = 100
)

// ErrInvalidTrack reports a GPS track that cannot be accepted. The parsers
// and Track.Validate return a *TrackError wrapping it.
var ErrInvalidTrack = errors.New("geo: invalid track")

// A TrackProblem is one reason why a track is rejected.
type TrackProblem struct {
	// Fix is the index of the offending fix (the position in the GeoJSON
	// coordinates, or the trkpt in document order across all segments of
	// a GPX file), from 0, or -1 for a problem with the document as a
	// whole.
	Fix int

	// Reason says what is wrong, for example "time 2026-03-01T09:00:00Z
	// is before fix 4's 2026-03-01T09:01:00Z".
	Reason string
}

// String formats p as "fix 3: reason".
func (p TrackProblem) String() string {
	if p.Fix < 0 {
		return p.Reason
	}
	return fmt.Sprintf("fix %d: %s", p.Fix, p.Reason)
}

// A TrackError lists the problems that make a track invalid. It wraps
// ErrInvalidTrack; errors.As gives access to the problems, for example to
// list them in a 422 response.
type TrackError struct {
	// Problems in document order, at most MaxTrackProblems.
	Problems []TrackProblem

	// Truncated is true when validation stopped at MaxTrackProblems.
	Truncated bool
}

// Error summarises the first few problems.
func (e *TrackError) Error() string {
	return summarise(ErrInvalidTrack, e.Problems, e.Truncated)
}

// Unwrap returns ErrInvalidTrack.
func (e *TrackError) Unwrap() error { return ErrInvalidTrack }

// Validate returns a *TrackError unless t has between 2 and MaxTrackFixes
// fixes, every position is a valid WGS-84 coordinate, no time is zero, and
// times never decrease (equal consecutive times are allowed: many
// receivers stamp whole seconds).
func (t Track) Validate() error {
	var c trackCheck
	if len(t) > MaxTrackFixes {
		c.problem(-1, "%d fixes, more than %d", len(t), MaxTrackFixes)
		return c.err()
	}
	for i, f := range t {
		c.point(i, f.Point)
		if f.At.IsZero() {
			c.problem(i, "no time")
			continue
		}
		c.time(i, f.At)
	}
	c.count(len(t))
	return c.err()
}

// trackCheck collects the problems of a track as its fixes are read.
type trackCheck struct {
	problems  []TrackProblem
	truncated bool
	prev      time.Time // time of the last fix with a time
	prevFix   int
	havePrev  bool
}

// full reports whether no more problems are collected.
func (c *trackCheck) full() bool { return c.truncated }

func (c *trackCheck) problem(fix int, format string, args ...any) {
	if c.truncated {
		return
	}
	if len(c.problems) == MaxTrackProblems {
		c.truncated = true
		return
	}
	c.problems = append(c.problems, TrackProblem{Fix: fix, Reason: fmt.Sprintf(format, args...)})
}

func (c *trackCheck) point(i int, p Point) {
	if reason := invalidReason(p.Lon, p.Lat); reason != "" {
		c.problem(i, "%s", reason)
	}
}

// time checks that t does not precede the previous fix's time. A fix out
// of order is compared with its predecessor only, so that one wrong time
// is reported once rather than for every fix after it.
func (c *trackCheck) time(i int, t time.Time) {
	if c.havePrev && t.Before(c.prev) {
		c.problem(i, "time %s is before fix %d's %s",
			t.Format(time.RFC3339Nano), c.prevFix, c.prev.Format(time.RFC3339Nano))
	}
	c.prev, c.prevFix, c.havePrev = t, i, true
}

func (c *trackCheck) count(n int) {
	if n < 2 {
		c.problem(-1, "%d fix(es), want at least 2", n)
	}
}

func (c *trackCheck) err() error {
	if len(c.problems) == 0 {
		return nil
	}
	return &TrackError{Problems: c.problems, Truncated: c.truncated}
}

// errTooLarge is returned by cappedReader past MaxTrackBytes.
var errTooLarge = fmt.Errorf("document larger than %d bytes (%d MiB)", MaxTrackBytes, MaxTrackBytes>>20)

// cappedReader reads at most n bytes of r and then fails with
// errTooLarge, unlike io.LimitReader's EOF, which a parser would take for
// a truncated document. It keeps the first error of r other than EOF, so
// that a failed upload is not reported as an invalid track.
type cappedReader struct {
	r     io.Reader
	n     int64
	ioErr error
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		// One byte more decides between "exactly at the limit" and "over".
		var one [1]byte
		n, err := c.r.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		c.keep(err)
		return 0, err
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	c.keep(err)
	return n, err
}

func (c *cappedReader) keep(err error) {
	if err != nil && err != io.EOF && c.ioErr == nil {
		c.ioErr = err
	}
}

// readFailure returns the error a parser returns when reading stopped
// with err: a *TrackError for a document over MaxTrackBytes, the reader's
// own error (wrapped, not an ErrInvalidTrack) when the upload failed, or
// nil when err is a problem of the document itself.
func (c *cappedReader) readFailure(err error, check *trackCheck) error {
	switch {
	case errors.Is(err, errTooLarge):
		check.problem(-1, "%v", errTooLarge)
		return check.err()
	case c.ioErr != nil:
		return fmt.Errorf("geo: reading track: %w", c.ioErr)
	}
	return nil
}

// ParseTrackGeoJSON decodes a GPS track from an RFC 7946 GeoJSON Feature
// whose geometry is a LineString of [longitude, latitude] or [longitude,
// latitude, elevation] positions in WGS-84 (elevation is ignored) and whose
// properties.times is an array holding one RFC 3339 time string per
// position:
//
//	{"type": "Feature",
//	 "geometry": {"type": "LineString", "coordinates": [[118.45, 40.28], …]},
//	 "properties": {"times": ["2026-03-01T09:00:00+08:00", …]}}
//
// A bare LineString or a FeatureCollection is refused: a patrol needs a
// time per position, and one upload is one track. Other properties are
// ignored. The document may be at most MaxTrackBytes long.
//
// On any problem it returns nil and a *TrackError (wrapping
// ErrInvalidTrack) listing, up to MaxTrackProblems: positions that are
// not valid coordinates (NaN cannot occur in JSON; 1e999 is infinite and
// refused), times that are not RFC 3339 strings or that precede the
// previous fix's, a count of times different from the count of positions,
// fewer than 2 or more than MaxTrackFixes positions.
func ParseTrackGeoJSON(r io.Reader) (Track, error) {
	var c trackCheck
	cr := &cappedReader{r: r, n: MaxTrackBytes}
	data, err := io.ReadAll(cr)
	if err != nil {
		if ferr := cr.readFailure(err, &c); ferr != nil {
			return nil, ferr
		}
		return nil, fmt.Errorf("geo: reading track: %w", err)
	}
	var doc struct {
		Type       string          `json:"type"`
		Geometry   json.RawMessage `json:"geometry"`
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		c.problem(-1, "not a GeoJSON object: %s", trackJSONErr(err))
		return nil, c.err()
	}
	switch doc.Type {
	case "Feature":
	case "LineString":
		c.problem(-1, "a bare LineString has no times: send a Feature whose properties.times holds an RFC 3339 time for each position")
		return nil, c.err()
	case "FeatureCollection":
		c.problem(-1, "a FeatureCollection is not accepted: send the track as one Feature")
		return nil, c.err()
	default:
		c.problem(-1, "type is %q, want \"Feature\"", doc.Type)
		return nil, c.err()
	}

	var g struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	}
	if len(doc.Geometry) == 0 || string(doc.Geometry) == "null" {
		c.problem(-1, "no geometry")
		return nil, c.err()
	}
	if err := json.Unmarshal(doc.Geometry, &g); err != nil {
		c.problem(-1, "geometry: %s", trackJSONErr(err))
		return nil, c.err()
	}
	if g.Type != "LineString" {
		c.problem(-1, "geometry type is %q, want \"LineString\"", g.Type)
		return nil, c.err()
	}
	var props struct {
		Times json.RawMessage `json:"times"`
	}
	if len(doc.Properties) > 0 && string(doc.Properties) != "null" {
		if err := json.Unmarshal(doc.Properties, &props); err != nil {
			c.problem(-1, "properties: %s", trackJSONErr(err))
			return nil, c.err()
		}
	}
	if len(props.Times) == 0 || string(props.Times) == "null" {
		c.problem(-1, "no properties.times: a patrol needs an RFC 3339 time for each position")
		return nil, c.err()
	}

	points, err := trackPositions(g.Coordinates, &c)
	if err != nil {
		c.problem(-1, "geometry.coordinates: %v", err)
		return nil, c.err()
	}
	times, err := trackTimes(props.Times, &c)
	if err != nil {
		c.problem(-1, "properties.times: %v", err)
		return nil, c.err()
	}
	if len(times) != len(points) {
		c.problem(-1, "properties.times has %d entries for %d positions", len(times), len(points))
		return nil, c.err()
	}
	c.count(len(points))
	if err := c.err(); err != nil {
		return nil, err
	}
	t := make(Track, len(points))
	for i := range t {
		t[i] = Fix{Point: points[i], At: times[i]}
	}
	return t, nil
}

// errTooManyFixes stops the readers at MaxTrackFixes.
var errTooManyFixes = fmt.Errorf("more than %d fixes", MaxTrackFixes)

// trackPositions reads a JSON array of positions token by token, so that
// memory stays at 16 bytes per position and reading stops at
// MaxTrackFixes. Position problems go to c; the error is for a document
// that cannot be read further.
func trackPositions(raw json.RawMessage, c *trackCheck) ([]Point, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := expectDelim(dec, '[', "an array of positions"); err != nil {
		return nil, err
	}
	var points []Point
	for i := 0; dec.More(); i++ {
		if i == MaxTrackFixes {
			return nil, errTooManyFixes
		}
		if err := expectDelim(dec, '[', fmt.Sprintf("position %d to be an array of numbers", i)); err != nil {
			return nil, err
		}
		var v [3]float64
		n := 0
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("position %d: %s", i, jsonErr(err))
			}
			num, ok := tok.(json.Number)
			if !ok {
				return nil, fmt.Errorf("position %d: want numbers, got %s", i, describeToken(tok))
			}
			if n < len(v) {
				// 1e999 parses as ±Inf with ErrRange: keep it for the
				// range check to report.
				f, err := strconv.ParseFloat(string(num), 64)
				if err != nil && !isRangeErr(err) {
					return nil, fmt.Errorf("position %d: %q is not a number", i, num)
				}
				v[n] = f
			}
			n++
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, fmt.Errorf("position %d: %s", i, jsonErr(err))
		}
		p := Point{Lon: v[0], Lat: v[1]}
		switch {
		case n < 2 || n > 3:
			c.problem(i, "position has %d values, want longitude, latitude and optionally elevation", n)
		default:
			c.point(i, p)
		}
		points = append(points, p)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonError(err)
	}
	return points, nil
}

// trackTimes reads a JSON array of RFC 3339 time strings; see
// trackPositions.
func trackTimes(raw json.RawMessage, c *trackCheck) ([]time.Time, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := expectDelim(dec, '[', "an array of RFC 3339 time strings"); err != nil {
		return nil, err
	}
	var times []time.Time
	for i := 0; dec.More(); i++ {
		if i == MaxTrackFixes {
			return nil, errTooManyFixes
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(err)
		}
		var t time.Time
		switch s, ok := tok.(string); {
		case ok:
			if t, err = time.Parse(time.RFC3339, s); err != nil {
				c.problem(i, "time %q is not RFC 3339 (2006-01-02T15:04:05+08:00)", truncate(s, 40))
			} else {
				c.time(i, t)
			}
		case isDelim(tok):
			return nil, fmt.Errorf("entry %d: want a string, got %s", i, describeToken(tok))
		default:
			c.problem(i, "time is %s, want an RFC 3339 string", describeToken(tok))
		}
		times = append(times, t)
	}
	if _, err := dec.Token(); err != nil {
		return nil, jsonError(err)
	}
	return times, nil
}

func isDelim(tok json.Token) bool {
	_, ok := tok.(json.Delim)
	return ok
}

func expectDelim(dec *json.Decoder, d json.Delim, want string) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	if tok != d {
		return fmt.Errorf("want %s, got %s", want, describeToken(tok))
	}
	return nil
}

// trackJSONErr describes a decoding error without Go type names.
func trackJSONErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return fmt.Sprintf("got %s, want an object", te.Value)
		}
		return fmt.Sprintf("%s is %s, want %s", te.Field, te.Value, te.Type.Kind())
	}
	return jsonErr(err)
}

// jsonError is jsonErr as an error.
func jsonError(err error) error { return errors.New(jsonErr(err)) }

// ParseGPX decodes a GPS track from a GPX 1.0 or 1.1 document: the trkpt
// elements of every trkseg of every trk, in document order, concatenated
// into one track (a pause between segments shows as a gap in
// AnalyzePatrol). Each trkpt needs lat and lon attributes (WGS-84 decimal
// degrees) and a <time> child in RFC 3339 form; a time without a zone
// offset is taken as UTC, as GPX prescribes. Waypoints, routes, elevation
// and extensions are ignored; elements are matched by local name, so any
// namespace prefix works.
//
// Hostile input is bounded: at most MaxTrackBytes are read, a document
// type declaration (<!DOCTYPE …>, which could declare entities) is
// refused, and encoding/xml neither fetches external entities nor expands
// any entity but the five predefined ones, so an undeclared entity
// reference is a syntax error. Only UTF-8 (or ASCII) documents are read.
//
// On any problem it returns nil and a *TrackError listing, up to
// MaxTrackProblems: a document that is not well-formed XML or not GPX,
// trkpt elements without lat, lon or time or with invalid values, times
// that precede the previous fix's, and fewer than 2 or more than
// MaxTrackFixes fixes.
func ParseGPX(r io.Reader) (Track, error) {
	var c trackCheck
	cr := &cappedReader{r: r, n: MaxTrackBytes}
	dec := xml.NewDecoder(cr)
	var (
		track   Track
		stack   []string // local names of the open elements
		sawRoot bool
	)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ferr := cr.readFailure(err, &c); ferr != nil {
				return nil, ferr
			}
			c.problem(-1, "not well-formed XML: %v", err)
			return nil, c.err()
		}
		switch tok := tok.(type) {
		case xml.Directive:
			word, _, _ := strings.Cut(strings.TrimSpace(string(tok)), " ")
			c.problem(-1, "<!%s …> declarations are not accepted: they can declare entities", truncate(word, 20))
			return nil, c.err()
		case xml.StartElement:
			name := tok.Name.Local
			if len(stack) == 0 && (name != "gpx" || sawRoot) {
				c.problem(-1, "root element is <%s>, want one <gpx>", name)
				return nil, c.err()
			}
			sawRoot = true
			if name == "trkpt" && len(stack) == 3 && stack[1] == "trk" && stack[2] == "trkseg" {
				if len(track) == MaxTrackFixes {
					c.problem(-1, "%v", errTooManyFixes)
					return nil, c.err()
				}
				var pt gpxPoint
				if err := dec.DecodeElement(&pt, &tok); err != nil {
					if ferr := cr.readFailure(err, &c); ferr != nil {
						return nil, ferr
					}
					c.problem(len(track), "not well-formed XML: %v", err)
					return nil, c.err()
				}
				track = append(track, pt.fix(len(track), &c))
				if c.full() {
					return nil, c.err()
				}
				continue
			}
			if len(stack) == maxGPXDepth {
				c.problem(-1, "elements nested deeper than %d", maxGPXDepth)
				return nil, c.err()
			}
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if !sawRoot {
		c.problem(-1, "not a GPX document: no root element")
		return nil, c.err()
	}
	c.count(len(track))
	if err := c.err(); err != nil {
		return nil, err
	}
	return track, nil
}

// maxGPXDepth bounds element nesting; GPX needs 5 or 6 levels, extensions
// a few more.
const maxGPXDepth = 64

// gpxPoint is a trkpt as encoding/xml decodes it; values stay strings so
// that each can be reported on its own.
type gpxPoint struct {
	Lat  *string `xml:"lat,attr"`
	Lon  *string `xml:"lon,attr"`
	Time *string `xml:"time"`
}

// gpxLocalTime is the form of an xsd:dateTime without a zone offset.
const gpxLocalTime = "2006-01-02T15:04:05.999999999"

// fix converts pt, the i-th fix, reporting problems to c. A fix with a
// problem is returned with whatever could be read: the track is discarded
// anyway.
func (pt gpxPoint) fix(i int, c *trackCheck) Fix {
	var f Fix
	coord := func(s *string, name string) (float64, bool) {
		if s == nil {
			c.problem(i, "trkpt has no %s attribute", name)
			return 0, false
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(*s), 64)
		if err != nil && !isRangeErr(err) {
			c.problem(i, "%s %q is not a number", name, truncate(*s, 40))
			return 0, false
		}
		return v, true
	}
	lat, latOK := coord(pt.Lat, "lat")
	lon, lonOK := coord(pt.Lon, "lon")
	f.Point = Point{Lon: lon, Lat: lat}
	if latOK && lonOK {
		c.point(i, f.Point)
	}
	if pt.Time == nil {
		c.problem(i, "trkpt has no <time>")
		return f
	}
	s := strings.TrimSpace(*pt.Time)
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t, err = time.ParseInLocation(gpxLocalTime, s, time.UTC)
	}
	if err != nil {
		c.problem(i, "time %q is not RFC 3339 (2006-01-02T15:04:05Z)", truncate(s, 40))
		return f
	}
	f.At = t
	c.time(i, t)
	return f
}
