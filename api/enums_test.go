package api_test

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/geo"
)

// specEnums returns every enum of the spec by where it is declared:
// "schemas.Name" for a component schema, "schemas.Name.prop" (and
// ".prop.items", nested as deep as it goes) for its properties,
// "parameters.name" for a parameter of an operation or of a path
// ("METHOD /path?name"). A $ref is not followed: the component it names
// is visited under its own name.
func specEnums(spec *openapi3.T) map[string][]string {
	out := map[string][]string{}
	var walk func(loc string, ref *openapi3.SchemaRef)
	walk = func(loc string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Ref != "" || ref.Value == nil {
			return
		}
		s := ref.Value
		if len(s.Enum) > 0 {
			vals := make([]string, len(s.Enum))
			for i, v := range s.Enum {
				vals[i] = fmt.Sprint(v)
			}
			out[loc] = vals
		}
		for name, p := range s.Properties {
			walk(loc+"."+name, p)
		}
		walk(loc+".items", s.Items)
		if s.AdditionalProperties.Schema != nil {
			walk(loc+".additionalProperties", s.AdditionalProperties.Schema)
		}
		for i, sub := range slices.Concat(s.AllOf, s.OneOf, s.AnyOf) {
			walk(fmt.Sprintf("%s.of%d", loc, i), sub)
		}
	}
	content := func(loc string, c openapi3.Content) {
		for mt, m := range c {
			walk(loc+" "+mt, m.Schema)
		}
	}
	params := func(loc string, ps openapi3.Parameters) {
		for _, p := range ps {
			if p.Ref == "" && p.Value != nil {
				walk(loc+"?"+p.Value.Name, p.Value.Schema)
			}
		}
	}
	for name, s := range spec.Components.Schemas {
		walk("schemas."+name, s)
	}
	for name, p := range spec.Components.Parameters {
		walk("parameters."+name, p.Value.Schema)
	}
	for name, b := range spec.Components.RequestBodies {
		content("requestBodies."+name, b.Value.Content)
	}
	for name, r := range spec.Components.Responses {
		content("responses."+name, r.Value.Content)
	}
	for path, item := range spec.Paths.Map() {
		params(path, item.Parameters)
		for method, op := range item.Operations() {
			loc := method + " " + path
			params(loc, op.Parameters)
			if op.RequestBody != nil && op.RequestBody.Ref == "" {
				content(loc+" body", op.RequestBody.Value.Content)
			}
			for status, r := range op.Responses.Map() {
				if r.Ref == "" {
					content(loc+" "+status, r.Value.Content)
				}
			}
		}
	}
	return out
}

func names[T ~string](list []T) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = string(v)
	}
	return out
}

// TestSpecEnums: every enum in openapi.yaml is the Go list it stands for,
// as a set. Each enum of the spec must be listed here, either with the
// domain's list (or another package's: geo's coordinate systems, the
// thumbnail sizes) or as the spec's own (protocol constants and the
// server's self-description, which no Go list declares): a new enum in
// the spec fails until it is placed.
func TestSpecEnums(t *testing.T) {
	spec, err := api.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	var sizes []string
	for _, n := range fieldwatch.ThumbnailSizes() {
		sizes = append(sizes, fmt.Sprint(n))
	}
	var (
		category    = names(fieldwatch.Categories())
		flag        = names(fieldwatch.Flags())
		source      = names(fieldwatch.Sources())
		decision    = names(fieldwatch.Decisions())
		zone        = names(fieldwatch.Zones())
		level       = names(fieldwatch.ChiefLevels())
		escalation  = names(fieldwatch.Escalations())
		rule        = names(fieldwatch.ScoreRules())
		domainEnums = map[string][]string{
			"schemas.Category":                     category,
			"schemas.EvidenceFlag":                 flag,
			"schemas.CRS":                          names(geo.CRSs()),
			"schemas.Role":                         names(fieldwatch.Roles()),
			"schemas.Severity":                     names(fieldwatch.Severities()),
			"schemas.CaseState":                    names(fieldwatch.CaseStates()),
			"schemas.CaseAction":                   names(fieldwatch.CaseActions()),
			"schemas.Metric":                       names(fieldwatch.Metrics()),
			"schemas.Evidence.capture_time_source": source,
			"schemas.Evidence.location_source":     source,
			"schemas.Evidence.thumbnail_state":     names(fieldwatch.ThumbnailStates()),
			"GET /v1/evidence?review_state":        fieldwatch.ReviewStates(),
			"GET /v1/evidence/{id}/thumbnail?size": sizes,
		}
		// Enums that refer to a domain list through a property of an
		// inline schema; matched by suffix below, so that renaming the
		// schema holding them is not a failure.
		byProperty = map[string][]string{
			".decision":   decision,
			".zone":       zone,
			".level":      level,
			".escalation": escalation,
			".rule":       rule,
			".kind":       names(fieldwatch.CaseEventKinds()),
		}
		// The spec's own: not an enumeration of the domain.
		specOnly = map[string]string{
			"schemas.Health.status":              "health answer",
			"schemas.Readiness.status":           "readiness answer",
			"schemas.Check.name":                 "readiness checks the server runs",
			"schemas.Version.database":           "backends the binary wires",
			"schemas.Version.photo_store":        "backends the binary wires",
			"schemas.TokenPair.token_type":       "OAuth 2 token type",
			"schemas.Upload.method":              "HTTP method of the upload URL",
			"GET /v1/assessments/{month}?format": "download formats of the report package",
		}
	)
	found := specEnums(spec)
	for _, loc := range slices.Sorted(maps.Keys(found)) {
		inSpec := found[loc]
		want, ok := domainEnums[loc]
		if !ok {
			for suffix, list := range byProperty {
				if strings.HasSuffix(loc, suffix) {
					want, ok = list, true
				}
			}
		}
		if !ok {
			if _, own := specOnly[loc]; own || isGeoJSONType(loc, inSpec) {
				continue
			}
			t.Errorf("%s: enum %v is not placed: map it to its Go list in this test, or list it as the spec's own", loc, inSpec)
			continue
		}
		a, b := slices.Clone(inSpec), slices.Clone(want)
		sort.Strings(a)
		sort.Strings(b)
		if !slices.Equal(a, b) {
			t.Errorf("%s: spec enum %v, Go list %v", loc, inSpec, want)
		}
	}
	for loc := range domainEnums {
		if _, ok := found[loc]; !ok {
			t.Errorf("%s: no enum there in the spec (moved or renamed? update this test)", loc)
		}
	}
	for loc := range specOnly {
		if _, ok := found[loc]; !ok {
			t.Errorf("%s: no enum there in the spec (moved or renamed? update this test)", loc)
		}
	}
}

// isGeoJSONType reports whether an enum is one of GeoJSON's type names
// ("type": "Feature" and the like), which RFC 7946 fixes.
func isGeoJSONType(loc string, vals []string) bool {
	if !strings.HasSuffix(loc, ".type") || len(vals) != 1 {
		return false
	}
	switch vals[0] {
	case "Feature", "FeatureCollection", "Point", "LineString", "MultiLineString", "Polygon", "MultiPolygon":
		return true
	}
	return false
}
