package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/api"
)

func TestDirectUpload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.mustUser("insp", "inspector", pw)
		tok, _ := a.login("insp", pw)
		photo := uniquePhoto(t, "river-lh03.jpg", 77)
		sum := sha256.Sum256(photo)
		start := func() api.Upload {
			r := a.do("POST", "/v1/uploads", tok, map[string]any{"size": len(photo), "sha256": hex.EncodeToString(sum[:])})
			if r.status != 201 {
				t.Fatalf("create upload: %d %s", r.status, r.body)
			}
			var u api.Upload
			r.json(t, &u)
			return u
		}
		meta := map[string]any{"category": "river_section", "note": "直传"}
		key := uuid.NewString()

		u := start()
		if u.Url != "/v1/uploads/"+u.Id.String()+"/content" || u.Method != "PUT" {
			t.Fatalf("local store upload URL %q", u.Url)
		}
		// Completing before the bytes arrived.
		requireProblem(t, a.do("POST", "/v1/uploads/"+u.Id.String()+"/complete", tok, meta, "Idempotency-Key", key), 409)
		// Wrong bytes are refused and not kept.
		wrong := append([]byte{}, photo...)
		wrong[len(wrong)-1] ^= 1
		requireProblem(t, a.put(tok, u.Url, wrong), 422)
		requireProblem(t, a.put(tok, u.Url, photo[:len(photo)-1]), 422)
		if r := a.put(tok, u.Url, photo); r.status != 204 {
			t.Fatalf("put: %d %s", r.status, r.body)
		}
		r := a.do("POST", "/v1/uploads/"+u.Id.String()+"/complete", tok, meta, "Idempotency-Key", key)
		if r.status != 201 {
			t.Fatalf("complete: %d %s", r.status, r.body)
		}
		var e api.Evidence
		r.json(t, &e)
		if e.Sha256 != hex.EncodeToString(sum[:]) || e.Exif.Position == nil || e.Note == nil || *e.Note != "直传" {
			t.Fatalf("evidence from direct upload: %s", r.body)
		}
		// The temporary object is gone; the evidence has its own copy.
		if _, err := os.Stat(filepath.Join(a.photosDir, "uploads", u.Id.String())); !os.IsNotExist(err) {
			t.Fatalf("temporary upload object still there: %v", err)
		}
		// Retry replays; the same key with other metadata is refused.
		r = a.do("POST", "/v1/uploads/"+u.Id.String()+"/complete", tok, meta, "Idempotency-Key", key)
		if r.status != 201 || r.header.Get("Idempotency-Replayed") != "true" {
			t.Fatalf("replay: %d %s", r.status, r.body)
		}
		requireProblem(t, a.do("POST", "/v1/uploads/"+u.Id.String()+"/complete", tok, map[string]any{"category": "other"}, "Idempotency-Key", key), 422)
		// Too large for the server's limit.
		requireProblem(t, a.do("POST", "/v1/uploads", tok, map[string]any{"size": 1 << 40, "sha256": hex.EncodeToString(sum[:])}), 413)
		if n := a.countEvidence(); n != 1 {
			t.Fatalf("%d evidence, want 1", n)
		}
		a.checkInvariants()
	})
}
