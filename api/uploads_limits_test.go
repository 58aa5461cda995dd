package api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
)

// TestDirectUploadLimits: open direct-upload sessions count against the
// same per-user (429) and total (503) caps as uploads in flight; they
// expire on the URL's deadline plus a grace, the reconciler sweeps them
// with their objects, and a completed session keeps replaying.
func TestDirectUploadLimits(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			a := newTestAPIConfigured(t, b, func(c *app.Config) { c.UploadsPerUser, c.UploadsTotal = 2, 3 })
			a.mustUser("insp1", "inspector", pw)
			a.mustUser("insp2", "inspector", pw)
			tok1, _ := a.login("insp1", pw)
			tok2, _ := a.login("insp2", pw)
			photo := uniquePhoto(t, "river-lh03.jpg", 4242)
			sum := sha256.Sum256(photo)
			decl := map[string]any{"size": len(photo), "sha256": hex.EncodeToString(sum[:])}
			start := func(tok string) api.Upload {
				t.Helper()
				r := a.do("POST", "/v1/uploads", tok, decl)
				if r.status != 201 {
					t.Fatalf("create upload: %d %s", r.status, r.body)
				}
				var u api.Upload
				r.json(t, &u)
				return u
			}
			retryAfter := func(r response) {
				t.Helper()
				if r.header.Get("Retry-After") == "" {
					t.Errorf("%d without Retry-After", r.status)
				}
			}

			s1, s2 := start(tok1), start(tok1)
			r := a.do("POST", "/v1/uploads", tok1, decl)
			requireProblem(t, r, 429)
			retryAfter(r)
			start(tok2) // three open in all
			r = a.do("POST", "/v1/uploads", tok2, decl)
			requireProblem(t, r, 503)
			retryAfter(r)

			// A completed session no longer counts.
			meta := map[string]any{"category": "river_section"}
			key := uuid.NewString()
			if r := a.put(tok1, s1.Url, photo); r.status != 204 {
				t.Fatalf("put: %d %s", r.status, r.body)
			}
			if r := a.do("POST", "/v1/uploads/"+s1.Id.String()+"/complete", tok1, meta, "Idempotency-Key", key); r.status != 201 {
				t.Fatalf("complete: %d %s", r.status, r.body)
			}
			s3 := start(tok1)
			requireProblem(t, a.do("POST", "/v1/uploads", tok1, decl), 429)
			// s3 gets its bytes but is never completed: abandoned content.
			if r := a.put(tok1, s3.Url, photo); r.status != 204 {
				t.Fatalf("put: %d %s", r.status, r.body)
			}

			// Once their URLs have expired, open sessions no longer count;
			// within the grace the bytes already sent can still be completed.
			a.clock.Advance(fieldwatch.UploadURLTTL + time.Second)
			tok1, _ = a.login("insp1", pw)
			tok2, _ = a.login("insp2", pw)
			requireProblem(t, a.put(tok1, s2.Url, photo), 404) // the URL has expired
			start(tok1)
			start(tok2)

			// Past the grace the session is gone, though the
			// completed one still replays.
			a.clock.Advance(fieldwatch.UploadGrace)
			tok1, _ = a.login("insp1", pw)
			requireProblem(t, a.do("POST", "/v1/uploads/"+s3.Id.String()+"/complete", tok1, meta, "Idempotency-Key", uuid.NewString()), 404)
			replay := func() {
				t.Helper()
				r := a.do("POST", "/v1/uploads/"+s1.Id.String()+"/complete", tok1, meta, "Idempotency-Key", key)
				if r.status != 201 || r.header.Get("Idempotency-Replayed") != "true" {
					t.Fatalf("replay of a completed session: %d %s", r.status, r.body)
				}
			}
			replay()

			// The reconciler sweeps the three expired sessions and the
			// abandoned bytes of s3, once past the delay that lets a
			// completion begun in time finish.
			a.clock.Advance(fieldwatch.UploadSweepDelay)
			rec := fieldwatch.NewReconciler(a.db, a.photos, fieldwatch.ReconcileConfig{Clock: a.clock.Now})
			rep, err := rec.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.ExpiredUploads != 3 {
				t.Errorf("reconciler swept %d expired uploads, want 3", rep.ExpiredUploads)
			}
			if _, err := os.Stat(filepath.Join(a.photosDir, "uploads", s3.Id.String())); !os.IsNotExist(err) {
				t.Errorf("abandoned upload object still there: %v", err)
			}
			replay()
			if n := a.countEvidence(); n != 1 {
				t.Fatalf("%d evidence, want 1", n)
			}
			a.checkInvariants()
		})
	}
}
