package auth

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// maxKeys bounds the configuration; rotation needs two or three keys.
const maxKeys = 16

// minDistinctSeedBytes rejects seeds that are obviously not random
// ("0000…", "abab…", a short password padded out). 32 random bytes have
// about 30 distinct values; fewer than 16 happens with probability far
// below 2^-100.
const minDistinctSeedBytes = 16

// KeySet holds the Ed25519 keys that sign and verify access tokens. The
// first key signs; every key verifies. Rotation across replicas:
//
//  1. Append the new key ("old:…,new:…") on every replica: tokens are still
//     signed by old, and all replicas can already verify new.
//  2. Move it first ("new:…,old:…"): new tokens are signed by new.
//  3. After the access-token TTL plus leeway, drop old ("new:…").
//
// A KeySet prints as its key ids only, never the seeds.
type KeySet struct {
	kids []string // configuration order; kids[0] signs
	keys map[string]ed25519.PrivateKey
}

// ParseKeySet reads the key configuration: comma-separated entries
// "kid:seed", where kid is 1–64 characters of [A-Za-z0-9._-] and seed is
// the 32-byte Ed25519 seed in unpadded base64url (43 characters), as made
// by GenerateKey. The first entry signs. Short, malformed or obviously
// non-random seeds and duplicate kids or seeds are refused with
// ErrWeakKey. Error messages name the kid, never the seed.
func ParseKeySet(s string) (*KeySet, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: no keys configured", ErrWeakKey)
	}
	entries := strings.Split(s, ",")
	if len(entries) > maxKeys {
		return nil, fmt.Errorf("%w: more than %d keys", ErrWeakKey, maxKeys)
	}
	ks := &KeySet{keys: make(map[string]ed25519.PrivateKey, len(entries))}
	seeds := make(map[string]string, len(entries))
	for i, e := range entries {
		kid, seed, ok := strings.Cut(strings.TrimSpace(e), ":")
		if !ok {
			return nil, fmt.Errorf("%w: entry %d is not kid:seed", ErrWeakKey, i+1)
		}
		if !validKID(kid) {
			return nil, fmt.Errorf("%w: entry %d: kid must be 1-64 characters of A-Z a-z 0-9 . _ -", ErrWeakKey, i+1)
		}
		if _, dup := ks.keys[kid]; dup {
			return nil, fmt.Errorf("%w: kid %q appears twice", ErrWeakKey, kid)
		}
		raw, err := decodeCanonical(base64.RawURLEncoding, seed)
		if err != nil || len(raw) != ed25519.SeedSize {
			return nil, fmt.Errorf("%w: kid %q: seed is not %d bytes of unpadded base64url", ErrWeakKey, kid, ed25519.SeedSize)
		}
		if distinctBytes(raw) < minDistinctSeedBytes {
			return nil, fmt.Errorf("%w: kid %q: seed is not random", ErrWeakKey, kid)
		}
		if other, dup := seeds[string(raw)]; dup {
			return nil, fmt.Errorf("%w: kids %q and %q share a seed", ErrWeakKey, other, kid)
		}
		seeds[string(raw)] = kid
		ks.kids = append(ks.kids, kid)
		ks.keys[kid] = ed25519.NewKeyFromSeed(raw)
	}
	return ks, nil
}

// GenerateKey returns a fresh random key entry "kid:seed" for ParseKeySet.
// The kid is derived from the public key, so the same key always has the
// same id. Use it for development and demos and to mint production keys;
// the result is a secret.
func GenerateKey() (string, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return "", fmt.Errorf("auth: generate key: %w", err)
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	sum := sha256.Sum256(pub)
	kid := base64.RawURLEncoding.EncodeToString(sum[:9])
	return kid + ":" + base64.RawURLEncoding.EncodeToString(seed), nil
}

// ActiveKID is the id of the key that signs new tokens.
func (ks *KeySet) ActiveKID() string { return ks.kids[0] }

// KIDs lists every key id, the signing one first.
func (ks *KeySet) KIDs() []string { return append([]string(nil), ks.kids...) }

// DeriveKeys returns a 32-byte secret per key, the signing key's first,
// for another use named by purpose (HMAC-SHA256 of the purpose under the
// key's seed). Every replica configured with the same keys derives the
// same secrets, so other signed values (pagination cursors) need no
// setting of their own, and rotating the keys rotates them too; the
// secrets reveal nothing of the signing keys.
func (ks *KeySet) DeriveKeys(purpose string) [][]byte {
	out := make([][]byte, 0, len(ks.kids))
	for _, kid := range ks.kids {
		m := hmac.New(sha256.New, ks.keys[kid].Seed())
		m.Write([]byte("fieldwatch derived key: " + purpose))
		out = append(out, m.Sum(nil))
	}
	return out
}

// String names the keys without revealing them, so a KeySet that slips
// into a log line or an error does no harm.
func (ks *KeySet) String() string {
	return fmt.Sprintf("auth.KeySet{signing: %s, verifying: %s}", ks.kids[0], strings.Join(ks.kids, ","))
}

// GoString keeps %#v from printing the private keys.
func (ks *KeySet) GoString() string { return ks.String() }

func (ks *KeySet) signer() (string, ed25519.PrivateKey) {
	return ks.kids[0], ks.keys[ks.kids[0]]
}

func (ks *KeySet) publicKey(kid string) (ed25519.PublicKey, bool) {
	k, ok := ks.keys[kid]
	if !ok {
		return nil, false
	}
	return k.Public().(ed25519.PublicKey), true
}

func validKID(kid string) bool {
	if len(kid) == 0 || len(kid) > 64 {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func distinctBytes(b []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range b {
		if !seen[c] {
			seen[c] = true
			n++
		}
	}
	return n
}
