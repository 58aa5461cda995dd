package api

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fieldwatch/fieldwatch/auth"
)

// The generated code must be exactly what oapi-codegen makes of the spec
// today: nobody edits *.gen.go, and nobody forgets `make generate`.
func TestGeneratedCodeIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs oapi-codegen; skipped with -short")
	}
	// The config names the output file; write a copy that points into a
	// temp dir so the test never touches the committed file.
	dir := t.TempDir()
	out := filepath.Join(dir, "server.gen.go")
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte("output: server.gen.go"), []byte("output: "+out), 1)
	if !bytes.Contains(cfg, []byte(out)) {
		t.Fatal("oapi-codegen.yaml has no `output: server.gen.go` line")
	}
	cfgPath := filepath.Join(dir, "oapi-codegen.yaml")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", cfgPath, "../openapi.yaml")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("server.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("api/server.gen.go is stale: run `make generate` (go generate ./api) and commit the result")
	}
}

func TestEveryOperationHasAnAccessRule(t *testing.T) {
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	rules := auth.Operations()
	for _, op := range specOperations(spec) {
		rule, ok := rules[op.ID]
		if !ok {
			t.Errorf("%s %s (%s) has no access rule in auth.Operations", op.Method, op.Path, op.ID)
			continue
		}
		if rule.Public != op.Public {
			t.Errorf("%s: access rule public=%v, spec security public=%v", op.ID, rule.Public, op.Public)
		}
	}
}

// The server must refuse to start when an operation lacks a rule, rather
// than serve it unguarded.
func TestMissingAccessRuleFailsStartup(t *testing.T) {
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{spec: spec}
	rules := auth.Operations()
	delete(rules, "listUsers")
	if _, err := s.operationMiddlewaresFor(rules); err == nil || !strings.Contains(err.Error(), "listUsers") {
		t.Fatalf("want an error naming listUsers, got %v", err)
	}
	rules = auth.Operations()
	rules["getMe"] = auth.Access{Public: true}
	if _, err := s.operationMiddlewaresFor(rules); err == nil {
		t.Fatal("a public rule on a secured operation must fail")
	}
}

// Every route the server answers is an operation of the spec or one of the
// few documented infrastructure routes.
func TestRoutesMatchSpec(t *testing.T) {
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, op := range specOperations(spec) {
		want[op.Method+" "+op.EchoPath] = true
	}
	for _, r := range infraRoutes {
		want[r] = true
	}
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{spec: spec, cfg: Config{Registry: reg}, metrics: m}
	e, err := s.routes()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range e.Routes() {
		got[r.Method+" "+r.Path] = true
	}
	var extra, missing []string
	for k := range got {
		if !want[k] {
			extra = append(extra, k)
		}
	}
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if len(extra) > 0 || len(missing) > 0 {
		t.Fatalf("routes not in spec or infraRoutes: %v; spec operations not routed: %v", extra, missing)
	}
}

// Request bodies must reject unknown members: otherwise a member spelt
// "ROLE" passes the schema and Go's case-insensitive decoder binds it as
// "role", and server-owned fields could be mass-assigned.
func TestRequestBodiesRejectUnknownMembers(t *testing.T) {
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range specOperations(spec) {
		o := spec.Paths.Value(op.Path).GetOperation(op.Method)
		if o.RequestBody == nil {
			continue
		}
		for ct, mt := range o.RequestBody.Value.Content {
			if !strings.Contains(ct, "json") {
				continue
			}
			checkClosed(t, op.ID, "", mt.Schema.Value)
		}
	}
}

func checkClosed(t *testing.T, op, path string, s *openapi3.Schema) {
	t.Helper()
	if s == nil {
		return
	}
	if s.Extensions["x-geojson"] == true {
		return // RFC 7946 allows foreign members; the importer validates GeoJSON itself
	}
	if s.Type.Is("object") {
		if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
			t.Errorf("%s: request schema object %q must set additionalProperties: false", op, orDefault(path, "/"))
		}
		for name, p := range s.Properties {
			checkClosed(t, op, path+"/"+name, p.Value)
		}
	}
	if s.Items != nil {
		checkClosed(t, op, path+"/0", s.Items.Value)
	}
}
