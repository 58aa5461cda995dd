package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/api"
)

const pw = "correct horse battery"

func TestLoginRefreshLogout(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.mustUser("chief1", "river_chief", pw)

		access, refresh := a.login("chief1", pw)
		if r := a.do("GET", "/v1/me", access, nil); r.status != http.StatusOK {
			t.Fatalf("me: %d %s", r.status, r.body)
		}

		// Rotation: the old token is spent, the new one works.
		r := a.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": refresh})
		if r.status != http.StatusOK {
			t.Fatalf("refresh: %d %s", r.status, r.body)
		}
		var p2 api.TokenPair
		r.json(t, &p2)
		if p2.RefreshToken == refresh || p2.TokenType != "Bearer" || p2.ExpiresIn != 900 {
			t.Fatalf("bad pair %+v", p2)
		}

		// Within the grace window a phone that lost the answer recovers.
		r = a.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": refresh})
		if r.status != http.StatusOK {
			t.Fatalf("retry within grace: %d %s", r.status, r.body)
		}
		var p3 api.TokenPair
		r.json(t, &p3)

		// After it, reuse revokes the whole family, including live tokens.
		a.clock.Advance(time.Minute)
		requireProblem(t, a.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": refresh}), 401)
		requireProblem(t, a.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": p3.RefreshToken}), 401)

		// A new login is a new family; logout ends it.
		_, refresh = a.login("chief1", pw)
		if r := a.do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": refresh}); r.status != http.StatusNoContent {
			t.Fatalf("logout: %d %s", r.status, r.body)
		}
		requireProblem(t, a.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": refresh}), 401)
		// Logging out twice is fine.
		if r := a.do("POST", "/v1/auth/logout", "", map[string]string{"refresh_token": refresh}); r.status != http.StatusNoContent {
			t.Fatalf("second logout: %d", r.status)
		}
	})
}

func TestLoginFailuresLookAlike(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		id := a.mustUser("insp", "inspector", pw)
		admin := a.mustUser("boss", "admin", pw)
		_ = admin
		tok, _ := a.login("boss", pw)
		inactive := false
		if r := a.do("PATCH", "/v1/users/"+id, tok, map[string]any{"active": inactive}); r.status != 200 {
			t.Fatalf("deactivate: %d %s", r.status, r.body)
		}
		var bodies []string
		for _, tc := range []struct{ user, pass string }{
			{"nobody", pw},     // unknown user
			{"boss", "wrong!"}, // wrong password
			{"insp", pw},       // inactive
		} {
			r := a.do("POST", "/v1/auth/login", "", map[string]string{"username": tc.user, "password": tc.pass})
			p := requireProblem(t, r, 401)
			bodies = append(bodies, *p.Detail)
		}
		if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
			t.Fatalf("login failures must not differ: %q", bodies)
		}
	})
}

func TestLoginRateLimited(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.mustUser("target", "inspector", pw)
		var last response
		for range 6 {
			last = a.do("POST", "/v1/auth/login", "", map[string]string{"username": "target", "password": "wrong password"})
		}
		requireProblem(t, last, http.StatusTooManyRequests)
		if last.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		// Even the right password is refused while locked.
		r := a.do("POST", "/v1/auth/login", "", map[string]string{"username": "TARGET", "password": pw})
		requireProblem(t, r, http.StatusTooManyRequests)
		// Rotating X-Forwarded-For does not help: no proxy is trusted.
		r = a.do("POST", "/v1/auth/login", "", map[string]string{"username": "target", "password": pw}, "X-Forwarded-For", "203.0.113.9")
		requireProblem(t, r, http.StatusTooManyRequests)

		a.clock.Advance(16 * time.Minute)
		a.login("target", pw)
	})
}

func TestDeactivationAndPasswordChangeTakeEffectAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.mustUser("admin", "admin", pw)
		uid := a.mustUser("officer", "township_officer", pw, "130227100")
		admin, _ := a.login("admin", pw)

		access, refresh := a.login("officer", pw)
		a.clock.Advance(2 * time.Second)
		r := a.do("PATCH", "/v1/users/"+uid, admin, map[string]any{"password": "a brand new password"})
		if r.status != 200 {
			t.Fatalf("password change: %d %s", r.status, r.body)
		}
		requireProblem(t, a.do("GET", "/v1/me", access, nil), 401)
		requireProblem(t, a.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": refresh}), 401)

		a.clock.Advance(2 * time.Second)
		access, refresh = a.login("officer", "a brand new password")
		r = a.do("PATCH", "/v1/users/"+uid, admin, map[string]any{"active": false})
		if r.status != 200 {
			t.Fatalf("deactivate: %d %s", r.status, r.body)
		}
		requireProblem(t, a.do("GET", "/v1/me", access, nil), 401)
		requireProblem(t, a.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": refresh}), 401)
	})
}

func TestRoleChangeTakesEffectOnNextRequest(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.mustUser("admin", "admin", pw)
		uid := a.mustUser("deputy", "admin", pw)
		admin, _ := a.login("admin", pw)
		deputy, _ := a.login("deputy", pw)
		if r := a.do("GET", "/v1/users", deputy, nil); r.status != 200 {
			t.Fatalf("deputy as admin: %d", r.status)
		}
		if r := a.do("PATCH", "/v1/users/"+uid, admin, map[string]any{"role": "inspector", "townships": []string{"130227101"}}); r.status != 200 {
			t.Fatalf("demote: %d %s", r.status, r.body)
		}
		requireProblem(t, a.do("GET", "/v1/users", deputy, nil), 403)
		var me api.Me
		r := a.do("GET", "/v1/me", deputy, nil)
		r.json(t, &me)
		if me.Role != "inspector" || len(me.Townships) != 1 || me.Townships[0] != "130227101" {
			t.Fatalf("me after demotion: %s", r.body)
		}
	})
}

func TestUserAdministration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		a.mustUser("admin", "admin", pw)
		admin, _ := a.login("admin", pw)

		chinesePW := strings.Repeat("河长制扬尘治理露天焚烧", 6) // 66 characters, 198 bytes
		r := a.do("POST", "/v1/users", admin, map[string]any{
			"username": "Zhang.Wei", "display_name": " 张伟\u202e ", "role": "inspector",
			"password": chinesePW, "townships": []string{"130227102", "130227101", "130227102"}, "phone": "+86 138-0000-0000",
		})
		if r.status != http.StatusCreated {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		var u api.User
		r.json(t, &u)
		if u.Username != "zhang.wei" || u.DisplayName != "张伟" || len(u.Townships) != 2 || !u.Active {
			t.Fatalf("created user: %s", r.body)
		}
		if strings.Contains(string(r.body), "argon2") || strings.Contains(string(r.body), "password") {
			t.Fatalf("user view leaks password material: %s", r.body)
		}
		a.login("ZHANG.WEI", chinesePW)

		// List pages by username with an opaque cursor.
		for _, n := range []string{"u1", "u2", "u3"} {
			a.mustUser(n, "township_officer", pw, "130227103")
		}
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			path := "/v1/users?limit=2&role=township_officer"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			var page api.UserPage
			r := a.do("GET", path, admin, nil)
			if r.status != 200 {
				t.Fatalf("list: %d %s", r.status, r.body)
			}
			r.json(t, &page)
			for _, it := range page.Items {
				if seen[it.Username] || it.Role != "township_officer" {
					t.Fatalf("bad page item %+v", it)
				}
				seen[it.Username] = true
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
		}
		if len(seen) != 3 {
			t.Fatalf("listed %v, want u1..u3", seen)
		}
		r = a.do("GET", "/v1/users/"+u.Id.String(), admin, nil)
		if r.status != 200 {
			t.Fatalf("get: %d", r.status)
		}
	})
}
