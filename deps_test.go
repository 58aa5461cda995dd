package fieldwatch_test

import (
	"os/exec"
	"strings"
	"testing"
)

// domainPackage is the import path of the domain package, the one whose
// dependencies TestDomainDependencies bounds.
const domainPackage = "github.com/fieldwatch/fieldwatch"

// forbiddenDeps are import paths, and prefixes of import paths, that the
// domain must not link: the S3 client (the domain reaches stored bytes
// through the blob port; only cmd/fieldwatch picks an adapter), the web
// framework and net/http (the domain knows nothing of HTTP; api
// translates).
var forbiddenDeps = []string{
	"github.com/minio/minio-go",
	"github.com/labstack/echo",
	"net/http",
}

// TestDomainDependencies fails when the domain package links, directly or
// through any package it imports, one of forbiddenDeps. It names the
// packages that import the offender, which is where to cut.
func TestDomainDependencies(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, domainPackage)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", domainPackage, err, stderr)
	}
	importers := map[string][]string{} // dependency → packages importing it
	var deps []string
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		deps = append(deps, fields[0])
		for _, imp := range fields[1:] {
			importers[imp] = append(importers[imp], fields[0])
		}
	}
	if len(deps) == 0 || deps[len(deps)-1] != domainPackage {
		t.Fatalf("go list -deps %s listed %d packages, not ending with the package itself", domainPackage, len(deps))
	}
	for _, dep := range deps {
		for _, bad := range forbiddenDeps {
			if dep == bad || strings.HasPrefix(dep, bad+"/") {
				t.Errorf("%s depends on %s (imported by %s)", domainPackage, dep, strings.Join(importers[dep], ", "))
			}
		}
	}
}
