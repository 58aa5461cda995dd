package api_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/demo"
)

// testPhoto reads one of the shared test photos.
func testPhoto(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "photos", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// uniquePhoto is a valid JPEG with distinct bytes: data after the EOI
// marker is ignored by decoders but changes the hash.
func uniquePhoto(t testing.TB, name string, n int) []byte {
	return append(testPhoto(t, name), []byte(fmt.Sprintf("fieldwatch-test-%d", n))...)
}

// multipartBody builds an upload body; parts are (name, content type,
// bytes) in order.
func multipartBody(t testing.TB, parts ...[3]string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := fmt.Sprintf(`form-data; name=%q`, p[0])
		if p[0] == "photo" {
			disp += `; filename="photo.jpg"`
		}
		h.Set("Content-Disposition", disp)
		h.Set("Content-Type", p[1])
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write([]byte(p[2])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

// upload sends photo and meta with the Idempotency-Key key ("" for a
// fresh one).
func (a *testAPI) upload(token, key string, photo []byte, meta any) response {
	a.t.Helper()
	metaJSON, ok := meta.(string)
	if !ok {
		b, err := json.Marshal(meta)
		if err != nil {
			a.t.Fatal(err)
		}
		metaJSON = string(b)
	}
	ct, body := multipartBody(a.t, [3]string{"meta", "application/json", metaJSON}, [3]string{"photo", "image/jpeg", string(photo)})
	return a.rawUpload(token, key, ct, body)
}

func (a *testAPI) rawUpload(token, key, contentType string, body []byte) response {
	a.t.Helper()
	if key == "" {
		key = uuid.NewString()
	}
	req, err := http.NewRequest("POST", a.srv.URL+"/v1/evidence", bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Idempotency-Key", key)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return a.send(req)
}

// mustUpload uploads and returns the created evidence.
func (a *testAPI) mustUpload(token string, photo []byte, meta any) api.Evidence {
	a.t.Helper()
	r := a.upload(token, "", photo, meta)
	if r.status != http.StatusCreated {
		a.t.Fatalf("upload: %d %s", r.status, r.body)
	}
	var e api.Evidence
	r.json(a.t, &e)
	return e
}

// makeThumbnails runs the thumbnail worker for one evidence synchronously.
func (a *testAPI) makeThumbnails(id string) {
	a.t.Helper()
	e, err := a.db.EvidenceByID(context.Background(), id)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.thumbs.Make(context.Background(), e); err != nil {
		a.t.Fatal(err)
	}
}

// smallImage is a 2×2 image for building crafted files.
func smallImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 2, 2))
	img.Set(0, 0, color.RGBA{R: 255, A: 255})
	return img
}

// fixIHDRCRC recomputes the CRC of a PNG's IHDR chunk after its fields
// were edited, so the file is well-formed apart from what it claims.
func fixIHDRCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[29:33], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// put sends raw bytes to a direct-upload URL of this API.
func (a *testAPI) put(token, path string, body []byte) response {
	a.t.Helper()
	req, err := http.NewRequest("PUT", a.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return a.send(req)
}

// geoJSONValue decodes a GeoJSON document so do() sends it as a body.
func geoJSONValue(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// importDemoCounty loads the demo townships and reaches.
func (a *testAPI) importDemoCounty() {
	a.t.Helper()
	ctx := context.Background()
	if _, _, err := a.atlas.ImportTownships(ctx, demo.TownshipsGeoJSON, a.clock.Now()); err != nil {
		a.t.Fatal(err)
	}
	if _, _, err := a.atlas.ImportReaches(ctx, demo.ReachesGeoJSON, a.clock.Now()); err != nil {
		a.t.Fatal(err)
	}
}
