package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/internal/testwait"
)

// manifestPhoto is one entry of testdata/photos/manifest.json.
type manifestPhoto struct {
	File        string   `json:"file"`
	Category    string   `json:"category"`
	EXIFLon     *float64 `json:"exif_lon"`
	EXIFLat     *float64 `json:"exif_lat"`
	Township    *string  `json:"township_code"`
	Reach       string   `json:"nearest_reach"`
	ReachM      float64  `json:"nearest_reach_m"`
	Orientation int      `json:"orientation"`
}

func manifest(t *testing.T) []manifestPhoto {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "photos", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Photos []manifestPhoto `json:"photos"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Photos) < 6 {
		t.Fatalf("manifest lists %d photos", len(m.Photos))
	}
	return m.Photos
}

// checkInvariants runs the invariant checker after a reconcile pass far
// enough in the future that every orphan is past its grace period.
func (a *testAPI) checkInvariants() {
	a.t.Helper()
	ctx := context.Background()
	rec := fieldwatch.NewReconciler(a.db, a.photos, fieldwatch.ReconcileConfig{
		SpoolDir: a.spool, Clock: func() time.Time { return time.Now().Add(2 * time.Hour) },
	})
	if _, err := rec.Run(ctx); err != nil {
		a.t.Fatalf("reconcile: %v", err)
	}
	rep, err := fieldwatch.CheckInvariants(ctx, a.db, a.photos, fieldwatch.InvariantConfig{})
	if err != nil {
		a.t.Fatalf("invariant checker: %v", err)
	}
	if len(rep.Problems) > 0 {
		a.t.Fatalf("invariants violated:\n%s", strings.Join(rep.Problems, "\n"))
	}
	entries, err := os.ReadDir(a.spool)
	if err != nil {
		a.t.Fatal(err)
	}
	if len(entries) > 0 {
		a.t.Fatalf("%d spool files left behind", len(entries))
	}
}

// countEvidence is how many evidence rows the admin view holds.
func (a *testAPI) countEvidence() int {
	a.t.Helper()
	list, err := a.db.ListEvidence(context.Background(), fieldwatch.EvidenceFilter{Limit: 500})
	if err != nil {
		a.t.Fatal(err)
	}
	return len(list)
}

func TestUploadSharedTestPhotos(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.importDemoCounty()
		a.mustUser("insp", "inspector", pw, "130227101")
		tok, _ := a.login("insp", pw)
		for _, m := range manifest(t) {
			t.Run(m.File, func(t *testing.T) {
				photo := testPhoto(t, m.File)
				sum := sha256.Sum256(photo)
				e := a.mustUpload(tok, photo, map[string]any{"category": m.Category, "sha256": hex.EncodeToString(sum[:])})
				if e.Sha256 != hex.EncodeToString(sum[:]) || e.Size != int64(len(photo)) {
					t.Fatalf("stored %s/%d, sent %x/%d", e.Sha256, e.Size, sum, len(photo))
				}
				if m.EXIFLon == nil {
					if e.Exif.Position != nil || !hasFlag(e, "exif_missing") || e.LocationSource != "none" {
						t.Fatalf("photo without EXIF: position %v, flags %v, source %s", e.Exif.Position, e.Flags, e.LocationSource)
					}
				} else {
					if e.Exif.Position == nil || math.Abs(e.Exif.Position.Lon-*m.EXIFLon) > 1e-6 || math.Abs(e.Exif.Position.Lat-*m.EXIFLat) > 1e-6 {
						t.Fatalf("EXIF position %+v, manifest %v,%v", e.Exif.Position, *m.EXIFLon, *m.EXIFLat)
					}
					if e.LocationSource != "exif" || e.Location == nil {
						t.Fatalf("location source %s", e.LocationSource)
					}
				}
				if outside := m.EXIFLon != nil && m.Township == nil; outside != hasFlag(e, "outside_county") {
					t.Fatalf("outside_county flag %v, manifest township %v", hasFlag(e, "outside_county"), m.Township)
				}
				// Linking: the township of the manifest and, within the
				// tolerance, its nearest reach at its distance (within 1 m;
				// the manifest's Turf.js distances are spherical).
				if m.Township != nil {
					if e.TownshipCode == nil || *e.TownshipCode != *m.Township || e.Responsibility == nil {
						t.Fatalf("township %v, manifest %s", e.TownshipCode, *m.Township)
					}
				}
				if m.EXIFLon != nil && m.Reach != "" {
					tol := 100.0
					if m.Category == "river_section" {
						tol = 300
					}
					r := e.Responsibility
					if m.ReachM <= tol {
						if e.ReachCode == nil || *e.ReachCode != m.Reach || math.Abs(*r.ReachDistanceM-m.ReachM) > 1 {
							t.Fatalf("reach %v at %v m, manifest %s at %v m", e.ReachCode, r.ReachDistanceM, m.Reach, m.ReachM)
						}
						if len(r.Chiefs) != 0 {
							t.Fatalf("no chiefs were assigned, got %v", r.Chiefs)
						}
					} else if e.ReachCode != nil {
						t.Fatalf("reach %s linked at %v m beyond the %v m tolerance", *e.ReachCode, m.ReachM, tol)
					}
					if len(r.Candidates) == 0 || r.Candidates[0].Code != m.Reach {
						t.Fatalf("nearest candidate %v, manifest %s", r.Candidates, m.Reach)
					}
				}
				if m.Orientation > 1 && (e.Exif.Orientation == nil || *e.Exif.Orientation != m.Orientation) {
					t.Fatalf("orientation %v, want %d", e.Exif.Orientation, m.Orientation)
				}
				wantType := "image/jpeg"
				if strings.HasSuffix(m.File, ".png") {
					wantType = "image/png"
				}
				if e.ContentType != wantType {
					t.Fatalf("content type %s", e.ContentType)
				}

				// The original comes back byte for byte, with the sniffed type.
				r := a.do("GET", "/v1/evidence/"+e.Id.String()+"/photo", tok, nil)
				if r.status != 200 || !bytes.Equal(r.body, photo) {
					t.Fatalf("photo: %d, %d bytes", r.status, len(r.body))
				}
				if r.header.Get("Content-Type") != wantType || r.header.Get("X-Content-Type-Options") != "nosniff" {
					t.Fatalf("photo headers %v", r.header)
				}
				// Range.
				r = a.do("GET", "/v1/evidence/"+e.Id.String()+"/photo", tok, nil, "Range", "bytes=10-19")
				if r.status != http.StatusPartialContent || !bytes.Equal(r.body, photo[10:20]) ||
					r.header.Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(photo)) {
					t.Fatalf("range: %d %q %s", r.status, r.body, r.header.Get("Content-Range"))
				}
				requireProblem(t, a.do("GET", "/v1/evidence/"+e.Id.String()+"/photo", tok, nil, "Range", fmt.Sprintf("bytes=%d-", len(photo))), 416)
			})
		}
		a.checkInvariants()
	})
}

func hasFlag(e api.Evidence, f string) bool {
	for _, g := range e.Flags {
		if string(g) == f {
			return true
		}
	}
	return false
}

// Orientation 6 means the camera was turned: the stored pixels are
// landscape, the thumbnail must be portrait.
func TestThumbnailHonoursOrientation(t *testing.T) {
	a := newTestAPI(t)
	a.mustUser("insp", "inspector", pw)
	tok, _ := a.login("insp", pw)
	for _, tc := range []struct {
		file    string
		rotated bool // orientation 5–8: width and height swap on display
	}{{"rotated-dust-baimiaozi.jpg", true}, {"dust-xingcheng.jpg", false}, {"screenshot.png", false}} {
		t.Run(tc.file, func(t *testing.T) {
			e := a.mustUpload(tok, testPhoto(t, tc.file), map[string]any{"category": "dust_site"})
			if e.Width == nil || *e.Width == *e.Height {
				t.Fatalf("test photo must not be square: %v×%v", e.Width, e.Height)
			}
			portrait := (*e.Height > *e.Width) != tc.rotated
			requireProblem(t, a.do("GET", "/v1/evidence/"+e.Id.String()+"/thumbnail", tok, nil), 404) // not made yet
			a.makeThumbnails(e.Id.String())
			for _, size := range []int{320, 1280} {
				r := a.do("GET", fmt.Sprintf("/v1/evidence/%s/thumbnail?size=%d", e.Id, size), tok, nil)
				if r.status != 200 || r.header.Get("Content-Type") != "image/jpeg" {
					t.Fatalf("thumbnail %d: %d %s", size, r.status, r.header.Get("Content-Type"))
				}
				cfg, err := jpeg.DecodeConfig(bytes.NewReader(r.body))
				if err != nil {
					t.Fatal(err)
				}
				if max(cfg.Width, cfg.Height) > size {
					t.Fatalf("thumbnail %dx%d larger than %d", cfg.Width, cfg.Height, size)
				}
				if (cfg.Height > cfg.Width) != portrait {
					t.Fatalf("thumbnail %dx%d of a %d×%d original, want portrait=%v", cfg.Width, cfg.Height, *e.Width, *e.Height, portrait)
				}
				if bytes.Contains(r.body[:min(len(r.body), 1024)], []byte("Exif")) {
					t.Fatal("thumbnail carries EXIF")
				}
			}
			var got api.Evidence
			a.do("GET", "/v1/evidence/"+e.Id.String(), tok, nil).json(t, &got)
			if len(got.Thumbnails) != 2 {
				t.Fatalf("thumbnails recorded: %v", got.Thumbnails)
			}
		})
	}
}

func TestIdempotency(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.mustUser("insp", "inspector", pw)
		a.mustUser("other", "inspector", pw)
		tok, _ := a.login("insp", pw)
		other, _ := a.login("other", pw)
		photo := uniquePhoto(t, "river-ch03.jpg", 1)
		meta := map[string]any{"category": "river_section", "note": "排污口"}
		key := uuid.NewString()

		first := a.upload(tok, key, photo, meta)
		if first.status != 201 {
			t.Fatalf("first: %d %s", first.status, first.body)
		}
		var e1 api.Evidence
		first.json(t, &e1)

		t.Run("ReplaySameID", func(t *testing.T) {
			r := a.upload(tok, key, photo, meta)
			if r.status != 201 || r.header.Get("Idempotency-Replayed") != "true" {
				t.Fatalf("replay: %d %v %s", r.status, r.header, r.body)
			}
			var e2 api.Evidence
			r.json(t, &e2)
			if e2.Id != e1.Id {
				t.Fatalf("replay id %s, original %s", e2.Id, e1.Id)
			}
		})
		t.Run("SameKeyDifferentPhoto", func(t *testing.T) {
			requireProblem(t, a.upload(tok, key, uniquePhoto(t, "river-ch03.jpg", 2), meta), 422)
		})
		t.Run("SameKeyDifferentMeta", func(t *testing.T) {
			requireProblem(t, a.upload(tok, key, photo, map[string]any{"category": "other"}), 422)
		})
		t.Run("KeysArePerUser", func(t *testing.T) {
			r := a.upload(other, key, photo, meta)
			if r.status != 201 || r.header.Get("Idempotency-Replayed") != "" {
				t.Fatalf("other user, same key: %d %s", r.status, r.body)
			}
			var e api.Evidence
			r.json(t, &e)
			if e.Id == e1.Id || e.DuplicateOf == nil || *e.DuplicateOf != e1.Id || !hasFlag(e, "duplicate_of") {
				t.Fatalf("same bytes from another user: %+v", e)
			}
		})
		t.Run("MissingKey", func(t *testing.T) {
			ct, body := multipartBody(t, [3]string{"meta", "application/json", `{"category":"other"}`}, [3]string{"photo", "image/jpeg", string(photo)})
			req, _ := http.NewRequest("POST", a.srv.URL+"/v1/evidence", bytes.NewReader(body))
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 400 {
				t.Fatalf("missing key: %d", res.StatusCode)
			}
		})
		t.Run("MalformedKey", func(t *testing.T) {
			requireProblem(t, a.upload(tok, "not-a-uuid", photo, meta), 400)
		})
		if n := a.countEvidence(); n != 2 {
			t.Fatalf("%d evidence rows, want 2", n)
		}
		a.checkInvariants()
	})
}

// A retry that arrives while the first attempt is still receiving bytes
// gets 409; once the first completes, the retry replays it.
func TestIdempotencyInFlight(t *testing.T) {
	a := newTestAPI(t)
	a.mustUser("insp", "inspector", pw)
	tok, _ := a.login("insp", pw)
	photo := uniquePhoto(t, "dust-xingcheng.jpg", 7)
	meta := map[string]any{"category": "dust_site"}
	key := uuid.NewString()
	ct, body := multipartBody(t, [3]string{"meta", "application/json", `{"category":"dust_site"}`}, [3]string{"photo", "image/jpeg", string(photo)})

	// First attempt: send half the body, then hold it.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", a.srv.URL+"/v1/evidence", pr)
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Authorization", "Bearer "+tok)
	done := make(chan int, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- -1
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	if _, err := pw.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	uid := userID(t, a, tok)
	a.waitSubmission(uid, key, true)
	requireProblem(t, a.upload(tok, key, photo, meta), 409)

	if _, err := pw.Write(body[len(body)/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-done; code != 201 {
		t.Fatalf("first attempt: %d", code)
	}
	r := a.upload(tok, key, photo, `{"category":"dust_site"}`)
	if r.status != 201 || r.header.Get("Idempotency-Replayed") != "true" {
		t.Fatalf("after completion: %d %s", r.status, r.body)
	}
	a.checkInvariants()
}

// A body cut off mid-upload stores nothing, and the retry succeeds once.
func TestTruncatedBodyThenRetry(t *testing.T) {
	a := newTestAPI(t)
	a.mustUser("insp", "inspector", pw)
	tok, _ := a.login("insp", pw)
	photo := uniquePhoto(t, "burning-luojiatun.jpg", 3)
	key := uuid.NewString()
	ct, body := multipartBody(t, [3]string{"meta", "application/json", `{"category":"open_burning"}`}, [3]string{"photo", "image/jpeg", string(photo)})

	conn, err := net.Dial("tcp", strings.TrimPrefix(a.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/evidence HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nIdempotency-Key: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		tok, key, ct, len(body))
	if _, err := conn.Write(body[:len(body)*2/3]); err != nil {
		t.Fatal(err)
	}
	uid := userID(t, a, tok)
	a.waitSubmission(uid, key, true)
	conn.Close()
	// The server notices the cut and gives the key back.
	a.waitSubmission(uid, key, false)
	if n := a.countEvidence(); n != 0 {
		t.Fatalf("%d evidence rows after a cut upload", n)
	}
	r := a.upload(tok, key, photo, `{"category":"open_burning"}`)
	if r.status != 201 || r.header.Get("Idempotency-Replayed") != "" {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	a.checkInvariants()
}

// Each bad upload gets its documented status and leaves nothing behind.
func TestRejectedUploadsStoreNothing(t *testing.T) {
	a := newTestAPI(t)
	a.mustUser("insp", "inspector", pw)
	tok, _ := a.login("insp", pw)
	good := testPhoto(t, "dust-xingcheng.jpg")
	meta := `{"category":"dust_site"}`
	part := func(name, ct, body string) [3]string { return [3]string{name, ct, body} }

	many := make([][3]string, 0, 5000)
	for i := range 5000 {
		many = append(many, part(fmt.Sprintf("p%d", i), "text/plain", "x"))
	}
	tests := []struct {
		name   string
		parts  [][3]string
		status int
	}{
		{"DigestMismatch", [][3]string{part("meta", "application/json", `{"category":"dust_site","sha256":"`+strings.Repeat("0", 64)+`"}`), part("photo", "image/jpeg", string(good))}, 422},
		{"ZeroBytePhoto", [][3]string{part("meta", "application/json", meta), part("photo", "image/jpeg", "")}, 422},
		{"FiveThousandParts", many, 400},
		{"NoPhoto", [][3]string{part("meta", "application/json", meta)}, 400},
		{"NoMeta", [][3]string{part("photo", "image/jpeg", string(good))}, 400},
		{"TwoPhotos", [][3]string{part("meta", "application/json", meta), part("photo", "image/jpeg", string(good)), part("photo", "image/jpeg", string(good))}, 400},
		{"MetaNotJSON", [][3]string{part("meta", "application/json", "{"), part("photo", "image/jpeg", string(good))}, 400},
		{"MetaUnknownField", [][3]string{part("meta", "application/json", `{"category":"dust_site","uploader_id":"x"}`), part("photo", "image/jpeg", string(good))}, 400},
		{"MetaCaseVariant", [][3]string{part("meta", "application/json", `{"CATEGORY":"dust_site"}`), part("photo", "image/jpeg", string(good))}, 400},
		{"MetaBadCategory", [][3]string{part("meta", "application/json", `{"category":"noise"}`), part("photo", "image/jpeg", string(good))}, 400},
		{"SwappedDeviceLonLat", [][3]string{part("meta", "application/json", `{"category":"dust_site","device_location":{"lon":40.2,"lat":118.3}}`), part("photo", "image/jpeg", string(good))}, 400},
		{"SwappedInRange", [][3]string{part("meta", "application/json", `{"category":"dust_site","device_location":{"lon":40.2,"lat":80.3}}`), part("photo", "image/jpeg", string(good))}, 422},
		{"UnsupportedGIF", [][3]string{part("meta", "application/json", meta), part("photo", "image/jpeg", "GIF89a\x01\x00\x01\x00\x00\x00\x00;")}, 415},
		{"RandomBytes", [][3]string{part("meta", "application/json", meta), part("photo", "image/jpeg", strings.Repeat("\x17\x99", 5000))}, 415},
		{"DecompressionBomb", [][3]string{part("meta", "application/json", meta), part("photo", "image/png", string(pngBomb(t)))}, 422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct, body := multipartBody(t, tc.parts...)
			requireProblem(t, a.rawUpload(tok, "", ct, body), tc.status)
			if n := a.countEvidence(); n != 0 {
				t.Fatalf("%d evidence rows stored", n)
			}
		})
	}
	t.Run("NotMultipart", func(t *testing.T) {
		requireProblem(t, a.rawUpload(tok, "", "application/json", []byte(`{}`)), 415)
	})
	a.checkInvariants()

	// A polyglot (a real JPEG with an archive appended) is kept byte for
	// byte and only ever served as what its first bytes say.
	t.Run("Polyglot", func(t *testing.T) {
		poly := append(append([]byte{}, good...), []byte("PK\x03\x04<html><script>alert(1)</script>")...)
		e := a.mustUpload(tok, poly, meta)
		r := a.do("GET", "/v1/evidence/"+e.Id.String()+"/photo", tok, nil)
		if !bytes.Equal(r.body, poly) || r.header.Get("Content-Type") != "image/jpeg" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("polyglot served as %s", r.header.Get("Content-Type"))
		}
	})
	a.checkInvariants()
}

// pngBomb is a tiny PNG whose header declares 100000×100000 pixels.
func pngBomb(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	img := smallImage()
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// IHDR width and height sit at bytes 16..23; the CRC then mismatches,
	// which DecodeConfig does not check before reading the size.
	copy(b[16:], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	return fixIHDRCRC(b)
}

func TestListEvidence(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.mustUser("insp", "inspector", pw, "130227101")
		a.mustUser("other", "inspector", pw, "130227101")
		a.mustUser("admin", "admin", pw)
		tok, _ := a.login("insp", pw)
		other, _ := a.login("other", pw)
		admin, _ := a.login("admin", pw)
		var mine []string
		for i, f := range []string{"dust-xingcheng.jpg", "river-lh03.jpg", "river-ch03.jpg"} {
			a.clock.Advance(time.Minute)
			mine = append(mine, a.mustUpload(tok, uniquePhoto(t, f, i), map[string]any{"category": "river_section"}).Id.String())
		}
		a.mustUpload(other, uniquePhoto(t, "burning-luojiatun.jpg", 9), map[string]any{"category": "open_burning"})

		// Scope: an inspector sees their own uploads (township linking
		// comes with the geography feature); the admin sees all.
		var page api.EvidencePage
		a.do("GET", "/v1/evidence", tok, nil).json(t, &page)
		if len(page.Items) != 3 || page.Items[0].Id.String() != mine[2] {
			t.Fatalf("inspector sees %d items, first %v", len(page.Items), page.Items)
		}
		a.do("GET", "/v1/evidence", admin, nil).json(t, &page)
		if len(page.Items) != 4 {
			t.Fatalf("admin sees %d", len(page.Items))
		}
		// Pagination.
		a.do("GET", "/v1/evidence?limit=2", admin, nil).json(t, &page)
		if len(page.Items) != 2 || page.NextCursor == nil {
			t.Fatalf("page 1: %d items, cursor %v", len(page.Items), page.NextCursor)
		}
		var page2 api.EvidencePage
		a.do("GET", "/v1/evidence?limit=2&cursor="+*page.NextCursor, admin, nil).json(t, &page2)
		if len(page2.Items) != 2 || page2.Items[0].Id == page.Items[1].Id {
			t.Fatalf("page 2: %+v", page2.Items)
		}
		requireProblem(t, a.do("GET", "/v1/evidence?cursor=bm90LWEtY3Vyc29y", admin, nil), 400)
		// Filters.
		a.do("GET", "/v1/evidence?category=open_burning", admin, nil).json(t, &page)
		if len(page.Items) != 1 {
			t.Fatalf("category filter: %d", len(page.Items))
		}
		// bbox around LH-03's photo (118.27779, 40.253348).
		a.do("GET", "/v1/evidence?bbox=118.27,40.25,118.29,40.26", admin, nil).json(t, &page)
		if len(page.Items) != 1 || page.Items[0].Id.String() != mine[1] {
			t.Fatalf("bbox: %d items", len(page.Items))
		}
		a.do("GET", "/v1/evidence?near=118.27779,40.2535&radius_m=100", admin, nil).json(t, &page)
		if len(page.Items) != 1 {
			t.Fatalf("near: %d items", len(page.Items))
		}
		requireProblem(t, a.do("GET", "/v1/evidence?bbox=1,2,3", admin, nil), 400)
		requireProblem(t, a.do("GET", "/v1/evidence?near=118.2,40.2", admin, nil), 400)
		// GeoJSON for GIS.
		r := a.do("GET", "/v1/evidence", admin, nil, "Accept", "application/geo+json")
		var fc struct {
			Type     string `json:"type"`
			Features []struct {
				Geometry struct {
					Type        string    `json:"type"`
					Coordinates []float64 `json:"coordinates"`
				} `json:"geometry"`
				Properties map[string]any `json:"properties"`
			} `json:"features"`
		}
		r.json(t, &fc)
		if r.header.Get("Content-Type") != "application/geo+json" || fc.Type != "FeatureCollection" || len(fc.Features) != 4 ||
			fc.Features[0].Geometry.Type != "Point" || len(fc.Features[0].Geometry.Coordinates) != 2 {
			t.Fatalf("geojson: %s %s", r.header.Get("Content-Type"), r.body)
		}
	})
}

// waitFor polls cond. The server's state changes asynchronously to the
// client that caused it: a handler in the server's goroutine claims an
// upload while the client is still sending, and the test sees that only
// in the database, with no event to wait on.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testwait.Until(t, 15*time.Second, 10*time.Millisecond, "the server's state", cond)
}

// waitSubmission waits until the upload claim (uid, key) is pending, or,
// with pending false, until it is gone.
func (a *testAPI) waitSubmission(uid, key string, pending bool) {
	a.t.Helper()
	waitFor(a.t, func() bool {
		s, err := a.db.SubmissionByKey(context.Background(), uid, key)
		if !pending {
			return err != nil
		}
		return err == nil && s.State == fieldwatch.SubmissionPending
	})
}

func userID(t *testing.T, a *testAPI, tok string) string {
	t.Helper()
	var me api.Me
	a.do("GET", "/v1/me", tok, nil).json(t, &me)
	return me.Id.String()
}
