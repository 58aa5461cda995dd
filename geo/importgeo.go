package geo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/twpayne/go-geom"
	"golang.org/x/text/unicode/norm"
)

// Import of township boundaries and river reaches from RFC 7946 GeoJSON.
//
// The documents are decoded feature by feature from a json.Decoder, and
// each geometry's coordinates by a purpose-built scanner (coordParser)
// straight into flat float64 slices, so that memory beyond the body itself
// stays proportional to the vertex limits (16 bytes per accepted vertex
// plus the largest single feature's JSON), and decoding stops at the first
// vertex over a limit. go-geom's encoding/geojson would build a []float64
// per position and accept 3D coordinates silently; it is used for output
// elsewhere, not here.

// Default import limits; see ImportLimits.
const (
	DefaultMaxFeatures        = 50_000
	DefaultMaxFeatureVertices = 200_000
	DefaultMaxTotalVertices   = 2_000_000
	DefaultMaxProblems        = 100
)

// ImportLimits bounds the work ParseTownships and ParseReaches do. The
// caller bounds the size of the document itself (an HTTP body limit);
// these bound the counts within it. A zero or negative field takes its
// default.
type ImportLimits struct {
	MaxFeatures        int // features in the collection; default 50,000
	MaxFeatureVertices int // positions in one feature; default 200,000
	MaxTotalVertices   int // positions in the collection; default 2,000,000
	MaxProblems        int // problems collected before stopping; default 100
}

func (l ImportLimits) withDefaults() ImportLimits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxFeatures, DefaultMaxFeatures)
	def(&l.MaxFeatureVertices, DefaultMaxFeatureVertices)
	def(&l.MaxTotalVertices, DefaultMaxTotalVertices)
	def(&l.MaxProblems, DefaultMaxProblems)
	return l
}

// Township kinds and assessment zones accepted by ParseTownships.
var (
	townshipKinds = []string{"town", "township", "subdistrict", "devzone"}
	townshipZones = []string{"core", "periphery", "general"}
)

// A TownshipFeature is one township read by ParseTownships.
type TownshipFeature struct {
	Code     string // 9 digits, unique in the collection
	Name     string // NFC, trimmed, non-empty
	NameEN   string // NFC, trimmed; "" when absent
	Kind     string // town, township, subdistrict or devzone
	Zone     string // core, periphery or general
	Boundary *geom.MultiPolygon
}

// A ReachFeature is one river reach read by ParseReaches.
type ReachFeature struct {
	Code         string // river letters, hyphen, number: "LH-03"; unique
	River        string
	RiverEN      string // "" when absent
	Name         string
	TownshipCode string // 9 digits; not checked against any township list
	Line         *geom.MultiLineString
}

// maxNameRunes bounds names and river names.
const maxNameRunes = 100

// ParseTownships decodes a GeoJSON FeatureCollection of township
// boundaries. Every feature must have:
//
//   - a Polygon or MultiPolygon geometry with 2D positions [longitude,
//     latitude] in WGS-84 (a third value, Z, is refused), finite and
//     within [-180, 180] × [-90, 90], not swapped (LikelySwapped on the
//     first position);
//   - rings closed (last position equal to the first), with at least 4
//     positions and 3 distinct ones (consecutive repeats are allowed and
//     ignored); no two edges of a ring meeting except consecutive edges at
//     their shared vertex (no crossing, touching or spikes); rings of one
//     polygon not meeting at all (OGC allows a hole to touch its shell at
//     a point; this does not); every hole inside its shell and outside
//     the other holes. Ring orientation is not checked (RFC 7946 says
//     parsers should not reject it). Overlaps between the polygons of a
//     MultiPolygon or between townships are not checked: Index resolves
//     them by its lowest-code rule. The intersection test is an exact
//     sweep along longitude, O(n log n + n·k) for a boundary that a
//     meridian crosses k times; a ring that would need more than 256
//     comparisons per edge (plus 2²⁰) is refused as too complex to check;
//   - properties code (a string of 9 digits, unique), name (non-empty),
//     optionally name_en, kind (town, township, subdistrict, devzone) and
//     zone (core, periphery, general). Names are trimmed and NFC
//     normalised and may not hold control or bidirectional formatting
//     characters or invalid UTF-8. Other properties are ignored.
//
// Boundaries are returned as MultiPolygons with layout XY and SRID 4326,
// coordinates as given (ring orientation is not changed). An empty
// collection is an error.
//
// On any problem it returns nil and an *ImportError (wrapping
// ErrInvalidImport) listing the problems of every feature, up to
// opts.MaxProblems.
func ParseTownships(data []byte, opts ImportLimits) ([]TownshipFeature, error) {
	var out []TownshipFeature
	err := parseCollection(data, opts, func(c *collector, i int, f *rawFeature) {
		t := TownshipFeature{
			Code:   c.code(i, f.Properties, "code", "a string of 9 digits", isTownshipCode),
			Name:   c.name(i, f.Properties, "name", true),
			NameEN: c.name(i, f.Properties, "name_en", false),
			Kind:   c.enum(i, f.Properties, "kind", townshipKinds),
			Zone:   c.enum(i, f.Properties, "zone", townshipZones),
		}
		t.Boundary = c.polygons(i, f.Geometry)
		if !c.failed(i) {
			out = append(out, t)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ParseReaches decodes a GeoJSON FeatureCollection of river reaches. Every
// feature must have:
//
//   - a LineString or MultiLineString geometry with 2D positions as for
//     ParseTownships; every line with at least 2 positions and 2 distinct
//     ones (lines may cross themselves: rivers do not, but digitised
//     braids may);
//   - properties code (unique; 1–4 capital letters naming the river, a
//     hyphen and 1–3 digits, as "LH-03"), river and name (non-empty),
//     optionally river_en, and township_code (9 digits; ParseReaches does
//     not know the townships, so the caller checks that it exists).
//
// Lines are returned as MultiLineStrings with layout XY and SRID 4326. Errors
// are as for ParseTownships.
func ParseReaches(data []byte, opts ImportLimits) ([]ReachFeature, error) {
	var out []ReachFeature
	err := parseCollection(data, opts, func(c *collector, i int, f *rawFeature) {
		r := ReachFeature{
			Code:         c.code(i, f.Properties, "code", "1–4 capital letters, a hyphen and 1–3 digits, as \"LH-03\"", isReachCode),
			River:        c.name(i, f.Properties, "river", true),
			RiverEN:      c.name(i, f.Properties, "river_en", false),
			Name:         c.name(i, f.Properties, "name", true),
			TownshipCode: c.code(i, f.Properties, "township_code", "a string of 9 digits", isTownshipCode),
		}
		r.Line = c.lines(i, f.Geometry)
		if !c.failed(i) {
			out = append(out, r)
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func isTownshipCode(s string) bool {
	if len(s) != 9 {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isReachCode matches ^[A-Z]{1,4}-[0-9]{1,3}$.
func isReachCode(s string) bool {
	letters, rest, ok := strings.Cut(s, "-")
	if !ok || len(letters) < 1 || len(letters) > 4 || len(rest) < 1 || len(rest) > 3 {
		return false
	}
	for i := range len(letters) {
		if letters[i] < 'A' || letters[i] > 'Z' {
			return false
		}
	}
	for i := range len(rest) {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

type rawFeature struct {
	Type       string                     `json:"type"`
	Properties map[string]json.RawMessage `json:"properties"`
	Geometry   *rawGeometry               `json:"geometry"`
}

type rawGeometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

// errStop ends a parse early: too many problems, or a limit on the whole
// collection.
var errStop = errors.New("stop")

// A collector gathers the problems of one parse and tracks its limits.
type collector struct {
	lim       ImportLimits
	problems  []ImportProblem
	truncated bool
	stop      bool
	vertices  int            // positions parsed so far
	codes     map[string]int // code → first feature with it
	bad       map[int]bool   // features with a problem
	current   string         // code of the feature being checked, for problems
}

func (c *collector) add(feature int, format string, args ...any) {
	if c.stop {
		return
	}
	if len(c.problems) >= c.lim.MaxProblems {
		c.truncated, c.stop = true, true
		return
	}
	code := ""
	if feature >= 0 {
		code = c.current
		c.bad[feature] = true
	}
	c.problems = append(c.problems, ImportProblem{Feature: feature, Code: code, Reason: fmt.Sprintf(format, args...)})
}

func (c *collector) failed(feature int) bool { return c.bad[feature] }

// parseCollection walks the FeatureCollection in data and calls visit for
// each feature whose JSON decodes into a feature object.
func parseCollection(data []byte, opts ImportLimits, visit func(c *collector, i int, f *rawFeature)) error {
	c := &collector{lim: opts.withDefaults(), codes: map[string]int{}, bad: map[int]bool{}}
	c.walk(data, visit)
	if len(c.problems) == 0 {
		return nil
	}
	slices.SortStableFunc(c.problems, func(a, b ImportProblem) int { return a.Feature - b.Feature })
	return &ImportError{Problems: c.problems, Truncated: c.truncated}
}

func (c *collector) walk(data []byte, visit func(c *collector, i int, f *rawFeature)) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		c.add(-1, "not valid JSON: %s", jsonErr(err))
		return
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		c.add(-1, "not a GeoJSON FeatureCollection: the document is %s, not an object", describeToken(tok))
		return
	}
	typ, sawType, sawFeatures, n := "", false, false, 0
	for dec.More() && !c.stop {
		tok, err := dec.Token()
		if err != nil {
			c.add(-1, "not valid JSON: %s", jsonErr(err))
			return
		}
		switch key, _ := tok.(string); key {
		case "type":
			sawType = true
			if err := dec.Decode(&typ); err != nil {
				if !isTypeErr(err) {
					c.add(-1, "not valid JSON: %s", jsonErr(err))
					return
				}
				typ = ""
			}
		case "features":
			if sawFeatures {
				c.add(-1, "the document has two \"features\" members")
				return
			}
			sawFeatures = true
			var ok bool
			if n, ok = c.features(dec, visit); !ok {
				return
			}
		default: // foreign members ("bbox", "name", "crs", …)
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				c.add(-1, "not valid JSON: %s", jsonErr(err))
				return
			}
		}
	}
	if c.stop {
		return
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		c.add(-1, "not valid JSON: %s", jsonErr(err))
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		c.add(-1, "not valid JSON: data after the FeatureCollection")
		return
	}
	switch {
	case !sawType:
		c.add(-1, "not a GeoJSON FeatureCollection: no \"type\" member")
	case typ != "FeatureCollection":
		c.add(-1, "not a GeoJSON FeatureCollection: type is %q", typ)
	case !sawFeatures:
		c.add(-1, "the FeatureCollection has no \"features\" member")
	case n == 0:
		c.add(-1, "the FeatureCollection has no features")
	}
}

// features reads the features array; it returns the number of features
// and false if the walk must stop.
func (c *collector) features(dec *json.Decoder, visit func(c *collector, i int, f *rawFeature)) (int, bool) {
	tok, err := dec.Token()
	if err != nil {
		c.add(-1, "not valid JSON: %s", jsonErr(err))
		return 0, false
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		c.add(-1, "\"features\" is %s, not an array", describeToken(tok))
		return 0, false
	}
	i := 0
	for ; dec.More() && !c.stop; i++ {
		if i >= c.lim.MaxFeatures {
			c.add(-1, "more than %d features (ImportLimits.MaxFeatures)", c.lim.MaxFeatures)
			c.stop = true
			return i, false
		}
		var f rawFeature
		c.current = ""
		if err := dec.Decode(&f); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				c.add(-1, "not valid JSON: %s", jsonErr(err))
				return i, false
			}
			c.add(i, "not a GeoJSON Feature: %s", typeErrReason(te))
			continue
		}
		c.current = propString(f.Properties, "code")
		if f.Type != "Feature" {
			c.add(i, "type is %q, want \"Feature\"", f.Type)
		}
		if f.Properties == nil {
			c.add(i, "properties are missing")
		}
		visit(c, i, &f)
	}
	if c.stop {
		return i, false
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		c.add(-1, "not valid JSON: %s", jsonErr(err))
		return i, false
	}
	return i, true
}

func isTypeErr(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}

func typeErrReason(te *json.UnmarshalTypeError) string {
	if te.Field == "" {
		return fmt.Sprintf("the feature is a JSON %s, not an object", te.Value)
	}
	return fmt.Sprintf("member %q is a JSON %s, want %s", te.Field, te.Value, jsonKind(te.Type.Kind().String()))
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "map", "struct", "ptr":
		return "object"
	}
	return goKind
}

// jsonErr describes a decoding error without the "json: " prefix.
func jsonErr(err error) string {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of document"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

// propString returns property key if it is a string, else "".
func propString(props map[string]json.RawMessage, key string) string {
	var s string
	if raw, ok := props[key]; ok && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// rawString decodes property key as a string. It reports a problem and
// returns false if the property is present but not a string or not valid
// UTF-8, or absent and required.
func (c *collector) rawString(i int, props map[string]json.RawMessage, key string, required bool) (string, bool) {
	raw, ok := props[key]
	if !ok || string(raw) == "null" {
		if required && props != nil {
			c.add(i, "property %q is missing", key)
		}
		return "", false
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		c.add(i, "property %q must be a string, got %s", key, truncate(string(raw), 40))
		return "", false
	}
	// encoding/json turns invalid UTF-8 into U+FFFD silently; the raw
	// bytes still show it.
	if !utf8.Valid(raw) {
		c.add(i, "property %q is not valid UTF-8", key)
		return "", false
	}
	return s, true
}

// code reads an identifier property and checks its syntax and, for "code",
// its uniqueness.
func (c *collector) code(i int, props map[string]json.RawMessage, key, want string, valid func(string) bool) string {
	s, ok := c.rawString(i, props, key, true)
	if !ok {
		return ""
	}
	if !valid(s) {
		c.add(i, "property %q is %q, want %s", key, truncate(s, 40), want)
		return ""
	}
	if key == "code" {
		if first, dup := c.codes[s]; dup {
			c.add(i, "duplicate code %q (also feature %d)", s, first)
		} else {
			c.codes[s] = i
		}
	}
	return s
}

// name reads a human-readable name: trimmed, NFC, no control or bidi
// formatting characters, at most maxNameRunes.
func (c *collector) name(i int, props map[string]json.RawMessage, key string, required bool) string {
	s, ok := c.rawString(i, props, key, required)
	if !ok {
		return ""
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	switch {
	case s == "":
		if required {
			c.add(i, "property %q is empty", key)
		}
		return ""
	case utf8.RuneCountInString(s) > maxNameRunes:
		c.add(i, "property %q is longer than %d characters", key, maxNameRunes)
		return ""
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == utf8.RuneError {
			c.add(i, "property %q contains the character %U", key, r)
			return ""
		}
	}
	return s
}

// enum reads a required property with a fixed set of values.
func (c *collector) enum(i int, props map[string]json.RawMessage, key string, values []string) string {
	s, ok := c.rawString(i, props, key, true)
	if !ok {
		return ""
	}
	if !slices.Contains(values, s) {
		c.add(i, "property %q is %q, want one of %s", key, truncate(s, 40), strings.Join(values, ", "))
		return ""
	}
	return s
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// coordinates parses g's coordinates when its type is one of types (with
// nesting depths), under the vertex limits. It reports a problem and
// returns nil on failure.
func (c *collector) coordinates(i int, g *rawGeometry, kind string, types map[string]int) (*coordParser, string) {
	names := slices.Sorted(maps.Keys(types))
	if g == nil {
		c.add(i, "geometry is null, want %s", strings.Join(names, " or "))
		return nil, ""
	}
	depth, ok := types[g.Type]
	if !ok {
		c.add(i, "geometry type is %q, want %s for a %s", g.Type, strings.Join(names, " or "), kind)
		return nil, ""
	}
	if len(g.Coordinates) == 0 || string(g.Coordinates) == "null" {
		c.add(i, "geometry has no coordinates")
		return nil, ""
	}
	budget, over := c.lim.MaxFeatureVertices, fmt.Sprintf("the feature has more than %d positions (ImportLimits.MaxFeatureVertices)", c.lim.MaxFeatureVertices)
	if left := c.lim.MaxTotalVertices - c.vertices; left < budget {
		budget, over = left, fmt.Sprintf("the collection has more than %d positions (ImportLimits.MaxTotalVertices)", c.lim.MaxTotalVertices)
	}
	p, err := parseCoordinates(g.Coordinates, depth, budget, over)
	c.vertices += len(p.flat) / 2
	if err != nil {
		c.add(i, "%s", err)
		var be errCoordBudget
		if errors.As(err, &be) && budget < c.lim.MaxFeatureVertices {
			c.stop = true // the collection's limit: stop reading
		}
		return nil, ""
	}
	if len(p.flat) == 0 {
		c.add(i, "geometry is empty")
		return nil, ""
	}
	// Swapped pairs: judged on the first position, as a whole file is
	// swapped or not. Then every position must be a valid coordinate.
	if LikelySwapped(p.flat[0], p.flat[1]) {
		c.add(i, "longitude and latitude look swapped: the first position is [%v, %v]; GeoJSON positions are [longitude, latitude]", p.flat[0], p.flat[1])
		return nil, ""
	}
	return p, g.Type
}

// checkRange reports the first position that is not a valid coordinate.
func (c *collector) checkRange(i int, flat []float64, name func(pos int) string) bool {
	for k := 0; k < len(flat); k += 2 {
		if reason := invalidReason(flat[k], flat[k+1]); reason != "" {
			c.add(i, "%s: %s", name(k/2), reason)
			return false
		}
	}
	return true
}

// polygons parses and validates a township geometry.
func (c *collector) polygons(i int, g *rawGeometry) *geom.MultiPolygon {
	p, typ := c.coordinates(i, g, "township", map[string]int{"Polygon": 3, "MultiPolygon": 4})
	if p == nil {
		return nil
	}
	ringEnds := p.ends[0]
	polyRings := p.ends[1] // cumulative ring counts at the end of each polygon
	multi := typ == "MultiPolygon"
	if !multi {
		polyRings = polyRings[:1]
	}
	ringName := func(poly, ring int) string {
		if multi {
			return fmt.Sprintf("polygon %d ring %d", poly, ring)
		}
		return fmt.Sprintf("ring %d", ring)
	}
	// Locate a flat position for range messages.
	posName := func(pos int) string {
		r := 0
		for r < len(ringEnds) && ringEnds[r] <= 2*pos {
			r++
		}
		poly := 0
		for poly < len(polyRings) && polyRings[poly] <= r {
			poly++
		}
		first, start := 0, 0
		if poly > 0 {
			first = polyRings[poly-1]
		}
		if r > 0 {
			start = ringEnds[r-1]
		}
		return fmt.Sprintf("%s position %d", ringName(poly, r-first), pos-start/2)
	}

	endss := make([][]int, len(polyRings))
	first := 0
	for j, last := range polyRings {
		if last == first {
			if multi {
				c.add(i, "polygon %d has no rings", j)
			} else {
				c.add(i, "geometry is empty: the polygon has no rings")
			}
			return nil
		}
		endss[j] = ringEnds[first:last]
		first = last
	}
	if !c.checkRange(i, p.flat, posName) {
		return nil
	}
	start := 0
	for j, ends := range endss {
		for r, end := range ends {
			n := (end - start) / 2
			switch {
			case n < 4:
				c.add(i, "%s has %d positions, want at least 4 (3 distinct and the first repeated)", ringName(j, r), n)
				return nil
			case p.flat[start] != p.flat[end-2] || p.flat[start+1] != p.flat[end-1]:
				c.add(i, "%s is not closed: first position [%v, %v] differs from last [%v, %v]",
					ringName(j, r), p.flat[start], p.flat[start+1], p.flat[end-2], p.flat[end-1])
				return nil
			}
			start = end
		}
	}
	for j, ends := range endss {
		base := 0
		if j > 0 {
			base = endss[j-1][len(endss[j-1])-1]
		}
		local := make([]int, len(ends))
		for r, e := range ends {
			local[r] = e - base
		}
		msg := validatePolygon(p.flat[base:ends[len(ends)-1]], local, func(r int) string { return ringName(j, r) })
		if msg != "" {
			c.add(i, "%s", msg)
			return nil
		}
	}
	return geom.NewMultiPolygonFlat(geom.XY, p.flat, endss).SetSRID(4326)
}

// lines parses and validates a reach geometry.
func (c *collector) lines(i int, g *rawGeometry) *geom.MultiLineString {
	p, typ := c.coordinates(i, g, "reach", map[string]int{"LineString": 2, "MultiLineString": 3})
	if p == nil {
		return nil
	}
	ends := p.ends[0]
	multi := typ == "MultiLineString"
	lineName := func(l int) string {
		if multi {
			return fmt.Sprintf("line %d", l)
		}
		return "the line"
	}
	posName := func(pos int) string {
		l, start := 0, 0
		for l < len(ends) && ends[l] <= 2*pos {
			l++
		}
		if l > 0 {
			start = ends[l-1]
		}
		if multi {
			return fmt.Sprintf("line %d position %d", l, pos-start/2)
		}
		return fmt.Sprintf("position %d", pos)
	}
	if !c.checkRange(i, p.flat, posName) {
		return nil
	}
	start := 0
	for l, end := range ends {
		n := (end - start) / 2
		if n < 2 {
			c.add(i, "%s has %d position(s), want at least 2", lineName(l), n)
			return nil
		}
		distinct := false
		for k := start + 2; k < end && !distinct; k += 2 {
			distinct = p.flat[k] != p.flat[start] || p.flat[k+1] != p.flat[start+1]
		}
		if !distinct {
			c.add(i, "%s has fewer than 2 distinct positions", lineName(l))
			return nil
		}
		start = end
	}
	return geom.NewMultiLineStringFlat(geom.XY, p.flat, ends).SetSRID(4326)
}
