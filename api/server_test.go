package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
	"github.com/fieldwatch/fieldwatch/demo"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
	"github.com/fieldwatch/fieldwatch/store"
)

// testAPI is a server over real parts: a SQLite file, a local photo
// directory and the real identity service.
type testAPI struct {
	t     *testing.T
	srv   *httptest.Server
	db    *store.Store
	ident *auth.Service
	clock *testclock.Clock
	key   string // the signing key entry, kid:seed

	atlas     *fieldwatch.Atlas
	cases     *fieldwatch.Casework
	photos    *fileblob.Dir
	photosDir string
	thumbs    *fieldwatch.Thumbnailer
	spool     string
}

// backends are the databases every API test runs against.
var backends = []string{"sqlite", "postgres"}

// forEachBackend runs fn as a subtest per database backend. PostgreSQL
// comes from `make test`; without it that subtest skips (fails under CI).
func forEachBackend(t *testing.T, fn func(t *testing.T, a *testAPI)) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { fn(t, newTestAPIOn(t, b)) })
	}
}

func newTestAPI(t *testing.T) *testAPI { return newTestAPIOn(t, "sqlite") }

// newTestAPIOn builds a testAPI on backend, assembled by package app as
// `fieldwatch serve` is, on the test's clock; opts adjust the HTTP layer's
// Config before it is built.
func newTestAPIOn(t *testing.T, backend string, opts ...func(*api.Config)) *testAPI {
	t.Helper()
	return newTestAPIConfigured(t, backend, func(*app.Config) {}, opts...)
}

// newTestAPIConfigured is newTestAPIOn with the service's configuration
// adjusted first (e.g. smaller upload caps).
func newTestAPIConfigured(t *testing.T, backend string, adjust func(*app.Config), opts ...func(*api.Config)) *testAPI {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	clk := testclock.New(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FIELDWATCH_DATA_DIR": dir, "FIELDWATCH_JWT_KEYS": key}
	switch backend {
	case "sqlite":
	case "postgres":
		env["FIELDWATCH_DATABASE_URL"] = testservice.PostgresDB(t)
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	c, _, err := app.ParseConfig(flag.NewFlagSet("test", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	county, err := demo.CountyBox()
	if err != nil {
		t.Fatal(err)
	}
	c.CountyBBox = &county
	adjust(&c)
	a, err := app.New(ctx, c, app.Options{
		Version: "test", Clock: clk.Now,
		// Per-address login limits would trip over the many logins of
		// one test client; they have their own tests in package auth.
		LoginLimits: auth.LimiterConfig{AddrAttempts: 10000},
		AdjustAPI: func(ac *api.Config) {
			for _, o := range opts {
				o(ac)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	srv := httptest.NewServer(a.Handler)
	t.Cleanup(srv.Close)
	photos, _ := a.Photos.(*fileblob.Dir)
	return &testAPI{t: t, srv: srv, db: a.DB, ident: a.Identity, clock: clk, key: key, atlas: a.Atlas, cases: a.Cases,
		photos: photos, photosDir: c.PhotoDir, thumbs: a.Thumbnails, spool: c.SpoolDir}
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request; body may be nil, a string (sent as is) or a value
// (sent as JSON).
func (a *testAPI) do(method, path, token string, body any, hdr ...string) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return a.send(req)
}

// send runs req against the test server and reads the whole answer.
func (a *testAPI) send(req *http.Request) response {
	a.t.Helper()
	res, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// mustUser creates a user directly through the identity service.
func (a *testAPI) mustUser(username, role, password string, townships ...string) string {
	a.t.Helper()
	u, err := a.ident.CreateUser(context.Background(), auth.NewUser{
		Username: username, DisplayName: "测试 " + username, Role: roleOf(role), Password: password, Townships: townships,
	})
	if err != nil {
		a.t.Fatalf("create user %s: %v", username, err)
	}
	return u.ID
}

// login returns an access and a refresh token.
func (a *testAPI) login(username, password string) (string, string) {
	a.t.Helper()
	r := a.do("POST", "/v1/auth/login", "", map[string]string{"username": username, "password": password})
	if r.status != http.StatusOK {
		a.t.Fatalf("login %s: %d %s", username, r.status, r.body)
	}
	var p api.TokenPair
	r.json(a.t, &p)
	return p.AccessToken, p.RefreshToken
}

// requireProblem checks that r is an RFC 9457 problem with the status.
func requireProblem(t *testing.T, r response, status int) api.Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json (body %s)", ct, r.body)
	}
	var p api.Problem
	r.json(t, &p)
	if p.Status != status || p.Title == "" || p.Type == "" || p.RequestId == nil || *p.RequestId == "" {
		t.Fatalf("incomplete problem: %s", r.body)
	}
	if *p.RequestId != r.header.Get("X-Request-Id") {
		t.Fatalf("problem request_id %q differs from X-Request-Id %q", *p.RequestId, r.header.Get("X-Request-Id"))
	}
	return p
}
