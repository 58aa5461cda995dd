package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
)

var testUser = fieldwatch.User{ID: "5f0c2f7e-0d7a-4a43-9a53-5c1f0e0b7c11", Role: fieldwatch.RoleInspector, Active: true}

func mustTokens(t testing.TB, ks *KeySet, now func() time.Time) *Tokens {
	t.Helper()
	tok, err := NewTokens(TokenConfig{Keys: ks, Clock: now})
	if err != nil {
		t.Fatalf("NewTokens: %v", err)
	}
	return tok
}

// sign builds a token by hand, so tests can make the ones Issue never would.
func sign(t testing.TB, m jwt.SigningMethod, key any, header map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func goodClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss":  DefaultIssuer,
		"aud":  []string{DefaultAudience},
		"sub":  testUser.ID,
		"role": "inspector",
		"iat":  t0.Unix(),
		"exp":  t0.Add(15 * time.Minute).Unix(),
		"jti":  "0b6f3c4e-3f1e-4d8e-9f3a-1c2b3d4e5f60",
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestVerify(t *testing.T) {
	ks := mustKeySet(t, "k1:"+testSeed("a"))
	tokens := mustTokens(t, ks, func() time.Time { return t0 })
	key := ks.keys["k1"]
	pub := key.Public().(ed25519.PublicKey)
	stranger := ed25519.NewKeyFromSeed(make([]byte, 32))
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hdr := map[string]any{"kid": "k1", "typ": "at+jwt"}
	hdrWith := func(k string, v any) map[string]any {
		h := map[string]any{"kid": "k1", "typ": "at+jwt"}
		h[k] = v
		return h
	}
	ed := func(h map[string]any, c jwt.MapClaims) string {
		return sign(t, jwt.SigningMethodEdDSA, key, h, c)
	}
	good := ed(hdr, goodClaims())
	parts := strings.Split(good, ".")

	tests := []struct {
		name   string
		token  string
		ok     bool
		reason error // the jwt error that must be the cause, when there is one
	}{
		{"OK", good, true, nil},
		{"OK_ExpiredWithinLeeway", ed(hdr, with(goodClaims(), "exp", t0.Add(-29*time.Second).Unix())), true, nil},
		{"OK_NbfWithinLeeway", ed(hdr, with(goodClaims(), "nbf", t0.Add(29*time.Second).Unix())), true, nil},
		{"OK_IatWithinLeeway", ed(hdr, with(goodClaims(), "iat", t0.Add(29*time.Second).Unix())), true, nil},
		{"OK_AudAsString", ed(hdr, with(goodClaims(), "aud", DefaultAudience)), true, nil},

		// docs/reliability.md#b1: algorithm and key confusion.
		{"ErrAlgNone", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr, goodClaims()), false, jwt.ErrTokenSignatureInvalid},
		{"ErrHS256WithPublicKey", sign(t, jwt.SigningMethodHS256, []byte(pub), hdr, goodClaims()), false, jwt.ErrTokenSignatureInvalid},
		{"ErrHS256WithPublicKeyBase64", sign(t, jwt.SigningMethodHS256, []byte(base64.RawURLEncoding.EncodeToString(pub)), hdr, goodClaims()), false, jwt.ErrTokenSignatureInvalid},
		{"ErrES256", sign(t, jwt.SigningMethodES256, ecKey, hdr, goodClaims()), false, jwt.ErrTokenSignatureInvalid},
		{"ErrUnknownKID", sign(t, jwt.SigningMethodEdDSA, stranger, hdrWith("kid", "ghost"), goodClaims()), false, jwt.ErrTokenUnverifiable},
		{"ErrMissingKID", ed(hdrWith("kid", nil), goodClaims()), false, jwt.ErrTokenUnverifiable},
		{"ErrKIDNotString", ed(hdrWith("kid", 1), goodClaims()), false, jwt.ErrTokenUnverifiable},
		{"ErrStrangerKeyUnderOurKID", sign(t, jwt.SigningMethodEdDSA, stranger, hdr, goodClaims()), false, jwt.ErrTokenSignatureInvalid},
		{"ErrTamperedSignature", parts[0] + "." + parts[1] + "." + flip(parts[2]), false, jwt.ErrTokenSignatureInvalid},
		{"ErrTamperedPayload", parts[0] + "." + encodeClaims(t, with(goodClaims(), "role", "admin")) + "." + parts[2], false, jwt.ErrTokenSignatureInvalid},

		// docs/reliability.md#b3: explicit typing.
		{"ErrMissingTyp", ed(hdrWith("typ", nil), goodClaims()), false, jwt.ErrTokenUnverifiable},
		{"ErrTypJWT", ed(hdrWith("typ", "JWT"), goodClaims()), false, jwt.ErrTokenUnverifiable},
		{"ErrCrit", ed(hdrWith("crit", []string{"exp"}), goodClaims()), false, jwt.ErrTokenUnverifiable},

		// docs/reliability.md#b2: registered claims.
		{"ErrMissingExp", ed(hdr, with(goodClaims(), "exp", nil)), false, jwt.ErrTokenRequiredClaimMissing},
		// A NumericDate is a JSON number (RFC 7519 §2); jwt/v5 would read
		// "exp":"1700000000" through json.Number.
		{"ErrExpAsString", ed(hdr, with(goodClaims(), "exp", fmt.Sprint(t0.Add(15*time.Minute).Unix()))), false, jwt.ErrTokenMalformed},
		{"ErrIatAsString", ed(hdr, with(goodClaims(), "iat", fmt.Sprint(t0.Unix()))), false, jwt.ErrTokenMalformed},
		{"ErrNbfAsString", ed(hdr, with(goodClaims(), "nbf", fmt.Sprint(t0.Unix()))), false, jwt.ErrTokenMalformed},
		{"ErrExpired", ed(hdr, with(goodClaims(), "exp", t0.Add(-31*time.Second).Unix())), false, jwt.ErrTokenExpired},
		{"ErrExpiredAtLeewayEdge", ed(hdr, with(goodClaims(), "exp", t0.Add(-30*time.Second).Unix())), false, jwt.ErrTokenExpired},
		{"ErrNbfInFuture", ed(hdr, with(goodClaims(), "nbf", t0.Add(31*time.Second).Unix())), false, jwt.ErrTokenNotValidYet},
		{"ErrIatInFuture", ed(hdr, with(goodClaims(), "iat", t0.Add(31*time.Second).Unix())), false, jwt.ErrTokenUsedBeforeIssued},
		{"ErrWrongIss", ed(hdr, with(goodClaims(), "iss", "evil")), false, jwt.ErrTokenInvalidIssuer},
		{"ErrMissingIss", ed(hdr, with(goodClaims(), "iss", nil)), false, jwt.ErrTokenRequiredClaimMissing},
		{"ErrWrongAud", ed(hdr, with(goodClaims(), "aud", []string{"other-api"})), false, jwt.ErrTokenInvalidAudience},
		{"ErrMissingAud", ed(hdr, with(goodClaims(), "aud", nil)), false, jwt.ErrTokenRequiredClaimMissing},
		{"ErrMissingSub", ed(hdr, with(goodClaims(), "sub", nil)), false, jwt.ErrTokenInvalidClaims},
		{"ErrMissingJTI", ed(hdr, with(goodClaims(), "jti", nil)), false, jwt.ErrTokenInvalidClaims},
		{"ErrMissingIat", ed(hdr, with(goodClaims(), "iat", nil)), false, jwt.ErrTokenInvalidClaims},
		{"ErrUnknownRole", ed(hdr, with(goodClaims(), "role", "superuser")), false, jwt.ErrTokenInvalidClaims},
		{"ErrMissingRole", ed(hdr, with(goodClaims(), "role", nil)), false, jwt.ErrTokenInvalidClaims},

		// docs/reliability.md#b3/#b4: things that are not access tokens at all.
		{"ErrEmpty", "", false, jwt.ErrTokenMalformed},
		{"ErrTwoSegments", parts[0] + "." + parts[1], false, jwt.ErrTokenMalformed},
		{"ErrBearerPrefix", "Bearer " + good, false, jwt.ErrTokenMalformed},
		{"ErrPadded", good + "==", false, jwt.ErrTokenMalformed},
		{"ErrRefreshToken", RefreshTokenPrefix + strings.Repeat("A", 43), false, jwt.ErrTokenMalformed},
		{"ErrManyDotsUnderLimit", strings.Repeat(".", MaxTokenLength), false, jwt.ErrTokenMalformed},
		{"ErrTooLong", good + "." + strings.Repeat("A", MaxTokenLength), false, nil},
		{"ErrMegabyteOfDots", strings.Repeat(".", 1<<20), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tokens.Verify(tt.token)
			// The second time a token may come from the verified-token
			// cache; the answer must not change.
			c2, err2 := tokens.Verify(tt.token)
			if c2 != c || (err2 == nil) != (err == nil) {
				t.Fatalf("second Verify = %+v, %v; first = %+v, %v", c2, err2, c, err)
			}
			if tt.ok {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.UserID != testUser.ID || c.Role != fieldwatch.RoleInspector {
					t.Errorf("claims = %+v", c)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("Verify err = %v, want ErrUnauthenticated", err)
			}
			if tt.reason != nil && !errors.Is(err, tt.reason) {
				t.Errorf("Verify err = %v, want cause %v", err, tt.reason)
			}
			if c != (Claims{}) {
				t.Errorf("failed Verify returned claims %+v", c)
			}
		})
	}
}

// flip changes one character in the middle of a base64url segment.
func flip(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func encodeClaims(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(j)
}

// TestVerify_HugeInputIsCheap pins docs/reliability.md#b4: a megabyte of dots
// (CVE-2025-30204) is refused on its length, with no allocation that
// grows with the input.
func TestVerify_HugeInputIsCheap(t *testing.T) {
	tokens := mustTokens(t, mustKeySet(t, "k1:"+testSeed("a")), func() time.Time { return t0 })
	dots := strings.Repeat(".", 1<<20)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := tokens.Verify(dots); !errors.Is(err, ErrUnauthenticated) {
			t.Fatal("accepted a megabyte of dots")
		}
	})
	if allocs > 4 {
		t.Errorf("Verify(1 MiB of dots) made %.0f allocations, want at most 4", allocs)
	}
}

func TestIssue(t *testing.T) {
	clock := newClock()
	tokens := mustTokens(t, mustKeySet(t, "k1:"+testSeed("a")), clock.Now)

	t.Run("OK", func(t *testing.T) {
		s, expiresIn, err := tokens.Issue(testUser)
		if err != nil {
			t.Fatal(err)
		}
		if expiresIn != DefaultAccessTTL {
			t.Errorf("expiresIn = %v, want %v", expiresIn, DefaultAccessTTL)
		}
		c, err := tokens.Verify(s)
		if err != nil {
			t.Fatalf("Verify(Issue()) = %v", err)
		}
		want := Claims{UserID: testUser.ID, Role: testUser.Role, ID: c.ID, IssuedAt: t0, ExpiresAt: t0.Add(DefaultAccessTTL)}
		if !c.IssuedAt.Equal(want.IssuedAt) || !c.ExpiresAt.Equal(want.ExpiresAt) || c.UserID != want.UserID || c.Role != want.Role {
			t.Errorf("claims = %+v, want %+v", c, want)
		}
		if _, err := uuid.Parse(c.ID); err != nil {
			t.Errorf("jti %q is not a UUID", c.ID)
		}
		tok, _, _ := jwt.NewParser().ParseUnverified(s, jwt.MapClaims{})
		if tok.Header["alg"] != "EdDSA" || tok.Header["typ"] != "at+jwt" || tok.Header["kid"] != "k1" {
			t.Errorf("header = %v", tok.Header)
		}
		s2, _, _ := tokens.Issue(testUser)
		c2, _ := tokens.Verify(s2)
		if c2.ID == c.ID {
			t.Error("two tokens share a jti")
		}
	})
	t.Run("OK_SubSecondClock", func(t *testing.T) {
		clock := testclock.New(t0.Add(400 * time.Millisecond))
		tokens := mustTokens(t, mustKeySet(t, "k1:"+testSeed("a")), clock.Now)
		_, expiresIn, err := tokens.Issue(testUser)
		if err != nil {
			t.Fatal(err)
		}
		// exp has whole seconds; expires_in must not promise more.
		if want := DefaultAccessTTL - 400*time.Millisecond; expiresIn != want {
			t.Errorf("expiresIn = %v, want %v", expiresIn, want)
		}
	})
	t.Run("Lifetime", func(t *testing.T) {
		clock := newClock()
		tokens := mustTokens(t, mustKeySet(t, "k1:"+testSeed("a")), clock.Now)
		s, _, _ := tokens.Issue(testUser)
		clock.Advance(DefaultAccessTTL + DefaultLeeway - time.Second)
		if _, err := tokens.Verify(s); err != nil {
			t.Errorf("within leeway after exp: %v", err)
		}
		clock.Advance(time.Second)
		if _, err := tokens.Verify(s); !errors.Is(err, jwt.ErrTokenExpired) {
			t.Errorf("after exp + leeway: %v, want expired", err)
		}
	})
	errCases := []struct {
		name string
		u    fieldwatch.User
		err  error
	}{
		{"ErrUnauthenticated_Inactive", fieldwatch.User{ID: "u1", Role: fieldwatch.RoleAdmin}, ErrUnauthenticated},
		{"ErrNoID", fieldwatch.User{Role: fieldwatch.RoleAdmin, Active: true}, nil},
		{"ErrBadRole", fieldwatch.User{ID: "u1", Role: "root", Active: true}, nil},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := tokens.Issue(tt.u)
			if err == nil || s != "" {
				t.Fatalf("Issue = %q, %v; want an error", s, err)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("Issue err = %v, want %v", err, tt.err)
			}
		})
	}
}

// TestKeyRotation walks the three steps documented on KeySet, with one
// replica that has not been updated yet.
func TestKeyRotation(t *testing.T) {
	now := func() time.Time { return t0 }
	old, nu := "old:"+testSeed("old"), "new:"+testSeed("new")
	kidOf := func(s string) string {
		tok, _, err := jwt.NewParser().ParseUnverified(s, jwt.MapClaims{})
		if err != nil {
			t.Fatal(err)
		}
		return tok.Header["kid"].(string)
	}
	before := mustTokens(t, mustKeySet(t, old), now)
	staged := mustTokens(t, mustKeySet(t, old+","+nu), now)
	rotated := mustTokens(t, mustKeySet(t, nu+","+old), now)
	after := mustTokens(t, mustKeySet(t, nu), now)

	tokOld, _, _ := before.Issue(testUser)
	tokStaged, _, _ := staged.Issue(testUser)
	tokNew, _, _ := rotated.Issue(testUser)

	t.Run("StagedStillSignsWithOld", func(t *testing.T) {
		if kid := kidOf(tokStaged); kid != "old" {
			t.Errorf("kid = %q, want old", kid)
		}
	})
	t.Run("RotatedSignsWithNew", func(t *testing.T) {
		if kid := kidOf(tokNew); kid != "new" {
			t.Errorf("kid = %q, want new", kid)
		}
	})
	t.Run("OldTokenVerifiesAfterRotation", func(t *testing.T) {
		if _, err := rotated.Verify(tokOld); err != nil {
			t.Error(err)
		}
	})
	t.Run("NewTokenVerifiesOnStagedReplica", func(t *testing.T) {
		if _, err := staged.Verify(tokNew); err != nil {
			t.Error(err)
		}
	})
	t.Run("ErrNewTokenOnUnstagedReplica", func(t *testing.T) {
		if _, err := before.Verify(tokNew); !errors.Is(err, jwt.ErrTokenUnverifiable) {
			t.Errorf("err = %v, want unknown kid", err)
		}
	})
	t.Run("ErrOldTokenAfterRetirement", func(t *testing.T) {
		if _, err := after.Verify(tokOld); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("err = %v, want ErrUnauthenticated", err)
		}
	})
}

func TestNewTokens(t *testing.T) {
	ks := mustKeySet(t, "k1:"+testSeed("a"))
	tests := []struct {
		name string
		cfg  TokenConfig
		ok   bool
	}{
		{"OK_Defaults", TokenConfig{Keys: ks}, true},
		{"OK_Custom", TokenConfig{Keys: ks, Issuer: "i", Audience: "a", TTL: 5 * time.Minute, Leeway: time.Second}, true},
		{"ErrNoKeys", TokenConfig{}, false},
		{"ErrTTLTooShort", TokenConfig{Keys: ks, TTL: 10 * time.Second}, false},
		{"ErrTTLTooLong", TokenConfig{Keys: ks, TTL: 48 * time.Hour}, false},
		{"ErrLeewayTooLong", TokenConfig{Keys: ks, Leeway: 10 * time.Minute}, false},
		{"ErrNegativeLeeway", TokenConfig{Keys: ks, Leeway: -time.Second}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTokens(tt.cfg)
			if (err == nil) != tt.ok {
				t.Errorf("NewTokens err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
