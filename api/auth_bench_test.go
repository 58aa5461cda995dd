package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
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
				cpu.report(b)
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

// cpuMeter measures CPU time rather than wall time, which the machine's
// other work inflates: this process's (getrusage: handler, runtime and
// GC) and, on PostgreSQL, that of the server backends connected to the
// benchmark's database (from /proc: the test server runs on this
// machine).
type cpuMeter struct {
	db       *sql.DB // nil on SQLite
	self, pg time.Duration
}

func startCPU(b *testing.B, pgURL string) *cpuMeter {
	b.Helper()
	m := &cpuMeter{}
	if pgURL != "" {
		db, err := sql.Open("pgx", pgURL)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		m.db = db
	}
	m.self, m.pg = selfCPU(b), m.backendCPU(b)
	return m
}

func (m *cpuMeter) report(b *testing.B) {
	b.Helper()
	self, pg := selfCPU(b)-m.self, m.backendCPU(b)-m.pg
	b.ReportMetric(float64(self.Microseconds())/float64(b.N), "cpu-µs/op")
	if m.db != nil {
		b.ReportMetric(float64(pg.Microseconds())/float64(b.N), "pg-cpu-µs/op")
	}
}

func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU sums user and system time of the PostgreSQL backends of
// the database; 0 on SQLite.
func (m *cpuMeter) backendCPU(b *testing.B) time.Duration {
	b.Helper()
	if m.db == nil {
		return 0
	}
	rows, err := m.db.QueryContext(b.Context(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			b.Fatal(err)
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Skipf("cannot read PostgreSQL backend CPU: %v", err)
		}
		// Fields after the command's closing parenthesis; utime and
		// stime are the 14th and 15th of the line, in clock ticks
		// (100 a second on Linux).
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(ut+st) * 10 * time.Millisecond
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return total
}
