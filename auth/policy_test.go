package auth

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/inspect"
)

func TestNewPrincipal(t *testing.T) {
	claims := Claims{UserID: "u1", Role: inspect.RoleAdmin, IssuedAt: t0}
	user := func(role inspect.Role, mod ...func(*inspect.User)) inspect.User {
		u := inspect.User{ID: "u1", Role: role, Active: true, Townships: []string{"420101001"}, PasswordChangedAt: t0.Add(-time.Hour)}
		for _, m := range mod {
			m(&u)
		}
		return u
	}
	reaches := []string{"R-001"}
	tests := []struct {
		name      string
		u         inspect.User
		want      Principal
		errIsAuth bool
	}{
		{"OK_Inspector", user(inspect.RoleInspector), Principal{UserID: "u1", Role: inspect.RoleInspector, Townships: []string{"420101001"}}, false},
		{"OK_Officer", user(inspect.RoleTownshipOfficer), Principal{UserID: "u1", Role: inspect.RoleTownshipOfficer, Townships: []string{"420101001"}}, false},
		// A chief's scope is reaches; townships left on the row grant nothing.
		{"OK_RiverChief", user(inspect.RoleRiverChief), Principal{UserID: "u1", Role: inspect.RoleRiverChief, Reaches: reaches}, false},
		{"OK_Admin", user(inspect.RoleAdmin), Principal{UserID: "u1", Role: inspect.RoleAdmin}, false},
		// The token said admin; the store says inspector now. The store wins.
		{"OK_RoleFromStoreNotToken", user(inspect.RoleInspector), Principal{UserID: "u1", Role: inspect.RoleInspector, Townships: []string{"420101001"}}, false},
		// Without a "cred" claim, iat's whole second cannot tell whether
		// the token came before or after a change in that second: refused.
		{"ErrUnauthenticated_PasswordChangedSameSecond", user(inspect.RoleAdmin, func(u *inspect.User) { u.PasswordChangedAt = t0.Add(300 * time.Millisecond) }), Principal{}, true},
		{"ErrUnauthenticated_Inactive", user(inspect.RoleAdmin, func(u *inspect.User) { u.Active = false }), Principal{}, true},
		{"ErrUnauthenticated_OtherUser", user(inspect.RoleAdmin, func(u *inspect.User) { u.ID = "u2" }), Principal{}, true},
		{"ErrUnauthenticated_NoUser", inspect.User{}, Principal{}, true},
		{"ErrUnauthenticated_PasswordChanged", user(inspect.RoleAdmin, func(u *inspect.User) { u.PasswordChangedAt = t0.Add(time.Second) }), Principal{}, true},
		{"ErrUnauthenticated_BadRole", user("root"), Principal{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPrincipal(claims, tt.u, reaches)
			if tt.errIsAuth {
				if !errors.Is(err, ErrUnauthenticated) {
					t.Fatalf("err = %v, want ErrUnauthenticated", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.UserID != tt.want.UserID || p.Role != tt.want.Role ||
				!slices.Equal(p.Townships, tt.want.Townships) || !slices.Equal(p.Reaches, tt.want.Reaches) {
				t.Errorf("principal = %+v, want %+v", p, tt.want)
			}
		})
	}
	// A token naming the password change it was issued under lives
	// exactly as long as that change is the latest (issue 13, defect 7).
	t.Run("Cred", func(t *testing.T) {
		changed := t0.Add(300 * time.Millisecond)
		withCred := claims
		withCred.PasswordChangedAt = changed
		if _, err := NewPrincipal(withCred, user(inspect.RoleAdmin, func(u *inspect.User) { u.PasswordChangedAt = changed }), nil); err != nil {
			t.Errorf("issued after the change it names, same second: %v", err)
		}
		later := user(inspect.RoleAdmin, func(u *inspect.User) { u.PasswordChangedAt = changed.Add(time.Microsecond) })
		if _, err := NewPrincipal(withCred, later, nil); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("a microsecond-later change: err = %v, want ErrUnauthenticated", err)
		}
	})
	t.Run("CopiesScope", func(t *testing.T) {
		u := user(inspect.RoleInspector)
		p, _ := NewPrincipal(claims, u, nil)
		u.Townships[0] = "999999999"
		if !p.CanSeeTownship("420101001") {
			t.Error("principal shares its township slice with the user row")
		}
	})
}

func TestPrincipal_Scope(t *testing.T) {
	const (
		home, away   = "420101001", "420101002"
		mine, theirs = "R-001", "R-002"
	)
	principals := map[string]Principal{
		"admin":     {UserID: "a", Role: inspect.RoleAdmin},
		"inspector": {UserID: "i", Role: inspect.RoleInspector, Townships: []string{home}},
		"officer":   {UserID: "o", Role: inspect.RoleTownshipOfficer, Townships: []string{home}},
		"chief":     {UserID: "c", Role: inspect.RoleRiverChief, Reaches: []string{mine}},
		"zero":      {},
	}
	tests := []struct {
		who            string
		township       string
		reach          string
		seeTownship    bool
		seeReach       bool
		seePlace       bool
		isAdmin        bool
		isFieldWorkers bool // inspector or river chief
	}{
		{"admin", away, theirs, true, true, true, true, false},
		{"admin", "", "", true, true, true, true, false},
		{"inspector", home, "", true, false, true, false, true},
		{"inspector", away, "", false, false, false, false, true},
		{"inspector", away, mine, false, false, false, false, true},
		{"inspector", "", "", false, false, false, false, true},
		{"officer", home, theirs, true, false, true, false, false},
		{"officer", away, theirs, false, false, false, false, false},
		{"chief", away, mine, false, true, true, false, true},
		{"chief", home, theirs, false, false, false, false, true},
		{"chief", "", "", false, false, false, false, true},
		{"zero", home, mine, false, false, false, false, false},
		{"zero", "", "", false, false, false, false, false},
	}
	for _, tt := range tests {
		name := tt.who + "/" + tt.township + "/" + tt.reach
		t.Run(name, func(t *testing.T) {
			p := principals[tt.who]
			if got := p.CanSeeTownship(tt.township); got != tt.seeTownship {
				t.Errorf("CanSeeTownship(%q) = %v", tt.township, got)
			}
			if got := p.CanSeeReach(tt.reach); got != tt.seeReach {
				t.Errorf("CanSeeReach(%q) = %v", tt.reach, got)
			}
			if got := p.CanSee(tt.township, tt.reach); got != tt.seePlace {
				t.Errorf("CanSee(%q, %q) = %v", tt.township, tt.reach, got)
			}
			if got := p.Is(inspect.RoleAdmin); got != tt.isAdmin {
				t.Errorf("Is(admin) = %v", got)
			}
			if got := p.Is(inspect.RoleInspector, inspect.RoleRiverChief); got != tt.isFieldWorkers {
				t.Errorf("Is(inspector, river_chief) = %v", got)
			}
		})
	}
	t.Run("IsNothing", func(t *testing.T) {
		if principals["admin"].Is() {
			t.Error("Is() with no roles = true")
		}
		if (Principal{Role: "root"}).Is("root") {
			t.Error("an unknown role passed Is")
		}
	})
}
