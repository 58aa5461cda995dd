package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/internal/testservice"
)

// resettingS3 is a proxy in front of the S3 server that breaks evidence
// PUTs the way a flaky network does. For every evidence key it lets the
// first PUT through, resets the connection of the next three halfway
// through the body (all of minio-go's tries of one Put), and lets later
// ones through. A hook may act on the second PUT first (a test cancels
// the phone's request there: the client went away).
type resettingS3 struct {
	proxy *httputil.ReverseProxy
	mu    sync.Mutex
	puts  map[string]int
	hook  func(key string) (cancelled bool)
}

func newResettingS3(t *testing.T, endpoint string) *httptest.Server {
	target := &url.URL{Scheme: "http", Host: endpoint}
	p := &resettingS3{puts: map[string]int{}}
	p.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // signed by the client
		},
		ErrorLog: nil,
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	srv.Config.Handler = p
	return srv
}

func (p *resettingS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/evidence/") {
		p.proxy.ServeHTTP(w, r)
		return
	}
	key := r.URL.Path[strings.Index(r.URL.Path, "/evidence/")+1:]
	p.mu.Lock()
	p.puts[key]++
	n := p.puts[key]
	hook := p.hook
	p.mu.Unlock()
	if n < 2 || n > 4 {
		p.proxy.ServeHTTP(w, r)
		return
	}
	if n == 2 && hook != nil && hook(key) {
		// The phone has gone: fieldwatch cancels the PUT.
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	} else {
		io.CopyN(io.Discard, r.Body, max(r.ContentLength/2, 1))
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // RST, not FIN
	}
	conn.Close()
}

// TestDuplicateBytesFailedPut is issue 13's loss after a 201: two phones
// upload the same photo under different keys at the same time (a photo
// shared in a group chat, sent by two inspectors). One PUT stores it; the
// other's PUT is reset by the network, or cancelled because its phone went
// away. Before the fix the failing attempt deleted the shared
// content-addressed object and the other answered 201 without a photo,
// forever. Now every 201 has its photo, byte-identical, and `check` holds.
func TestDuplicateBytesFailedPut(t *testing.T) {
	s3env := testservice.S3(t)
	proxy := newResettingS3(t, s3env.Endpoint)
	p := proxy.Config.Handler.(*resettingS3)
	env := map[string]string{
		"FIELDWATCH_DATA_DIR":           t.TempDir(),
		"FIELDWATCH_DATABASE_URL":       testservice.PostgresDB(t),
		"FIELDWATCH_S3_ENDPOINT":        strings.TrimPrefix(proxy.URL, "http://"),
		"FIELDWATCH_S3_ACCESS_KEY":      s3env.AccessKey,
		"FIELDWATCH_S3_SECRET_KEY":      s3env.SecretKey,
		"FIELDWATCH_S3_REGION":          s3env.Region,
		"FIELDWATCH_S3_BUCKET":          testservice.Bucket(t),
		"FIELDWATCH_S3_TLS":             "false",
		"FIELDWATCH_UPLOADS_PER_USER":   "100",
		"FIELDWATCH_THUMBNAIL_WORKERS":  "1",
		"FIELDWATCH_RECONCILE_INTERVAL": "1h",
		"FIELDWATCH_ORPHAN_AGE":         "1s",
		"FIELDWATCH_LOG_LEVEL":          "warn",
		"FIELDWATCH_ACCESS_TTL":         "1h",
	}
	base, _, _ := startBinary(t, env)
	token := e2eLogin(t, env, base)

	const pairs = 12
	type phone struct {
		*sent
		cancel bool // its first attempt is cancelled when its PUT starts
	}
	var phones []*phone
	cancels := map[string]context.CancelFunc{} // evidence key → the cancelling phone's request
	var cancelMu sync.Mutex
	for i := range pairs {
		a := smallUpload(t, i)
		b := &sent{key: uuid.NewString(), sha: a.sha, ct: a.ct, body: a.body}
		phones = append(phones, &phone{sent: a}, &phone{sent: b, cancel: i%2 == 1})
	}
	p.mu.Lock()
	p.hook = func(key string) bool {
		cancelMu.Lock()
		defer cancelMu.Unlock()
		if c, ok := cancels[key]; ok {
			delete(cancels, key)
			c()
			return true
		}
		return false
	}
	p.mu.Unlock()

	deadline := time.Now().Add(2 * time.Minute)
	var wg sync.WaitGroup
	for _, ph := range phones {
		wg.Go(func() {
			if ph.cancel {
				ctx, cancel := context.WithCancel(context.Background())
				cancelMu.Lock()
				cancels["evidence/"+ph.sha[:2]+"/"+ph.sha] = cancel
				cancelMu.Unlock()
				req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v1/evidence", bytes.NewReader(ph.body))
				req.Header.Set("Content-Type", ph.ct)
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Idempotency-Key", ph.key)
				if res, err := http.DefaultClient.Do(req); err == nil {
					ph.answers = append(ph.answers, res.StatusCode)
					res.Body.Close()
				} else {
					ph.answers = append(ph.answers, -1)
				}
				cancel()
			}
			ph.untilStored(t, base, token, deadline)
		})
	}
	wg.Wait()

	lost := 0
	for _, ph := range phones {
		if ph.id == "" {
			continue
		}
		if problem := photoProblem(t, base, token, ph.sent); problem != "" {
			lost++
			t.Errorf("evidence %s (key %s, answers %v): %s: a 201 without its photo", ph.id, ph.key, ph.answers, problem)
		}
	}
	p.mu.Lock()
	resets := 0
	for _, n := range p.puts {
		resets += min(max(n-1, 0), 3)
	}
	p.mu.Unlock()
	t.Logf("%d uploads of %d distinct photos, %d PUTs broken, %d photos lost", len(phones), pairs, resets, lost)
	if resets == 0 {
		t.Fatal("no PUT was broken: the test tested nothing")
	}
	out := checkCLI(t, env)
	if !strings.Contains(out, fmt.Sprintf("checked %d evidence rows and %d objects", len(phones), pairs)) {
		t.Errorf("check: %s", out)
	}
}
