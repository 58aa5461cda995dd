package geo_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/geo"
)

func parseTrackFile(t testing.TB, path string) (geo.Track, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gpx") {
		return geo.ParseGPX(bytes.NewReader(data))
	}
	return geo.ParseTrackGeoJSON(bytes.NewReader(data))
}

func TestParseTrackValid(t *testing.T) {
	utc := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	tests := []struct {
		file string
		want geo.Track
	}{
		// Two segments concatenated; waypoints and route points ignored;
		// a time without offset is UTC.
		{"valid.gpx", geo.Track{
			{geo.Point{Lon: 118.451417, Lat: 40.290060}, utc("2026-03-01T01:00:00Z")},
			{geo.Point{Lon: 118.451480, Lat: 40.289960}, utc("2026-03-01T01:00:10Z")},
			{geo.Point{Lon: 118.451539, Lat: 40.289861}, utc("2026-03-01T01:00:20.5Z")},
			{geo.Point{Lon: 118.451700, Lat: 40.289500}, utc("2026-03-01T01:02:00Z")},
			{geo.Point{Lon: 118.451760, Lat: 40.289400}, utc("2026-03-01T01:02:10Z")},
		}},
		// Elevation ignored; equal consecutive times allowed.
		{"valid.geojson", geo.Track{
			{geo.Point{Lon: 118.451417, Lat: 40.29006}, utc("2026-03-01T01:00:00Z")},
			{geo.Point{Lon: 118.45148, Lat: 40.28996}, utc("2026-03-01T01:00:10Z")},
			{geo.Point{Lon: 118.451481, Lat: 40.289961}, utc("2026-03-01T01:00:10Z")},
			{geo.Point{Lon: 118.451539, Lat: 40.289861}, utc("2026-03-01T01:00:30.25Z")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := parseTrackFile(t, filepath.Join("testdata/tracks", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d fixes, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i].Point != tt.want[i].Point || !got[i].At.Equal(tt.want[i].At) {
					t.Errorf("fix %d = %v %v, want %v %v", i, got[i].Point, got[i].At, tt.want[i].Point, tt.want[i].At)
				}
			}
			if err := got.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestParseTrackInvalid(t *testing.T) {
	tests := []struct {
		file string
		want []string // TrackProblem.String() of every problem
	}{
		{"times-mismatch.geojson", []string{"properties.times has 2 entries for 3 positions"}},
		{"decreasing-times.geojson", []string{"fix 2: time 2026-03-01T09:00:10+08:00 is before fix 1's 2026-03-01T09:00:20+08:00"}},
		{"bad-coords.geojson", []string{
			"fix 0: longitude 218.451417 outside [-180, 180]",
			"fix 1: latitude is +Inf",
			"fix 2: position has 1 values, want longitude, latitude and optionally elevation",
		}},
		{"bad-times.geojson", []string{
			`fix 0: time "2026-03-01 09:00:00" is not RFC 3339 (2006-01-02T15:04:05+08:00)`,
			"fix 1: time is a number, want an RFC 3339 string",
			"fix 2: time is null, want an RFC 3339 string",
		}},
		{"bare-linestring.geojson", []string{"a bare LineString has no times: send a Feature whose properties.times holds an RFC 3339 time for each position"}},
		{"no-times.geojson", []string{"no properties.times: a patrol needs an RFC 3339 time for each position"}},
		{"one-fix.geojson", []string{"1 fix(es), want at least 2"}},
		{"point.geojson", []string{`geometry type is "Point", want "LineString"`}},
		{"not-xml.gpx", []string{"not a GPX document: no root element"}},
		{"not-gpx.gpx", []string{"root element is <kml>, want one <gpx>"}},
		{"no-points.gpx", []string{"0 fix(es), want at least 2"}},
		{"doctype.gpx", []string{"<!DOCTYPE …> declarations are not accepted: they can declare entities"}},
		{"entity.gpx", []string{"not well-formed XML: XML syntax error on line 2: invalid character entity &xxe;"}},
		{"truncated.gpx", []string{"not well-formed XML: XML syntax error on line 5: unexpected EOF"}},
		{"bad-points.gpx", []string{
			"fix 1: time 2026-03-01T01:00:10Z is before fix 0's 2026-03-01T01:00:20Z",
			"fix 2: latitude is NaN",
			"fix 3: trkpt has no lat attribute",
			`fix 4: lon "east" is not a number`,
			"fix 5: latitude 95 outside [-90, 90]",
			"fix 5: trkpt has no <time>",
			`fix 6: time "yesterday" is not RFC 3339 (2006-01-02T15:04:05Z)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			tr, err := parseTrackFile(t, filepath.Join("testdata/tracks/bad", tt.file))
			checkTrackProblems(t, tr, err, tt.want)
		})
	}
}

func checkTrackProblems(t *testing.T, tr geo.Track, err error, want []string) {
	t.Helper()
	if tr != nil {
		t.Errorf("got %d fixes with the error", len(tr))
	}
	var te *geo.TrackError
	if !errors.As(err, &te) || !errors.Is(err, geo.ErrInvalidTrack) {
		t.Fatalf("error %v is not a *TrackError wrapping ErrInvalidTrack", err)
	}
	var got []string
	for _, p := range te.Problems {
		got = append(got, p.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseTrackLimits(t *testing.T) {
	// The fix limit stops reading at the first position over it.
	var b strings.Builder
	b.WriteString(`{"type": "Feature", "properties": {"times": []}, "geometry": {"type": "LineString", "coordinates": [`)
	for i := range geo.MaxTrackFixes + 1 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("[118.4,40.2]")
	}
	b.WriteString("]}}")
	tr, err := geo.ParseTrackGeoJSON(strings.NewReader(b.String()))
	checkTrackProblems(t, tr, err, []string{"geometry.coordinates: more than 100000 fixes"})

	// Bytes over MaxTrackBytes are refused, however the document goes on.
	over := io.MultiReader(strings.NewReader(`<?xml version="1.0"?><gpx>`),
		strings.NewReader(strings.Repeat(" ", geo.MaxTrackBytes)))
	tr, err = geo.ParseGPX(over)
	checkTrackProblems(t, tr, err, []string{"document larger than 16777216 bytes (16 MiB)"})
	tr, err = geo.ParseTrackGeoJSON(strings.NewReader(strings.Repeat(" ", geo.MaxTrackBytes+1)))
	checkTrackProblems(t, tr, err, []string{"document larger than 16777216 bytes (16 MiB)"})
	// Exactly MaxTrackBytes is read.
	tr, err = geo.ParseTrackGeoJSON(strings.NewReader(strings.Repeat(" ", geo.MaxTrackBytes)))
	checkTrackProblems(t, tr, err, []string{"not a GeoJSON object: unexpected end of JSON input (at byte 16777216)"})

	// Problems stop at MaxTrackProblems.
	b.Reset()
	b.WriteString(`<gpx><trk><trkseg>`)
	for range geo.MaxTrackProblems + 10 {
		b.WriteString(`<trkpt lat="91" lon="118"><time>2026-03-01T01:00:00Z</time></trkpt>`)
	}
	b.WriteString(`</trkseg></trk></gpx>`)
	_, err = geo.ParseGPX(strings.NewReader(b.String()))
	var te *geo.TrackError
	if !errors.As(err, &te) || len(te.Problems) != geo.MaxTrackProblems || !te.Truncated {
		t.Errorf("error %v", err)
	} else if !strings.HasPrefix(err.Error(), "geo: invalid track: 100 problems or more: fix 0: latitude 91 outside [-90, 90]; fix 1") ||
		!strings.HasSuffix(err.Error(), "; and 97 more") {
		t.Errorf("Error() = %q", err)
	}
}

// failingReader returns some bytes and then an I/O error.
type failingReader struct{ data io.Reader }

var errUpload = errors.New("connection reset")

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.data.Read(p)
	if err == io.EOF {
		return n, errUpload
	}
	return n, err
}

// TestParseTrackReadError checks that a failed upload is an I/O error,
// not an invalid track that the client should fix.
func TestParseTrackReadError(t *testing.T) {
	for name, parse := range map[string]func(io.Reader) (geo.Track, error){
		"GeoJSON": geo.ParseTrackGeoJSON,
		"GPX":     geo.ParseGPX,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parse(failingReader{strings.NewReader(`<gpx><trk><trkseg><trkpt`)})
			if !errors.Is(err, errUpload) || errors.Is(err, geo.ErrInvalidTrack) {
				t.Errorf("error %v, want one wrapping %v only", err, errUpload)
			}
		})
	}
}

func TestTrackValidate(t *testing.T) {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	p := geo.Point{Lon: 118.45, Lat: 40.29}
	tests := []struct {
		name  string
		track geo.Track
		want  string
	}{
		{"OK", geo.Track{{p, at}, {p, at}}, ""},
		{"Empty", nil, "geo: invalid track: 0 fix(es), want at least 2"},
		{"ZeroTime", geo.Track{{p, at}, {p, time.Time{}}}, "geo: invalid track: fix 1: no time"},
		{"Backwards", geo.Track{{p, at}, {p, at.Add(-time.Second)}},
			"geo: invalid track: fix 1: time 2026-03-01T08:59:59Z is before fix 0's 2026-03-01T09:00:00Z"},
		{"Swapped", geo.Track{{geo.Point{Lon: 40.29, Lat: 118.45}, at}, {p, at}},
			"geo: invalid track: fix 0: latitude 118.45 outside [-90, 90]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.track.Validate()
			if got := fmt.Sprint(err); (err == nil) != (tt.want == "") || err != nil && got != tt.want {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

// trackSeeds returns the track fixtures whose names end in suffix.
func trackSeeds(f *testing.F, suffix string) {
	for _, dir := range []string{"testdata/tracks", "testdata/tracks/bad"} {
		names, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// checkParsed is the property both fuzz targets check: a track comes back
// valid, an error is a *TrackError (the input is in memory, so no I/O
// error), never both.
func checkParsed(t *testing.T, tr geo.Track, err error) {
	if err != nil {
		var te *geo.TrackError
		if tr != nil || !errors.As(err, &te) || len(te.Problems) == 0 {
			t.Fatalf("track %v with error %v", tr, err)
		}
		return
	}
	if verr := tr.Validate(); verr != nil {
		t.Fatalf("parsed track is invalid: %v", verr)
	}
}

func FuzzParseGPX(f *testing.F) {
	trackSeeds(f, ".gpx")
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := geo.ParseGPX(bytes.NewReader(data))
		checkParsed(t, tr, err)
	})
}

// FuzzParseTrackGeoJSON also analyses every track it parses, against a
// reach near the fixtures, for results JSON can encode.
func FuzzParseTrackGeoJSON(f *testing.F) {
	trackSeeds(f, ".geojson")
	reach, _ := straightReach(1000)
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := geo.ParseTrackGeoJSON(bytes.NewReader(data))
		checkParsed(t, tr, err)
		if err != nil {
			return
		}
		a := geo.AnalyzePatrol(tr, reach, geo.PatrolRules{})
		if _, err := json.Marshal(a); err != nil || !(a.Coverage >= 0 && a.Coverage <= 1) || a.LengthM < 0 {
			t.Fatalf("analysis %+v: %v", a, err)
		}
	})
}
