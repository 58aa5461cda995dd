package geo_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twpayne/go-geom"

	"github.com/fieldwatch/fieldwatch/geo"
)

func TestParseTownshipsDemo(t *testing.T) {
	ts, _ := demoFeatures(t)
	if len(ts) != 14 {
		t.Fatalf("%d townships, want 14", len(ts))
	}
	first := ts[0]
	if first.Code != "130227101" || first.Name != "兴城镇" || first.NameEN != "Xingcheng" || first.Kind != "town" || first.Zone != "core" {
		t.Errorf("first township = %+v", first)
	}
	for _, f := range ts {
		if f.Boundary.SRID() != 4326 || f.Boundary.Layout() != geom.XY || f.Boundary.NumPolygons() != 1 {
			t.Errorf("%s: SRID %d, layout %v, %d polygons", f.Code, f.Boundary.SRID(), f.Boundary.Layout(), f.Boundary.NumPolygons())
		}
	}
	if got := ts[2].Boundary.Polygon(0).LinearRing(0).NumCoords(); got != 5 {
		t.Errorf("130227103 has %d positions, want 5", got)
	}
}

func TestParseReachesDemo(t *testing.T) {
	_, rs := demoFeatures(t)
	if len(rs) != 15 {
		t.Fatalf("%d reaches, want 15", len(rs))
	}
	lh01 := rs[0]
	if lh01.Code != "LH-01" || lh01.River != "滦河" || lh01.RiverEN != "Luan He" || lh01.Name != "滦河金厂峪镇段" || lh01.TownshipCode != "130227105" {
		t.Errorf("first reach = %+v", lh01)
	}
	if lh01.Line.SRID() != 4326 || lh01.Line.Layout() != geom.XY || lh01.Line.NumLineStrings() != 1 || lh01.Line.LineString(0).NumCoords() != 431 {
		t.Errorf("LH-01 line: SRID %d, layout %v, %d lines", lh01.Line.SRID(), lh01.Line.Layout(), lh01.Line.NumLineStrings())
	}
}

type parser func([]byte, geo.ImportLimits) error

func townships(data []byte, lim geo.ImportLimits) error {
	_, err := geo.ParseTownships(data, lim)
	return err
}

func reaches(data []byte, lim geo.ImportLimits) error {
	_, err := geo.ParseReaches(data, lim)
	return err
}

// problem is an expected ImportProblem: the feature index and a substring
// of the reason.
type problem struct {
	feature int
	reason  string
}

// TestParseBadFiles is the validation catalogue: every file under
// testdata/bad and exactly the problems it must produce.
func TestParseBadFiles(t *testing.T) {
	catalogue := []struct {
		file  string
		parse parser
		want  []problem
	}{
		// docs/reliability.md#e1: invalid boundaries.
		{"unclosed-ring", townships, []problem{{1, "ring 0 is not closed: first position [118.3, 40.1] differs from last [118.3, 40.2]"}}},
		{"short-ring", townships, []problem{{0, "ring 0 has 3 positions, want at least 4"}}},
		{"bowtie", townships, []problem{{0, "ring 0 intersects itself: edge 0–1 and edge 2–3 meet"}}},
		{"spike", townships, []problem{{0, "ring 0 intersects itself: edge 0–1 and edge 2–3 meet"}}}, // the spike returns onto vertex 1
		{"hole-outside-shell", townships, []problem{{0, "ring 1 lies outside the shell (ring 0)"}}},
		{"hole-crosses-shell", townships, []problem{{0, "ring 0 and ring 1 intersect: edge 1–2 of the first meets edge"}}},
		{"nested-holes", townships, []problem{{0, "ring 2 lies inside ring 1"}}},
		{"multipolygon-unclosed", townships, []problem{{0, "polygon 1 ring 0 is not closed"}}},
		{"empty-polygon", townships, []problem{{0, "geometry is empty"}}},
		{"null-geometry", townships, []problem{{0, "geometry is null, want MultiPolygon or Polygon"}}},
		{"wrong-geometry-type", townships, []problem{{0, `geometry type is "LineString", want MultiPolygon or Polygon for a township`}}},
		// D12 and E3: coordinates.
		{"swapped-lonlat", townships, []problem{{0, "longitude and latitude look swapped: the first position is [40.1, 118.2]"}}},
		{"3d-coords", townships, []problem{{0, "coordinates[0][0]: position has 3 values: 3D (Z) coordinates are not accepted"}}},
		{"out-of-range", townships, []problem{{0, "ring 0 position 2: latitude 95 outside [-90, 90]"}}},
		{"infinite-coordinate", townships, []problem{{0, "ring 0 position 1: longitude is +Inf"}}},
		// Properties.
		{"duplicate-code", townships, []problem{{1, `duplicate code "130227101" (also feature 0)`}}},
		{"missing-code", townships, []problem{{0, `property "code" is missing`}}},
		{"bad-code", townships, []problem{{0, `property "code" is "13022710", want a string of 9 digits`}}},
		{"bad-zone", townships, []problem{{0, `property "zone" is "center", want one of core, periphery, general`}}},
		{"bad-kind", townships, []problem{{0, `property "kind" is "city", want one of town, township, subdistrict, devzone`}}},
		{"control-char-name", townships, []problem{{0, `property "name" contains the character U+0007`}}},
		// The document.
		{"empty-collection", townships, []problem{{-1, "the FeatureCollection has no features"}}},
		{"not-feature-collection", townships, []problem{{-1, `not a GeoJSON FeatureCollection: type is "Feature"`}}},
		{"not-json", townships, []problem{{-1, "not valid JSON: invalid character '<' looking for beginning of value"}}},
		{"truncated", townships, []problem{{-1, "not valid JSON: unexpected end of document"}}},
		{"features-not-objects", townships, []problem{{0, "not a GeoJSON Feature: the feature is a JSON number, not an object"}}},
		// All features are checked, not just the first bad one.
		{"several-problems", townships, []problem{
			{1, "ring 0 is not closed"},
			{2, `property "zone" is "center"`},
			{2, "longitude and latitude look swapped"},
			{3, `duplicate code "130227101" (also feature 0)`},
		}},
		// Reaches.
		{"reach-one-position", reaches, []problem{{0, "the line has 1 position(s), want at least 2"}}},
		{"reach-multiline-short", reaches, []problem{{0, "line 1 has 1 position(s), want at least 2"}}},
		{"reach-degenerate", reaches, []problem{{0, "the line has fewer than 2 distinct positions"}}},
		{"reach-bad-code", reaches, []problem{{0, `property "code" is "lh-3", want 1–4 capital letters, a hyphen and 1–3 digits`}}},
		{"reach-polygon", reaches, []problem{{0, `geometry type is "Polygon", want LineString or MultiLineString for a reach`}}},
		{"reach-3d", reaches, []problem{{0, "coordinates[0]: position has 3 values: 3D (Z) coordinates are not accepted"}}},
		{"reach-missing-township", reaches, []problem{{0, `property "township_code" is missing`}}},
	}

	seen := map[string]bool{}
	for _, tc := range catalogue {
		seen[tc.file+".geojson"] = true
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "bad", tc.file+".geojson"))
			if err != nil {
				t.Fatal(err)
			}
			checkProblems(t, tc.parse(data, geo.ImportLimits{}), tc.want)
		})
	}
	// Every file in testdata/bad is in the catalogue.
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s is not in the catalogue", f)
		}
	}
}

// checkProblems checks that err is an *ImportError wrapping
// ErrInvalidImport with exactly the wanted problems, in order.
func checkProblems(t *testing.T, err error, want []problem) {
	t.Helper()
	if !errors.Is(err, geo.ErrInvalidImport) {
		t.Fatalf("error %v does not wrap ErrInvalidImport", err)
	}
	var ie *geo.ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("error %T is not an *ImportError", err)
	}
	ok := len(ie.Problems) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = ie.Problems[i].Feature == want[i].feature && strings.Contains(ie.Problems[i].Reason, want[i].reason)
	}
	if !ok {
		var got strings.Builder
		for _, p := range ie.Problems {
			fmt.Fprintf(&got, "\n\t%d %q", p.Feature, p.Reason)
		}
		t.Fatalf("problems:%s\nwant %v", got.String(), want)
	}
	t.Log(err)
}

// feature returns a township feature with the given geometry JSON.
func feature(code, geometry string) string {
	return fmt.Sprintf(`{"type":"Feature","properties":{"code":%q,"name":"镇","kind":"town","zone":"core"},"geometry":%s}`, code, geometry)
}

func collection(features ...string) []byte {
	return []byte(`{"type":"FeatureCollection","features":[` + strings.Join(features, ",") + `]}`)
}

const square = `{"type":"Polygon","coordinates":[[[118.2,40.1],[118.3,40.1],[118.3,40.2],[118.2,40.2],[118.2,40.1]]]}`

func TestParseTownshipsCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		lim  geo.ImportLimits
		want []problem // nil: valid
	}{
		{"Valid", collection(feature("130227101", square)), geo.ImportLimits{}, nil},
		{"ForeignMembersAndTypeLast", []byte(`{"bbox":[1,2,3,4],"name":"x","features":[` + feature("130227101", square) + `],"type":"FeatureCollection"}`), geo.ImportLimits{}, nil},
		{"RepeatedPositionsAllowed", collection(feature("130227101",
			`{"type":"Polygon","coordinates":[[[118.2,40.1],[118.3,40.1],[118.3,40.1],[118.3,40.2],[118.2,40.2],[118.2,40.1]]]}`)), geo.ImportLimits{}, nil},
		{"ClockwiseShellAllowed", collection(feature("130227101",
			`{"type":"Polygon","coordinates":[[[118.2,40.1],[118.2,40.2],[118.3,40.2],[118.3,40.1],[118.2,40.1]]]}`)), geo.ImportLimits{}, nil},
		{"ValidHole", collection(feature("130227101",
			`{"type":"Polygon","coordinates":[[[118.2,40.1],[118.3,40.1],[118.3,40.2],[118.2,40.2],[118.2,40.1]],[[118.22,40.12],[118.22,40.18],[118.28,40.18],[118.22,40.12]]]}`)), geo.ImportLimits{}, nil},
		{"TwoHoles", collection(feature("130227101",
			`{"type":"Polygon","coordinates":[[[118.2,40.1],[118.3,40.1],[118.3,40.2],[118.2,40.2],[118.2,40.1]],[[118.21,40.11],[118.21,40.12],[118.22,40.12],[118.21,40.11]],[[118.25,40.15],[118.25,40.16],[118.26,40.16],[118.25,40.15]]]}`)), geo.ImportLimits{}, nil},
		{"HoleTouchingShell", collection(feature("130227101",
			`{"type":"Polygon","coordinates":[[[118.2,40.1],[118.3,40.1],[118.3,40.2],[118.2,40.2],[118.2,40.1]],[[118.2,40.15],[118.25,40.12],[118.25,40.18],[118.2,40.15]]]}`)), geo.ImportLimits{},
			[]problem{{0, "ring 0 and ring 1 intersect"}}},
		{"CollinearRing", collection(feature("130227101",
			`{"type":"Polygon","coordinates":[[[118.2,40.1],[118.25,40.1],[118.3,40.1],[118.2,40.1]]]}`)), geo.ImportLimits{},
			[]problem{{0, "ring 0 intersects itself"}}},
		{"TwoDistinctPositions", collection(feature("130227101",
			`{"type":"Polygon","coordinates":[[[118.2,40.1],[118.3,40.1],[118.3,40.1],[118.2,40.1]]]}`)), geo.ImportLimits{},
			[]problem{{0, "ring 0 has fewer than 3 distinct positions"}}},
		{"RingTouchesItself", collection(feature("130227101",
			`{"type":"Polygon","coordinates":[[[118.2,40.1],[118.3,40.1],[118.25,40.15],[118.3,40.2],[118.2,40.2],[118.25,40.15],[118.2,40.1]]]}`)), geo.ImportLimits{},
			[]problem{{0, "ring 0 intersects itself"}}},
		{"PositionWithOneNumber", collection(feature("130227101", `{"type":"Polygon","coordinates":[[[118.2],[118.3,40.1]]]}`)), geo.ImportLimits{},
			[]problem{{0, "coordinates[0][0]: position has 1 values, want 2"}}},
		{"PositionWithString", collection(feature("130227101", `{"type":"Polygon","coordinates":[[["118.2",40.1]]]}`)), geo.ImportLimits{},
			[]problem{{0, "coordinates[0][0]: position must hold numbers only"}}},
		{"PolygonNestedTooShallow", collection(feature("130227101", `{"type":"Polygon","coordinates":[[118.2,40.1],[118.3,40.1]]}`)), geo.ImportLimits{},
			[]problem{{0, "coordinates[0][0]: want a position (an array of numbers)"}}},
		{"NoCoordinates", collection(feature("130227101", `{"type":"Polygon"}`)), geo.ImportLimits{},
			[]problem{{0, "geometry has no coordinates"}}},
		{"NameNotString", collection(`{"type":"Feature","properties":{"code":"130227101","name":7,"kind":"town","zone":"core"},"geometry":` + square + `}`), geo.ImportLimits{},
			[]problem{{0, `property "name" must be a string, got 7`}}},
		{"NumericCode", collection(`{"type":"Feature","properties":{"code":130227101,"name":"镇","kind":"town","zone":"core"},"geometry":` + square + `}`), geo.ImportLimits{},
			[]problem{{0, `property "code" must be a string, got 130227101`}}},
		{"InvalidUTF8Name", collection(`{"type":"Feature","properties":{"code":"130227101","name":"` + "\xff\xfe" + `","kind":"town","zone":"core"},"geometry":` + square + `}`), geo.ImportLimits{},
			[]problem{{0, `property "name" is not valid UTF-8`}}},
		{"NULName", collection(`{"type":"Feature","properties":{"code":"130227101","name":"a\u0000b","kind":"town","zone":"core"},"geometry":` + square + `}`), geo.ImportLimits{},
			[]problem{{0, `property "name" contains the character U+0000`}}},
		{"BidiName", collection(`{"type":"Feature","properties":{"code":"130227101","name":"a\u202Eb","kind":"town","zone":"core"},"geometry":` + square + `}`), geo.ImportLimits{},
			[]problem{{0, `property "name" contains the character U+202E`}}},
		{"BlankName", collection(`{"type":"Feature","properties":{"code":"130227101","name":"  ","kind":"town","zone":"core"},"geometry":` + square + `}`), geo.ImportLimits{},
			[]problem{{0, `property "name" is empty`}}},
		{"NoProperties", collection(`{"type":"Feature","properties":null,"geometry":` + square + `}`), geo.ImportLimits{},
			[]problem{{0, "properties are missing"}}},
		{"FeatureTypeWrong", collection(`{"type":"Feat","properties":{"code":"130227101","name":"镇","kind":"town","zone":"core"},"geometry":` + square + `}`), geo.ImportLimits{},
			[]problem{{0, `type is "Feat", want "Feature"`}}},
		{"FeaturesNotArray", []byte(`{"type":"FeatureCollection","features":{"a":1}}`), geo.ImportLimits{},
			[]problem{{-1, `"features" is an object, not an array`}}},
		{"TopLevelArray", []byte(`[1,2]`), geo.ImportLimits{},
			[]problem{{-1, "not a GeoJSON FeatureCollection: the document is an array, not an object"}}},
		{"NoFeaturesMember", []byte(`{"type":"FeatureCollection"}`), geo.ImportLimits{},
			[]problem{{-1, `the FeatureCollection has no "features" member`}}},
		{"TrailingData", append(collection(feature("130227101", square)), []byte(` {}`)...), geo.ImportLimits{},
			[]problem{{-1, "data after the FeatureCollection"}}},
		{"Empty", []byte(``), geo.ImportLimits{},
			[]problem{{-1, "not valid JSON: unexpected end of document"}}},
		// E2: limits, with small values standing in for the defaults.
		{"TooManyVerticesInFeature", collection(feature("130227101", square), feature("130227102", square)), geo.ImportLimits{MaxFeatureVertices: 4},
			[]problem{{0, "the feature has more than 4 positions"}, {1, "the feature has more than 4 positions"}}},
		{"TooManyVerticesInTotal", collection(feature("130227101", square), feature("130227102", square), feature("130227103", square)), geo.ImportLimits{MaxTotalVertices: 12},
			[]problem{{2, "the collection has more than 12 positions"}}},
		{"TooManyFeatures", collection(feature("130227101", square), feature("130227102", square), feature("130227103", square)), geo.ImportLimits{MaxFeatures: 2},
			[]problem{{-1, "more than 2 features"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := geo.ParseTownships(tc.data, tc.lim)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("ParseTownships: %v", err)
				}
				return
			}
			checkProblems(t, err, tc.want)
		})
	}
}

func TestParseTownshipsMaxProblems(t *testing.T) {
	var fs []string
	for i := range 10 {
		fs = append(fs, feature(fmt.Sprintf("13022710%d", i), `{"type":"Point","coordinates":[118,40]}`))
	}
	_, err := geo.ParseTownships(collection(fs...), geo.ImportLimits{MaxProblems: 3})
	var ie *geo.ImportError
	if !errors.As(err, &ie) || len(ie.Problems) != 3 || !ie.Truncated {
		t.Fatalf("err = %v, want 3 problems and Truncated", err)
	}
	const want = `geo: invalid import: 3 problems or more: feature 0 (130227100): geometry type is "Point", want MultiPolygon or Polygon for a township; feature 1 (130227101): geometry type is "Point", want MultiPolygon or Polygon for a township; feature 2 (130227102): geometry type is "Point", want MultiPolygon or Polygon for a township`
	if err.Error() != want {
		t.Errorf("Error() =\n%s\nwant\n%s", err, want)
	}
}

// TestParseTownshipsNormalisesNames checks trimming and NFC: "e" followed
// by a combining acute accent becomes one code point.
func TestParseTownshipsNormalisesNames(t *testing.T) {
	data := collection(`{"type":"Feature","properties":{"code":"130227101","name":" 兴城镇 ","name_en":"Caf` + "e\u0301" + `","kind":"town","zone":"core"},"geometry":` + square + `}`)
	ts, err := geo.ParseTownships(data, geo.ImportLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if ts[0].Name != "兴城镇" || ts[0].NameEN != "Caf\u00e9" {
		t.Errorf("names %q, %q", ts[0].Name, ts[0].NameEN)
	}
}

// TestParseTownshipsLargeRing checks that a valid ring of 200,000
// positions (the default per-feature cap) passes the intersection sweep
// quickly, and one more position is refused.
func TestParseTownshipsLargeRing(t *testing.T) {
	ring := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"type":"Polygon","coordinates":[[`)
		for i := range n - 1 {
			p := starVertex(geo.Point{Lon: 118.3, Lat: 40.2}, 0.1, i, n-1)
			fmt.Fprintf(&b, "[%.9f,%.9f],", p.Lon, p.Lat)
		}
		p := starVertex(geo.Point{Lon: 118.3, Lat: 40.2}, 0.1, 0, n-1)
		fmt.Fprintf(&b, "[%.9f,%.9f]]]}", p.Lon, p.Lat)
		return b.String()
	}
	n := geo.DefaultMaxFeatureVertices
	if testing.Short() {
		n = 20_000
	}
	ts, err := geo.ParseTownships(collection(feature("130227101", ring(n))), geo.ImportLimits{MaxFeatureVertices: n})
	if err != nil || ts[0].Boundary.Polygon(0).NumCoords() != n {
		t.Fatalf("ParseTownships(%d positions): %v", n, err)
	}
	_, err = geo.ParseTownships(collection(feature("130227101", ring(n+1))), geo.ImportLimits{MaxFeatureVertices: n})
	checkProblems(t, err, []problem{{0, fmt.Sprintf("the feature has more than %d positions", n)}})
}

// TestParseTownshipsSweepBound checks that a ring the sweep cannot
// validate cheaply (every edge overlapping every other in longitude) is
// refused with its own reason instead of taking quadratic time.
func TestParseTownshipsSweepBound(t *testing.T) {
	// A comb: n long vertical teeth, so a meridian crosses every tooth.
	const teeth = 6000
	var b strings.Builder
	b.WriteString(`{"type":"Polygon","coordinates":[[`)
	for i := range teeth {
		y := 40.0 + 0.2*float64(i)/teeth
		fmt.Fprintf(&b, "[118.0,%.9f],[119.0,%.9f],[119.0,%.9f],[118.0,%.9f],", y, y, y+0.1/teeth, y+0.1/teeth)
	}
	b.WriteString(`[117.9,40.2],[117.9,40.0],[118.0,40.0]]]}`)
	_, err := geo.ParseTownships(collection(feature("130227101", b.String())), geo.ImportLimits{})
	checkProblems(t, err, []problem{{0, "too complex to check for self-intersections"}})
}

func TestParseReachesCases(t *testing.T) {
	rf := func(props, geometry string) string {
		return `{"type":"Feature","properties":` + props + `,"geometry":` + geometry + `}`
	}
	const props = `{"code":"LH-01","river":"滦河","name":"滦河段","township_code":"130227101"}`
	const ln = `{"type":"LineString","coordinates":[[118.2,40.1],[118.3,40.1]]}`
	for _, tc := range []struct {
		name string
		data []byte
		want []problem
	}{
		{"Valid", collection(rf(props, ln)), nil},
		{"MultiLine", collection(rf(props, `{"type":"MultiLineString","coordinates":[[[118.2,40.1],[118.3,40.1]],[[118.4,40.1],[118.5,40.2],[118.4,40.2]]]}`)), nil},
		{"SelfCrossingLineAllowed", collection(rf(props, `{"type":"LineString","coordinates":[[118.2,40.1],[118.3,40.2],[118.3,40.1],[118.2,40.2]]}`)), nil},
		{"LongCode", collection(rf(`{"code":"LUAN-123","river":"滦河","name":"滦河段","township_code":"130227101"}`, ln)), nil},
		{"CodeTooLong", collection(rf(`{"code":"LUANH-1","river":"滦河","name":"滦河段","township_code":"130227101"}`, ln)),
			[]problem{{0, `property "code" is "LUANH-1"`}}},
		{"BadTownshipCode", collection(rf(`{"code":"LH-01","river":"滦河","name":"滦河段","township_code":"1302271"}`, ln)),
			[]problem{{0, `property "township_code" is "1302271", want a string of 9 digits`}}},
		{"MissingRiverAndName", collection(rf(`{"code":"LH-01","township_code":"130227101"}`, ln)),
			[]problem{{0, `property "river" is missing`}, {0, `property "name" is missing`}}},
		{"DuplicateCode", collection(rf(props, ln), rf(props, ln)),
			[]problem{{1, `duplicate code "LH-01" (also feature 0)`}}},
		{"OutOfRangeInSecondLine", collection(rf(props, `{"type":"MultiLineString","coordinates":[[[118.2,40.1],[118.3,40.1]],[[118.4,40.1],[181,40.2]]]}`)),
			[]problem{{0, "line 1 position 1: longitude 181 outside [-180, 180]"}}},
		{"Swapped", collection(rf(props, `{"type":"LineString","coordinates":[[40.1,118.2],[40.1,118.3]]}`)),
			[]problem{{0, "longitude and latitude look swapped"}}},
		{"EmptyLine", collection(rf(props, `{"type":"LineString","coordinates":[]}`)),
			[]problem{{0, "geometry is empty"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := geo.ParseReaches(tc.data, geo.ImportLimits{})
			if tc.want == nil {
				if err != nil || len(rs) == 0 {
					t.Fatalf("ParseReaches: %v", err)
				}
				return
			}
			checkProblems(t, err, tc.want)
		})
	}
}

// FuzzParseTownships checks that no input makes the parser panic and that
// whatever it accepts can be indexed and queried.
func FuzzParseTownships(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "bad", "*.geojson"))
	files = append(files, filepath.Join("testdata", "townships.geojson"))
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := geo.ParseTownships(data, geo.ImportLimits{MaxFeatureVertices: 5000, MaxTotalVertices: 20000})
		if err != nil {
			var ie *geo.ImportError
			if !errors.As(err, &ie) || len(ie.Problems) == 0 {
				t.Fatalf("error %v is not an *ImportError with problems", err)
			}
			return
		}
		it := make([]geo.IndexTownship, len(ts))
		for i, f := range ts {
			it[i] = geo.IndexTownship{Code: f.Code, Boundary: f.Boundary}
		}
		ix, err := geo.NewIndex(it, nil)
		if err != nil {
			t.Fatalf("accepted townships fail NewIndex: %v", err)
		}
		for _, f := range ts {
			flat := f.Boundary.FlatCoords()
			p := geo.Point{Lon: flat[0], Lat: flat[1]}
			if got := ix.Locate(p, 0).Township; got == "" || got > f.Code {
				t.Fatalf("vertex %v of %s located in %q", p, f.Code, got)
			}
		}
	})
}

func FuzzParseReaches(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "bad", "reach-*.geojson"))
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"LH-01","river":"滦河","name":"滦河段","township_code":"130227101"},"geometry":{"type":"LineString","coordinates":[[118.2,40.1],[118.3,40.1]]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := geo.ParseReaches(data, geo.ImportLimits{MaxFeatureVertices: 5000, MaxTotalVertices: 20000})
		if err != nil {
			var ie *geo.ImportError
			if !errors.As(err, &ie) || len(ie.Problems) == 0 {
				t.Fatalf("error %v is not an *ImportError with problems", err)
			}
			return
		}
		ir := make([]geo.IndexReach, len(rs))
		for i, r := range rs {
			ir[i] = geo.IndexReach{Code: r.Code, Line: r.Line}
		}
		ix, err := geo.NewIndex(nil, ir)
		if err != nil {
			t.Fatalf("accepted reaches fail NewIndex: %v", err)
		}
		codes := make([]string, len(rs))
		for i, r := range rs {
			codes[i] = r.Code
		}
		loc := ix.Locate(geo.Point{Lon: 118.3, Lat: 40.2}, 100)
		for _, c := range loc.Candidates {
			if !slices.Contains(codes, c.Code) {
				t.Fatalf("unknown candidate %v", c)
			}
		}
	})
}
