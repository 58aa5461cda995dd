package auth

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
)

// userStore is fakeStore with the account methods Service needs, a count
// of user-row reads, and a hook that runs inside a read (after the row was
// taken), so a test can land a change while a read is in flight.
type userStore struct {
	*fakeStore
	reads     atomic.Int32
	duringGet func()
}

func (s *userStore) UserByID(ctx context.Context, id string) (fieldwatch.User, error) {
	s.reads.Add(1)
	u, err := s.fakeStore.UserByID(ctx, id)
	if fn := s.duringGet; fn != nil {
		s.duringGet = nil
		fn()
	}
	return u, err
}

func (s *userStore) UserByUsername(context.Context, string) (fieldwatch.User, error) {
	return fieldwatch.User{}, errFakeNotFound
}
func (s *userStore) CreateUser(context.Context, *fieldwatch.User) error { return nil }
func (s *userStore) ListUsers(context.Context, fieldwatch.UserFilter) ([]fieldwatch.User, error) {
	return nil, nil
}
func (s *userStore) RehashPassword(context.Context, string, string, string) error { return nil }

func (s *userStore) UpdateUser(_ context.Context, id string, p fieldwatch.UserPatch, now time.Time) (fieldwatch.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return fieldwatch.User{}, errFakeNotFound
	}
	if p.Role != nil {
		u.Role = *p.Role
	}
	if p.Active != nil {
		u.Active = *p.Active
	}
	if p.Townships != nil {
		u.Townships = *p.Townships
	}
	u.UpdatedAt = now
	s.users[id] = u
	return u, nil
}

func (s *userStore) SetPasswordHash(_ context.Context, id, hash string, now time.Time) error {
	s.mu.Lock()
	u := s.users[id]
	u.PasswordHash, u.PasswordChangedAt = hash, now
	s.users[id] = u
	s.mu.Unlock()
	s.revokeWhere(func(t fieldwatch.RefreshToken) bool { return t.UserID == id }, now)
	return nil
}

// change alters the stored row behind the Service's back, as another
// replica or SQL would.
func (s *userStore) change(id string, fn func(*fieldwatch.User)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	fn(&u)
	s.users[id] = u
}

type userCacheFixture struct {
	store  *userStore
	clock  *testclock.Clock
	svc    *Service
	tokens *Tokens
	user   fieldwatch.User
}

func newUserCacheFixture(t testing.TB, adjust func(*ServiceConfig)) *userCacheFixture {
	t.Helper()
	u := testUser
	u.Townships = []string{"330100001"}
	u.PasswordChangedAt = t0.Add(-time.Hour)
	f := &userCacheFixture{store: &userStore{fakeStore: newFakeStore(u)}, clock: newClock(), user: u}
	f.tokens = mustTokens(t, mustKeySet(t, "k1:"+testSeed("a")), f.clock.Now)
	sessions, err := NewSessions(SessionConfig{Store: f.store, Tokens: f.tokens, NotFound: errFakeNotFound, Clock: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := NewHasher(Argon2Params{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := ServiceConfig{Store: f.store, NotFound: errFakeNotFound, Tokens: f.tokens, Sessions: sessions,
		Hasher: hasher, Limiter: NewLimiter(LimiterConfig{Clock: f.clock.Now}), Clock: f.clock.Now}
	if adjust != nil {
		adjust(&cfg)
	}
	if f.svc, err = NewService(cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

// token issues an access token for the user as stored now.
func (f *userCacheFixture) token(t testing.TB) string {
	t.Helper()
	u, err := f.store.fakeStore.UserByID(context.Background(), f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := f.tokens.Issue(u)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *userCacheFixture) auth(t *testing.T, tok string) (fieldwatch.Actor, error) {
	t.Helper()
	return f.svc.Authenticate(context.Background(), tok)
}

// Within the TTL the row is read once; the row is read again at the TTL.
func TestUserCache_ReadsOncePerTTL(t *testing.T) {
	f := newUserCacheFixture(t, nil)
	tok := f.token(t)
	for range 10 {
		if _, err := f.auth(t, tok); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(DefaultUserCacheTTL / 10)
	}
	// 10 calls over exactly one TTL: the read at 0 served 0 … 0.9 TTL.
	if n := f.store.reads.Load(); n != 1 {
		t.Fatalf("%d row reads in one TTL, want 1", n)
	}
	if _, err := f.auth(t, tok); err != nil {
		t.Fatal(err)
	}
	if n := f.store.reads.Load(); n != 2 {
		t.Fatalf("%d row reads after the TTL, want 2", n)
	}
}

// A change made elsewhere (another replica, SQL) is in force
// no later than the TTL after it was committed; one made through this
// Service, at once.
func TestUserCache_RevocationTiming(t *testing.T) {
	inactive := false
	admin := fieldwatch.RoleAdmin
	officer := fieldwatch.RoleTownshipOfficer
	pw := "a new password 3"
	type change struct {
		name string
		// elsewhere changes the row behind the Service; local goes through it.
		elsewhere func(*fieldwatch.User)
		local     UserUpdate
		// refused: the old token no longer authenticates; else check the actor.
		refused bool
		check   func(fieldwatch.Actor) error
	}
	tests := []change{
		{name: "Deactivated", elsewhere: func(u *fieldwatch.User) { u.Active = false }, local: UserUpdate{Active: &inactive}, refused: true},
		{name: "PasswordChanged", elsewhere: func(u *fieldwatch.User) { u.PasswordChangedAt = t0.Add(time.Second) }, local: UserUpdate{Password: &pw}, refused: true},
		{name: "RoleChanged", elsewhere: func(u *fieldwatch.User) { u.Role = admin }, local: UserUpdate{Role: &admin},
			check: func(a fieldwatch.Actor) error {
				if a.Role != admin {
					return fmt.Errorf("role %s, want admin", a.Role)
				}
				return nil
			}},
		{name: "Townships", elsewhere: func(u *fieldwatch.User) { u.Role = officer; u.Townships = []string{"330100002"} },
			local: UserUpdate{Role: &officer, Townships: &[]string{"330100002"}},
			check: func(a fieldwatch.Actor) error {
				if a.Role != officer || len(a.Townships) != 1 || a.Townships[0] != "330100002" {
					return fmt.Errorf("actor %+v, want officer of 330100002", a)
				}
				return nil
			}},
	}
	// changed reports whether Authenticate's answer shows the change.
	changed := func(t *testing.T, tt change, a fieldwatch.Actor, err error) bool {
		t.Helper()
		if tt.refused {
			if err == nil {
				return false
			}
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("err = %v, want ErrUnauthenticated", err)
			}
			return true
		}
		if err != nil {
			t.Fatal(err)
		}
		return tt.check(a) == nil
	}
	for _, tt := range tests {
		t.Run(tt.name+"/Elsewhere", func(t *testing.T) {
			f := newUserCacheFixture(t, nil)
			tok := f.token(t)
			if _, err := f.auth(t, tok); err != nil { // cached at t0
				t.Fatal(err)
			}
			f.clock.Advance(500 * time.Millisecond)
			f.store.change(f.user.ID, tt.elsewhere) // committed at t0+0.5s
			// Until the cached read's TTL runs out the old row may serve…
			f.clock.Set(t0.Add(DefaultUserCacheTTL - time.Nanosecond))
			if a, err := f.auth(t, tok); changed(t, tt, a, err) {
				t.Logf("(the change was seen early: allowed)")
			}
			// …and from then on, never: at most the TTL after the change.
			f.clock.Set(t0.Add(DefaultUserCacheTTL))
			if a, err := f.auth(t, tok); !changed(t, tt, a, err) {
				t.Fatalf("change not in force at the TTL: actor %+v, err %v", a, err)
			}
		})
		t.Run(tt.name+"/ThroughService", func(t *testing.T) {
			f := newUserCacheFixture(t, nil)
			tok := f.token(t)
			if _, err := f.auth(t, tok); err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(time.Millisecond)
			if _, err := f.svc.UpdateUser(context.Background(), f.user.ID, tt.local); err != nil {
				t.Fatal(err)
			}
			if a, err := f.auth(t, tok); !changed(t, tt, a, err) {
				t.Fatalf("local change not in force on the next request: actor %+v, err %v", a, err)
			}
		})
	}
}

// A read that was in flight when a local change committed is not cached:
// it would otherwise put the old row back for a whole TTL.
func TestUserCache_ReadRacingLocalChange(t *testing.T) {
	f := newUserCacheFixture(t, nil)
	tok := f.token(t)
	inactive := false
	f.store.duringGet = func() {
		if _, err := f.svc.UpdateUser(context.Background(), f.user.ID, UserUpdate{Active: &inactive}); err != nil {
			t.Error(err)
		}
	}
	// This request read the row before the deactivation: it may pass.
	_, _ = f.auth(t, tok)
	if _, err := f.auth(t, tok); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("request after the deactivation: err = %v, want ErrUnauthenticated", err)
	}
}

// The cache never refuses what the stored row accepts: a token issued
// after a password change (or a reactivation) made elsewhere passes at
// once, though the cached row is older.
func TestUserCache_NeverRefusesWhatTheRowAccepts(t *testing.T) {
	f := newUserCacheFixture(t, nil)
	if _, err := f.auth(t, f.token(t)); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	f.store.change(f.user.ID, func(u *fieldwatch.User) { u.PasswordChangedAt = f.clock.Now() })
	if _, err := f.auth(t, f.token(t)); err != nil {
		t.Fatalf("token of the new password refused from a stale cache: %v", err)
	}

	g := newUserCacheFixture(t, nil)
	tok := g.token(t)
	g.store.change(g.user.ID, func(u *fieldwatch.User) { u.Active = false })
	if _, err := g.auth(t, tok); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("inactive user: err = %v", err)
	}
	g.store.change(g.user.ID, func(u *fieldwatch.User) { u.Active = true })
	if _, err := g.auth(t, tok); err != nil {
		t.Fatalf("reactivated user refused: %v", err)
	}
}

// The cache holds at most UserCacheSize users.
func TestUserCache_Bound(t *testing.T) {
	const size = 4
	f := newUserCacheFixture(t, func(c *ServiceConfig) { c.UserCacheSize = size })
	for i := range 5 * size {
		u := testUser
		u.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		f.store.setUser(u)
		tok, _, err := f.tokens.Issue(u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.auth(t, tok); err != nil {
			t.Fatal(err)
		}
		if n := f.svc.users.Len(); n > size {
			t.Fatalf("%d cached users, bound %d", n, size)
		}
	}
}

// The cached row carries no password hash.
func TestUserCache_NoPasswordHash(t *testing.T) {
	f := newUserCacheFixture(t, nil)
	f.store.change(f.user.ID, func(u *fieldwatch.User) { u.PasswordHash = "$argon2id$secret" })
	if _, err := f.auth(t, f.token(t)); err != nil {
		t.Fatal(err)
	}
	u, ok := f.svc.users.Get(f.user.ID, f.clock.Now())
	if !ok || u.PasswordHash != "" {
		t.Fatalf("cached row %+v (present %v)", u, ok)
	}
}

func TestUserCache_Config(t *testing.T) {
	t.Run("Off", func(t *testing.T) {
		f := newUserCacheFixture(t, func(c *ServiceConfig) { c.UserCacheTTL = -1 })
		tok := f.token(t)
		for range 3 {
			if _, err := f.auth(t, tok); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.store.reads.Load(); n != 3 {
			t.Fatalf("%d reads for 3 requests with the cache off", n)
		}
	})
	t.Run("TooLong", func(t *testing.T) {
		f := newUserCacheFixture(t, nil)
		cfg := f.svc.cfg
		cfg.UserCacheTTL = MaxUserCacheTTL + time.Second
		if _, err := NewService(cfg); err == nil {
			t.Fatal("a TTL above the maximum was accepted")
		}
	})
}

// BenchmarkAuthenticate is Authenticate's own work per request, the
// store being an in-memory map: with both caches off (every request
// verifies the signature and reads the row, as before the caches) and
// with both on (a request after the first within the TTL).
func BenchmarkAuthenticate(b *testing.B) {
	for _, bc := range []struct {
		name      string
		userTTL   time.Duration
		tokenSize int
	}{{"Uncached", -1, -1}, {"Cached", 0, 0}} {
		b.Run(bc.name, func(b *testing.B) {
			f := newUserCacheFixture(b, func(c *ServiceConfig) {
				c.UserCacheTTL = bc.userTTL
				tokens, err := NewTokens(TokenConfig{Keys: mustKeySet(b, "k1:"+testSeed("a")), Clock: c.Clock, CacheSize: bc.tokenSize})
				if err != nil {
					b.Fatal(err)
				}
				c.Tokens = tokens
			})
			f.tokens = f.svc.cfg.Tokens
			tok := f.token(b)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.svc.Authenticate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(f.store.reads.Load())/float64(b.N), "reads/op")
		})
	}
}
