package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// e2eUser creates an inspector with the CLI and logs in over HTTP.
func e2eLogin(t *testing.T, env map[string]string, base string) string {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	if err := run(context.Background(), []string{"user", "add", "--username", "e2e", "--role", "inspector", "--password-stdin"},
		getenv, strings.NewReader("e2e password 123\n"), io.Discard, io.Discard); err != nil {
		t.Fatalf("user add: %v", err)
	}
	res, err := http.Post(base+"/v1/auth/login", "application/json", strings.NewReader(`{"username":"e2e","password":"e2e password 123"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&pair); err != nil || pair.AccessToken == "" {
		t.Fatalf("login: %d %v", res.StatusCode, err)
	}
	return pair.AccessToken
}

// uploadSharedPhotos sends every photo of testdata/photos to a running
// server and checks what comes back against the manifest and the bytes.
func uploadSharedPhotos(t *testing.T, base, token string) {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/photos/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Photos []struct {
			File     string   `json:"file"`
			Category string   `json:"category"`
			Lon      *float64 `json:"exif_lon"`
			Lat      *float64 `json:"exif_lat"`
		} `json:"photos"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Photos {
		photo, err := os.ReadFile(filepath.Join("../../testdata/photos", p.File))
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		fw, _ := w.CreateFormField("meta")
		fmt.Fprintf(fw, `{"category":%q}`, p.Category)
		pw, _ := w.CreateFormFile("photo", p.File)
		pw.Write(photo)
		w.Close()
		req, _ := http.NewRequest("POST", base+"/v1/evidence", &body)
		req.Header.Set("Content-Type", w.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", uuid.NewString())
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			ID   string `json:"id"`
			EXIF struct {
				Position *struct{ Lon, Lat float64 } `json:"position"`
			} `json:"exif"`
		}
		err = json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		if res.StatusCode != http.StatusCreated || err != nil {
			t.Fatalf("%s: upload %d %v", p.File, res.StatusCode, err)
		}
		if p.Lon != nil {
			if e.EXIF.Position == nil || math.Abs(e.EXIF.Position.Lon-*p.Lon) > 1e-6 || math.Abs(e.EXIF.Position.Lat-*p.Lat) > 1e-6 {
				t.Fatalf("%s: EXIF position %+v, manifest %v,%v", p.File, e.EXIF.Position, *p.Lon, *p.Lat)
			}
		}
		// The original, byte for byte (through a presigned redirect on S3).
		req, _ = http.NewRequest("GET", base+"/v1/evidence/"+e.ID+"/photo", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || !bytes.Equal(got, photo) {
			t.Fatalf("%s: photo %d, %d bytes of %d", p.File, res.StatusCode, len(got), len(photo))
		}
	}
}

// directUpload runs the direct-upload flow: start, PUT the bytes where
// the server says (a presigned S3 URL, or the API itself), complete.
func directUpload(t *testing.T, base, token string, wantPresigned bool) {
	t.Helper()
	photo, err := os.ReadFile("../../testdata/photos/river-ch03.jpg")
	if err != nil {
		t.Fatal(err)
	}
	photo = append(photo, "direct"...)
	sum := sha256.Sum256(photo)
	do := func(method, url string, body io.Reader, hdr ...string) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, url, body)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, b := do("POST", base+"/v1/uploads", strings.NewReader(fmt.Sprintf(`{"size":%d,"sha256":"%x"}`, len(photo), sum)),
		"Authorization", "Bearer "+token, "Content-Type", "application/json")
	var u struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	if err := json.Unmarshal(b, &u); err != nil || res.StatusCode != 201 {
		t.Fatalf("create upload: %d %s", res.StatusCode, b)
	}
	url, hdr := u.URL, []string{"Authorization", "Bearer " + token}
	if presigned := strings.HasPrefix(u.URL, "http"); presigned != wantPresigned {
		t.Fatalf("upload URL %q, want presigned=%v", u.URL, wantPresigned)
	} else if !presigned {
		url = base + u.URL
	} else {
		hdr = nil // the signature is the credential
	}
	if res, b := do("PUT", url, bytes.NewReader(photo), hdr...); res.StatusCode/100 != 2 {
		t.Fatalf("PUT bytes: %d %s", res.StatusCode, b)
	}
	res, b = do("POST", base+"/v1/uploads/"+u.ID+"/complete", strings.NewReader(`{"category":"river_section"}`),
		"Authorization", "Bearer "+token, "Content-Type", "application/json", "Idempotency-Key", uuid.NewString())
	if res.StatusCode != 201 || !strings.Contains(string(b), fmt.Sprintf("%x", sum)) {
		t.Fatalf("complete: %d %s", res.StatusCode, b)
	}
}
