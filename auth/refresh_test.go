package auth

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
)

// errFakeNotFound stands in for store.ErrNotFound; the fake wraps it the
// way a real store might.
var errFakeNotFound = errors.New("fake: not found")

// fakeStore is a test-only RefreshStore: a map under a mutex, with
// SpendRefreshToken atomic like the real store's conditional UPDATE.
// The lead's integration tests run the same scenarios against the real
// store. Hooks let a test interleave a "concurrent" request at exact
// points.
type fakeStore struct {
	mu     sync.Mutex
	tokens map[string]fieldwatch.RefreshToken // by ID
	users  map[string]fieldwatch.User
	calls  int
	fail   error // returned by every method when set

	beforeSpend  func() // runs before SpendRefreshToken takes the lock
	beforeInsert func() // runs before InsertRefreshToken takes the lock
	spends       atomic.Int32
}

func newFakeStore(users ...fieldwatch.User) *fakeStore {
	s := &fakeStore{tokens: map[string]fieldwatch.RefreshToken{}, users: map[string]fieldwatch.User{}}
	for _, u := range users {
		s.users[u.ID] = u
	}
	return s
}

// copyToken keeps callers from sharing the stored row's time pointers,
// as a database round trip would.
func copyToken(t fieldwatch.RefreshToken) fieldwatch.RefreshToken {
	if t.SpentAt != nil {
		v := *t.SpentAt
		t.SpentAt = &v
	}
	if t.RevokedAt != nil {
		v := *t.RevokedAt
		t.RevokedAt = &v
	}
	t.Hash = bytes.Clone(t.Hash)
	return t
}

// check counts a call and returns the injected failure; s.mu is held.
func (s *fakeStore) check() error {
	s.calls++
	return s.fail
}

func (s *fakeStore) InsertRefreshToken(_ context.Context, t fieldwatch.RefreshToken) error {
	if s.beforeInsert != nil {
		s.beforeInsert()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	s.tokens[t.ID] = copyToken(t)
	return nil
}

// StartRefreshFamily stores t if the user is active and still has
// passwordHash, as the real store does in one statement.
func (s *fakeStore) StartRefreshFamily(ctx context.Context, t fieldwatch.RefreshToken, passwordHash string) error {
	s.mu.Lock()
	u, ok := s.users[t.UserID]
	s.mu.Unlock()
	if !ok || !u.Active || u.PasswordHash != passwordHash {
		return errFakeNotFound
	}
	return s.InsertRefreshToken(ctx, t)
}

func (s *fakeStore) RefreshTokenByHash(_ context.Context, hash []byte) (fieldwatch.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return fieldwatch.RefreshToken{}, err
	}
	for _, t := range s.tokens {
		if bytes.Equal(t.Hash, hash) {
			return copyToken(t), nil
		}
	}
	return fieldwatch.RefreshToken{}, errors.Join(errFakeNotFound, errors.New("refresh token"))
}

func (s *fakeStore) SpendRefreshToken(_ context.Context, id string, at time.Time) (bool, error) {
	if s.beforeSpend != nil {
		s.beforeSpend()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return false, err
	}
	t, ok := s.tokens[id]
	if !ok || t.SpentAt != nil || t.RevokedAt != nil {
		return false, nil
	}
	t.SpentAt = &at
	s.tokens[id] = t
	s.spends.Add(1)
	return true, nil
}

func (s *fakeStore) revokeWhere(match func(fieldwatch.RefreshToken) bool, at time.Time) {
	for id, t := range s.tokens {
		if match(t) && t.RevokedAt == nil {
			t.RevokedAt = &at
			s.tokens[id] = t
		}
	}
}

func (s *fakeStore) RevokeRefreshFamily(_ context.Context, familyID string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	s.revokeWhere(func(t fieldwatch.RefreshToken) bool { return t.FamilyID == familyID }, at)
	return nil
}

func (s *fakeStore) RevokeUserRefreshTokens(_ context.Context, userID string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	s.revokeWhere(func(t fieldwatch.RefreshToken) bool { return t.UserID == userID }, at)
	return nil
}

func (s *fakeStore) UserByID(_ context.Context, id string) (fieldwatch.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return fieldwatch.User{}, err
	}
	u, ok := s.users[id]
	if !ok {
		return fieldwatch.User{}, errFakeNotFound
	}
	return u, nil
}

func (s *fakeStore) setUser(u fieldwatch.User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.ID] = u
}

func (s *fakeStore) row(t *testing.T, refresh string) fieldwatch.RefreshToken {
	t.Helper()
	h, err := hashRefreshToken(refresh)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := s.RefreshTokenByHash(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

type sessionFixture struct {
	store    *fakeStore
	clock    *testclock.Clock
	tokens   *Tokens
	sessions *Sessions
}

func newSessionFixture(t *testing.T) *sessionFixture {
	t.Helper()
	f := &sessionFixture{store: newFakeStore(testUser), clock: newClock()}
	f.tokens = mustTokens(t, mustKeySet(t, "k1:"+testSeed("a")), f.clock.Now)
	s, err := NewSessions(SessionConfig{Store: f.store, Tokens: f.tokens, NotFound: errFakeNotFound, Clock: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.sessions = s
	return f
}

func (f *sessionFixture) login(t *testing.T) Pair {
	t.Helper()
	p, err := f.sessions.Login(context.Background(), testUser)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	return p
}

func (f *sessionFixture) refresh(t *testing.T, tok string) Pair {
	t.Helper()
	p, err := f.sessions.Refresh(context.Background(), tok)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	return p
}

func wantUnauthenticated(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("err = %v, want ErrUnauthenticated", err)
	}
}

func TestSessions_Login(t *testing.T) {
	f := newSessionFixture(t)
	p := f.login(t)
	t.Run("AccessTokenVerifies", func(t *testing.T) {
		c, err := f.tokens.Verify(p.AccessToken)
		if err != nil || c.UserID != testUser.ID {
			t.Errorf("Verify = %+v, %v", c, err)
		}
		if p.ExpiresIn != DefaultAccessTTL {
			t.Errorf("ExpiresIn = %v", p.ExpiresIn)
		}
	})
	t.Run("RefreshTokenShape", func(t *testing.T) {
		if !strings.HasPrefix(p.RefreshToken, "fwr_") || len(p.RefreshToken) != 47 {
			t.Errorf("refresh token %q: want fwr_ + 43 characters", p.RefreshToken)
		}
		if _, err := f.tokens.Verify(p.RefreshToken); !errors.Is(err, ErrUnauthenticated) {
			t.Error("a refresh token passed as an access token")
		}
		if _, err := f.sessions.Refresh(context.Background(), p.AccessToken); !errors.Is(err, ErrUnauthenticated) {
			t.Error("an access token passed as a refresh token")
		}
	})
	t.Run("StoredAsHashOnly", func(t *testing.T) {
		rt := f.store.row(t, p.RefreshToken)
		if len(rt.Hash) != 32 || bytes.Contains([]byte(p.RefreshToken), rt.Hash) {
			t.Errorf("stored hash %x", rt.Hash)
		}
		if !rt.ExpiresAt.Equal(t0.Add(DefaultRefreshTTL)) || !p.RefreshExpiresAt.Equal(rt.ExpiresAt) {
			t.Errorf("expires %v / %v, want %v", rt.ExpiresAt, p.RefreshExpiresAt, t0.Add(DefaultRefreshTTL))
		}
	})
	t.Run("NewFamilyPerLogin", func(t *testing.T) {
		p2 := f.login(t)
		if f.store.row(t, p.RefreshToken).FamilyID == f.store.row(t, p2.RefreshToken).FamilyID {
			t.Error("two logins share a family")
		}
	})
	t.Run("NoPasswordHashInPair", func(t *testing.T) {
		u := testUser
		u.PasswordHash = "$argon2id$secret"
		f.store.setUser(u) // the hash the login verified is the stored one
		defer f.store.setUser(testUser)
		p, err := f.sessions.Login(context.Background(), u)
		if err != nil || p.User.PasswordHash != "" {
			t.Errorf("Pair.User.PasswordHash = %q, err %v", p.User.PasswordHash, err)
		}
	})
	t.Run("ErrUnauthenticated_Inactive", func(t *testing.T) {
		u := testUser
		u.Active = false
		_, err := f.sessions.Login(context.Background(), u)
		wantUnauthenticated(t, err)
	})
}

func TestSessions_Refresh(t *testing.T) {
	ctx := context.Background()

	t.Run("OK_Rotates", func(t *testing.T) {
		f := newSessionFixture(t)
		p1 := f.login(t)
		f.clock.Advance(time.Hour)
		p2 := f.refresh(t, p1.RefreshToken)
		if p2.RefreshToken == p1.RefreshToken {
			t.Fatal("refresh returned the same token")
		}
		r1, r2 := f.store.row(t, p1.RefreshToken), f.store.row(t, p2.RefreshToken)
		if r1.SpentAt == nil || !r1.SpentAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("presented token SpentAt = %v, want now", r1.SpentAt)
		}
		if r2.FamilyID != r1.FamilyID {
			t.Error("new token left the family")
		}
		if !r2.ExpiresAt.Equal(t0.Add(time.Hour + DefaultRefreshTTL)) {
			t.Errorf("new token expires %v", r2.ExpiresAt)
		}
		if _, err := f.tokens.Verify(p2.AccessToken); err != nil {
			t.Errorf("new access token: %v", err)
		}
		f.refresh(t, p2.RefreshToken)
	})

	t.Run("OK_CurrentRole", func(t *testing.T) {
		f := newSessionFixture(t)
		p1 := f.login(t)
		u := testUser
		u.Role = fieldwatch.RoleTownshipOfficer
		f.store.setUser(u)
		p2 := f.refresh(t, p1.RefreshToken)
		if c, _ := f.tokens.Verify(p2.AccessToken); c.Role != fieldwatch.RoleTownshipOfficer {
			t.Errorf("role = %q, want the user's current role", c.Role)
		}
	})

	t.Run("OK_RetryWithinGrace", func(t *testing.T) {
		// The phone sent p1, the answer (p2) was lost, it retries with p1.
		f := newSessionFixture(t)
		p1 := f.login(t)
		p2 := f.refresh(t, p1.RefreshToken)
		f.clock.Advance(DefaultGrace)
		p3 := f.refresh(t, p1.RefreshToken)
		if p3.RefreshToken == p2.RefreshToken {
			t.Fatal("grace retry returned the lost token")
		}
		f.refresh(t, p3.RefreshToken)
		f.refresh(t, p2.RefreshToken) // the lost one was never revoked
	})

	t.Run("ErrRefreshReuse_AfterGrace", func(t *testing.T) {
		f := newSessionFixture(t)
		p1 := f.login(t)
		p2 := f.refresh(t, p1.RefreshToken)
		other := f.login(t) // another device, another family
		f.clock.Advance(DefaultGrace + time.Second)
		_, err := f.sessions.Refresh(ctx, p1.RefreshToken)
		if !errors.Is(err, ErrRefreshReuse) || !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("err = %v, want ErrRefreshReuse", err)
		}
		_, err = f.sessions.Refresh(ctx, p2.RefreshToken)
		wantUnauthenticated(t, err)
		if f.store.row(t, p2.RefreshToken).RevokedAt == nil {
			t.Error("family not revoked")
		}
		f.refresh(t, other.RefreshToken)
	})

	t.Run("ErrUnauthenticated_Expired", func(t *testing.T) {
		f := newSessionFixture(t)
		p1 := f.login(t)
		f.clock.Advance(DefaultRefreshTTL - time.Second)
		p2 := f.refresh(t, p1.RefreshToken)
		f.clock.Advance(DefaultRefreshTTL)
		_, err := f.sessions.Refresh(ctx, p2.RefreshToken)
		wantUnauthenticated(t, err)
	})

	t.Run("ErrUnauthenticated_Logout", func(t *testing.T) {
		f := newSessionFixture(t)
		p1 := f.login(t)
		p2 := f.refresh(t, p1.RefreshToken)
		if err := f.sessions.Logout(ctx, p2.RefreshToken); err != nil {
			t.Fatal(err)
		}
		_, err := f.sessions.Refresh(ctx, p2.RefreshToken)
		wantUnauthenticated(t, err)
		_, err = f.sessions.Refresh(ctx, p1.RefreshToken) // even within grace
		wantUnauthenticated(t, err)
		if err := f.sessions.Logout(ctx, p2.RefreshToken); err != nil {
			t.Errorf("second logout: %v, want nil", err)
		}
	})

	t.Run("ErrUnauthenticated_RevokeUser", func(t *testing.T) {
		f := newSessionFixture(t)
		a, b := f.login(t), f.login(t)
		if err := f.sessions.RevokeUser(ctx, testUser.ID); err != nil {
			t.Fatal(err)
		}
		for _, p := range []Pair{a, b} {
			_, err := f.sessions.Refresh(ctx, p.RefreshToken)
			wantUnauthenticated(t, err)
		}
	})

	t.Run("ErrUnauthenticated_InactiveUser", func(t *testing.T) {
		f := newSessionFixture(t)
		p1 := f.login(t)
		u := testUser
		u.Active = false
		f.store.setUser(u)
		_, err := f.sessions.Refresh(ctx, p1.RefreshToken)
		wantUnauthenticated(t, err)
		// Reactivation does not bring the session back.
		f.store.setUser(testUser)
		_, err = f.sessions.Refresh(ctx, p1.RefreshToken)
		wantUnauthenticated(t, err)
	})

	t.Run("ErrUnauthenticated_DeletedUser", func(t *testing.T) {
		f := newSessionFixture(t)
		p1 := f.login(t)
		f.store.mu.Lock()
		delete(f.store.users, testUser.ID)
		f.store.mu.Unlock()
		_, err := f.sessions.Refresh(ctx, p1.RefreshToken)
		wantUnauthenticated(t, err)
	})

	t.Run("ErrUnauthenticated_Unknown", func(t *testing.T) {
		f := newSessionFixture(t)
		_, err := f.sessions.Refresh(ctx, RefreshTokenPrefix+strings.Repeat("A", 43))
		wantUnauthenticated(t, err)
	})

	t.Run("ErrUnauthenticated_Malformed", func(t *testing.T) {
		f := newSessionFixture(t)
		good := f.login(t).RefreshToken
		f.store.calls = 0
		for name, tok := range map[string]string{
			"Empty":        "",
			"PrefixOnly":   RefreshTokenPrefix,
			"NoPrefix":     good[4:] + "AAAA",
			"OtherPrefix":  "fwx_" + good[4:],
			"Short":        good[:46],
			"Long":         good + "A",
			"BadAlphabet":  good[:10] + "+" + good[11:],
			"NonCanonical": good[:46] + "B",
			"Newline":      good[:10] + "\n" + good[11:],
			"Huge":         RefreshTokenPrefix + strings.Repeat("A", 1<<20),
		} {
			t.Run(name, func(t *testing.T) {
				if tok == good {
					t.Fatal("test token equals the good one")
				}
				_, err := f.sessions.Refresh(ctx, tok)
				wantUnauthenticated(t, err)
			})
		}
		if f.store.calls != 0 {
			t.Errorf("malformed tokens reached the store %d times", f.store.calls)
		}
	})

	t.Run("StoreErrorIsNotUnauthenticated", func(t *testing.T) {
		// A database outage must not make the phone discard its session.
		f := newSessionFixture(t)
		p1 := f.login(t)
		boom := errors.New("database is down")
		f.store.fail = boom
		_, err := f.sessions.Refresh(ctx, p1.RefreshToken)
		if errors.Is(err, ErrUnauthenticated) || !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the store error and not ErrUnauthenticated", err)
		}
		f.store.fail = nil
		f.refresh(t, p1.RefreshToken)
	})
}

// TestSessions_Races interleaves a second request at the exact points
// where the store can change under a refresh.
func TestSessions_Races(t *testing.T) {
	ctx := context.Background()

	t.Run("OK_LostDoubleSpend", func(t *testing.T) {
		// Another request spends the token between our read and our spend:
		// SpendRefreshToken says false, and we answer as for a grace retry.
		f := newSessionFixture(t)
		p1 := f.login(t)
		rt := f.store.row(t, p1.RefreshToken)
		f.store.beforeSpend = func() {
			f.store.beforeSpend = nil
			if ok, _ := f.store.SpendRefreshToken(ctx, rt.ID, f.clock.Now()); !ok {
				t.Error("rival spend failed")
			}
		}
		p2 := f.refresh(t, p1.RefreshToken)
		f.refresh(t, p2.RefreshToken)
		if n := f.store.spends.Load(); n != 2 {
			t.Errorf("%d spends, want 2 (the rival's and p2's)", n)
		}
	})

	t.Run("ErrUnauthenticated_RevokedBeforeSpend", func(t *testing.T) {
		f := newSessionFixture(t)
		p1 := f.login(t)
		rt := f.store.row(t, p1.RefreshToken)
		f.store.beforeSpend = func() {
			f.store.beforeSpend = nil
			_ = f.store.RevokeRefreshFamily(ctx, rt.FamilyID, f.clock.Now())
		}
		_, err := f.sessions.Refresh(ctx, p1.RefreshToken)
		wantUnauthenticated(t, err)
	})

	t.Run("ErrUnauthenticated_RevokedBeforeInsert", func(t *testing.T) {
		// A logout lands after our spend but before our insert, so its
		// UPDATE misses the row we add. The new pair must not survive it.
		f := newSessionFixture(t)
		p1 := f.login(t)
		rt := f.store.row(t, p1.RefreshToken)
		f.store.beforeInsert = func() {
			f.store.beforeInsert = nil
			_ = f.store.RevokeRefreshFamily(ctx, rt.FamilyID, f.clock.Now())
		}
		_, err := f.sessions.Refresh(ctx, p1.RefreshToken)
		wantUnauthenticated(t, err)
		f.store.mu.Lock()
		defer f.store.mu.Unlock()
		for _, r := range f.store.tokens {
			if r.FamilyID == rt.FamilyID && r.RevokedAt == nil {
				t.Errorf("token %s of the logged-out family is live", r.ID)
			}
		}
	})

	t.Run("OK_ConcurrentRefreshes", func(t *testing.T) {
		// Several retries of one token at once (a phone on a flaky link):
		// exactly one spends it, all get a pair (within grace).
		f := newSessionFixture(t)
		p1 := f.login(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := f.sessions.Refresh(ctx, p1.RefreshToken)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent refresh: %v", err)
			}
		}
		if got := f.store.spends.Load(); got != 1 {
			t.Errorf("token spent %d times, want 1", got)
		}
	})
}

func TestNewSessions(t *testing.T) {
	tokens := mustTokens(t, mustKeySet(t, "k1:"+testSeed("a")), nil)
	st := newFakeStore()
	tests := []struct {
		name string
		cfg  SessionConfig
		ok   bool
	}{
		{"OK", SessionConfig{Store: st, Tokens: tokens, NotFound: errFakeNotFound}, true},
		{"OK_NoGraceIsDefault", SessionConfig{Store: st, Tokens: tokens, NotFound: errFakeNotFound, Grace: 0}, true},
		{"ErrNoStore", SessionConfig{Tokens: tokens, NotFound: errFakeNotFound}, false},
		{"ErrNoTokens", SessionConfig{Store: st, NotFound: errFakeNotFound}, false},
		{"ErrNoNotFound", SessionConfig{Store: st, Tokens: tokens}, false},
		{"ErrShortTTL", SessionConfig{Store: st, Tokens: tokens, NotFound: errFakeNotFound, RefreshTTL: time.Minute}, false},
		{"ErrLongGrace", SessionConfig{Store: st, Tokens: tokens, NotFound: errFakeNotFound, Grace: time.Hour}, false},
		{"ErrNegativeGrace", SessionConfig{Store: st, Tokens: tokens, NotFound: errFakeNotFound, Grace: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSessions(tt.cfg)
			if (err == nil) != tt.ok {
				t.Errorf("NewSessions err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
