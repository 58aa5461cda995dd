package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/internal/testservice"
	"github.com/fieldwatch/fieldwatch/internal/testwait"
)

// uploadBody is a multipart upload of a unique copy of a test photo.
func uploadBody(t *testing.T, n int) (contentType string, body []byte) {
	t.Helper()
	photo, err := os.ReadFile("../../testdata/photos/dust-xingcheng.jpg")
	if err != nil {
		t.Fatal(err)
	}
	photo = append(photo, fmt.Sprintf("unique-%d", n)...)
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormField("meta")
	fw.Write([]byte(`{"category":"dust_site"}`))
	pw, _ := w.CreateFormFile("photo", "p.jpg")
	pw.Write(photo)
	w.Close()
	return w.FormDataContentType(), buf.Bytes()
}

// post sends an upload; body may be a reader that stalls.
func post(t *testing.T, base, token, key, ct string, body io.Reader, length int) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/evidence", body)
	req.ContentLength = int64(length)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1, nil, []byte(err.Error())
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// visibleCount is how many evidence items the token's user can list.
func visibleCount(t *testing.T, base, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/evidence", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil || res.StatusCode != 200 {
		t.Fatalf("list: %d %v", res.StatusCode, err)
	}
	return len(page.Items)
}

func privateS3Env(t *testing.T, s3 *testservice.S3Process) map[string]string {
	return map[string]string{
		"FIELDWATCH_DATA_DIR":      t.TempDir(),
		"FIELDWATCH_S3_ENDPOINT":   s3.Env.Endpoint,
		"FIELDWATCH_S3_ACCESS_KEY": s3.Env.AccessKey,
		"FIELDWATCH_S3_SECRET_KEY": s3.Env.SecretKey,
		"FIELDWATCH_S3_BUCKET":     "faults",
		"FIELDWATCH_S3_TLS":        "false",
	}
}

// The object store is down when the upload arrives: 503 with Retry-After,
// nothing visible; after it is back, the retry with the same key stores
// exactly once.
func TestS3DownBeforeUpload(t *testing.T) {
	s3 := testservice.StartS3Process(t)
	env := privateS3Env(t, s3)
	s := startRun(t, env)
	token := e2eLogin(t, env, s.url)
	ct, body := uploadBody(t, 1)
	key := uuid.NewString()

	s3.Stop()
	code, hdr, b := post(t, s.url, token, key, ct, bytes.NewReader(body), len(body))
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("upload with S3 down: %d %v %s", code, hdr, b)
	}
	if res, _ := get(t, s.url+"/readyz"); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with S3 down: %d", res.StatusCode)
	}
	if n := visibleCount(t, s.url, token); n != 0 {
		t.Fatalf("%d evidence visible after a failed upload", n)
	}

	s3.Start()
	waitReady(t, s.url)
	if code, _, b := post(t, s.url, token, key, ct, bytes.NewReader(body), len(body)); code != 201 {
		t.Fatalf("retry after recovery: %d %s", code, b)
	}
	if code, hdr, _ := post(t, s.url, token, key, ct, bytes.NewReader(body), len(body)); code != 201 || hdr.Get("Idempotency-Replayed") != "true" {
		t.Fatalf("second retry: %d, replayed %q", code, hdr.Get("Idempotency-Replayed"))
	}
	if n := visibleCount(t, s.url, token); n != 1 {
		t.Fatalf("%d evidence after recovery, want exactly 1", n)
	}
	checkCLI(t, env)
}

// The object store dies while the photo is still arriving.
func TestS3DownDuringUpload(t *testing.T) {
	s3 := testservice.StartS3Process(t)
	env := privateS3Env(t, s3)
	s := startRun(t, env)
	token := e2eLogin(t, env, s.url)
	ct, body := uploadBody(t, 2)
	key := uuid.NewString()

	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	var code int
	var respBody []byte
	wg.Go(func() { code, _, respBody = post(t, s.url, token, key, ct, pr, len(body)) })
	if _, err := pw.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	s3.Stop()
	if _, err := pw.Write(body[len(body)/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	wg.Wait()
	if code != http.StatusServiceUnavailable {
		t.Fatalf("upload as S3 died: %d %s", code, respBody)
	}
	if n := visibleCount(t, s.url, token); n != 0 {
		t.Fatalf("%d evidence visible", n)
	}
	s3.Start()
	waitReady(t, s.url)
	if code, _, b := post(t, s.url, token, key, ct, bytes.NewReader(body), len(body)); code != 201 {
		t.Fatalf("retry: %d %s", code, b)
	}
	if n := visibleCount(t, s.url, token); n != 1 {
		t.Fatalf("%d evidence, want 1", n)
	}
	checkCLI(t, env)
}

// checkCLI runs `fieldwatch check` (reconcile, then the invariant checker).
func checkCLI(t *testing.T, env map[string]string, extra ...string) string {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), append([]string{"check"}, extra...), func(k string) string { return env[k] }, nil, &out, io.Discard)
	if err != nil {
		t.Fatalf("fieldwatch check: %v\n%s", err, out.String())
	}
	return out.String()
}

var buildOnce struct {
	sync.Once
	path string
	err  error
	out  []byte
}

// binary builds the real fieldwatch binary once per test run.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fieldwatch-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "fieldwatch")
		buildOnce.out, buildOnce.err = exec.Command("go", "build", "-o", buildOnce.path, ".").CombinedOutput()
	})
	if buildOnce.err != nil {
		t.Fatalf("go build: %v\n%s", buildOnce.err, buildOnce.out)
	}
	return buildOnce.path
}

// startBinary runs the real binary with env and returns its base URL.
func startBinary(t *testing.T, env map[string]string, args ...string) (string, *exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	base, _ := waitListening(t, stdout)
	waitReady(t, base)
	return base, cmd, stderr
}

// A crash after the photo is stored and before its row is committed: the
// phone saw no answer and retries with the same key; the retry stores
// exactly once. Without a retry, the reconciler releases the claim and
// deletes the orphan object.
func TestCrashBetweenObjectWriteAndCommit(t *testing.T) {
	for _, retry := range []bool{true, false} {
		t.Run(fmt.Sprintf("retry=%v", retry), func(t *testing.T) {
			env := map[string]string{
				"FIELDWATCH_DATA_DIR":           t.TempDir(),
				"FIELDWATCH_UPLOAD_STALE_AFTER": "1s",
				"FIELDWATCH_ORPHAN_AGE":         "1s",
				"FIELDWATCH_DATABASE_URL":       "",
				"FIELDWATCH_S3_ENDPOINT":        "",
			}
			crashEnv := map[string]string{"FIELDWATCH_FAILPOINTS": "after-object-put"}
			for k, v := range env {
				crashEnv[k] = v
			}
			base, cmd, stderr := startBinary(t, crashEnv)
			token := e2eLogin(t, env, base)
			ct, body := uploadBody(t, 3)
			key := uuid.NewString()
			if code, _, _ := post(t, base, token, key, ct, bytes.NewReader(body), len(body)); code != -1 {
				t.Fatalf("the failpoint should have crashed the server, got status %d", code)
			}
			err := cmd.Wait()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 86 {
				t.Fatalf("server exit: %v\n%s", err, stderr.String())
			}
			objects, _ := filepath.Glob(filepath.Join(env["FIELDWATCH_DATA_DIR"], "photos", "evidence", "*", "*"))
			if len(objects) != 1 {
				t.Fatalf("the crash should leave the stored object behind, found %v", objects)
			}

			base, _, _ = startBinary(t, env)
			if retry {
				// Until the crashed claim is stale (1s here, on the
				// restarted binary's own clock), the key is busy: the phone
				// retries.
				var code int
				var hdr http.Header
				testwait.For(20*time.Second, 200*time.Millisecond, func() bool {
					code, hdr, _ = post(t, base, token, key, ct, bytes.NewReader(body), len(body))
					return code != http.StatusConflict
				})
				if code != 201 || hdr.Get("Idempotency-Replayed") != "" {
					t.Fatalf("retry after crash: %d", code)
				}
				if n := visibleCount(t, base, token); n != 1 {
					t.Fatalf("%d evidence, want 1", n)
				}
				out := checkCLI(t, env)
				if !strings.Contains(out, "checked 1 evidence rows and 1 objects") {
					t.Fatalf("check: %s", out)
				}
				return
			}
			// Nothing is in flight now, so the check may take every
			// pending claim for abandoned and every object without a row
			// for an orphan, instead of waiting for the server's 1 s ages.
			out := checkCLI(t, env, "--upload-stale-after", "1ns", "--orphan-age", "1ns")
			if !strings.Contains(out, "released 1 abandoned uploads, deleted 1 orphan objects") ||
				!strings.Contains(out, "checked 0 evidence rows and 0 objects") {
				t.Fatalf("check after an unretried crash:\n%s", out)
			}
		})
	}
}
