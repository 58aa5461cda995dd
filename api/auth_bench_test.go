package api_test

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
)

// BenchmarkAuthenticatedGet measures the per-request cost every
// authenticated request pays before its handler's own work: the
// middleware chain (request id, log line, metrics), the bearer token's
// verification, the caller's user row and the OpenAPI validation. The
// request is a GET of an evidence id that does not exist, so the
// evidence read and encoding (not this path) stay small and constant.
// It runs in-process through the app's handler, without a socket.
func BenchmarkAuthenticatedGet(b *testing.B) {
	for _, backend := range backends {
		b.Run(backend, func(b *testing.B) {
			h, token := benchServer(b, backend)
			req := httptest.NewRequest("GET", "/v1/evidence/0193a5b0-7e4c-7c3a-9f1e-000000000001", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusNotFound {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// benchServer assembles the app as `fieldwatch serve` does, with one
// inspector, and returns its handler and an access token of that user.
func benchServer(b *testing.B, backend string) (http.Handler, string) {
	b.Helper()
	ctx := context.Background()
	key, err := auth.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	env := map[string]string{"FIELDWATCH_DATA_DIR": b.TempDir(), "FIELDWATCH_JWT_KEYS": key}
	if backend == "postgres" {
		env["FIELDWATCH_DATABASE_URL"] = testservice.PostgresDB(b)
	}
	c, _, err := app.ParseConfig(flag.NewFlagSet("bench", flag.ContinueOnError), nil, func(k string) string { return env[k] })
	if err != nil {
		b.Fatal(err)
	}
	clk := testclock.New(time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC))
	a, err := app.New(ctx, c, app.Options{Version: "bench", Clock: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	if _, err := a.Identity.CreateUser(ctx, auth.NewUser{
		Username: "bench", DisplayName: "bench", Role: "inspector", Password: "correct horse battery staple", Townships: []string{"330100001"},
	}); err != nil {
		b.Fatal(err)
	}
	pair, err := a.Identity.Login(ctx, "bench", "correct horse battery staple", "192.0.2.1")
	if err != nil {
		b.Fatal(err)
	}
	return a.Handler, pair.AccessToken
}
