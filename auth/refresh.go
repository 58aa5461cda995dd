package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
)

// Refresh-token defaults.
const (
	DefaultRefreshTTL = 30 * 24 * time.Hour
	DefaultGrace      = 30 * time.Second

	// RefreshTokenPrefix starts every refresh token, so one is easy to
	// recognise in a leak scan and can never parse as a JWT.
	RefreshTokenPrefix = "fwr_"

	refreshTokenBytes = 32
	maxGrace          = 5 * time.Minute
)

var refreshTokenLen = len(RefreshTokenPrefix) + base64.RawURLEncoding.EncodedLen(refreshTokenBytes)

// RefreshStore is the persistence Sessions needs; *store.Store satisfies
// it. Every row of a family is revoked together, spent or not.
type RefreshStore interface {
	// InsertRefreshToken stores a new token row of an existing family,
	// only while the user has not changed password since the family
	// began, atomically; otherwise it returns an error matching
	// SessionConfig.NotFound. (A deactivated user's family dies at its
	// next refresh, which reads the user.)
	InsertRefreshToken(ctx context.Context, t fieldwatch.RefreshToken) error
	// StartRefreshFamily stores the first row of a new family, only while
	// the user is active and its stored password hash is still
	// passwordHash (the one the login verified), in one atomic step;
	// otherwise it returns an error matching SessionConfig.NotFound.
	StartRefreshFamily(ctx context.Context, t fieldwatch.RefreshToken, passwordHash string) error
	// RefreshTokenByHash returns the row with this SHA-256, or an error
	// matching SessionConfig.NotFound.
	RefreshTokenByHash(ctx context.Context, hash []byte) (fieldwatch.RefreshToken, error)
	// SpendRefreshToken marks the row spent at `at` if it is neither spent
	// nor revoked, atomically, and reports whether this call did it.
	SpendRefreshToken(ctx context.Context, id string, at time.Time) (bool, error)
	// RevokeRefreshFamily revokes every unrevoked row of the family.
	RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) error
	// RevokeUserRefreshTokens revokes every unrevoked row of the user.
	RevokeUserRefreshTokens(ctx context.Context, userID string, at time.Time) error
	// UserByID returns the user, or an error matching SessionConfig.NotFound.
	UserByID(ctx context.Context, id string) (fieldwatch.User, error)
}

// SessionConfig configures Sessions. Zero durations take the defaults.
type SessionConfig struct {
	Store  RefreshStore
	Tokens *Tokens

	// NotFound is the error the store returns for a missing row
	// (store.ErrNotFound), matched with errors.Is. Telling it apart from
	// other errors matters: an unknown token is a 401, but a database
	// outage must not make phones throw their sessions away.
	NotFound error

	RefreshTTL time.Duration // lifetime of each refresh token; default 30 days
	// Grace is how long after a token was spent presenting it again still
	// yields a new pair instead of revoking the family: a phone on a weak
	// network often sends a refresh, loses the answer and retries with
	// the same token. Default 30 s, at most 5 min.
	Grace time.Duration
	Clock func() time.Time // default time.Now
}

// Sessions issues token pairs and rotates refresh tokens with reuse
// detection (RFC 9700 §4.14). Each login starts a family; each refresh
// spends the presented token and adds a new one to the family. A spent
// token presented again after the grace window means two parties hold
// the same token, so the family is revoked and both must log in again.
//
// Each new refresh token lives RefreshTTL from its own issue, so a phone
// that is used at least once a month stays logged in until logout,
// deactivation or a password change.
type Sessions struct {
	store    RefreshStore
	tokens   *Tokens
	notFound error
	ttl      time.Duration
	grace    time.Duration
	now      func() time.Time
}

// Pair is what a login or refresh returns to the client.
type Pair struct {
	AccessToken      string
	ExpiresIn        time.Duration // of the access token
	RefreshToken     string        // shown once; only its hash is stored
	RefreshExpiresAt time.Time
	User             fieldwatch.User // as read at issue time, PasswordHash cleared
}

// NewSessions checks cfg and returns a Sessions.
func NewSessions(cfg SessionConfig) (*Sessions, error) {
	if cfg.Store == nil || cfg.Tokens == nil || cfg.NotFound == nil {
		return nil, errors.New("auth: sessions need Store, Tokens and NotFound")
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = DefaultRefreshTTL
	}
	if cfg.Grace == 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.RefreshTTL < time.Hour {
		return nil, fmt.Errorf("auth: refresh TTL %v below 1h", cfg.RefreshTTL)
	}
	if cfg.Grace < 0 || cfg.Grace > maxGrace {
		return nil, fmt.Errorf("auth: refresh grace %v outside [0, %v]", cfg.Grace, maxGrace)
	}
	return &Sessions{
		store:    cfg.Store,
		tokens:   cfg.Tokens,
		notFound: cfg.NotFound,
		ttl:      cfg.RefreshTTL,
		grace:    cfg.Grace,
		now:      cfg.Clock,
	}, nil
}

// Login starts a new session for u, whose password the caller has
// already verified against u.PasswordHash: a new refresh-token family and
// an access token. The family is stored only if that hash is still the
// user's (RefreshStore.StartRefreshFamily), so a password change that
// commits while the login runs wins: the login gets errStaleCredentials
// (an ErrUnauthenticated), and the caller may read the user again. An
// inactive user gets ErrUnauthenticated.
func (s *Sessions) Login(ctx context.Context, u fieldwatch.User) (Pair, error) {
	if !u.Active {
		return Pair{}, fmt.Errorf("%w: user is inactive", ErrUnauthenticated)
	}
	family, err := uuid.NewRandom()
	if err != nil {
		return Pair{}, fmt.Errorf("auth: login: %w", err)
	}
	return s.issue(ctx, u, family.String(), true)
}

// Refresh exchanges a refresh token for a new pair in the same family.
//
// It answers ErrUnauthenticated for a malformed, unknown, expired or
// revoked token and for a deleted or inactive user; ErrRefreshReuse
// (which wraps ErrUnauthenticated) when a spent token comes back after
// the grace window, having revoked its family. A spent token presented
// within the grace window, including the loser of two concurrent
// refreshes, gets a new pair. Store failures are returned wrapped and
// are not ErrUnauthenticated: the client should keep its token and retry.
func (s *Sessions) Refresh(ctx context.Context, refreshToken string) (Pair, error) {
	hash, err := hashRefreshToken(refreshToken)
	if err != nil {
		return Pair{}, err
	}
	// The second pass happens only when another request spent the token
	// between our read and our spend; it re-reads to learn when.
	for range 2 {
		rt, err := s.lookup(ctx, hash)
		if err != nil {
			return Pair{}, err
		}
		now := s.now()
		if rt.RevokedAt != nil {
			return Pair{}, fmt.Errorf("%w: refresh token revoked", ErrUnauthenticated)
		}
		if !now.Before(rt.ExpiresAt) {
			return Pair{}, fmt.Errorf("%w: refresh token expired", ErrUnauthenticated)
		}
		u, err := s.activeUser(ctx, rt)
		if err != nil {
			return Pair{}, err
		}
		if rt.SpentAt != nil {
			if now.Sub(*rt.SpentAt) > s.grace {
				if err := s.store.RevokeRefreshFamily(ctx, rt.FamilyID, now); err != nil {
					return Pair{}, fmt.Errorf("auth: refresh: revoke family after reuse: %w", err)
				}
				return Pair{}, ErrRefreshReuse
			}
			return s.rotate(ctx, u, rt, hash)
		}
		spent, err := s.store.SpendRefreshToken(ctx, rt.ID, now)
		if err != nil {
			return Pair{}, fmt.Errorf("auth: refresh: spend: %w", err)
		}
		if spent {
			return s.rotate(ctx, u, rt, hash)
		}
	}
	// The store said "not spent by you" twice yet shows the token unspent
	// and unrevoked; refuse rather than guess.
	return Pair{}, fmt.Errorf("%w: refresh token could not be spent", ErrUnauthenticated)
}

// Logout revokes the family of refreshToken, ending that session on every
// device that holds a token of it. Access tokens already issued stay
// valid until they expire (at most the access TTL). A malformed or
// unknown token gives ErrUnauthenticated, which the API may answer with
// success all the same; an already revoked family is not an error.
func (s *Sessions) Logout(ctx context.Context, refreshToken string) error {
	hash, err := hashRefreshToken(refreshToken)
	if err != nil {
		return err
	}
	rt, err := s.lookup(ctx, hash)
	if err != nil {
		return err
	}
	if rt.RevokedAt != nil {
		return nil
	}
	if err := s.store.RevokeRefreshFamily(ctx, rt.FamilyID, s.now()); err != nil {
		return fmt.Errorf("auth: logout: %w", err)
	}
	return nil
}

// RevokeUser revokes every refresh token of the user. Call it after
// deactivating a user or changing their password (docs/reliability.md#b8); access
// tokens are refused from the next request on by NewActor.
func (s *Sessions) RevokeUser(ctx context.Context, userID string) error {
	if err := s.store.RevokeUserRefreshTokens(ctx, userID, s.now()); err != nil {
		return fmt.Errorf("auth: revoke user tokens: %w", err)
	}
	return nil
}

// rotate adds a new token to parent's family and issues the pair.
func (s *Sessions) rotate(ctx context.Context, u fieldwatch.User, parent fieldwatch.RefreshToken, parentHash []byte) (Pair, error) {
	p, err := s.issue(ctx, u, parent.FamilyID, false)
	if errors.Is(err, errStaleCredentials) {
		// The password changed (or the user was deactivated) since the
		// family began: the family is dead, whatever its rows say.
		if rerr := s.store.RevokeRefreshFamily(ctx, parent.FamilyID, s.now()); rerr != nil {
			return Pair{}, fmt.Errorf("auth: refresh: revoke family: %w", rerr)
		}
		return Pair{}, err
	}
	if err != nil {
		return Pair{}, err
	}
	// A logout, reuse detection or password change may have revoked the
	// family between our read and our insert, and then missed the row we
	// just added. Revocation marks every row of the family, the parent
	// included, so looking at the parent again closes that gap.
	again, err := s.lookup(ctx, parentHash)
	if err != nil {
		return Pair{}, err
	}
	if again.RevokedAt != nil {
		if err := s.store.RevokeRefreshFamily(ctx, parent.FamilyID, s.now()); err != nil {
			return Pair{}, fmt.Errorf("auth: refresh: revoke family: %w", err)
		}
		return Pair{}, fmt.Errorf("%w: refresh token revoked", ErrUnauthenticated)
	}
	return p, nil
}

// errStaleCredentials: the user's credentials changed (a password change,
// a deactivation, or a rehash) between reading the user and storing the
// session's refresh token, so the token was not stored.
var errStaleCredentials = fmt.Errorf("%w: credentials changed during the request", ErrUnauthenticated)

// issue stores a new refresh token of family (its first when first, for
// a login) and signs an access token naming u's credentials.
func (s *Sessions) issue(ctx context.Context, u fieldwatch.User, family string, first bool) (Pair, error) {
	access, expiresIn, err := s.tokens.Issue(u)
	if err != nil {
		return Pair{}, err
	}
	raw := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return Pair{}, fmt.Errorf("auth: refresh token: %w", err)
	}
	id, err := uuid.NewRandom()
	if err != nil {
		return Pair{}, fmt.Errorf("auth: refresh token: %w", err)
	}
	now := s.now()
	sum := sha256.Sum256(raw)
	rt := fieldwatch.RefreshToken{
		ID:        id.String(),
		FamilyID:  family,
		UserID:    u.ID,
		Hash:      sum[:],
		CreatedAt: now,
		ExpiresAt: now.Add(s.ttl),
	}
	if first {
		err = s.store.StartRefreshFamily(ctx, rt, u.PasswordHash)
	} else {
		err = s.store.InsertRefreshToken(ctx, rt)
	}
	if errors.Is(err, s.notFound) {
		return Pair{}, fmt.Errorf("%w (user %s)", errStaleCredentials, u.ID)
	}
	if err != nil {
		return Pair{}, fmt.Errorf("auth: store refresh token: %w", err)
	}
	u.PasswordHash = ""
	return Pair{
		AccessToken:      access,
		ExpiresIn:        expiresIn,
		RefreshToken:     RefreshTokenPrefix + base64.RawURLEncoding.EncodeToString(raw),
		RefreshExpiresAt: rt.ExpiresAt,
		User:             u,
	}, nil
}

func (s *Sessions) lookup(ctx context.Context, hash []byte) (fieldwatch.RefreshToken, error) {
	rt, err := s.store.RefreshTokenByHash(ctx, hash)
	if errors.Is(err, s.notFound) {
		return fieldwatch.RefreshToken{}, fmt.Errorf("%w: unknown refresh token", ErrUnauthenticated)
	}
	if err != nil {
		return fieldwatch.RefreshToken{}, fmt.Errorf("auth: refresh token lookup: %w", err)
	}
	return rt, nil
}

// activeUser loads the token's user. For a deleted or inactive user the
// family is revoked too, so reactivating the account later does not bring
// old sessions back.
func (s *Sessions) activeUser(ctx context.Context, rt fieldwatch.RefreshToken) (fieldwatch.User, error) {
	u, err := s.store.UserByID(ctx, rt.UserID)
	switch {
	case errors.Is(err, s.notFound):
	case err != nil:
		return fieldwatch.User{}, fmt.Errorf("auth: refresh: load user: %w", err)
	case u.Active:
		return u, nil
	}
	if err := s.store.RevokeRefreshFamily(ctx, rt.FamilyID, s.now()); err != nil {
		return fieldwatch.User{}, fmt.Errorf("auth: refresh: revoke family: %w", err)
	}
	return fieldwatch.User{}, fmt.Errorf("%w: user missing or inactive", ErrUnauthenticated)
}

// hashRefreshToken checks the token's shape and returns the SHA-256 of
// its 32 random bytes, the value stored. Malformed input never reaches
// the store.
func hashRefreshToken(tok string) ([]byte, error) {
	if len(tok) != refreshTokenLen || !strings.HasPrefix(tok, RefreshTokenPrefix) {
		return nil, fmt.Errorf("%w: malformed refresh token", ErrUnauthenticated)
	}
	raw, err := decodeCanonical(base64.RawURLEncoding, tok[len(RefreshTokenPrefix):])
	if err != nil || len(raw) != refreshTokenBytes {
		return nil, fmt.Errorf("%w: malformed refresh token", ErrUnauthenticated)
	}
	sum := sha256.Sum256(raw)
	return sum[:], nil
}
