package auth_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
	"github.com/fieldwatch/fieldwatch/store"
)

// hookStore is the real store with a hook that runs right after a
// chosen read, so a test can put an administrator's change exactly in
// the gap between a login's (or refresh's) read and its write.
type hookStore struct {
	*store.Store
	mu                  sync.Mutex
	afterUserByUsername func()
	afterUserByID       func()
}

func (h *hookStore) take(f *func()) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	fn := *f
	*f = nil
	return fn
}

func (h *hookStore) UserByUsername(ctx context.Context, username string) (fieldwatch.User, error) {
	u, err := h.Store.UserByUsername(ctx, username)
	if fn := h.take(&h.afterUserByUsername); fn != nil {
		fn()
	}
	return u, err
}

func (h *hookStore) UserByID(ctx context.Context, id string) (fieldwatch.User, error) {
	u, err := h.Store.UserByID(ctx, id)
	if fn := h.take(&h.afterUserByID); fn != nil {
		fn()
	}
	return u, err
}

// credentialFixture is an identity service over a real store of one
// backend, and a second service over the same store for the
// administrator, whose calls the hooks make.
type credentialFixture struct {
	hooks *hookStore
	svc   *auth.Service
	admin *auth.Service
	now   *testclock.Clock
	user  fieldwatch.User
}

const oldPassword, newPassword = "old password 1", "new password 2"

func newCredentialFixture(t *testing.T, backend string) *credentialFixture {
	t.Helper()
	ctx := t.Context()
	clk := testclock.New(time.Date(2026, 3, 1, 9, 0, 0, 100_000_000, time.UTC))
	var db *store.Store
	var err error
	switch backend {
	case "sqlite":
		db, err = store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "fw.db"), store.WithClock(clk.Now))
	case "postgres":
		db, err = store.OpenPostgres(ctx, testservice.PostgresDB(t), store.WithClock(clk.Now))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	key, err := auth.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.ParseKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	hooks := &hookStore{Store: db}
	svc, err := auth.New(hooks, store.ErrNotFound, auth.Options{Keys: keys, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := auth.New(db, store.ErrNotFound, auth.Options{Keys: keys, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	u, err := admin.CreateUser(ctx, auth.NewUser{Username: "alice", DisplayName: "Alice", Role: fieldwatch.RoleInspector, Password: oldPassword})
	if err != nil {
		t.Fatal(err)
	}
	return &credentialFixture{hooks: hooks, svc: svc, admin: admin, now: clk, user: u}
}

func (f *credentialFixture) changePassword(t *testing.T) {
	t.Helper()
	pw := newPassword
	if _, err := f.admin.UpdateUser(context.Background(), f.user.ID, auth.UserUpdate{Password: &pw}); err != nil {
		t.Errorf("change password: %v", err)
	}
}

// A password change takes every session of the old password with it,
// including one whose login or refresh was in flight when the change
// committed, and access tokens issued in the same second as the change
// (issue 13, defect 7; docs/reliability.md#b8, #h5).
func TestPasswordChangeEndsSessionsInFlight(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Run("LoginVerifiedBeforeChange", func(t *testing.T) {
				f := newCredentialFixture(t, backend)
				// The login has read the old hash (and will verify the old
				// password against it) when the administrator's change lands.
				f.hooks.afterUserByUsername = func() { f.changePassword(t) }
				pair, err := f.svc.Login(t.Context(), "alice", oldPassword, "192.0.2.1")
				if err == nil {
					// Whatever it got must be dead already.
					_, rerr := f.svc.Refresh(t.Context(), pair.RefreshToken)
					_, aerr := f.svc.Authenticate(t.Context(), pair.AccessToken)
					t.Fatalf("login with the old password completed after the change; refresh: %v, access: %v", rerr, aerr)
				}
				if !errors.Is(err, auth.ErrUnauthenticated) {
					t.Fatalf("Login = %v, want ErrUnauthenticated", err)
				}
				if _, err := f.svc.Login(t.Context(), "alice", newPassword, "192.0.2.1"); err != nil {
					t.Fatalf("login with the new password: %v", err)
				}
			})

			t.Run("RefreshReadUserBeforeChange", func(t *testing.T) {
				f := newCredentialFixture(t, backend)
				pair, err := f.svc.Login(t.Context(), "alice", oldPassword, "192.0.2.1")
				if err != nil {
					t.Fatal(err)
				}
				f.hooks.afterUserByID = func() { f.changePassword(t) }
				next, err := f.svc.Refresh(t.Context(), pair.RefreshToken)
				if err == nil {
					_, rerr := f.svc.Refresh(t.Context(), next.RefreshToken)
					t.Fatalf("refresh of an old-password family completed after the change; next refresh: %v", rerr)
				}
				if !errors.Is(err, auth.ErrUnauthenticated) {
					t.Fatalf("Refresh = %v, want ErrUnauthenticated", err)
				}
			})

			t.Run("AccessTokenOfTheSameSecond", func(t *testing.T) {
				f := newCredentialFixture(t, backend)
				pair, err := f.svc.Login(t.Context(), "alice", oldPassword, "192.0.2.1")
				if err != nil {
					t.Fatal(err)
				}
				// 0.5 s later, in the same second as the login.
				f.now.Advance(500 * time.Millisecond)
				f.changePassword(t)
				if _, err := f.svc.Authenticate(t.Context(), pair.AccessToken); !errors.Is(err, auth.ErrUnauthenticated) {
					t.Fatalf("access token issued before the change, in its second: Authenticate = %v, want ErrUnauthenticated", err)
				}
				if _, err := f.svc.Refresh(t.Context(), pair.RefreshToken); !errors.Is(err, auth.ErrUnauthenticated) {
					t.Fatalf("refresh after the change = %v, want ErrUnauthenticated", err)
				}
				// A login after the change, still in that second, works.
				after, err := f.svc.Login(t.Context(), "alice", newPassword, "192.0.2.1")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.svc.Authenticate(t.Context(), after.AccessToken); err != nil {
					t.Fatalf("token issued after the change: %v", err)
				}
			})
		})
	}
}
