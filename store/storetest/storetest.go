// Package storetest is the contract every store backend must pass. A
// backend's test calls Run with a function that opens a fresh, empty,
// unmigrated store of that backend; the suite migrates it itself.
//
// The suite runs against real databases only: a behaviour that holds on
// SQLite but not on PostgreSQL (or the reverse) is a bug in package store,
// whatever the application above it does.
package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/store"
)

// Clock is the fixed clock the suite expects open to install with
// store.WithClock, so that defaulted timestamps are known.
func Clock() time.Time {
	return time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)
}

// Run runs the contract suite. open must return a new store on an empty
// database, opened with store.WithClock(Clock), and close it when t ends.
// Run opens several: one per group of subtests that needs its own data.
func Run(t *testing.T, open func(t *testing.T) *store.Store) {
	t.Run("Migrate", func(t *testing.T) { testMigrate(t, open(t)) })

	// Most subtests share one store and keep to their own usernames and
	// tokens: every fresh PostgreSQL database costs a CREATE EXTENSION.
	shared := migrated(t, open(t))
	t.Run("Ping", func(t *testing.T) {
		if err := shared.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})
	t.Run("Users", func(t *testing.T) { testUsers(t, shared) })
	t.Run("RefreshTokens", func(t *testing.T) { testRefreshTokens(t, shared) })
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, shared) })
	t.Run("TimePrecision", func(t *testing.T) { testTimePrecision(t, shared) })
	t.Run("InvalidText", func(t *testing.T) { testInvalidText(t, shared) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrentWriters(t, shared) })
	t.Run("Submissions", func(t *testing.T) { testSubmissions(t, shared) })
	t.Run("ObjectOwnership", func(t *testing.T) { testObjectOwnership(t, shared) })
	t.Run("Evidence", func(t *testing.T) { testEvidence(t, shared) })
	t.Run("Responsibility", func(t *testing.T) { testResponsibility(t, shared) })

	// Listing and counting need to know every row.
	t.Run("ListUsers", func(t *testing.T) { testListUsers(t, migrated(t, open(t))) })
	t.Run("ListEvidence", func(t *testing.T) { testListEvidence(t, migrated(t, open(t))) })
	// Imports replace the whole set of townships or reaches.
	t.Run("Geography", func(t *testing.T) { testGeography(t, migrated(t, open(t))) })
	// The total upload cap counts every session.
	t.Run("Uploads", func(t *testing.T) { testUploads(t, migrated(t, open(t))) })
	t.Run("ThumbnailTries", func(t *testing.T) { testThumbnailTries(t, migrated(t, open(t))) })
	// The audit trail is numbered from the first write on.
	t.Run("Audit", func(t *testing.T) { testAudit(t, open) })
	t.Run("Cases", func(t *testing.T) { testCases(t, open) })
	t.Run("Patrols", func(t *testing.T) { testPatrols(t, open) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, migrated(t, open(t))) })
	t.Run("Enumerations", func(t *testing.T) { testEnumerations(t, migrated(t, open(t))) })
}

func migrated(t *testing.T, s *store.Store) *store.Store {
	t.Helper()
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// hash returns a distinct valid token hash per seed.
func hash(seed string) []byte {
	h := sha256.Sum256([]byte(seed))
	return h[:]
}

func mustCreateUser(t *testing.T, s *store.Store, u fieldwatch.User) fieldwatch.User {
	t.Helper()
	if u.Role == "" {
		u.Role = fieldwatch.RoleInspector
	}
	if err := s.CreateUser(t.Context(), &u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Username, err)
	}
	return u
}

func mustUserByID(t *testing.T, s *store.Store, id string) fieldwatch.User {
	t.Helper()
	u, err := s.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID(%s): %v", id, err)
	}
	return u
}

func mustInsertToken(t *testing.T, s *store.Store, tok fieldwatch.RefreshToken) {
	t.Helper()
	if err := s.InsertRefreshToken(t.Context(), tok); err != nil {
		t.Fatalf("InsertRefreshToken: %v", err)
	}
}

func mustTokenByHash(t *testing.T, s *store.Store, h []byte) fieldwatch.RefreshToken {
	t.Helper()
	tok, err := s.RefreshTokenByHash(t.Context(), h)
	if err != nil {
		t.Fatalf("RefreshTokenByHash: %v", err)
	}
	return tok
}

// sameUser compares field by field so that a failure names the field.
// Times must be equal instants and in UTC.
func sameUser(t *testing.T, got, want fieldwatch.User) {
	t.Helper()
	for _, tm := range []time.Time{got.CreatedAt, got.UpdatedAt, got.PasswordChangedAt} {
		if tm.Location() != time.UTC {
			t.Errorf("time %v is in %v, want UTC", tm, tm.Location())
		}
	}
	if !reflect.DeepEqual(got, want) {
		gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
		for i := range gv.NumField() {
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				t.Errorf("%s = %#v, want %#v", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
			}
		}
	}
}

func testMigrate(t *testing.T, s *store.Store) {
	ctx := t.Context()
	v, err := s.Version(ctx)
	if err != nil || v != 0 {
		t.Fatalf("Version before Migrate = %d, %v; want 0, nil", v, err)
	}
	applied, err := s.Migrate(ctx)
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if len(applied) == 0 || applied[0] != 1 || !slices.IsSorted(applied) {
		t.Fatalf("Migrate applied %v, want ascending versions from 1", applied)
	}
	latest := applied[len(applied)-1]
	if v, err := s.Version(ctx); err != nil || v != latest {
		t.Fatalf("Version = %d, %v; want %d", v, err, latest)
	}
	again, err := s.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate = %v, %v; want nothing applied", again, err)
	}
	if v, err := s.Version(ctx); err != nil || v != latest {
		t.Fatalf("Version after second Migrate = %d, %v; want %d", v, err, latest)
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("CountUsers on a new database = %d, %v", n, err)
	}
}

func testUsers(t *testing.T, s *store.Store) {
	t.Run("Create", func(t *testing.T) {
		created := time.Date(2024, 11, 2, 8, 0, 0, 123456000, time.UTC)
		fixedID := uuid.New()
		tests := []struct {
			name string
			in   fieldwatch.User
			want func(got fieldwatch.User) fieldwatch.User // the expected user, given the created one
		}{
			{
				name: "Minimal",
				in:   fieldwatch.User{Username: "create.minimal", Role: fieldwatch.RoleInspector},
				want: func(got fieldwatch.User) fieldwatch.User {
					return fieldwatch.User{ID: got.ID, Username: "create.minimal", Role: fieldwatch.RoleInspector,
						Townships: []string{}, CreatedAt: Clock(), UpdatedAt: Clock()}
				},
			},
			{
				name: "Full",
				in: fieldwatch.User{Username: "create.full", DisplayName: "Full Name", Phone: "+86 138 0000 0000",
					Role: fieldwatch.RoleTownshipOfficer, Active: true, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
					Townships: []string{"130102003", "130102001", "130102003"}, CreatedAt: created},
				want: func(got fieldwatch.User) fieldwatch.User {
					return fieldwatch.User{ID: got.ID, Username: "create.full", DisplayName: "Full Name", Phone: "+86 138 0000 0000",
						Role: fieldwatch.RoleTownshipOfficer, Active: true, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
						Townships: []string{"130102001", "130102003"}, CreatedAt: created, UpdatedAt: created, PasswordChangedAt: created}
				},
			},
			{
				name: "GivenIDIsCanonicalised",
				in:   fieldwatch.User{ID: strings.ToUpper(fixedID.String()), Username: "create.given.id", Role: fieldwatch.RoleAdmin},
				want: func(got fieldwatch.User) fieldwatch.User {
					return fieldwatch.User{ID: fixedID.String(), Username: "create.given.id", Role: fieldwatch.RoleAdmin,
						Townships: []string{}, CreatedAt: Clock(), UpdatedAt: Clock()}
				},
			},
			{
				name: "UsernameNFC",
				in:   fieldwatch.User{Username: "jose\u0301.create", Role: fieldwatch.RoleRiverChief},
				want: func(got fieldwatch.User) fieldwatch.User {
					return fieldwatch.User{ID: got.ID, Username: "jos\u00e9.create", Role: fieldwatch.RoleRiverChief,
						Townships: []string{}, CreatedAt: Clock(), UpdatedAt: Clock()}
				},
			},
			{
				name: "CJKCompatibilityIdeographNFC",
				in:   fieldwatch.User{Username: "\uf900create", Role: fieldwatch.RoleInspector},
				want: func(got fieldwatch.User) fieldwatch.User {
					return fieldwatch.User{ID: got.ID, Username: "\u8c48create", Role: fieldwatch.RoleInspector,
						Townships: []string{}, CreatedAt: Clock(), UpdatedAt: Clock()}
				},
			},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := tc.in
				if err := s.CreateUser(t.Context(), &u); err != nil {
					t.Fatalf("CreateUser: %v", err)
				}
				if _, err := uuid.Parse(u.ID); err != nil {
					t.Fatalf("ID %q is not a UUID", u.ID)
				}
				want := tc.want(u)
				sameUser(t, u, want)
				sameUser(t, mustUserByID(t, s, u.ID), want)
				byName, err := s.UserByUsername(t.Context(), tc.in.Username)
				if err != nil {
					t.Fatalf("UserByUsername(%q): %v", tc.in.Username, err)
				}
				sameUser(t, byName, want)
			})
		}
	})

	t.Run("UsernameLookupFoldsASCIICase", func(t *testing.T) {
		u := mustCreateUser(t, s, fieldwatch.User{Username: "Wang.Lookup"})
		for _, name := range []string{"Wang.Lookup", "wang.lookup", "WANG.LOOKUP"} {
			got, err := s.UserByUsername(t.Context(), name)
			if err != nil || got.ID != u.ID || got.Username != "Wang.Lookup" {
				t.Errorf("UserByUsername(%q) = %q %q, %v; want %s", name, got.ID, got.Username, err, u.ID)
			}
		}
	})

	t.Run("DuplicateUsername", func(t *testing.T) {
		for _, name := range []string{"dup.wang", "zo\u00eb.dup", "王芳"} {
			mustCreateUser(t, s, fieldwatch.User{Username: name})
		}
		tests := []struct{ name, username string }{
			{"Same", "dup.wang"},
			{"ASCIICase", "Dup.WANG"},
			{"NFDOfStoredNFC", "zoe\u0308.dup"},
			{"Chinese", "王芳"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := fieldwatch.User{Username: tc.username, Role: fieldwatch.RoleInspector}
				err := s.CreateUser(t.Context(), &u)
				if !errors.Is(err, store.ErrConflict) {
					t.Fatalf("CreateUser(%q) = %v, want ErrConflict", tc.username, err)
				}
				if u.ID != "" {
					t.Errorf("failed CreateUser set ID %q", u.ID)
				}
			})
		}
		t.Run("SameID", func(t *testing.T) {
			first := mustCreateUser(t, s, fieldwatch.User{Username: "dup.id.first"})
			u := fieldwatch.User{ID: first.ID, Username: "dup.id.second", Role: fieldwatch.RoleInspector}
			if err := s.CreateUser(t.Context(), &u); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("CreateUser with a taken ID = %v, want ErrConflict", err)
			}
			if _, err := s.UserByUsername(t.Context(), "dup.id.second"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("the rejected user is visible: %v", err)
			}
		})
	})

	t.Run("NotFound", func(t *testing.T) {
		unknown := uuid.NewString()
		tests := []struct {
			name string
			call func() error
		}{
			{"UserByIDUnknown", func() error { _, err := s.UserByID(t.Context(), unknown); return err }},
			{"UserByIDNotUUID", func() error { _, err := s.UserByID(t.Context(), "42; DROP TABLE users"); return err }},
			{"UserByIDEmpty", func() error { _, err := s.UserByID(t.Context(), ""); return err }},
			{"UserByUsername", func() error { _, err := s.UserByUsername(t.Context(), "nobody.here"); return err }},
			{"UpdateUser", func() error {
				_, err := s.UpdateUser(t.Context(), unknown, fieldwatch.UserPatch{DisplayName: ptr("x")}, Clock())
				return err
			}},
			{"UpdateUserEmptyPatch", func() error {
				_, err := s.UpdateUser(t.Context(), unknown, fieldwatch.UserPatch{}, Clock())
				return err
			}},
			{"SetPasswordHash", func() error { return s.SetPasswordHash(t.Context(), unknown, "$argon2id$x", Clock()) }},
			{"RefreshTokenByHash", func() error { _, err := s.RefreshTokenByHash(t.Context(), hash("unknown")); return err }},
			{"RefreshTokenByShortHash", func() error { _, err := s.RefreshTokenByHash(t.Context(), []byte("short")); return err }},
			{"SpendRefreshToken", func() error { _, err := s.SpendRefreshToken(t.Context(), unknown, Clock()); return err }},
			{"InsertRefreshTokenUnknownUser", func() error {
				return s.InsertRefreshToken(t.Context(), fieldwatch.RefreshToken{UserID: unknown, Hash: hash("nf-user"),
					ExpiresAt: Clock().Add(time.Hour)})
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.call(); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("got %v, want ErrNotFound", err)
				}
			})
		}
	})

	t.Run("Update", func(t *testing.T) {
		at := Clock().Add(90 * time.Minute)
		tests := []struct {
			name  string
			patch fieldwatch.UserPatch
			apply func(u *fieldwatch.User) // the expected effect, besides UpdatedAt
		}{
			{"DisplayName", fieldwatch.UserPatch{DisplayName: ptr("New Name")}, func(u *fieldwatch.User) { u.DisplayName = "New Name" }},
			{"ChineseDisplayName", fieldwatch.UserPatch{DisplayName: ptr("李河长（城关镇）")}, func(u *fieldwatch.User) { u.DisplayName = "李河长（城关镇）" }},
			{"PhoneCleared", fieldwatch.UserPatch{Phone: ptr("")}, func(u *fieldwatch.User) { u.Phone = "" }},
			{"RoleAndActive", fieldwatch.UserPatch{Role: ptr(fieldwatch.RoleAdmin), Active: ptr(false)},
				func(u *fieldwatch.User) { u.Role = fieldwatch.RoleAdmin; u.Active = false }},
			{"TownshipsReplaced", fieldwatch.UserPatch{Townships: &[]string{"130102009", "130102001", "130102009"}},
				func(u *fieldwatch.User) { u.Townships = []string{"130102001", "130102009"} }},
			{"TownshipsCleared", fieldwatch.UserPatch{Townships: &[]string{}}, func(u *fieldwatch.User) { u.Townships = []string{} }},
			{"TownshipsWithOtherFields", fieldwatch.UserPatch{Townships: &[]string{"130102005"}, DisplayName: ptr("Both")},
				func(u *fieldwatch.User) { u.Townships = []string{"130102005"}; u.DisplayName = "Both" }},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				orig := mustCreateUser(t, s, fieldwatch.User{Username: fmt.Sprintf("update.%d", i), DisplayName: "Old",
					Phone: "13800000000", Role: fieldwatch.RoleInspector, Active: true, Townships: []string{"130102001", "130102002"}})
				got, err := s.UpdateUser(t.Context(), orig.ID, tc.patch, at)
				if err != nil {
					t.Fatalf("UpdateUser: %v", err)
				}
				want := orig
				tc.apply(&want)
				want.UpdatedAt = at
				sameUser(t, got, want)
				sameUser(t, mustUserByID(t, s, orig.ID), want)
			})
		}
		t.Run("EmptyPatchChangesNothing", func(t *testing.T) {
			orig := mustCreateUser(t, s, fieldwatch.User{Username: "update.empty", Townships: []string{"130102001"}})
			got, err := s.UpdateUser(t.Context(), orig.ID, fieldwatch.UserPatch{}, at)
			if err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			sameUser(t, got, orig)
		})
	})

	t.Run("SetPasswordHash", func(t *testing.T) {
		u := mustCreateUser(t, s, fieldwatch.User{Username: "password.set", PasswordHash: "$argon2id$old"})
		at := Clock().Add(24 * time.Hour)
		if err := s.SetPasswordHash(t.Context(), u.ID, "$argon2id$new", at); err != nil {
			t.Fatalf("SetPasswordHash: %v", err)
		}
		want := u
		want.PasswordHash, want.PasswordChangedAt, want.UpdatedAt = "$argon2id$new", at, at
		sameUser(t, mustUserByID(t, s, u.ID), want)
		if err := s.SetPasswordHash(t.Context(), u.ID, "", at); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Fatalf("SetPasswordHash(empty) = %v, want fieldwatch.ErrInvalid", err)
		}
	})

	t.Run("RehashPassword", func(t *testing.T) {
		u := mustCreateUser(t, s, fieldwatch.User{Username: "password.rehash", PasswordHash: "$argon2id$weak"})
		if err := s.RehashPassword(t.Context(), u.ID, "$argon2id$weak", "$argon2id$strong"); err != nil {
			t.Fatalf("RehashPassword: %v", err)
		}
		// A rehash is not a password change: sessions stay valid.
		want := u
		want.PasswordHash = "$argon2id$strong"
		sameUser(t, mustUserByID(t, s, u.ID), want)
		// Lost race: the hash changed meanwhile; nothing is written.
		if err := s.RehashPassword(t.Context(), u.ID, "$argon2id$weak", "$argon2id$other"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("stale RehashPassword = %v, want ErrNotFound", err)
		}
		sameUser(t, mustUserByID(t, s, u.ID), want)
	})

	t.Run("ChineseRoundTrip", func(t *testing.T) {
		tests := []struct{ name, username, display string }{
			{"Simplified", "张伟", "张伟（城关镇网格员）"},
			{"MixedASCII", "河长_li.na", "李娜 · 县级河长"},
			{"SupplementaryPlane", "𠮷野家", "𠮷野家 𩸽"},
			{"CompatibilityIdeographInDisplayNameKept", "compat.display", "\uf900\uf901 兼容"},
			{"Long", strings.Repeat("滹沱河", 20), strings.Repeat("扬尘治理", 50)},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				u := mustCreateUser(t, s, fieldwatch.User{Username: tc.username, DisplayName: tc.display, Phone: "电话 0311"})
				for _, got := range []fieldwatch.User{mustUserByID(t, s, u.ID)} {
					if got.Username != tc.username || got.DisplayName != tc.display || got.Phone != "电话 0311" {
						t.Errorf("round trip = %q / %q / %q", got.Username, got.DisplayName, got.Phone)
					}
				}
				got, err := s.UserByUsername(t.Context(), tc.username)
				if err != nil || got.ID != u.ID {
					t.Errorf("UserByUsername(%q) = %v, %v", tc.username, got.ID, err)
				}
			})
		}
	})
}

func testInvalidText(t *testing.T, s *store.Store) {
	victim := mustCreateUser(t, s, fieldwatch.User{Username: "invalid.victim", DisplayName: "unchanged"})
	create := func(u fieldwatch.User) func() error {
		return func() error {
			if u.Role == "" {
				u.Role = fieldwatch.RoleInspector
			}
			return s.CreateUser(t.Context(), &u)
		}
	}
	update := func(p fieldwatch.UserPatch) func() error {
		return func() error { _, err := s.UpdateUser(t.Context(), victim.ID, p, Clock()); return err }
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"CreateUsernameInvalidUTF8", create(fieldwatch.User{Username: "bad\xff"})},
		{"CreateUsernameNUL", create(fieldwatch.User{Username: "bad\x00name"})},
		{"CreateUsernameEmpty", create(fieldwatch.User{Username: ""})},
		{"CreateDisplayNameInvalidUTF8", create(fieldwatch.User{Username: "ok.1", DisplayName: "\xc3\x28"})},
		{"CreateDisplayNameNUL", create(fieldwatch.User{Username: "ok.2", DisplayName: "张\x00伟"})},
		{"CreatePhoneNUL", create(fieldwatch.User{Username: "ok.3", Phone: "138\x00"})},
		{"CreatePasswordHashInvalidUTF8", create(fieldwatch.User{Username: "ok.4", PasswordHash: "\xed\xa0\x80"})},
		{"CreateTownshipNUL", create(fieldwatch.User{Username: "ok.5", Townships: []string{"1301\x00"}})},
		{"CreateTownshipInvalidUTF8", create(fieldwatch.User{Username: "ok.6", Townships: []string{"\xff"}})},
		{"CreateUnknownRole", create(fieldwatch.User{Username: "ok.7", Role: "superuser"})},
		{"CreateIDNotUUID", create(fieldwatch.User{Username: "ok.8", ID: "not-a-uuid"})},
		{"CreateTimeOutOfRange", create(fieldwatch.User{Username: "ok.9", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})},
		{"UpdateDisplayNameInvalidUTF8", update(fieldwatch.UserPatch{DisplayName: ptr("\xff\xfe")})},
		{"UpdatePhoneNUL", update(fieldwatch.UserPatch{Phone: ptr("\x00")})},
		{"UpdateTownshipNUL", update(fieldwatch.UserPatch{Townships: &[]string{"ok", "\x00"}})},
		{"UpdateUnknownRole", update(fieldwatch.UserPatch{Role: ptr(fieldwatch.Role("root"))})},
		{"LookupUsernameInvalidUTF8", func() error { _, err := s.UserByUsername(t.Context(), "\xff"); return err }},
		{"LookupUsernameNUL", func() error { _, err := s.UserByUsername(t.Context(), "a\x00"); return err }},
		{"ListAfterNUL", func() error { _, err := s.ListUsers(t.Context(), fieldwatch.UserFilter{After: "\x00"}); return err }},
		{"ListUnknownRole", func() error {
			_, err := s.ListUsers(t.Context(), fieldwatch.UserFilter{Role: ptr(fieldwatch.Role("x"))})
			return err
		}},
		{"SetPasswordHashNUL", func() error { return s.SetPasswordHash(t.Context(), victim.ID, "$argon2id\x00", Clock()) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, fieldwatch.ErrInvalid) {
				t.Fatalf("got %v, want an error wrapping fieldwatch.ErrInvalid", err)
			}
			if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrConflict) {
				t.Fatalf("invalid input classified as a database failure: %v", err)
			}
		})
	}
	sameUser(t, mustUserByID(t, s, victim.ID), victim)
	for _, name := range []string{"ok.1", "ok.2", "ok.3", "ok.4", "ok.5", "ok.6", "ok.7", "ok.8", "ok.9"} {
		if _, err := s.UserByUsername(t.Context(), name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("rejected user %q was stored (%v)", name, err)
		}
	}
}

func testRefreshTokens(t *testing.T, s *store.Store) {
	user := func(t *testing.T, name string) fieldwatch.User {
		t.Helper()
		return mustCreateUser(t, s, fieldwatch.User{Username: "rt." + name})
	}
	created := Clock()
	expires := created.Add(30 * 24 * time.Hour)

	t.Run("InsertAndLookup", func(t *testing.T) {
		u := user(t, "lookup")
		tok := fieldwatch.RefreshToken{ID: uuid.NewString(), FamilyID: uuid.NewString(), UserID: u.ID,
			Hash: hash("lookup"), CreatedAt: created, ExpiresAt: expires}
		mustInsertToken(t, s, tok)
		got := mustTokenByHash(t, s, tok.Hash)
		if !reflect.DeepEqual(got, tok) {
			t.Fatalf("RefreshTokenByHash = %+v, want %+v", got, tok)
		}
	})

	t.Run("Defaults", func(t *testing.T) {
		u := user(t, "defaults")
		mustInsertToken(t, s, fieldwatch.RefreshToken{UserID: u.ID, Hash: hash("defaults"), ExpiresAt: expires})
		got := mustTokenByHash(t, s, hash("defaults"))
		if _, err := uuid.Parse(got.ID); err != nil {
			t.Errorf("ID %q is not a UUID", got.ID)
		}
		if got.FamilyID != got.ID {
			t.Errorf("FamilyID = %q, want the token's ID %q (a new family)", got.FamilyID, got.ID)
		}
		if !got.CreatedAt.Equal(Clock()) || got.UserID != u.ID || got.SpentAt != nil || got.RevokedAt != nil {
			t.Errorf("defaults = %+v", got)
		}
	})

	t.Run("Rejected", func(t *testing.T) {
		u := user(t, "rejected")
		taken := fieldwatch.RefreshToken{ID: uuid.NewString(), UserID: u.ID, Hash: hash("taken"), ExpiresAt: expires}
		mustInsertToken(t, s, taken)
		tests := []struct {
			name string
			tok  fieldwatch.RefreshToken
			want error
		}{
			{"DuplicateHash", fieldwatch.RefreshToken{UserID: u.ID, Hash: hash("taken"), ExpiresAt: expires}, store.ErrConflict},
			{"DuplicateID", fieldwatch.RefreshToken{ID: taken.ID, UserID: u.ID, Hash: hash("other"), ExpiresAt: expires}, store.ErrConflict},
			{"ShortHash", fieldwatch.RefreshToken{UserID: u.ID, Hash: hash("x")[:31], ExpiresAt: expires}, fieldwatch.ErrInvalid},
			{"NoExpiry", fieldwatch.RefreshToken{UserID: u.ID, Hash: hash("noexp")}, fieldwatch.ErrInvalid},
			{"IDNotUUID", fieldwatch.RefreshToken{ID: "abc", UserID: u.ID, Hash: hash("badid"), ExpiresAt: expires}, fieldwatch.ErrInvalid},
			{"FamilyNotUUID", fieldwatch.RefreshToken{FamilyID: "abc", UserID: u.ID, Hash: hash("badfam"), ExpiresAt: expires}, fieldwatch.ErrInvalid},
			{"UnknownUser", fieldwatch.RefreshToken{UserID: uuid.NewString(), Hash: hash("nouser"), ExpiresAt: expires}, store.ErrNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if err := s.InsertRefreshToken(t.Context(), tc.tok); !errors.Is(err, tc.want) {
					t.Fatalf("InsertRefreshToken = %v, want %v", err, tc.want)
				}
			})
		}
	})

	t.Run("SpendOnce", func(t *testing.T) {
		u := user(t, "spend")
		tok := fieldwatch.RefreshToken{ID: uuid.NewString(), UserID: u.ID, Hash: hash("spend"), CreatedAt: created, ExpiresAt: expires}
		mustInsertToken(t, s, tok)
		at := created.Add(time.Hour)
		for i, want := range []bool{true, false, false} {
			ok, err := s.SpendRefreshToken(t.Context(), tok.ID, at.Add(time.Duration(i)*time.Minute))
			if err != nil || ok != want {
				t.Fatalf("spend #%d = %v, %v; want %v", i+1, ok, err, want)
			}
		}
		got := mustTokenByHash(t, s, tok.Hash)
		if got.SpentAt == nil || !got.SpentAt.Equal(at) {
			t.Fatalf("SpentAt = %v, want the first spend %v", got.SpentAt, at)
		}
	})

	t.Run("ConcurrentSpendOneWins", func(t *testing.T) {
		u := user(t, "race")
		tok := fieldwatch.RefreshToken{ID: uuid.NewString(), UserID: u.ID, Hash: hash("race"), CreatedAt: created, ExpiresAt: expires}
		mustInsertToken(t, s, tok)
		const n = 16
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
			errs []error
		)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				ok, err := s.SpendRefreshToken(t.Context(), tok.ID, created.Add(time.Duration(i+1)*time.Second))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				if ok {
					wins++
				}
			})
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 || wins != 1 {
			t.Fatalf("%d of %d concurrent spends won (errors: %v), want exactly 1", wins, n, errs)
		}
	})

	t.Run("RevokeFamily", func(t *testing.T) {
		u := user(t, "family")
		fam, other := uuid.NewString(), uuid.NewString()
		for i := range 3 {
			mustInsertToken(t, s, fieldwatch.RefreshToken{FamilyID: fam, UserID: u.ID, Hash: hash(fmt.Sprint("fam", i)), CreatedAt: created, ExpiresAt: expires})
		}
		mustInsertToken(t, s, fieldwatch.RefreshToken{FamilyID: other, UserID: u.ID, Hash: hash("fam-other"), CreatedAt: created, ExpiresAt: expires})
		at := created.Add(2 * time.Hour)
		if err := s.RevokeRefreshFamily(t.Context(), fam, at); err != nil {
			t.Fatalf("RevokeRefreshFamily: %v", err)
		}
		// A second revocation keeps the first time: it records when the
		// family was compromised.
		if err := s.RevokeRefreshFamily(t.Context(), fam, at.Add(time.Hour)); err != nil {
			t.Fatalf("RevokeRefreshFamily again: %v", err)
		}
		for i := range 3 {
			got := mustTokenByHash(t, s, hash(fmt.Sprint("fam", i)))
			if got.RevokedAt == nil || !got.RevokedAt.Equal(at) {
				t.Errorf("token %d RevokedAt = %v, want %v", i, got.RevokedAt, at)
			}
			if ok, err := s.SpendRefreshToken(t.Context(), got.ID, at.Add(time.Minute)); ok || err != nil {
				t.Errorf("revoked token %d spent: %v, %v", i, ok, err)
			}
		}
		got := mustTokenByHash(t, s, hash("fam-other"))
		if got.RevokedAt != nil {
			t.Errorf("other family revoked at %v", got.RevokedAt)
		}
		if ok, err := s.SpendRefreshToken(t.Context(), got.ID, at); !ok || err != nil {
			t.Errorf("other family's token not spendable: %v, %v", ok, err)
		}
		for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
			if err := s.RevokeRefreshFamily(t.Context(), id, at); err != nil {
				t.Errorf("RevokeRefreshFamily(%q) = %v, want nil", id, err)
			}
		}
	})

	t.Run("RevokeUser", func(t *testing.T) {
		a, b := user(t, "revoke.a"), user(t, "revoke.b")
		for i, owner := range []fieldwatch.User{a, a, b} {
			mustInsertToken(t, s, fieldwatch.RefreshToken{UserID: owner.ID, Hash: hash(fmt.Sprint("ru", i)), CreatedAt: created, ExpiresAt: expires})
		}
		at := created.Add(3 * time.Hour)
		if err := s.RevokeUserRefreshTokens(t.Context(), a.ID, at); err != nil {
			t.Fatalf("RevokeUserRefreshTokens: %v", err)
		}
		for i, wantRevoked := range []bool{true, true, false} {
			got := mustTokenByHash(t, s, hash(fmt.Sprint("ru", i)))
			if (got.RevokedAt != nil) != wantRevoked || (wantRevoked && !got.RevokedAt.Equal(at)) {
				t.Errorf("token %d RevokedAt = %v, want revoked %v at %v", i, got.RevokedAt, wantRevoked, at)
			}
		}
	})

	t.Run("ExpiredCannotBeSpent", func(t *testing.T) {
		u := user(t, "expired")
		exp := created.Add(time.Hour)
		tests := []struct {
			name string
			at   time.Time
			want bool
		}{
			{"AtExpiry", exp, false},
			{"AfterExpiry", exp.Add(time.Second), false},
			{"OneMicrosecondBefore", exp.Add(-time.Microsecond), true},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				id := uuid.NewString()
				mustInsertToken(t, s, fieldwatch.RefreshToken{ID: id, UserID: u.ID, Hash: hash(fmt.Sprint("exp", i)), CreatedAt: created, ExpiresAt: exp})
				if ok, err := s.SpendRefreshToken(t.Context(), id, tc.at); ok != tc.want || err != nil {
					t.Fatalf("spend at %v = %v, %v; want %v", tc.at, ok, err, tc.want)
				}
			})
		}
	})

	t.Run("DeleteExpired", func(t *testing.T) {
		// The cutoff lies before any expiry used elsewhere in the shared
		// store (TimePrecision goes back to 1969), so these four tokens
		// are the only ones around it.
		u := user(t, "cleanup")
		cutoff := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)
		tokens := []struct {
			seed    string
			expires time.Time
			gone    bool
		}{
			{"old1", cutoff.Add(-48 * time.Hour), true},
			{"old2", cutoff.Add(-time.Microsecond), true},
			{"edge", cutoff, false}, // expires exactly at the cutoff: not before it
			{"live", cutoff.Add(time.Hour), false},
		}
		for _, tk := range tokens {
			mustInsertToken(t, s, fieldwatch.RefreshToken{UserID: u.ID, Hash: hash("del" + tk.seed), CreatedAt: cutoff.Add(-72 * time.Hour), ExpiresAt: tk.expires})
		}
		n, err := s.DeleteExpiredRefreshTokens(t.Context(), cutoff)
		if err != nil || n != 2 {
			t.Fatalf("DeleteExpiredRefreshTokens = %d, %v; want 2", n, err)
		}
		for _, tk := range tokens {
			_, err := s.RefreshTokenByHash(t.Context(), hash("del"+tk.seed))
			if gone := errors.Is(err, store.ErrNotFound); gone != tk.gone {
				t.Errorf("token %s: lookup error %v, want gone=%v", tk.seed, err, tk.gone)
			}
		}
		if n, err := s.DeleteExpiredRefreshTokens(t.Context(), cutoff); err != nil || n != 0 {
			t.Fatalf("second DeleteExpiredRefreshTokens = %d, %v; want 0", n, err)
		}
	})
}

func testTimePrecision(t *testing.T, s *store.Store) {
	shanghai := time.FixedZone("CST", 8*3600)
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"Millisecond", time.Date(2025, 6, 1, 12, 0, 0, 123_000_000, time.UTC), time.Date(2025, 6, 1, 12, 0, 0, 123_000_000, time.UTC)},
		{"Microsecond", time.Date(2025, 6, 1, 12, 0, 0, 123_456_000, time.UTC), time.Date(2025, 6, 1, 12, 0, 0, 123_456_000, time.UTC)},
		{"WholeSecond", time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC), time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)},
		{"NanosecondsTruncated", time.Date(2025, 6, 1, 12, 0, 0, 123_456_789, time.UTC), time.Date(2025, 6, 1, 12, 0, 0, 123_456_000, time.UTC)},
		{"ZoneConvertedToUTC", time.Date(2025, 6, 1, 20, 0, 0, 5_000, shanghai), time.Date(2025, 6, 1, 12, 0, 0, 5_000, time.UTC)},
		{"BeforeEpoch", time.Date(1969, 12, 31, 23, 59, 59, 999_999_000, time.UTC), time.Date(1969, 12, 31, 23, 59, 59, 999_999_000, time.UTC)},
		{"LeapDay", time.Date(2024, 2, 29, 23, 59, 59, 999_000, time.UTC), time.Date(2024, 2, 29, 23, 59, 59, 999_000, time.UTC)},
		{"FarFuture", time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_999_000, time.UTC)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, got time.Time) {
				t.Helper()
				if !got.Equal(tc.want) || got.Location() != time.UTC || got != tc.want {
					t.Errorf("%s = %v (%v), want %v UTC", what, got, got.Location(), tc.want)
				}
			}
			u := fieldwatch.User{Username: fmt.Sprintf("time.%d", i), Role: fieldwatch.RoleInspector,
				CreatedAt: tc.in, UpdatedAt: tc.in, PasswordChangedAt: tc.in}
			if err := s.CreateUser(t.Context(), &u); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			check("CreateUser's CreatedAt", u.CreatedAt)
			got := mustUserByID(t, s, u.ID)
			check("CreatedAt", got.CreatedAt)
			check("UpdatedAt", got.UpdatedAt)
			check("PasswordChangedAt", got.PasswordChangedAt)

			updated, err := s.UpdateUser(t.Context(), u.ID, fieldwatch.UserPatch{Phone: ptr("1")}, tc.in)
			if err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			check("UpdateUser's UpdatedAt", updated.UpdatedAt)

			tok := fieldwatch.RefreshToken{UserID: u.ID, Hash: hash(fmt.Sprint("time", i)), CreatedAt: tc.in, ExpiresAt: tc.in,
				SpentAt: &tc.in, RevokedAt: &tc.in}
			mustInsertToken(t, s, tok)
			gt := mustTokenByHash(t, s, tok.Hash)
			check("token CreatedAt", gt.CreatedAt)
			check("token ExpiresAt", gt.ExpiresAt)
			check("token SpentAt", *gt.SpentAt)
			check("token RevokedAt", *gt.RevokedAt)
		})
	}
}

func testConcurrentWriters(t *testing.T, s *store.Store) {
	const (
		writers = 32
		writes  = 20 // per writer, the user's creation included
	)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	ids := make([]string, writers)
	start := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			<-start
			ctx := t.Context()
			u := fieldwatch.User{Username: fmt.Sprintf("writer.%02d", w), Role: fieldwatch.RoleInspector, Townships: []string{"130102001"}}
			if err := s.CreateUser(ctx, &u); err != nil {
				fail(fmt.Errorf("writer %d: CreateUser: %w", w, err))
				return
			}
			ids[w] = u.ID
			at := Clock()
			for i := 1; i < writes; i++ {
				at = at.Add(time.Second)
				var err error
				switch i % 3 {
				case 0:
					_, err = s.UpdateUser(ctx, u.ID, fieldwatch.UserPatch{DisplayName: ptr(fmt.Sprint("write ", i)),
						Townships: &[]string{fmt.Sprint("1301020", i%10)}}, at)
				case 1:
					err = s.InsertRefreshToken(ctx, fieldwatch.RefreshToken{UserID: u.ID, Hash: hash(fmt.Sprint("cw", w, ".", i)),
						CreatedAt: at, ExpiresAt: at.Add(time.Hour)})
				case 2:
					var tok fieldwatch.RefreshToken
					if tok, err = s.RefreshTokenByHash(ctx, hash(fmt.Sprint("cw", w, ".", i-1))); err == nil {
						var ok bool
						if ok, err = s.SpendRefreshToken(ctx, tok.ID, at); err == nil && !ok {
							err = errors.New("fresh token not spent")
						}
					}
				}
				if err != nil {
					fail(fmt.Errorf("writer %d write %d: %w", w, i, err))
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d of %d writes failed; first: %v", len(errs), writers*writes, errs[0])
	}
	last := (writes - 1) / 3 * 3
	for w, id := range ids {
		got := mustUserByID(t, s, id)
		if want := fmt.Sprint("write ", last); got.DisplayName != want {
			t.Errorf("writer %d: DisplayName = %q, want %q", w, got.DisplayName, want)
		}
	}
}

func testListUsers(t *testing.T, s *store.Store) {
	ctx := t.Context()
	// 505 users so that the default and maximum limits both bite, with
	// names whose order depends on the ASCII-folded key and on bytes
	// beyond ASCII.
	var all []fieldwatch.User
	names := []string{"Zeta", "alpha", "Beta", "张三", "李四", "é.accent", "_under", "0digit"}
	for i := range 497 {
		names = append(names, fmt.Sprintf("user%03d", i))
	}
	for i, name := range names {
		role := fieldwatch.Roles()[i%len(fieldwatch.Roles())]
		u := mustCreateUser(t, s, fieldwatch.User{Username: name, Role: role, Active: i%3 != 0,
			Townships: []string{fmt.Sprintf("1301020%02d", i%7)}})
		all = append(all, u)
	}
	fold := func(s string) string { // the store's ordering key
		return strings.Map(func(r rune) rune {
			if 'A' <= r && r <= 'Z' {
				return r + 32
			}
			return r
		}, s)
	}
	slices.SortFunc(all, func(a, b fieldwatch.User) int { return strings.Compare(fold(a.Username), fold(b.Username)) })

	t.Run("Count", func(t *testing.T) {
		if n, err := s.CountUsers(ctx); err != nil || n != len(names) {
			t.Fatalf("CountUsers = %d, %v; want %d", n, err, len(names))
		}
	})

	filter := func(keep func(fieldwatch.User) bool) []fieldwatch.User {
		var out []fieldwatch.User
		for _, u := range all {
			if keep(u) {
				out = append(out, u)
			}
		}
		return out
	}
	sameList := func(t *testing.T, got, want []fieldwatch.User) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("got %d users, want %d", len(got), len(want))
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("user %d = %q, want %q (%+v vs %+v)", i, got[i].Username, want[i].Username, got[i], want[i])
			}
		}
	}

	t.Run("Filters", func(t *testing.T) {
		tests := []struct {
			name string
			f    fieldwatch.UserFilter
			keep func(fieldwatch.User) bool
		}{
			{"None", fieldwatch.UserFilter{Limit: 500}, func(fieldwatch.User) bool { return true }},
			{"Role", fieldwatch.UserFilter{Role: ptr(fieldwatch.RoleRiverChief), Limit: 500},
				func(u fieldwatch.User) bool { return u.Role == fieldwatch.RoleRiverChief }},
			{"Active", fieldwatch.UserFilter{Active: ptr(true), Limit: 500}, func(u fieldwatch.User) bool { return u.Active }},
			{"Inactive", fieldwatch.UserFilter{Active: ptr(false), Limit: 500}, func(u fieldwatch.User) bool { return !u.Active }},
			{"RoleAndInactive", fieldwatch.UserFilter{Role: ptr(fieldwatch.RoleAdmin), Active: ptr(false), Limit: 500},
				func(u fieldwatch.User) bool { return u.Role == fieldwatch.RoleAdmin && !u.Active }},
			{"AfterASCIIFolded", fieldwatch.UserFilter{After: "USER490", Limit: 500},
				func(u fieldwatch.User) bool { return fold(u.Username) > "user490" }},
			{"AfterNonASCII", fieldwatch.UserFilter{After: "张三", Limit: 500},
				func(u fieldwatch.User) bool { return fold(u.Username) > "张三" }},
			{"AfterUnknownName", fieldwatch.UserFilter{After: "user2", Limit: 500},
				func(u fieldwatch.User) bool { return fold(u.Username) > "user2" }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ListUsers(ctx, tc.f)
				if err != nil {
					t.Fatalf("ListUsers: %v", err)
				}
				want := filter(tc.keep)
				if len(want) > 500 {
					want = want[:500]
				}
				sameList(t, got, want)
			})
		}
		t.Run("NoMatchIsEmptyNotNil", func(t *testing.T) {
			got, err := s.ListUsers(ctx, fieldwatch.UserFilter{After: "\U0010ffff"})
			if err != nil || got == nil || len(got) != 0 {
				t.Fatalf("ListUsers = %v, %v; want an empty slice", got, err)
			}
		})
	})

	t.Run("KeysetPagination", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			limit int
			role  *fieldwatch.Role
		}{
			{"Limit7", 7, nil},
			{"Limit100", 100, nil},
			{"Limit13Inspectors", 13, ptr(fieldwatch.RoleInspector)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var got []fieldwatch.User
				f := fieldwatch.UserFilter{Role: tc.role, Limit: tc.limit}
				for page := 0; ; page++ {
					if page > len(all) {
						t.Fatal("pagination does not end")
					}
					p, err := s.ListUsers(ctx, f)
					if err != nil {
						t.Fatalf("page %d: %v", page, err)
					}
					if len(p) > tc.limit {
						t.Fatalf("page %d has %d users, limit %d", page, len(p), tc.limit)
					}
					if len(p) == 0 {
						break
					}
					got = append(got, p...)
					f.After = p[len(p)-1].Username
				}
				sameList(t, got, filter(func(u fieldwatch.User) bool { return tc.role == nil || u.Role == *tc.role }))
			})
		}
	})

	t.Run("LimitClamped", func(t *testing.T) {
		tests := []struct {
			name  string
			limit int
			want  int
		}{
			{"ZeroMeansDefault", 0, store.DefaultUserLimit},
			{"Negative", -5, 1},
			{"One", 1, 1},
			{"Max", store.MaxUserLimit, store.MaxUserLimit},
			{"AboveMax", store.MaxUserLimit + 1, store.MaxUserLimit},
			{"Huge", 1 << 30, store.MaxUserLimit},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ListUsers(ctx, fieldwatch.UserFilter{Limit: tc.limit})
				if err != nil {
					t.Fatalf("ListUsers: %v", err)
				}
				sameList(t, got, all[:tc.want])
			})
		}
	})
}
