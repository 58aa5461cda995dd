package auth

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

func TestNewActor(t *testing.T) {
	claims := Claims{UserID: "u1", Role: fieldwatch.RoleAdmin, IssuedAt: t0}
	user := func(role fieldwatch.Role, mod ...func(*fieldwatch.User)) fieldwatch.User {
		u := fieldwatch.User{ID: "u1", Role: role, Active: true, Townships: []string{"420101001"}, PasswordChangedAt: t0.Add(-time.Hour)}
		for _, m := range mod {
			m(&u)
		}
		return u
	}
	reaches := []string{"R-001"}
	tests := []struct {
		name      string
		u         fieldwatch.User
		want      fieldwatch.Actor
		errIsAuth bool
	}{
		{"OK_Inspector", user(fieldwatch.RoleInspector), fieldwatch.Actor{UserID: "u1", Role: fieldwatch.RoleInspector, Townships: []string{"420101001"}}, false},
		{"OK_Officer", user(fieldwatch.RoleTownshipOfficer), fieldwatch.Actor{UserID: "u1", Role: fieldwatch.RoleTownshipOfficer, Townships: []string{"420101001"}}, false},
		// A chief's scope is reaches; townships left on the row grant nothing.
		{"OK_RiverChief", user(fieldwatch.RoleRiverChief), fieldwatch.Actor{UserID: "u1", Role: fieldwatch.RoleRiverChief, Reaches: reaches}, false},
		{"OK_Admin", user(fieldwatch.RoleAdmin), fieldwatch.Actor{UserID: "u1", Role: fieldwatch.RoleAdmin}, false},
		// The token said admin; the store says inspector now. The store wins.
		{"OK_RoleFromStoreNotToken", user(fieldwatch.RoleInspector), fieldwatch.Actor{UserID: "u1", Role: fieldwatch.RoleInspector, Townships: []string{"420101001"}}, false},
		// Without a "cred" claim, iat's whole second cannot tell whether
		// the token came before or after a change in that second: refused.
		{"ErrUnauthenticated_PasswordChangedSameSecond", user(fieldwatch.RoleAdmin, func(u *fieldwatch.User) { u.PasswordChangedAt = t0.Add(300 * time.Millisecond) }), fieldwatch.Actor{}, true},
		{"ErrUnauthenticated_Inactive", user(fieldwatch.RoleAdmin, func(u *fieldwatch.User) { u.Active = false }), fieldwatch.Actor{}, true},
		{"ErrUnauthenticated_OtherUser", user(fieldwatch.RoleAdmin, func(u *fieldwatch.User) { u.ID = "u2" }), fieldwatch.Actor{}, true},
		{"ErrUnauthenticated_NoUser", fieldwatch.User{}, fieldwatch.Actor{}, true},
		{"ErrUnauthenticated_PasswordChanged", user(fieldwatch.RoleAdmin, func(u *fieldwatch.User) { u.PasswordChangedAt = t0.Add(time.Second) }), fieldwatch.Actor{}, true},
		{"ErrUnauthenticated_BadRole", user("root"), fieldwatch.Actor{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewActor(claims, tt.u, reaches)
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
				t.Errorf("actor = %+v, want %+v", p, tt.want)
			}
		})
	}
	// A token naming the password change it was issued under lives
	// exactly as long as that change is the latest (issue 13, defect 7).
	t.Run("Cred", func(t *testing.T) {
		changed := t0.Add(300 * time.Millisecond)
		withCred := claims
		withCred.PasswordChangedAt = changed
		if _, err := NewActor(withCred, user(fieldwatch.RoleAdmin, func(u *fieldwatch.User) { u.PasswordChangedAt = changed }), nil); err != nil {
			t.Errorf("issued after the change it names, same second: %v", err)
		}
		later := user(fieldwatch.RoleAdmin, func(u *fieldwatch.User) { u.PasswordChangedAt = changed.Add(time.Microsecond) })
		if _, err := NewActor(withCred, later, nil); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("a microsecond-later change: err = %v, want ErrUnauthenticated", err)
		}
	})
	t.Run("CopiesScope", func(t *testing.T) {
		u := user(fieldwatch.RoleInspector)
		p, _ := NewActor(claims, u, nil)
		u.Townships[0] = "999999999"
		if !p.EvidenceScope().Covers("420101001", "") {
			t.Error("actor shares its township slice with the user row")
		}
	})
}
