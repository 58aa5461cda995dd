package auth

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fieldwatch/fieldwatch"
)

// The verified-token cache answers exactly as the parser would at every
// instant of a token's life: a token whose expiry passes while it is
// cached is refused, as is one presented before its iat or nbf (a clock
// set back).
func TestVerifyCache_AgreesWithParserOverTime(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, "k1:"+testSeed("a"))
	cached := mustTokens(t, ks, clk.Now)
	uncached, err := NewTokens(TokenConfig{Keys: ks, Clock: clk.Now, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	nbf := t0.Add(10 * time.Second)
	claims := with(goodClaims(), "nbf", nbf.Unix())
	tok := sign(t, jwt.SigningMethodEdDSA, ks.keys["k1"], map[string]any{"kid": "k1", "typ": accessTokenType}, claims)
	exp := t0.Add(15 * time.Minute)

	// Verified (and cached) once, inside its life.
	if _, err := cached.Verify(tok); err != nil {
		t.Fatal(err)
	}
	if cached.verified.Len() != 1 {
		t.Fatalf("cache holds %d tokens after one verification", cached.verified.Len())
	}
	for _, tc := range []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"Issued", t0, true},
		{"BeforeNbfLessLeeway", nbf.Add(-DefaultLeeway - time.Nanosecond), false},
		{"AtNbfLessLeeway", nbf.Add(-DefaultLeeway), true},
		{"Midlife", t0.Add(7 * time.Minute), true},
		{"AtExp", exp, true},
		{"LastInstantOfLeeway", exp.Add(DefaultLeeway - time.Nanosecond), true},
		{"ExpiredAtLeewayEdge", exp.Add(DefaultLeeway), false},
		{"LongExpired", exp.Add(time.Hour), false},
		{"ClockBackBeforeIssue", t0.Add(-time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Set(tc.at)
			_, errU := uncached.Verify(tok)
			if (errU == nil) != tc.ok {
				t.Fatalf("parser: err = %v, want ok=%v (the table is wrong)", errU, tc.ok)
			}
			c, err := cached.Verify(tok)
			if (err == nil) != tc.ok {
				t.Fatalf("cached Verify at %v: err = %v, want ok=%v", tc.at, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("err = %v, want ErrUnauthenticated", err)
			}
			if err == nil && c.UserID != testUser.ID {
				t.Fatalf("claims = %+v", c)
			}
		})
	}
}

// A hit is served from the cache, keyed by the SHA-256 of the exact
// token: an entry planted under a token's hash is what Verify returns.
func TestVerifyCache_HitSkipsParse(t *testing.T) {
	clk := newClock()
	tokens := mustTokens(t, mustKeySet(t, "k1:"+testSeed("a")), clk.Now)
	tok, _, err := tokens.Issue(testUser)
	if err != nil {
		t.Fatal(err)
	}
	planted := Claims{UserID: "planted", Role: fieldwatch.RoleAdmin, ExpiresAt: t0.Add(time.Hour)}
	tokens.verified.Put(sha256.Sum256([]byte(tok)), verifiedToken{claims: planted, notBefore: t0}, t0.Add(time.Hour), t0)
	c, err := tokens.Verify(tok)
	if err != nil || c != planted {
		t.Fatalf("Verify = %+v, %v; want the cached entry", c, err)
	}
	// One byte more is another key, and not a valid token.
	if _, err := tokens.Verify(tok + "A"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("altered token: err = %v", err)
	}
}

// Only tokens that verified are cached: a forged or expired token is
// checked in full every time it is presented.
func TestVerifyCache_FailuresNotCached(t *testing.T) {
	clk := newClock()
	ks := mustKeySet(t, "k1:"+testSeed("a"))
	tokens := mustTokens(t, ks, clk.Now)
	hdr := map[string]any{"kid": "k1", "typ": accessTokenType}
	stranger := mustKeySet(t, "k1:"+testSeed("stranger")).keys["k1"]
	for name, tok := range map[string]string{
		"Forged":  sign(t, jwt.SigningMethodEdDSA, stranger, hdr, goodClaims()),
		"Expired": sign(t, jwt.SigningMethodEdDSA, ks.keys["k1"], hdr, with(goodClaims(), "exp", t0.Add(-time.Hour).Unix())),
		"Garbage": "a.b.c",
	} {
		for range 2 {
			if _, err := tokens.Verify(tok); !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("%s: err = %v", name, err)
			}
		}
	}
	if n := tokens.verified.Len(); n != 0 {
		t.Fatalf("cache holds %d entries after only failures", n)
	}
}

// The cache holds at most CacheSize tokens, and every token still
// verifies after its entry was evicted.
func TestVerifyCache_Bound(t *testing.T) {
	clk := newClock()
	const size = 8
	tokens, err := NewTokens(TokenConfig{Keys: mustKeySet(t, "k1:"+testSeed("a")), Clock: clk.Now, CacheSize: size})
	if err != nil {
		t.Fatal(err)
	}
	var issued []string
	for i := range 5 * size {
		u := testUser
		u.ID = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		tok, _, err := tokens.Issue(u)
		if err != nil {
			t.Fatal(err)
		}
		issued = append(issued, tok)
		if _, err := tokens.Verify(tok); err != nil {
			t.Fatal(err)
		}
		if n := tokens.verified.Len(); n > size {
			t.Fatalf("%d entries, bound %d", n, size)
		}
	}
	for i, tok := range issued {
		c, err := tokens.Verify(tok)
		if err != nil || c.UserID != fmt.Sprintf("00000000-0000-4000-8000-%012d", i) {
			t.Fatalf("token %d after eviction: %+v, %v", i, c, err)
		}
	}
}

// Keys are read once at start and never change under a Tokens; a
// rotation is a restart with the new key list, and the new Tokens starts
// with an empty cache: a token of a retired key that every request
// presented until the restart is refused on the first request after it.
func TestVerifyCache_KeyRotationStartsEmpty(t *testing.T) {
	clk := newClock()
	old, nu := "old:"+testSeed("old"), "new:"+testSeed("new")
	before := mustTokens(t, mustKeySet(t, nu+","+old), clk.Now)
	tokOld := sign(t, jwt.SigningMethodEdDSA, mustKeySet(t, old).keys["old"],
		map[string]any{"kid": "old", "typ": accessTokenType}, goodClaims())
	for range 3 {
		if _, err := before.Verify(tokOld); err != nil {
			t.Fatal(err)
		}
	}
	if before.verified.Len() != 1 {
		t.Fatal("token not cached before the rotation")
	}
	after := mustTokens(t, mustKeySet(t, nu), clk.Now)
	if n := after.verified.Len(); n != 0 {
		t.Fatalf("a new key set starts with %d cached tokens", n)
	}
	if _, err := after.Verify(tokOld); !errors.Is(err, jwt.ErrTokenUnverifiable) {
		t.Fatalf("retired key's token after rotation: err = %v, want unknown kid", err)
	}
}

// BenchmarkVerify compares a verification in full with a cache hit.
func BenchmarkVerify(b *testing.B) {
	ks := mustKeySet(b, "k1:"+testSeed("a"))
	for _, bc := range []struct {
		name string
		size int
	}{{"Uncached", -1}, {"CacheHit", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			tokens, err := NewTokens(TokenConfig{Keys: ks, Clock: func() time.Time { return t0 }, CacheSize: bc.size})
			if err != nil {
				b.Fatal(err)
			}
			tok, _, err := tokens.Issue(testUser)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tokens.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
