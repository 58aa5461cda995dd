package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
)

// TestCheckYoungOrphanIsPending: an evidence object without a row that is
// younger than --orphan-age is an upload between its PUT and its commit,
// or what a crash left for the reconciler: `check` reports it as pending
// and exits 0 (it used to exit 1 for an hour after any crash). Older than
// --orphan-age it is deleted by the reconcile pass, and a row whose object
// is missing is still a violation.
func TestCheckYoungOrphanIsPending(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := map[string]string{"FIELDWATCH_DATA_DIR": dir}
	checkCLI(t, env) // creates and migrates the database

	photos, err := fileblob.Open(filepath.Join(dir, "photos"))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("a photo stored by an upload that crashed before its commit")
	sum := sha256.Sum256(body)
	key := fieldwatch.ObjectKey(hex.EncodeToString(sum[:]))
	if _, err := photos.Put(ctx, key, bytes.NewReader(body), int64(len(body)), blob.PutOptions{SHA256: sum[:]}); err != nil {
		t.Fatal(err)
	}

	out := checkCLI(t, env) // default --orphan-age 1h: young
	for _, want := range []string{"1 pending", key, "all invariants hold"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if _, err := photos.Stat(ctx, key); err != nil {
		t.Fatalf("a young orphan was deleted: %v", err)
	}

	env["FIELDWATCH_ORPHAN_AGE"] = "1ns" // now it is old: reconciled away
	out = checkCLI(t, env)
	if !strings.Contains(out, "deleted 1 orphan objects") || !strings.Contains(out, "all invariants hold") {
		t.Errorf("check with a short orphan age:\n%s", out)
	}
	if _, err := photos.Stat(ctx, key); err == nil {
		t.Error("an old orphan was kept")
	}
}

// TestCheckMissingObjectIsViolation: a row whose photo is gone is always a
// violation, whatever its age.
func TestCheckMissingObjectIsViolation(t *testing.T) {
	env := faultEnv(t)
	base, _, _ := startBinary(t, env)
	token := e2eLogin(t, env, base)
	u := smallUpload(t, 1)
	u.untilStored(t, base, token, timeNowPlus(30))
	photos, err := fileblob.Open(filepath.Join(env["FIELDWATCH_DATA_DIR"], "photos"))
	if err != nil {
		t.Fatal(err)
	}
	if err := photos.Delete(context.Background(), fieldwatch.ObjectKey(u.sha)); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	err = run(context.Background(), []string{"check"}, func(k string) string { return env[k] }, nil, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "missing") {
		t.Fatalf("check with a missing photo = %v:\n%s", err, out.String())
	}
	// The same bytes uploaded again, under another key, repair it.
	again := *u
	again.key, again.id, again.answers = "f1b1a7e4-8f7a-4b10-8892-fa970067c10f", "", nil
	again.untilStored(t, base, token, timeNowPlus(30))
	checkCLI(t, env)
}

func timeNowPlus(seconds int) time.Time { return time.Now().Add(time.Duration(seconds) * time.Second) }
