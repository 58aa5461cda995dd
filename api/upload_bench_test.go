package api_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkUpload4MiB sends distinct 4 MiB photos one after another to
// POST /v1/evidence over a loopback socket (the app's handler in a real
// net/http server, SQLite and the photo directory) and reports this
// process's CPU per upload (user + system, from getrusage: server and
// client together), the figure the upload path's receive stage is tuned
// by. Compare revisions within the same minute:
//
//	go test -run '^$' -bench Upload4MiB -benchtime 40x ./api
func BenchmarkUpload4MiB(b *testing.B) {
	h, token, _ := benchServer(b, "sqlite", nil)
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	photo := make([]byte, 4<<20)
	// A 64×48 JPEG padded with random bytes to the size: the upload's work is that of any
	// 4 MiB photo (the server reads only its header), while the
	// thumbnails the workers make of it cost next to nothing.
	var small bytes.Buffer
	if err := jpeg.Encode(&small, image.NewGray(image.Rect(0, 0, 64, 48)), nil); err != nil {
		b.Fatal(err)
	}
	rand.NewChaCha8([32]byte{}).Read(photo) // as incompressible as a photo
	copy(photo, small.Bytes())
	ctype, body := multipartBody(b,
		[3]string{"meta", "application/json", `{"category":"dust_site"}`},
		[3]string{"photo", "image/jpeg", string(photo)})
	// The photo's last 8 bytes, inside the body, made distinct per upload.
	at := bytes.Index(body, photo[len(photo)-64:]) + 56
	b.SetBytes(int64(len(photo)))
	b.ResetTimer()
	start := testservice.ProcessCPU(b)
	for i := range b.N {
		binary.LittleEndian.PutUint64(body[at:], uint64(i)+uint64(time.Now().UnixNano()))
		req, err := http.NewRequest("POST", srv.URL+"/v1/evidence", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("00000000-0000-4000-8000-%012x", uint64(time.Now().UnixNano())&0xffffffffffff))
		resp, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("upload %d: status %d: %s", i, resp.StatusCode, answer)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((testservice.ProcessCPU(b)-start).Microseconds())/1000/float64(b.N), "cpu-ms/upload")
}
