package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for the backends' CPU

	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
)

// BenchmarkAuthenticatedGet measures the per-request cost every
// authenticated request pays before its handler's own work: the
// middleware chain (request id, log line, metrics), the bearer token's
// verification, the caller's user row and the OpenAPI validation
// ("missing": a GET of an evidence id that does not exist, so the
// evidence read and encoding stay small and constant). "item" is the same
// request for an evidence item the caller uploaded, answered from the
// evidence cache after the first read; "item-uncached" reads the row on
// every request (FIELDWATCH_EVIDENCE_CACHE_TTL=0), as before the cache.
// It runs in-process through the app's handler, without a socket.
func BenchmarkAuthenticatedGet(b *testing.B) {
	for _, backend := range backends {
		for _, tc := range []struct {
			name string
			env  map[string]string
			item bool
		}{
			{"missing", nil, false},
			{"item", nil, true},
			{"item-uncached", map[string]string{"FIELDWATCH_EVIDENCE_CACHE_TTL": "0"}, true},
		} {
			b.Run(backend+"/"+tc.name, func(b *testing.B) {
				h, token, dbURL := benchServer(b, backend, tc.env)
				path, want := "/v1/evidence/0193a5b0-7e4c-7c3a-9f1e-000000000001", http.StatusNotFound
				if tc.item {
					path, want = "/v1/evidence/"+benchUpload(b, h, token), http.StatusOK
				}
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				b.ReportAllocs()
				cpu := startCPU(b, dbURL)
				b.ResetTimer()
				for range b.N {
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != want {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
				b.StopTimer()
				cpu.Report(b)
			})
		}
	}
}

// benchUpload uploads a photo through h as the holder of token and
// returns the new evidence's id.
func benchUpload(b *testing.B, h http.Handler, token string) string {
	b.Helper()
	ct, body := multipartBody(b, [3]string{"meta", "application/json", `{"category":"dust_site","note":"bench"}`},
		[3]string{"photo", "image/jpeg", string(testPhoto(b, "dust-xingcheng.jpg"))})
	req := httptest.NewRequest("POST", "/v1/evidence", bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Idempotency-Key", uuid.NewString())
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		b.Fatalf("upload: %d %s", rec.Code, rec.Body)
	}
	var e struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		b.Fatal(err)
	}
	return e.ID
}

// benchServer assembles the app as `fieldwatch serve` does (extra adds
// to its environment), with one inspector, and returns its handler and an access token of that user.
func benchServer(b *testing.B, backend string, extra map[string]string) (h http.Handler, token, dbURL string) {
	b.Helper()
	ctx := context.Background()
	key, err := auth.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	env := map[string]string{"FIELDWATCH_DATA_DIR": b.TempDir(), "FIELDWATCH_JWT_KEYS": key}
	if backend == "postgres" {
		dbURL = testservice.PostgresDB(b)
		env["FIELDWATCH_DATABASE_URL"] = dbURL
	}
	maps.Copy(env, extra)
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
	return a.Handler, pair.AccessToken, dbURL
}

// startCPU measures the CPU of this process and, on PostgreSQL, of the
// benchmark database's backends (testservice.CPUMeter).
func startCPU(b *testing.B, pgURL string) *testservice.CPUMeter {
	b.Helper()
	if pgURL == "" {
		return testservice.StartCPU(b, nil)
	}
	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return testservice.StartCPU(b, db)
}
