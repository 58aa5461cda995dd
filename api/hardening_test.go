package api_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/auth"
)

// A duplicate username is a 409 that says so in words of ours; the
// database's own text (constraint and column names) never reaches the
// client (issue 13, defect 9).
func TestCreateUserConflictHidesDatabaseText(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.mustUser("admin1", "admin", "correct horse battery")
		a.mustUser("taken", "inspector", "correct horse battery")
		admin, _ := a.login("admin1", "correct horse battery")
		for _, name := range []string{"taken", "TAKEN"} {
			t.Run(name, func(t *testing.T) {
				r := a.do("POST", "/v1/users", admin, map[string]any{
					"username": name, "display_name": "X", "role": "inspector", "password": "long enough pw"})
				p := requireProblem(t, r, http.StatusConflict)
				if p.Detail == nil || *p.Detail != "username already taken" {
					t.Fatalf("detail = %v, want \"username already taken\": %s", p.Detail, r.body)
				}
				for _, leak := range []string{"UNIQUE", "constraint", "duplicate key", "username_key", "SQLSTATE", "users."} {
					if strings.Contains(string(r.body), leak) {
						t.Errorf("answer shows database text %q: %s", leak, r.body)
					}
				}
			})
		}
	})
}

// A cursor is accepted only as the server issued it: one forged from a
// username (or from a cursor of another listing) is a 400 (issue 13,
// defect 11).
func TestForgedCursorRefused(t *testing.T) {
	a := newTestAPI(t)
	a.mustUser("admin1", "admin", "correct horse battery")
	for _, n := range []string{"u1", "u2", "u3"} {
		a.mustUser(n, "inspector", "correct horse battery")
	}
	admin, _ := a.login("admin1", "correct horse battery")

	r := a.do("GET", "/v1/users?limit=2", admin, nil)
	var page api.UserPage
	r.json(t, &page)
	if r.status != http.StatusOK || page.NextCursor == nil {
		t.Fatalf("first page: %d %s", r.status, r.body)
	}
	if r := a.do("GET", "/v1/users?limit=2&cursor="+*page.NextCursor, admin, nil); r.status != http.StatusOK {
		t.Fatalf("issued cursor: %d %s", r.status, r.body)
	}
	// The signature of the issued cursor, on another payload.
	sig := ".AAAAAAAAAAAAAAAAAAAAAA"
	if i := strings.LastIndexByte(*page.NextCursor, '.'); i >= 0 {
		sig = (*page.NextCursor)[i:]
	}
	forged := map[string]string{
		"UnsignedUsername": base64.RawURLEncoding.EncodeToString([]byte("u1")),
		"OtherSignature":   base64.RawURLEncoding.EncodeToString([]byte("u1")) + "." + strings.Repeat("A", 22),
		"TamperedPayload":  base64.RawURLEncoding.EncodeToString([]byte("u0")) + sig,
	}
	for name, c := range forged {
		t.Run(name, func(t *testing.T) {
			requireProblem(t, a.do("GET", "/v1/users?cursor="+c, admin, nil), http.StatusBadRequest)
		})
	}
	t.Run("EvidenceCursorFromUsers", func(t *testing.T) {
		requireProblem(t, a.do("GET", "/v1/evidence?cursor="+*page.NextCursor, admin, nil), http.StatusBadRequest)
	})
}

// The last active administrator cannot demote or deactivate themselves,
// and two administrators demoting each other at once leave one (issue
// 13, defect 11).
func TestLastActiveAdmin(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		id := a.mustUser("admin1", "admin", "correct horse battery")
		admin, _ := a.login("admin1", "correct horse battery")
		for name, body := range map[string]any{
			"Demote":     map[string]any{"role": "inspector"},
			"Deactivate": map[string]any{"active": false},
		} {
			t.Run(name, func(t *testing.T) {
				p := requireProblem(t, a.do("PATCH", "/v1/users/"+id, admin, body), http.StatusConflict)
				if p.Detail == nil || !strings.Contains(*p.Detail, "last active administrator") {
					t.Fatalf("detail = %v", p.Detail)
				}
			})
		}
		// Still an administrator.
		if r := a.do("GET", "/v1/users", admin, nil); r.status != http.StatusOK {
			t.Fatalf("after refused demotion: %d %s", r.status, r.body)
		}

		t.Run("EachOther", func(t *testing.T) {
			id2 := a.mustUser("admin2", "admin", "correct horse battery")
			admin2, _ := a.login("admin2", "correct horse battery")
			for round := range 5 {
				var wg sync.WaitGroup
				statuses := make([]int, 2)
				for i, call := range []struct{ token, target string }{{admin, id2}, {admin2, id}} {
					wg.Go(func() {
						statuses[i] = a.do("PATCH", "/v1/users/"+call.target, call.token, map[string]any{"role": "inspector"}).status
					})
				}
				wg.Wait()
				active := a.activeAdmins(t)
				if active < 1 {
					t.Fatalf("round %d: statuses %v left %d active administrators", round, statuses, active)
				}
				// Restore both for the next round.
				for _, target := range []string{id, id2} {
					if _, err := a.ident.UpdateUser(context.Background(), target, auth.UserUpdate{Role: ptrRole("admin")}); err != nil {
						t.Fatal(err)
					}
				}
				admin, _ = a.login("admin1", "correct horse battery")
				admin2, _ = a.login("admin2", "correct horse battery")
			}
		})
	})
}

func (a *testAPI) activeAdmins(t *testing.T) int {
	t.Helper()
	users, err := a.ident.ListUsers(context.Background(), listAdmins())
	if err != nil {
		t.Fatal(err)
	}
	return len(users)
}

// A request whose client went away is the client's cancellation: logged
// below error as 499 and counted as 499, never as a 5xx (issue 13,
// defect 4).
func TestClientCancellationIs499(t *testing.T) {
	entered := make(chan struct{})
	logged := make(chan slog.Record, 8)
	a := newTestAPIOn(t, "sqlite", func(c *api.Config) {
		c.Logger = slog.New(recordHandler{logged})
		c.Identity = blockingLogin{Identity: c.Identity, entered: entered}
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", a.srv.URL+"/v1/auth/login",
		strings.NewReader(`{"username":"someone","password":"whatever pw"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	done := make(chan error, 1)
	go func() {
		res, err := a.srv.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	<-entered
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("client: %v, want context.Canceled", err)
	}
	var rec slog.Record
	for rec = range logged {
		if rec.Message == "request" {
			break
		}
	}
	attrs := map[string]slog.Value{}
	rec.Attrs(func(at slog.Attr) bool { attrs[at.Key] = at.Value; return true })
	if got := attrs["status"].Int64(); got != 499 {
		t.Errorf("logged status %d, want 499", got)
	}
	if rec.Level >= slog.LevelError {
		t.Errorf("logged at %v, want below ERROR", rec.Level)
	}
	counts := requestCounts(t, a)
	if counts["499"] != 1 {
		t.Errorf("requests by status %v, want one 499", counts)
	}
	for status := range counts {
		if strings.HasPrefix(status, "5") {
			t.Errorf("counted as %s: %v", status, counts)
		}
	}
}

// blockingLogin holds a login until its request is cancelled, and fails
// then as a store does: with the context's error, wrapped.
type blockingLogin struct {
	api.Identity
	entered chan struct{}
}

func (b blockingLogin) Login(ctx context.Context, _, _, _ string) (auth.Pair, error) {
	close(b.entered)
	<-ctx.Done()
	return auth.Pair{}, fmt.Errorf("store: user by username: %w", ctx.Err())
}

// recordHandler sends every log record to a channel.
type recordHandler struct{ out chan<- slog.Record }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.out <- r.Clone()
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

// requestCounts sums fieldwatch_http_requests_total by status, as the
// scraper reads it from /metrics (whose own request is not yet counted
// while it is served).
func requestCounts(t *testing.T, a *testAPI) map[string]float64 {
	t.Helper()
	r := a.do("GET", "/metrics", "", nil)
	out := map[string]float64{}
	for _, line := range strings.Split(string(r.body), "\n") {
		rest, ok := strings.CutPrefix(line, "fieldwatch_http_requests_total{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		_, status, _ := strings.Cut(labels, `status="`)
		status, _, _ = strings.Cut(status, `"`)
		var v float64
		fmt.Sscan(value, &v)
		out[status] += v
	}
	return out
}

// A body that stalls is cut after the body timeout on every route,
// before or after authentication, and the connection is closed: one
// client cannot hold connections open by announcing bytes it never
// sends (issue 13, defect 6).
func TestStalledBodyIsCut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	a := newTestAPIOn(t, "sqlite", func(c *api.Config) { c.BodyTimeout = timeout })
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"Login", "/v1/auth/login", http.StatusRequestTimeout},
		{"Unauthenticated", "/v1/users", http.StatusUnauthorized},
		{"UnknownRoute", "/v1/nothing-here", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", a.srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Far beyond the body timeout: if this fires, the server held
			// the connection.
			if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", tc.path)
			br := bufio.NewReader(conn)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer within 5 s: %v", err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, tc.status, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q: %s", ct, body)
			}
			// The connection is closed, not kept for the rest of the body.
			if _, err := br.ReadByte(); !closedConn(err) {
				t.Fatalf("connection still open after the answer: %v", err)
			}
			if d := time.Since(start); d > 5*timeout+time.Second {
				t.Errorf("closed after %v", d)
			}
		})
	}
}

// closedConn: the peer closed (EOF or reset), as opposed to our own
// read deadline running out.
func closedConn(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err != nil
}

func ptrRole(r string) *fieldwatch.Role {
	role := fieldwatch.Role(r)
	return &role
}

func listAdmins() fieldwatch.UserFilter {
	role, active := fieldwatch.RoleAdmin, true
	return fieldwatch.UserFilter{Role: &role, Active: &active}
}
