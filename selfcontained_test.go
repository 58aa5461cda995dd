package fieldwatch_test

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// outsideRefs matches references to notes that live outside the
// repository: design notes by file name or by their bare upper-case
// name, and paths into a sibling directory.
var outsideRefs = regexp.MustCompile(`(?:DESIGN|RELIABILITY|STYLE)\.md|\b(?:DESIGN|RELIABILITY)\b|\.\./shared|/work/shared`)

// TestNoReferencesOutsideRepository fails when a tracked file outside docs/
// points a reader at notes the repository does not hold. What such notes
// said belongs in docs/ (docs/reliability.md, docs/glossary.md), and
// comments point there.
func TestNoReferencesOutsideRepository(t *testing.T) {
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("git ls-files: %v (not a git checkout?)", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == "" || strings.HasPrefix(name, "docs/") || name == "selfcontained_test.go" {
			continue
		}
		b, err := os.ReadFile(name)
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue // binary
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := outsideRefs.FindString(line); m != "" {
				t.Errorf("%s:%d: refers to %q, which is not in the repository; point into docs/ instead", name, i+1, m)
			}
		}
	}
}
