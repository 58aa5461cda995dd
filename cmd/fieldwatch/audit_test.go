package main

import (
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fieldwatch/fieldwatch/store"
)

// `audit head` exports the chain head; `audit verify --head` names the
// first broken link of a tampered trail, including a cut tail that the
// chain alone cannot show.
func TestAuditHeadAndVerifyCLI(t *testing.T) {
	ctx := context.Background()
	// setup makes a trail of three entries (three users added) and
	// returns its getenv and exported head.
	setup := func(t *testing.T) (func(string) string, string) {
		t.Helper()
		dir := t.TempDir()
		getenv := func(k string) string { return map[string]string{"FIELDWATCH_DATA_DIR": dir}[k] }
		for _, name := range []string{"audit.a", "audit.b", "audit.c"} {
			if err := run(ctx, []string{"user", "add", "--username", name, "--role", "inspector", "--password-stdin"},
				getenv, strings.NewReader("long enough password\n"), io.Discard, io.Discard); err != nil {
				t.Fatal(err)
			}
		}
		var out strings.Builder
		if err := run(ctx, []string{"audit", "head"}, getenv, nil, &out, io.Discard); err != nil {
			t.Fatalf("audit head: %v", err)
		}
		head := strings.TrimSpace(out.String())
		if !regexp.MustCompile(`^3:[0-9a-f]{64}$`).MatchString(head) {
			t.Fatalf("audit head printed %q, want 3:HEX", head)
		}
		return getenv, head
	}
	verify := func(getenv func(string) string, args ...string) (string, error) {
		var out strings.Builder
		err := run(ctx, append([]string{"audit", "verify"}, args...), getenv, nil, &out, io.Discard)
		return out.String(), err
	}
	tamper := func(t *testing.T, getenv func(string) string, how store.AuditTamper, seq int64) {
		t.Helper()
		db, err := store.OpenSQLite(ctx, filepath.Join(getenv("FIELDWATCH_DATA_DIR"), "fieldwatch.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.TamperAuditForTest(ctx, how, seq); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("Intact", func(t *testing.T) {
		getenv, head := setup(t)
		out, err := verify(getenv, "--head", head)
		if err != nil || !strings.Contains(out, "intact: 3 entries, head "+head+" reached") {
			t.Fatalf("verify --head: %v %s", err, out)
		}
		// An older head is still reached by a chain that only grew.
		if out, err := verify(getenv, "--head", "0:"); err != nil || !strings.Contains(out, "intact") {
			t.Fatalf("verify --head 0: %v %s", err, out)
		}
	})

	tests := []struct {
		name     string
		how      store.AuditTamper
		seq      int64
		withHead string // what verify --head reports
		without  string // what plain verify reports
	}{
		{"Alter", store.TamperAlter, 2, "broken at entry 2: its hash does not match", "broken at entry 2"},
		{"Delete", store.TamperDelete, 2, "broken at entry 3: entry 2 is missing", "broken at entry 3"},
		{"Swap", store.TamperSwap, 1, "broken at entry 1: its prev_hash", "broken at entry 1"},
		{"Truncate", store.TamperTruncate, 3, "broken at entry 3: entry 3, the exported head, is missing", "intact: 2 entries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv, head := setup(t)
			tamper(t, getenv, tc.how, tc.seq)
			out, err := verify(getenv, "--head", head)
			if err == nil || !strings.Contains(out, tc.withHead) {
				t.Errorf("verify --head after %s: %v %q; want %q", tc.name, err, out, tc.withHead)
			}
			out, err = verify(getenv)
			if (err == nil) != strings.Contains(tc.without, "intact") || !strings.Contains(out, tc.without) {
				t.Errorf("verify after %s: %v %q; want %q", tc.name, err, out, tc.without)
			}
		})
	}

	t.Run("Usage", func(t *testing.T) {
		getenv, _ := setup(t)
		for _, args := range [][]string{
			{"audit"}, {"audit", "show"}, {"audit", "head", "extra"},
			{"audit", "verify", "--head", "3"}, {"audit", "verify", "--head", "3:abc"},
			{"audit", "verify", "--head", "x:" + strings.Repeat("0", 64)}, {"audit", "verify", "--head", "-1:"},
			{"audit", "verify", "--head", "3:"}, {"audit", "head", "--head", "3:"},
		} {
			if err := run(ctx, args, getenv, nil, io.Discard, io.Discard); exitCode(err) != 2 {
				t.Errorf("%q: %v, want a usage error", args, err)
			}
		}
	})
}
