package auth

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/internal/expiring"
)

// UserStore is the persistence Service needs; *store.Store satisfies it.
type UserStore interface {
	RefreshStore
	UserByUsername(ctx context.Context, username string) (fieldwatch.User, error)
	CreateUser(ctx context.Context, u *fieldwatch.User) error
	ListUsers(ctx context.Context, f fieldwatch.UserFilter) ([]fieldwatch.User, error)
	UpdateUser(ctx context.Context, id string, p fieldwatch.UserPatch, now time.Time) (fieldwatch.User, error)
	// SetPasswordHash replaces the hash and, in the same transaction,
	// revokes every refresh session of the user.
	SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error
	RehashPassword(ctx context.Context, id, oldHash, newHash string) error
}

// ReachScope returns the reach codes a river chief is assigned to today.
// Until chief assignments exist it may be nil.
type ReachScope func(ctx context.Context, userID string) ([]string, error)

// ServiceConfig wires a Service.
type ServiceConfig struct {
	Store    UserStore
	NotFound error // the store's not-found error (store.ErrNotFound)
	Tokens   *Tokens
	Sessions *Sessions
	Hasher   *Hasher
	Limiter  *Limiter
	Reaches  ReachScope
	Clock    func() time.Time
	// UserCacheTTL is how long Authenticate may answer from a user row it
	// read before, instead of reading it again: the bound on how late a
	// deactivation, role or township change or password change made
	// elsewhere (another replica, SQL) takes effect.
	// Changes made through this Service take effect at once. Default
	// DefaultUserCacheTTL, at most MaxUserCacheTTL; negative turns the
	// cache off (every request reads the row).
	UserCacheTTL time.Duration
	// UserCacheSize bounds the user cache; default DefaultUserCacheSize.
	UserCacheSize int
}

// User-cache defaults and limits (ServiceConfig.UserCacheTTL).
const (
	DefaultUserCacheTTL  = 2 * time.Second
	MaxUserCacheTTL      = time.Minute
	DefaultUserCacheSize = 10_000
)

// Service is identity for the API: it logs users in, authenticates each
// request against the current user row, and manages accounts.
type Service struct {
	cfg ServiceConfig
	now func() time.Time
	// users holds the rows Authenticate read, without password hashes,
	// for cfg.UserCacheTTL from the start of the read; nil when off.
	users *expiring.Cache[string, fieldwatch.User]
}

// NewService checks cfg and returns a Service.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Store == nil || cfg.NotFound == nil || cfg.Tokens == nil || cfg.Sessions == nil || cfg.Hasher == nil || cfg.Limiter == nil {
		return nil, errors.New("auth: ServiceConfig needs Store, NotFound, Tokens, Sessions, Hasher and Limiter")
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	if cfg.UserCacheTTL == 0 {
		cfg.UserCacheTTL = DefaultUserCacheTTL
	}
	if cfg.UserCacheTTL > MaxUserCacheTTL {
		return nil, fmt.Errorf("auth: user cache TTL %v above %v", cfg.UserCacheTTL, MaxUserCacheTTL)
	}
	if cfg.UserCacheSize == 0 {
		cfg.UserCacheSize = DefaultUserCacheSize
	}
	if cfg.UserCacheSize < 0 {
		return nil, fmt.Errorf("auth: user cache size %d is negative", cfg.UserCacheSize)
	}
	s := &Service{cfg: cfg, now: now}
	if cfg.UserCacheTTL > 0 {
		s.users = expiring.New[string, fieldwatch.User](cfg.UserCacheSize)
	}
	return s, nil
}

// Options are the settings of a Service built by New. Zero values take
// the defaults of the parts (TokenConfig, SessionConfig, Argon2Params,
// LimiterConfig); Keys is required.
type Options struct {
	Keys       *KeySet
	Issuer     string
	Audience   string
	AccessTTL  time.Duration
	RefreshTTL time.Duration
	Grace      time.Duration
	Argon2     Argon2Params
	Limits     LimiterConfig
	Reaches    ReachScope
	Clock      func() time.Time
	// UserCacheTTL and UserCacheSize: see ServiceConfig.
	UserCacheTTL  time.Duration
	UserCacheSize int
	// TokenCacheSize: see TokenConfig.CacheSize.
	TokenCacheSize int
}

// New builds a Service and its parts over st. notFound is st's not-found
// error (store.ErrNotFound).
func New(st UserStore, notFound error, o Options) (*Service, error) {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	tokens, err := NewTokens(TokenConfig{Keys: o.Keys, Issuer: o.Issuer, Audience: o.Audience, TTL: o.AccessTTL, Clock: o.Clock, CacheSize: o.TokenCacheSize})
	if err != nil {
		return nil, err
	}
	sessions, err := NewSessions(SessionConfig{Store: st, Tokens: tokens, NotFound: notFound, RefreshTTL: o.RefreshTTL, Grace: o.Grace, Clock: o.Clock})
	if err != nil {
		return nil, err
	}
	hasher, err := NewHasher(o.Argon2)
	if err != nil {
		return nil, err
	}
	limits := o.Limits
	if limits.Clock == nil {
		limits.Clock = o.Clock
	}
	return NewService(ServiceConfig{
		Store: st, NotFound: notFound, Tokens: tokens, Sessions: sessions,
		Hasher: hasher, Limiter: NewLimiter(limits), Reaches: o.Reaches, Clock: o.Clock,
		UserCacheTTL: o.UserCacheTTL, UserCacheSize: o.UserCacheSize,
	})
}

// LimitedError is a refused login attempt; RetryAfter says when to try
// again. It matches ErrRateLimited.
type LimitedError struct{ RetryAfter time.Duration }

func (e *LimitedError) Error() string {
	return fmt.Sprintf("auth: too many attempts, retry after %s", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrRateLimited) hold.
func (e *LimitedError) Is(target error) bool { return target == ErrRateLimited }

// Authenticate verifies an access token and loads the caller as stored
// now, or at most UserCacheTTL ago (see ServiceConfig.UserCacheTTL).
//
// Only acceptances come from the cache: when the cached row refuses the
// token (a password changed or an account reactivated on another replica
// since it was read), the row is read again and decides. So the cache can
// delay a refusal by at most the TTL, and never refuses what the row
// as stored now would accept.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (fieldwatch.Actor, error) {
	c, err := s.cfg.Tokens.Verify(accessToken)
	if err != nil {
		return fieldwatch.Actor{}, err
	}
	if s.users != nil {
		if u, ok := s.users.Get(c.UserID, s.now()); ok {
			a, err := s.actor(ctx, c, u)
			if !errors.Is(err, ErrUnauthenticated) {
				return a, err
			}
		}
	}
	u, err := s.loadUser(ctx, c.UserID)
	if errors.Is(err, s.cfg.NotFound) {
		return fieldwatch.Actor{}, fmt.Errorf("%w: user no longer exists", ErrUnauthenticated)
	}
	if err != nil {
		return fieldwatch.Actor{}, err
	}
	return s.actor(ctx, c, u)
}

// loadUser reads the user row for Authenticate and caches it, without
// its password hash, until UserCacheTTL after the read began: a change
// committed after that instant is seen by every read that starts after
// it, so no entry outlives a change by more than the TTL. A read that
// raced a local change (forgetUser) is not cached.
func (s *Service) loadUser(ctx context.Context, id string) (fieldwatch.User, error) {
	if s.users == nil {
		return s.cfg.Store.UserByID(ctx, id)
	}
	epoch := s.users.Begin()
	start := s.now()
	u, err := s.cfg.Store.UserByID(ctx, id)
	if err != nil {
		return u, err
	}
	u.PasswordHash = ""
	s.users.PutSince(epoch, id, u, start.Add(s.cfg.UserCacheTTL), start)
	return u, nil
}

// forgetUser drops the cached row of a user this Service just changed,
// so the change applies to the very next request.
func (s *Service) forgetUser(id string) {
	if s.users != nil {
		s.users.Remove(id)
	}
}

// actor is NewActor with the chief's current reaches.
func (s *Service) actor(ctx context.Context, c Claims, u fieldwatch.User) (fieldwatch.Actor, error) {
	var (
		reaches []string
		err     error
	)
	if u.Role == fieldwatch.RoleRiverChief && s.cfg.Reaches != nil {
		if reaches, err = s.cfg.Reaches(ctx, u.ID); err != nil {
			return fieldwatch.Actor{}, err
		}
	}
	return NewActor(c, u, reaches)
}

// Login checks a username and password and starts a session. Unknown
// users, wrong passwords and inactive accounts all answer
// ErrUnauthenticated after the same argon2id work, so neither the answer
// nor its timing tells which. Attempts are rate limited per account and
// per clientAddr.
func (s *Service) Login(ctx context.Context, username, password, clientAddr string) (Pair, error) {
	account := NormalizeUsername(username)
	if ok, retry := s.cfg.Limiter.Allow(account, clientAddr); !ok {
		return Pair{}, &fieldwatch.Error{Code: fieldwatch.ERATELIMITED, Message: rateLimitedMessage,
			RetryAfter: retry, Err: &LimitedError{RetryAfter: retry}}
	}
	pair, err := s.login(ctx, account, password)
	if errors.Is(err, errStaleCredentials) {
		// The user's row changed between our read and the session's
		// insert: a password change, or a concurrent login's rehash.
		// Check the password again against the row as it is now; after a
		// password change the old one fails there.
		pair, err = s.login(ctx, account, password)
	}
	return pair, err
}

// login is one attempt of Login, after the rate limits: read the user,
// verify the password, start a session on the hash verified.
func (s *Service) login(ctx context.Context, account, password string) (Pair, error) {
	u, err := s.cfg.Store.UserByUsername(ctx, account)
	if errors.Is(err, s.cfg.NotFound) || errors.Is(err, fieldwatch.ErrInvalid) {
		s.cfg.Hasher.DummyVerify(password)
		s.cfg.Limiter.Failure(account)
		return Pair{}, fmt.Errorf("%w: unknown user", ErrUnauthenticated)
	}
	if err != nil {
		return Pair{}, err
	}
	ok, rehash, err := s.cfg.Hasher.VerifyPassword(password, u.PasswordHash)
	if errors.Is(err, ErrInvalidHash) {
		return Pair{}, fmt.Errorf("auth: stored hash of user %s: %w", u.ID, err)
	}
	if err != nil || !ok || !u.Active {
		s.cfg.Limiter.Failure(account)
		return Pair{}, fmt.Errorf("%w: bad credentials", ErrUnauthenticated)
	}
	s.cfg.Limiter.Success(account)
	if rehash {
		// Parameters rose since this hash was made. Not a password change:
		// existing sessions stay valid. Losing a race with a concurrent
		// change is fine (RehashPassword compares the old hash).
		if h, err := s.cfg.Hasher.HashPassword(password); err == nil {
			switch err := s.cfg.Store.RehashPassword(ctx, u.ID, u.PasswordHash, h); {
			case err == nil:
				u.PasswordHash = h // the hash the session is started on
			case !errors.Is(err, s.cfg.NotFound):
				return Pair{}, err
			}
		}
	}
	return s.cfg.Sessions.Login(ctx, u)
}

// Refresh rotates a refresh token; see Sessions.Refresh.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Pair, error) {
	return s.cfg.Sessions.Refresh(ctx, refreshToken)
}

// Logout revokes the session of refreshToken; see Sessions.Logout.
func (s *Service) Logout(ctx context.Context, refreshToken string) error {
	return s.cfg.Sessions.Logout(ctx, refreshToken)
}

// NewUser is an account to create.
type NewUser struct {
	Username    string
	DisplayName string
	Phone       string
	Role        fieldwatch.Role
	Password    string
	Townships   []string
}

// UserUpdate changes an account; nil fields stay. Setting Active to false
// or a new Password revokes all of the user's refresh tokens at once, and
// their access tokens fail on the next request to this process
// (Authenticate reads the current row) and on other replicas within
// ServiceConfig.UserCacheTTL.
type UserUpdate struct {
	DisplayName *string
	Phone       *string
	Role        *fieldwatch.Role
	Active      *bool
	Password    *string
	Townships   *[]string
}

// CreateUser validates and stores a new account.
func (s *Service) CreateUser(ctx context.Context, in NewUser) (fieldwatch.User, error) {
	u := fieldwatch.User{Role: in.Role, Active: true}
	var err error
	if u.Username, err = ValidateUsername(in.Username); err != nil {
		return fieldwatch.User{}, err
	}
	if u.DisplayName, err = cleanName("display_name", in.DisplayName, 100); err != nil {
		return fieldwatch.User{}, err
	}
	if u.Phone, err = cleanPhone(in.Phone); err != nil {
		return fieldwatch.User{}, err
	}
	if !u.Role.Valid() {
		return fieldwatch.User{}, fieldwatch.Errorf(fieldwatch.EINVALID, "role: unknown role %q", in.Role)
	}
	if u.Townships, err = cleanTownships(in.Townships); err != nil {
		return fieldwatch.User{}, err
	}
	if u.PasswordHash, err = s.cfg.Hasher.HashPassword(in.Password); err != nil {
		return fieldwatch.User{}, err
	}
	now := s.now()
	u.CreatedAt, u.UpdatedAt, u.PasswordChangedAt = now, now, now
	if err := s.cfg.Store.CreateUser(ctx, &u); err != nil {
		return fieldwatch.User{}, err
	}
	u.PasswordHash = ""
	return u, nil
}

// User returns one account, without its password hash.
func (s *Service) User(ctx context.Context, id string) (fieldwatch.User, error) {
	u, err := s.cfg.Store.UserByID(ctx, id)
	u.PasswordHash = ""
	return u, err
}

// ListUsers returns one page of accounts, without password hashes.
func (s *Service) ListUsers(ctx context.Context, f fieldwatch.UserFilter) ([]fieldwatch.User, error) {
	users, err := s.cfg.Store.ListUsers(ctx, f)
	for i := range users {
		users[i].PasswordHash = ""
	}
	return users, err
}

// UpdateUser applies in to the account with id.
func (s *Service) UpdateUser(ctx context.Context, id string, in UserUpdate) (fieldwatch.User, error) {
	p := fieldwatch.UserPatch{Role: in.Role, Active: in.Active}
	if in.DisplayName != nil {
		v, err := cleanName("display_name", *in.DisplayName, 100)
		if err != nil {
			return fieldwatch.User{}, err
		}
		p.DisplayName = &v
	}
	if in.Phone != nil {
		v, err := cleanPhone(*in.Phone)
		if err != nil {
			return fieldwatch.User{}, err
		}
		p.Phone = &v
	}
	if in.Role != nil && !in.Role.Valid() {
		return fieldwatch.User{}, fieldwatch.Errorf(fieldwatch.EINVALID, "role: unknown role %q", *in.Role)
	}
	if in.Townships != nil {
		v, err := cleanTownships(*in.Townships)
		if err != nil {
			return fieldwatch.User{}, err
		}
		p.Townships = &v
	}
	var hash string
	if in.Password != nil {
		var err error
		if hash, err = s.cfg.Hasher.HashPassword(*in.Password); err != nil {
			return fieldwatch.User{}, err
		}
	}
	// Whatever was written, even if a later step fails, applies to the
	// next request here; other replicas see it within UserCacheTTL.
	defer s.forgetUser(id)
	now := s.now()
	u, err := s.cfg.Store.UpdateUser(ctx, id, p, now)
	if err != nil {
		return fieldwatch.User{}, err
	}
	if hash != "" {
		if err := s.cfg.Store.SetPasswordHash(ctx, id, hash, now); err != nil {
			return fieldwatch.User{}, err
		}
	}
	// A password change revoked every session already, in its own
	// transaction (SetPasswordHash); a deactivation revokes them here.
	if in.Active != nil && !*in.Active {
		if err := s.cfg.Sessions.RevokeUser(ctx, id); err != nil {
			return fieldwatch.User{}, err
		}
	}
	u.PasswordHash = ""
	return u, nil
}

// NormalizeUsername is the form usernames are stored and looked up in:
// NFC, trimmed, lower case.
func NormalizeUsername(s string) string {
	return strings.ToLower(norm.NFC.String(strings.TrimSpace(s)))
}

var usernameRE = regexp.MustCompile(`^[\p{L}\p{N}._-]{1,64}$`)

// ValidateUsername normalises s and checks it: letters (any script),
// digits, '.', '_' and '-', 1 to 64 characters.
func ValidateUsername(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fieldwatch.Errorf(fieldwatch.EINVALID, "username: not valid UTF-8")
	}
	u := NormalizeUsername(s)
	if !usernameRE.MatchString(u) {
		return "", fieldwatch.Errorf(fieldwatch.EINVALID, "username: use 1 to 64 letters, digits, '.', '_' or '-'")
	}
	return u, nil
}

// cleanName is fieldwatch.CleanText for a required single-line name.
func cleanName(field, s string, maxRunes int) (string, error) {
	s, err := fieldwatch.CleanText(field, s, maxRunes, false)
	if err != nil {
		return "", err
	}
	if s == "" {
		return "", fieldwatch.Errorf(fieldwatch.EINVALID, "%s: must be 1 to %d characters", field, maxRunes)
	}
	return s, nil
}

var phoneRE = regexp.MustCompile(`^\+?[0-9][0-9 -]{2,30}$`)

func cleanPhone(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if !phoneRE.MatchString(s) {
		return "", fieldwatch.Errorf(fieldwatch.EINVALID, "phone: digits, spaces and '-' only, optionally starting with '+'")
	}
	return s, nil
}

var townshipRE = regexp.MustCompile(`^[0-9]{9}$`)

// cleanTownships checks codes and returns them sorted without duplicates.
func cleanTownships(codes []string) ([]string, error) {
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		if !townshipRE.MatchString(c) {
			return nil, fieldwatch.Errorf(fieldwatch.EINVALID, "townships: %q is not a 9-digit township code", c)
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
