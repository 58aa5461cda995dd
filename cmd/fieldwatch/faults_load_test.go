package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/internal/testservice"
)

// longFaults reports whether the long form of the fault suite was asked
// for (FIELDWATCH_FAULTS=long): more rounds, more uploads.
func longFaults() bool { return os.Getenv("FIELDWATCH_FAULTS") == "long" }

// sent is one upload of a fault test: its photo, its key, and the
// evidence id once the server answered 201.
type sent struct {
	key, sha, ct string
	body         []byte
	id           string
	answers      []int // statuses seen, -1 for a broken connection
}

// smallUpload is a distinct small JPEG in a multipart body: cheap to
// thumbnail, so the tests measure the failure, not image decoding.
func smallUpload(t *testing.T, n int) *sent {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 160, 120))
	for i := range img.Pix {
		img.Pix[i] = uint8(i*7 + n*13)
	}
	img.Set(n%160, (n/160)%120, color.RGBA{255, 0, 0, 255})
	var photo bytes.Buffer
	if err := jpeg.Encode(&photo, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&photo, "fault-test-%d-%s", n, uuid.NewString()) // distinct bytes after EOI
	sum := sha256.Sum256(photo.Bytes())
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormField("meta")
	fmt.Fprintf(fw, `{"category":"dust_site","sha256":%q}`, hex.EncodeToString(sum[:]))
	pw, _ := w.CreateFormFile("photo", "p.jpg")
	pw.Write(photo.Bytes())
	w.Close()
	return &sent{key: uuid.NewString(), sha: hex.EncodeToString(sum[:]), ct: w.FormDataContentType(), body: buf.Bytes()}
}

// once posts the upload a single time and records the answer.
func (s *sent) once(t *testing.T, base, token string) int {
	code, _, b := post(t, base, token, s.key, s.ct, bytes.NewReader(s.body), len(s.body))
	s.answers = append(s.answers, code)
	if code == http.StatusCreated {
		var e struct {
			ID     string `json:"id"`
			SHA256 string `json:"sha256"`
		}
		if err := json.Unmarshal(b, &e); err != nil || e.SHA256 != s.sha {
			t.Errorf("201 for %s: %v, sha256 %s want %s", s.key, err, e.SHA256, s.sha)
		}
		if s.id != "" && s.id != e.ID {
			t.Errorf("key %s answered evidence %s, then %s", s.key, s.id, e.ID)
		}
		s.id = e.ID
	}
	return code
}

// untilStored retries with the same key, as the phone does, until the
// server answers 201. Answers other than the ones a retry expects fail
// the test.
func (s *sent) untilStored(t *testing.T, base, token string, deadline time.Time) {
	for {
		code := s.once(t, base, token)
		switch code {
		case http.StatusCreated:
			return
		case -1, http.StatusServiceUnavailable, http.StatusConflict, http.StatusTooManyRequests:
		default:
			t.Errorf("upload %s: unexpected status %d (answers %v)", s.key, code, s.answers)
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("upload %s never stored (answers %v)", s.key, s.answers)
			return
		}
		time.Sleep(150 * time.Millisecond) // the phone's pause between retries, not a wait for something
	}
}

// verifyAll checks what the fault suite promises after every fault: each
// upload that got a 201 is stored once, retrievable and byte-identical;
// `fieldwatch check` (reconcile, then every object re-hashed against its
// row) passes; and the audit chain verifies.
func verifyAll(t *testing.T, env map[string]string, base, token string, ups []*sent) {
	t.Helper()
	ids := map[string]bool{}
	for _, u := range ups {
		if u.id == "" {
			t.Errorf("upload %s has no evidence (answers %v)", u.key, u.answers)
			continue
		}
		if ids[u.id] {
			t.Errorf("evidence %s answered for two keys", u.id)
		}
		ids[u.id] = true
		if problem := photoProblem(t, base, token, u); problem != "" {
			t.Errorf("evidence %s: %s", u.id, problem)
		}
	}
	if n := listedCount(t, base, token); n != len(ups) {
		t.Errorf("%d evidence listed for %d uploads", n, len(ups))
	}
	// Every upload has its answer: nothing is in flight, so the check may
	// take every pending claim for abandoned and every object without a
	// row for an orphan, instead of waiting for the server's 1 s ages.
	out := checkCLI(t, env, "--upload-stale-after", "1ns", "--orphan-age", "1ns")
	if !strings.Contains(out, fmt.Sprintf("checked %d evidence rows and %d objects", len(ups), len(ups))) {
		t.Errorf("check: %s", out)
	}
	var audit strings.Builder
	if err := run(context.Background(), []string{"audit", "verify"}, func(k string) string { return env[k] }, nil, &audit, io.Discard); err != nil {
		t.Errorf("audit verify: %v\n%s", err, audit.String())
	}
}

// photoProblem reads the photo of u's evidence back and says what is wrong
// with it, or "" when it is the upload's bytes.
func photoProblem(t *testing.T, base, token string, u *sent) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/evidence/"+u.id+"/photo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, err = io.Copy(h, res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || hex.EncodeToString(h.Sum(nil)) != u.sha {
		return fmt.Sprintf("photo answered %d (%v), bytes differ from the upload", res.StatusCode, err)
	}
	return ""
}

// listedCount counts the user's evidence over every page.
func listedCount(t *testing.T, base, token string) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		url := base + "/v1/evidence?limit=500"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"next_cursor"`
		}
		getJSON(t, url, token, &page)
		n += len(page.Items)
		if page.NextCursor == "" {
			return n
		}
		cursor = page.NextCursor
	}
}

// faultEnv is a fresh embedded deployment that abandons crashed claims
// and orphan objects after a second.
func faultEnv(t *testing.T) map[string]string {
	return map[string]string{
		"FIELDWATCH_DATA_DIR":           t.TempDir(),
		"FIELDWATCH_UPLOAD_STALE_AFTER": "1s",
		"FIELDWATCH_ORPHAN_AGE":         "1s",
		"FIELDWATCH_UPLOADS_PER_USER":   "200",
		"FIELDWATCH_THUMBNAIL_WORKERS":  "1",
		"FIELDWATCH_DATABASE_URL":       "",
		"FIELDWATCH_S3_ENDPOINT":        "",
		"FIELDWATCH_RECONCILE_INTERVAL": "1h", // `check` does it, when the test says
		"FIELDWATCH_SHUTDOWN_TIMEOUT":   "5s",
		"FIELDWATCH_LOG_LEVEL":          "warn",
		"FIELDWATCH_DEADLINE_INTERVAL":  "1h",
		"FIELDWATCH_ACCESS_TTL":         "1h",
	}
}

// The server is killed (SIGKILL, no shutdown) at a random moment while
// 100 uploads are in flight, and restarted. Every phone retries with its
// key until it gets a 201: each photo is stored exactly once and intact,
// nothing is orphaned, the audit chain holds. The long form repeats it
// five times on one database.
func TestKillDuringConcurrentUploads(t *testing.T) {
	rounds, perRound := 1, 100
	if longFaults() {
		rounds = 5
	}
	env := faultEnv(t)
	base, cmd, _ := startBinary(t, env)
	token := e2eLogin(t, env, base)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	var all []*sent
	for round := range rounds {
		ups := make([]*sent, perRound)
		for i := range ups {
			ups[i] = smallUpload(t, round*perRound+i)
		}
		var wg sync.WaitGroup
		for _, u := range ups {
			wg.Go(func() { u.once(t, base, token) })
		}
		// The fault's random moment: the kill lands while uploads are
		// in flight, at a different stage each round.
		time.Sleep(time.Duration(20+rng.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		wg.Wait()
		stored := 0
		for _, u := range ups {
			if u.id != "" {
				stored++
			}
		}
		t.Logf("round %d: killed with %d of %d uploads answered 201", round, stored, perRound)

		base, cmd, _ = startBinary(t, env)
		deadline := time.Now().Add(60 * time.Second)
		for _, u := range ups {
			wg.Go(func() { u.untilStored(t, base, token, deadline) })
		}
		wg.Wait()
		// A late retry of an upload that was stored before the kill replays it.
		for _, u := range ups[:10] {
			if u.once(t, base, token) != http.StatusCreated {
				t.Errorf("replay of %s: %v", u.key, u.answers)
			}
		}
		all = append(all, ups...)
	}
	verifyAll(t, env, base, token, all)
}

// The spool's file system fills up: uploads answer 503 with Retry-After
// and leave nothing behind; once space is freed the retries store each
// photo once.
func TestSpoolDiskFull(t *testing.T) {
	env := faultEnv(t)
	spool, err := os.MkdirTemp("", "fieldwatch-spool-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(spool) })
	// A 64 KiB file system: a few small photos' worth.
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", spool).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a small tmpfs for the spool (needs root): %v %s", err, out)
		}
		t.Skipf("cannot mount a small tmpfs (needs root; `make test` in CI runs it): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", spool).Run() })
	env["FIELDWATCH_SPOOL_DIR"] = spool
	base, _, _ := startBinary(t, env)
	token := e2eLogin(t, env, base)
	// Fill it, leaving less room than a photo.
	filler, err := os.Create(filepath.Join(spool, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := filler.Write(make([]byte, 1024)); err != nil {
			break
		}
	}
	filler.Close()

	ups := []*sent{smallUpload(t, 1), smallUpload(t, 2), smallUpload(t, 3)}
	for _, u := range ups {
		code, hdr, b := post(t, base, token, u.key, u.ct, bytes.NewReader(u.body), len(u.body))
		if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(hdr.Get("Content-Type"), "problem+json") {
			t.Fatalf("upload with the spool full: %d %v %s", code, hdr, b)
		}
	}
	if n := listedCount(t, base, token); n != 0 {
		t.Fatalf("%d evidence after refused uploads", n)
	}
	entries, _ := os.ReadDir(spool)
	if len(entries) != 1 {
		t.Fatalf("the spool keeps partial files: %v", entries)
	}
	if err := os.Remove(filepath.Join(spool, "filler")); err != nil {
		t.Fatal(err)
	}
	for _, u := range ups {
		u.untilStored(t, base, token, time.Now().Add(30*time.Second))
	}
	verifyAll(t, env, base, token, ups)
}

// PostgreSQL is restarted while uploads keep arriving: uploads during the
// outage answer 503 (never 500), the connection pool recovers without a
// restart of fieldwatch, and every retried upload is stored once.
func TestPostgresRestartUnderLoad(t *testing.T) {
	pg := testservice.StartPostgresProcess(t)
	env := faultEnv(t)
	env["FIELDWATCH_DATABASE_URL"] = pg.URL
	base, _, _ := startBinary(t, env)
	token := e2eLogin(t, env, base)

	n := 40
	if longFaults() {
		n = 200
	}
	ups := make([]*sent, n)
	for i := range ups {
		ups[i] = smallUpload(t, i)
	}
	var wg sync.WaitGroup
	work := make(chan *sent)
	deadline := time.Now().Add(90 * time.Second)
	for range 8 {
		wg.Go(func() {
			for u := range work {
				u.untilStored(t, base, token, deadline)
			}
		})
	}
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		// The fault's schedule: the database goes away 300 ms into the
		// load and stays away for a second.
		time.Sleep(300 * time.Millisecond)
		pg.Stop()
		time.Sleep(time.Second)
		pg.Start()
	}()
	for _, u := range ups {
		work <- u
		time.Sleep(25 * time.Millisecond) // the load's pace: uploads spread over the outage
	}
	close(work)
	wg.Wait()
	<-restarted
	outage := 0
	for _, u := range ups {
		for _, a := range u.answers {
			if a == http.StatusServiceUnavailable {
				outage++
			}
			if a >= 500 && a != http.StatusServiceUnavailable {
				t.Errorf("upload %s: %d during the restart", u.key, a)
			}
		}
	}
	t.Logf("%d uploads, %d answers of 503 during the outage", n, outage)
	if outage == 0 {
		t.Error("no upload met the outage: the restart came too late to test anything")
	}
	waitReady(t, base)
	verifyAll(t, env, base, token, ups)
}
