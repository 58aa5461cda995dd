package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
)

// FuzzCreateEvidenceMultipart sends arbitrary bytes, framed by an
// arbitrary boundary, as the multipart body of POST /v1/evidence to one
// server (SQLite and a photo directory, built once per fuzzing process)
// and checks the bad-input promise (docs/reliability.md#bad-input): never a 5xx, every
// refusal a complete problem+json, nothing left in the spool, and a 201
// only for bytes identical to the photo part that was sent.
func FuzzCreateEvidenceMultipart(f *testing.F) {
	h, token, spool := newFuzzServer(f)
	var img bytes.Buffer
	if err := jpeg.Encode(&img, smallImage(), nil); err != nil {
		f.Fatal(err)
	}
	meta := []byte(`{"category":"dust_site","device_location":{"lon":118.3,"lat":40.14}}`)
	seed := func(boundary string, parts ...[3]string) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		if err := w.SetBoundary(boundary); err != nil {
			f.Fatal(err)
		}
		for _, p := range parts {
			hd := textproto.MIMEHeader{}
			hd.Set("Content-Disposition", `form-data; name="`+p[0]+`"; filename="x"`)
			hd.Set("Content-Type", p[1])
			pw, err := w.CreatePart(hd)
			if err != nil {
				f.Fatal(err)
			}
			pw.Write([]byte(p[2]))
		}
		w.Close()
		f.Add(boundary, buf.Bytes())
	}
	okMeta, okPhoto := [3]string{"meta", "application/json", string(meta)}, [3]string{"photo", "image/jpeg", img.String()}
	seed("fuzzboundary", okMeta, okPhoto)
	seed("b", okPhoto, okMeta)
	seed("with space", okMeta, okPhoto, okPhoto)
	seed("x", okMeta)
	seed("yy", okMeta, [3]string{"photo", "image/png", "\x89PNG\r\n\x1a\n"})
	seed("zz", [3]string{"meta", "application/json", `{"category":"other","note":"\u202e"}`}, okPhoto)
	f.Add("q", []byte("--q\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{}\r\n--q"))
	f.Add("", []byte{})

	ready := 0
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		ct := mime.FormatMediaType("multipart/form-data", map[string]string{"boundary": boundary})
		if ct == "" {
			ct = "multipart/form-data; boundary=" + boundary
		}
		req := httptest.NewRequest("POST", "/v1/evidence", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", uuid.NewString())
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
		switch {
		case res.status >= 500:
			t.Fatalf("%d for a client's body: %s", res.status, res.body)
		case res.status == http.StatusCreated:
			checkStoredPhoto(t, ct, body, res)
		default:
			requireProblem(t, res, res.status)
		}
		if entries, err := os.ReadDir(spool); err != nil || len(entries) > 0 {
			t.Fatalf("spool after a %d: %d files (%v)", res.status, len(entries), err)
		}
		if ready++; ready%100 == 0 {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != http.StatusOK {
				t.Fatalf("not ready: %d %s", rec.Code, rec.Body)
			}
		}
	})
}

// checkStoredPhoto reads the body as the server should have (the first
// photo part) and compares it with the evidence the 201 describes.
func checkStoredPhoto(t *testing.T, ct string, body []byte, res response) {
	t.Helper()
	var e api.Evidence
	if err := json.Unmarshal(res.body, &e); err != nil {
		t.Fatalf("201 body: %v: %s", err, res.body)
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		t.Fatalf("201 for the Content-Type %q: %v", ct, err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("201, but the body has no readable photo part (%v)", err)
		}
		if p.FormName() != "photo" {
			continue
		}
		photo, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("201, but the photo part does not read: %v", err)
		}
		sum := sha256.Sum256(photo)
		if e.Sha256 != hex.EncodeToString(sum[:]) || e.Size != int64(len(photo)) {
			t.Fatalf("stored %s (%d bytes), sent %x (%d bytes)", e.Sha256, e.Size, sum, len(photo))
		}
		return
	}
}

// newFuzzServer is the API over SQLite and a photo directory, like
// newTestAPI, for a fuzz target (which has no *testing.T to build it
// with), and an inspector's access token. The clock stands still, so the
// token never expires.
func newFuzzServer(tb testing.TB) (h http.Handler, token, spool string) {
	tb.Helper()
	ctx := context.Background()
	env := map[string]string{"FIELDWATCH_DATA_DIR": tb.TempDir()}
	c, _, err := app.ParseConfig(flag.NewFlagSet("fuzz", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	if err != nil {
		tb.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC) }
	a, err := app.New(ctx, c, app.Options{Version: "fuzz", Clock: now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	if _, err := a.Identity.CreateUser(ctx, auth.NewUser{Username: "fuzz", DisplayName: "fuzz", Role: fieldwatch.RoleInspector, Password: pw}); err != nil {
		tb.Fatal(err)
	}
	pair, err := a.Identity.Login(ctx, "fuzz", pw, "192.0.2.1")
	if err != nil {
		tb.Fatal(err)
	}
	return a.Handler, pair.AccessToken, c.SpoolDir
}
