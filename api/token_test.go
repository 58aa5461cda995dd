package api_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestBadTokensAre401 presents forged, stale and misused tokens to a real
// server: each must be a 401 problem. (That the megabyte is refused before
// parsing, with bounded allocation, is asserted in package auth.)
func TestBadTokensAre401(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		uid := a.mustUser("tok.user", "admin", pw)
		access, refresh := a.login("tok.user", pw)
		if r := a.do("GET", "/v1/me", access, nil); r.status != 200 {
			t.Fatalf("genuine token refused: %d %s", r.status, r.body)
		}

		// Crafted tokens carry no credential claim: they are refused if
		// issued in the second the password was set, as any such token is.
		a.clock.Advance(time.Second)
		kid, seedB64, _ := strings.Cut(a.key, ":")
		seed, err := base64.RawURLEncoding.DecodeString(seedB64)
		if err != nil {
			t.Fatal(err)
		}
		priv := ed25519.NewKeyFromSeed(seed)
		now := a.clock.Now()
		claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
			c := jwt.MapClaims{
				"sub": uid, "role": "admin", "iss": "fieldwatch", "aud": "fieldwatch-api",
				"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": "3d8a4c1e-8b57-4f5e-9c1a-2b7f6f0f9a10",
			}
			if mod != nil {
				mod(c)
			}
			return c
		}
		sign := func(c jwt.MapClaims, header func(*jwt.Token)) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
			tok.Header["kid"] = kid
			tok.Header["typ"] = "at+jwt"
			if header != nil {
				header(tok)
			}
			s, err := tok.SignedString(priv)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		// Sanity: a token we craft like the server's is accepted, so each
		// refusal below is for the one thing the case changes.
		if r := a.do("GET", "/v1/me", sign(claims(nil), nil), nil); r.status != 200 {
			t.Fatalf("crafted genuine token refused: %d %s", r.status, r.body)
		}
		algNone := func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
			tok.Header["kid"] = kid
			s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		hsConfusion := func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
			tok.Header["kid"] = kid
			s, err := tok.SignedString([]byte(priv.Public().(ed25519.PublicKey)))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		tests := []struct {
			name  string
			token string
		}{
			{"AlgNone", algNone()},
			{"HS256WithPublicKey", hsConfusion()},
			{"UnknownKid", sign(claims(nil), func(tk *jwt.Token) { tk.Header["kid"] = "someone-else" })},
			{"MissingExp", sign(claims(func(c jwt.MapClaims) { delete(c, "exp") }), nil)},
			{"WrongIssuer", sign(claims(func(c jwt.MapClaims) { c["iss"] = "evil" }), nil)},
			{"WrongAudience", sign(claims(func(c jwt.MapClaims) { c["aud"] = "other-api" }), nil)},
			{"Expired", sign(claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), nil)},
			{"FutureNbf", sign(claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), nil)},
			{"TamperedRole", func() string {
				parts := strings.Split(access, ".")
				parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"` + uid + `","role":"admin","iss":"fieldwatch","aud":"fieldwatch-api"}`))
				return strings.Join(parts, ".")
			}()},
			{"RefreshTokenAsAccess", refresh},
			{"MegabyteOfDots", strings.Repeat(".", 1_000_000)},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				requireProblem(t, a.do("GET", "/v1/me", tc.token, nil), http.StatusUnauthorized)
			})
		}
		t.Run("AccessTokenAsRefresh", func(t *testing.T) {
			requireProblem(t, a.do("POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": access}), 401)
		})
	})
}
