package auth

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/internal/expiring"
)

// Access-token defaults.
const (
	DefaultIssuer    = "fieldwatch"
	DefaultAudience  = "fieldwatch-api"
	DefaultAccessTTL = 15 * time.Minute
	DefaultLeeway    = 30 * time.Second

	// MaxTokenLength bounds what Verify will look at. Our tokens are about
	// 400 bytes; anything near this size is an attack (CVE-2025-30204:
	// megabytes of dots made older jwt versions allocate per dot), and is
	// refused before any parsing.
	MaxTokenLength = 8 << 10

	maxAccessTTL = 24 * time.Hour
	maxLeeway    = 5 * time.Minute

	// DefaultTokenCacheSize bounds the verified-token cache of a Tokens:
	// at about 250 bytes an entry, 10,000 tokens (a county's users, each
	// on a couple of devices, over one access-token lifetime) take a few
	// megabytes.
	DefaultTokenCacheSize = 10_000

	// accessTokenType is the JOSE "typ" header (RFC 9068, RFC 8725 §3.11).
	// Verify demands it, so no other JWT we might sign later can pass as
	// an access token.
	accessTokenType = "at+jwt"
)

// TokenConfig configures Tokens. Zero fields take the defaults, except
// Keys, which is required.
type TokenConfig struct {
	Keys     *KeySet
	Issuer   string           // "iss"; default DefaultIssuer
	Audience string           // "aud"; default DefaultAudience
	TTL      time.Duration    // access-token lifetime; default 15 min, at most 24 h
	Leeway   time.Duration    // clock skew allowed on exp, nbf, iat; default 30 s, at most 5 min
	Clock    func() time.Time // default time.Now; tests pass a fixed clock
	// CacheSize bounds the verified-token cache (see Verify); default
	// DefaultTokenCacheSize, negative turns the cache off.
	CacheSize int
}

// Tokens issues and verifies access tokens: EdDSA-signed JWTs that carry
// the user id and role. It is safe for concurrent use.
type Tokens struct {
	keys     *KeySet
	issuer   string
	audience string
	ttl      time.Duration
	leeway   time.Duration
	now      func() time.Time
	parser   *jwt.Parser
	// verified caches the claims of tokens that passed Verify, by the
	// SHA-256 of the exact token string; nil when turned off. It lives
	// and dies with this Tokens and its KeySet: keys are read once at
	// start and never change under a Tokens, so a key rotation (a restart
	// with the new FIELDWATCH_JWT_KEYS) starts with an empty cache, and
	// no token is ever served from it under keys other than those that
	// verified it.
	verified *expiring.Cache[[sha256.Size]byte, verifiedToken]
}

// verifiedToken is a cache entry: the claims, and the instant before
// which the token is not valid yet (its iat or nbf less the leeway). Its
// expiry (exp plus the leeway) is the entry's.
type verifiedToken struct {
	claims    Claims
	notBefore time.Time
}

// Claims is what a verified access token says. Role is the role at issue
// time; authorisation uses the current role (see NewActor).
type Claims struct {
	UserID    string // "sub"
	Role      fieldwatch.Role
	ID        string // "jti", a random UUID
	IssuedAt  time.Time
	ExpiresAt time.Time
	// PasswordChangedAt is the user's password change the token was
	// issued under ("cred", in microseconds): the token dies with the
	// next change, even one in the same second as its iat. Zero for
	// tokens of older versions, which lack the claim.
	PasswordChangedAt time.Time
}

// NewTokens checks cfg and returns a Tokens.
func NewTokens(cfg TokenConfig) (*Tokens, error) {
	if cfg.Keys == nil || len(cfg.Keys.kids) == 0 {
		return nil, fmt.Errorf("%w: no key set", ErrWeakKey)
	}
	if cfg.Issuer == "" {
		cfg.Issuer = DefaultIssuer
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultAccessTTL
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.TTL < time.Minute || cfg.TTL > maxAccessTTL {
		return nil, fmt.Errorf("auth: access-token TTL %v outside [1m, %v]", cfg.TTL, maxAccessTTL)
	}
	if cfg.Leeway < 0 || cfg.Leeway > maxLeeway {
		return nil, fmt.Errorf("auth: leeway %v outside [0, %v]", cfg.Leeway, maxLeeway)
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultTokenCacheSize
	}
	var verified *expiring.Cache[[sha256.Size]byte, verifiedToken]
	if cfg.CacheSize > 0 {
		verified = expiring.New[[sha256.Size]byte, verifiedToken](cfg.CacheSize)
	}
	return &Tokens{
		keys:     cfg.Keys,
		issuer:   cfg.Issuer,
		audience: cfg.Audience,
		ttl:      cfg.TTL,
		leeway:   cfg.Leeway,
		now:      cfg.Clock,
		verified: verified,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithAudience(cfg.Audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithTimeFunc(cfg.Clock),
			jwt.WithStrictDecoding(),
		),
	}, nil
}

// Issue signs an access token for u with the active key. expiresIn is the
// token's remaining lifetime (for the "expires_in" of a token response).
// An inactive user, or one without an id or a valid role, gets no token.
func (t *Tokens) Issue(u fieldwatch.User) (token string, expiresIn time.Duration, err error) {
	if u.ID == "" || !u.Role.Valid() {
		return "", 0, fmt.Errorf("auth: issue: user without id or valid role")
	}
	if !u.Active {
		return "", 0, fmt.Errorf("%w: user is inactive", ErrUnauthenticated)
	}
	jti, err := uuid.NewRandom()
	if err != nil {
		return "", 0, fmt.Errorf("auth: issue: %w", err)
	}
	now := t.now()
	iat := now.Truncate(time.Second)
	exp := now.Add(t.ttl).Truncate(time.Second)
	kid, key := t.keys.signer()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, &accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   u.ID,
			Audience:  jwt.ClaimStrings{t.audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        jti.String(),
		},
		Role: u.Role,
		Cred: credClaim(u.PasswordChangedAt),
	})
	tok.Header["kid"] = kid
	tok.Header["typ"] = accessTokenType
	s, err := tok.SignedString(key)
	if err != nil {
		return "", 0, fmt.Errorf("auth: issue: %w", err)
	}
	return s, exp.Sub(now), nil
}

// Verify checks an access token and returns its claims. Every failure
// wraps ErrUnauthenticated (and the jwt error that says why, for logs):
// too long, malformed, alg other than EdDSA (so "none" and HS256 made
// with the public key fail), wrong or missing typ, unknown kid, bad
// signature, wrong iss or aud, missing or past exp, future nbf or iat
// (beyond the leeway), missing sub, jti or iat, or an unknown role.
//
// A token that verified is remembered, by the SHA-256 of its exact text,
// until it expires: the same token presented again skips the parse and
// the Ed25519 check (about 75 µs), and only its time claims are checked
// again against the clock, as the parser would. A token that failed is
// never remembered; one that differs by a byte is another key.
func (t *Tokens) Verify(token string) (Claims, error) {
	if len(token) > MaxTokenLength {
		return Claims{}, fmt.Errorf("%w: token longer than %d bytes", ErrUnauthenticated, MaxTokenLength)
	}
	if t.verified == nil {
		c, _, err := t.verify(token)
		return c, err
	}
	sum := sha256.Sum256([]byte(token))
	now := t.now()
	if v, ok := t.verified.Get(sum, now); ok && !now.Before(v.notBefore) {
		return v.claims, nil
	}
	c, v, err := t.verify(token)
	if err != nil {
		return Claims{}, err
	}
	t.verified.Put(sum, v, c.ExpiresAt.Add(t.leeway), now)
	return c, nil
}

// verify is Verify without the cache: the parse and the signature check.
func (t *Tokens) verify(token string) (Claims, verifiedToken, error) {
	var c accessClaims
	if _, err := t.parser.ParseWithClaims(token, &c, t.key); err != nil {
		return Claims{}, verifiedToken{}, fmt.Errorf("%w: %w", ErrUnauthenticated, err)
	}
	out := Claims{
		UserID:    c.Subject,
		Role:      c.Role,
		ID:        c.ID,
		IssuedAt:  c.IssuedAt.Time,
		ExpiresAt: c.ExpiresAt.Time,
	}
	if c.Cred != nil {
		out.PasswordChangedAt = time.UnixMicro(*c.Cred).UTC()
	}
	// The parser checked iat and nbf (when present) against now less the
	// leeway; a hit checks them again (the clock may be set back).
	notBefore := c.IssuedAt.Time
	if c.NotBefore != nil && c.NotBefore.After(notBefore) {
		notBefore = c.NotBefore.Time
	}
	return out, verifiedToken{claims: out, notBefore: notBefore.Add(-t.leeway)}, nil
}

// credClaim is the "cred" value for a user whose password last changed
// at t; nil (no claim) for a user who never had one.
func credClaim(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.UnixMicro()
	return &v
}

// key is the jwt.Keyfunc. The parser has already refused any alg but
// EdDSA when it runs.
func (t *Tokens) key(tok *jwt.Token) (any, error) {
	if typ, _ := tok.Header["typ"].(string); typ != accessTokenType {
		return nil, errors.New("typ is not " + accessTokenType)
	}
	// We understand no critical extensions, so RFC 7515 §4.1.11 says to
	// reject any token that lists some.
	if _, ok := tok.Header["crit"]; ok {
		return nil, errors.New("unsupported crit header")
	}
	kid, _ := tok.Header["kid"].(string)
	pub, ok := t.keys.publicKey(kid)
	if !ok {
		return nil, errors.New("unknown kid")
	}
	return pub, nil
}

// accessClaims is the JSON body of an access token.
type accessClaims struct {
	jwt.RegisteredClaims
	Role fieldwatch.Role `json:"role"`
	// Cred is the user's PasswordChangedAt in Unix microseconds at issue.
	Cred *int64 `json:"cred,omitempty"`
}

// UnmarshalJSON refuses time claims that are not JSON numbers before
// decoding as usual. jwt/v5 reads a NumericDate through json.Number,
// which also takes a string holding digits, so "exp":"1700000000" would
// pass; RFC 7519 §2 says a NumericDate is a number, and a token that
// says otherwise was not made by us.
func (c *accessClaims) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, k := range []string{"exp", "iat", "nbf", "cred"} {
		v, ok := raw[k]
		if !ok {
			continue
		}
		var n json.Number
		if len(v) == 0 || v[0] == '"' || json.Unmarshal(v, &n) != nil {
			return fmt.Errorf("claim %s is not a number", k)
		}
	}
	type plain accessClaims // without this method, so no recursion
	return json.Unmarshal(b, (*plain)(c))
}

// Validate adds our required claims to the jwt validator's checks.
func (c accessClaims) Validate() error {
	switch {
	case c.Subject == "":
		return errors.New("missing sub")
	case c.ID == "":
		return errors.New("missing jti")
	case c.IssuedAt == nil:
		return errors.New("missing iat")
	case !c.Role.Valid():
		return errors.New("unknown role")
	}
	return nil
}
