package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/store"
)

// testCredentials checks that a password change ends the sessions of the
// old password in the store itself: families started on the old hash
// cannot be started after it, families begun before it cannot grow, and
// its tokens are revoked with it (issue 13, defect 7).
func testCredentials(t *testing.T, s *store.Store) {
	ctx := t.Context()
	expires := Clock().Add(30 * 24 * time.Hour)
	newUser := func(t *testing.T, name string) fieldwatch.User {
		t.Helper()
		return mustCreateUser(t, s, fieldwatch.User{Username: "cred." + name, PasswordHash: "$argon2id$old", Active: true})
	}

	t.Run("StartRefreshFamily", func(t *testing.T) {
		u := newUser(t, "start")
		if err := s.StartRefreshFamily(ctx, fieldwatch.RefreshToken{UserID: u.ID, Hash: hash("cred.start.ok"), ExpiresAt: expires}, "$argon2id$old"); err != nil {
			t.Fatalf("StartRefreshFamily with the current hash: %v", err)
		}
		if err := s.StartRefreshFamily(ctx, fieldwatch.RefreshToken{UserID: u.ID, Hash: hash("cred.start.other"), ExpiresAt: expires}, "$argon2id$other"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("StartRefreshFamily with another hash = %v, want ErrNotFound", err)
		}
		if _, err := s.RefreshTokenByHash(ctx, hash("cred.start.other")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("refused family was stored: %v", err)
		}
		inactive := mustCreateUser(t, s, fieldwatch.User{Username: "cred.inactive", PasswordHash: "$argon2id$old"})
		if err := s.StartRefreshFamily(ctx, fieldwatch.RefreshToken{UserID: inactive.ID, Hash: hash("cred.start.inactive"), ExpiresAt: expires}, "$argon2id$old"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("StartRefreshFamily for an inactive user = %v, want ErrNotFound", err)
		}
	})

	t.Run("PasswordChange", func(t *testing.T) {
		u := newUser(t, "change")
		family := uuid.NewString()
		first := fieldwatch.RefreshToken{FamilyID: family, UserID: u.ID, Hash: hash("cred.change.1"), ExpiresAt: expires}
		if err := s.StartRefreshFamily(ctx, first, "$argon2id$old"); err != nil {
			t.Fatal(err)
		}
		// A rotation before the change is fine.
		mustInsertToken(t, s, fieldwatch.RefreshToken{FamilyID: family, UserID: u.ID, Hash: hash("cred.change.2"), ExpiresAt: expires})

		at := Clock().Add(time.Hour)
		if err := s.SetPasswordHash(ctx, u.ID, "$argon2id$new", at); err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"cred.change.1", "cred.change.2"} {
			if got := mustTokenByHash(t, s, hash(h)); got.RevokedAt == nil {
				t.Errorf("token %s of the old password not revoked by the change", h)
			}
		}
		// A refresh that read the family before the change cannot add to it.
		err := s.InsertRefreshToken(ctx, fieldwatch.RefreshToken{FamilyID: family, UserID: u.ID, Hash: hash("cred.change.3"), ExpiresAt: expires})
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rotation of an old-password family after the change = %v, want ErrNotFound", err)
		}
		// Nor can a login that verified the old hash start one.
		if err := s.StartRefreshFamily(ctx, fieldwatch.RefreshToken{UserID: u.ID, Hash: hash("cred.change.login"), ExpiresAt: expires}, "$argon2id$old"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("login on the old hash after the change = %v, want ErrNotFound", err)
		}
		// Sessions of the new password work as before.
		fresh := uuid.NewString()
		if err := s.StartRefreshFamily(ctx, fieldwatch.RefreshToken{FamilyID: fresh, UserID: u.ID, Hash: hash("cred.change.new1"), ExpiresAt: expires}, "$argon2id$new"); err != nil {
			t.Fatal(err)
		}
		mustInsertToken(t, s, fieldwatch.RefreshToken{FamilyID: fresh, UserID: u.ID, Hash: hash("cred.change.new2"), ExpiresAt: expires})

		// Change times strictly increase, even for a change at the same
		// instant: access tokens name the change they were issued under.
		before := mustUserByID(t, s, u.ID).PasswordChangedAt
		if err := s.SetPasswordHash(ctx, u.ID, "$argon2id$newer", at); err != nil {
			t.Fatal(err)
		}
		if after := mustUserByID(t, s, u.ID).PasswordChangedAt; !after.After(before) {
			t.Errorf("PasswordChangedAt %v after a second change at the same instant, want after %v", after, before)
		}
	})

	t.Run("RehashIsNotAChange", func(t *testing.T) {
		u := newUser(t, "rehash")
		family := uuid.NewString()
		if err := s.StartRefreshFamily(ctx, fieldwatch.RefreshToken{FamilyID: family, UserID: u.ID, Hash: hash("cred.rehash.1"), ExpiresAt: expires}, "$argon2id$old"); err != nil {
			t.Fatal(err)
		}
		if err := s.RehashPassword(ctx, u.ID, "$argon2id$old", "$argon2id$stronger"); err != nil {
			t.Fatal(err)
		}
		mustInsertToken(t, s, fieldwatch.RefreshToken{FamilyID: family, UserID: u.ID, Hash: hash("cred.rehash.2"), ExpiresAt: expires})
	})
}
