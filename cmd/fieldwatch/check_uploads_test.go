package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
	"github.com/fieldwatch/fieldwatch/store"
)

// TestCheckReportsDirectUploads: `fieldwatch check` sweeps direct-upload
// sessions past their deadline and objects under uploads/ that no live
// session wants, and reports where the rest stand, without counting them
// as violations.
func TestCheckReportsDirectUploads(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	env := map[string]string{"FIELDWATCH_DATA_DIR": dir}
	checkCLI(t, env) // creates and migrates the database

	db, err := store.OpenSQLite(ctx, filepath.Join(dir, "fieldwatch.db"))
	if err != nil {
		t.Fatal(err)
	}
	photos, err := fileblob.Open(filepath.Join(dir, "photos"))
	if err != nil {
		t.Fatal(err)
	}
	u := fieldwatch.User{Username: "insp", Role: fieldwatch.RoleInspector, Active: true}
	if err := db.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	body := []byte("bytes of a photo nobody completed")
	put := func(key string) {
		t.Helper()
		if _, err := photos.Put(ctx, key, bytes.NewReader(body), int64(len(body)), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	sha := strings.Repeat("ab", 32)
	now := time.Now()
	for _, created := range []time.Time{now, now.Add(-time.Hour)} { // open; expired
		s := fieldwatch.NewUpload(uuid.NewString(), u.ID, int64(len(body)), sha, created)
		if err := db.CreateUpload(ctx, &s, fieldwatch.UploadLimits{}); err != nil {
			t.Fatal(err)
		}
		put(s.ObjectKey)
	}
	put(fieldwatch.UploadPrefix + uuid.NewString()) // no session at all
	db.Close()

	out := checkCLI(t, env)
	for _, want := range []string{
		"swept 1 expired direct-upload sessions and 1 abandoned upload objects",
		"direct uploads: 1 open, 0 expired, 0 completed (kept for replays), 0 abandoned upload objects",
		"all invariants hold",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}
