package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"

	"github.com/fieldwatch/fieldwatch"
)

// Password rules. Lengths count runes after NFC normalisation, so a
// 60-character Chinese password (180 bytes of UTF-8) is fine; bcrypt would
// have silently ignored everything after its 24th character.
const (
	MinPasswordRunes = 8
	MaxPasswordRunes = 256
)

// Defaults and floors for argon2id. The defaults are OWASP's first
// recommended setting (m=19 MiB, t=2, p=1); NewHasher refuses anything
// weaker so that a typo in configuration cannot quietly weaken every
// future hash.
const (
	DefaultArgon2Memory  = 19456 // KiB
	DefaultArgon2Time    = 2
	DefaultArgon2Threads = 1
	DefaultMaxConcurrent = 4

	minArgon2Memory = 19456
	minArgon2Time   = 2
)

// Upper bounds on what a PHC string may ask for. A stored hash is read
// back with the parameters it names, so without these a corrupted or
// planted row could make one login allocate gigabytes or spin for minutes.
const (
	maxArgon2Memory  = 128 << 10 // KiB, 128 MiB
	maxArgon2Time    = 16
	maxArgon2Threads = 16
	minSaltLen       = 8
	maxSaltLen       = 64
	minKeyLen        = 16
	maxKeyLen        = 64
	maxPHCLen        = 256

	saltLen = 16
	keyLen  = 32
)

// Argon2Params configures a Hasher. Zero fields take the defaults.
type Argon2Params struct {
	Memory  uint32 // KiB; at least 19456 (19 MiB), at most 131072
	Time    uint32 // passes; at least 2, at most 16
	Threads uint8  // lanes; 1..16

	// MaxConcurrent bounds how many hashes run at once. Each one holds
	// Memory KiB for its whole run; without a bound a burst of logins
	// would multiply that by the number of requests in flight. Callers
	// beyond the bound wait their turn (tens of milliseconds each).
	MaxConcurrent int
}

// Hasher hashes and verifies passwords with argon2id. It is safe for
// concurrent use.
type Hasher struct {
	params phcParams
	sem    chan struct{}
	dummy  string // a well-formed hash no password matches, for DummyVerify
}

// NewHasher returns a Hasher that writes hashes with p (defaults filled
// in). Parameters below the floor (m=19 MiB, t=2) or above the caps are
// refused.
func NewHasher(p Argon2Params) (*Hasher, error) {
	if p.Memory == 0 {
		p.Memory = DefaultArgon2Memory
	}
	if p.Time == 0 {
		p.Time = DefaultArgon2Time
	}
	if p.Threads == 0 {
		p.Threads = DefaultArgon2Threads
	}
	if p.MaxConcurrent == 0 {
		p.MaxConcurrent = DefaultMaxConcurrent
	}
	switch {
	case p.Memory < minArgon2Memory || p.Memory > maxArgon2Memory:
		return nil, fmt.Errorf("auth: argon2 memory %d KiB outside [%d, %d]", p.Memory, minArgon2Memory, maxArgon2Memory)
	case p.Time < minArgon2Time || p.Time > maxArgon2Time:
		return nil, fmt.Errorf("auth: argon2 time %d outside [%d, %d]", p.Time, minArgon2Time, maxArgon2Time)
	case p.Threads > maxArgon2Threads:
		return nil, fmt.Errorf("auth: argon2 threads %d above %d", p.Threads, maxArgon2Threads)
	case p.MaxConcurrent < 1:
		return nil, fmt.Errorf("auth: argon2 MaxConcurrent %d below 1", p.MaxConcurrent)
	}
	h := &Hasher{
		params: phcParams{memory: p.Memory, time: p.Time, threads: p.Threads},
		sem:    make(chan struct{}, p.MaxConcurrent),
	}
	// Random salt and key: no password can match, and nothing needs to be
	// computed at start-up.
	salt, key := make([]byte, saltLen), make([]byte, keyLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("auth: dummy salt: %w", err)
	}
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("auth: dummy key: %w", err)
	}
	h.dummy = phc{params: h.params, salt: salt, key: key}.String()
	return h, nil
}

// HashPassword checks pw against the password rules and returns its
// argon2id PHC string, e.g. "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>".
// A rule violation wraps ErrWeakPassword or ErrInvalidPassword.
func (h *Hasher) HashPassword(pw string) (string, error) {
	npw, err := ValidatePassword(pw)
	if err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := h.derive(npw, salt, h.params, keyLen)
	return phc{params: h.params, salt: salt, key: key}.String(), nil
}

// VerifyPassword reports whether pw matches the PHC string stored for a
// user, and whether the hash was made with weaker parameters than this
// Hasher's (then the caller should store HashPassword(pw) after a
// successful login).
//
// A malformed stored hash returns an error wrapping ErrInvalidHash; the
// caller should log it and answer as for a wrong password. A candidate
// password that could never have been set (invalid UTF-8, NUL, too long)
// is simply not ok. The minimum length is not enforced here, so raising
// it never locks anybody out.
func (h *Hasher) VerifyPassword(pw, phcString string) (ok bool, needsRehash bool, err error) {
	npw, pwErr := normalizePassword(pw)
	stored, err := parsePHC(phcString)
	if err != nil {
		// Same work as a real check, so an account with a missing or
		// corrupt hash does not stand out by its response time.
		h.DummyVerify(pw)
		return false, false, err
	}
	if pwErr != nil {
		return false, false, nil
	}
	key := h.derive(npw, stored.salt, stored.params, uint32(len(stored.key)))
	if subtle.ConstantTimeCompare(key, stored.key) != 1 {
		return false, false, nil
	}
	needsRehash = stored.params.memory < h.params.memory ||
		stored.params.time < h.params.time ||
		len(stored.salt) < saltLen ||
		len(stored.key) < keyLen
	return true, needsRehash, nil
}

// DummyVerify spends the same time as VerifyPassword against a real
// hash. Call it when the username is unknown, so response times do not
// tell an attacker which accounts exist.
func (h *Hasher) DummyVerify(pw string) {
	_, _, _ = h.VerifyPassword(pw, h.dummy)
}

func (h *Hasher) derive(pw string, salt []byte, p phcParams, n uint32) []byte {
	h.sem <- struct{}{}
	defer func() { <-h.sem }()
	return argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, n)
}

// ValidatePassword applies the password rules to a new password and
// returns it NFC-normalised, the form that is hashed. Violations wrap
// ErrWeakPassword (too short) or ErrInvalidPassword (invalid UTF-8, NUL,
// too long); their messages are fit to show the user.
func ValidatePassword(pw string) (string, error) {
	npw, err := normalizePassword(pw)
	if err != nil {
		return "", err
	}
	if n := utf8.RuneCountInString(npw); n < MinPasswordRunes {
		return "", fieldwatch.Wrap(fieldwatch.EINVALID, fmt.Sprintf("must have at least %d characters", MinPasswordRunes), ErrWeakPassword)
	}
	return npw, nil
}

// normalizePassword gives one byte string to the many ways a phone
// keyboard can encode the same characters.
func normalizePassword(pw string) (string, error) {
	// Checked on the raw input first so a huge string is refused before
	// normalisation spends time on it.
	if len(pw) > MaxPasswordRunes*utf8.UTFMax {
		return "", fieldwatch.Wrap(fieldwatch.EINVALID, fmt.Sprintf("must have at most %d characters", MaxPasswordRunes), ErrInvalidPassword)
	}
	if !utf8.ValidString(pw) {
		return "", fieldwatch.Wrap(fieldwatch.EINVALID, "not valid UTF-8", ErrInvalidPassword)
	}
	if strings.IndexByte(pw, 0) >= 0 {
		return "", fieldwatch.Wrap(fieldwatch.EINVALID, "contains a NUL character", ErrInvalidPassword)
	}
	npw := norm.NFC.String(pw)
	if utf8.RuneCountInString(npw) > MaxPasswordRunes {
		return "", fieldwatch.Wrap(fieldwatch.EINVALID, fmt.Sprintf("must have at most %d characters", MaxPasswordRunes), ErrInvalidPassword)
	}
	return npw, nil
}

type phcParams struct {
	memory  uint32
	time    uint32
	threads uint8
}

// phc is a parsed argon2id hash in the PHC string format.
type phc struct {
	params phcParams
	salt   []byte
	key    []byte
}

var phcB64 = base64.RawStdEncoding.Strict()

// String renders the canonical form; parsePHC accepts exactly what String
// produces and nothing else.
func (p phc) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.params.memory, p.params.time, p.params.threads,
		phcB64.EncodeToString(p.salt), phcB64.EncodeToString(p.key))
}

// parsePHC reads an argon2id PHC string strictly: one version, parameters
// in the order m,t,p, canonical decimals and base64, and values within
// the caps above. Everything else wraps ErrInvalidHash.
func parsePHC(s string) (phc, error) {
	if len(s) > maxPHCLen {
		return phc{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidHash, maxPHCLen)
	}
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return phc{}, fmt.Errorf("%w: want 5 fields separated by $", ErrInvalidHash)
	}
	if parts[1] != "argon2id" {
		return phc{}, fmt.Errorf("%w: algorithm is not argon2id", ErrInvalidHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, fmt.Errorf("%w: version is not %d", ErrInvalidHash, argon2.Version)
	}
	ps := strings.Split(parts[3], ",")
	if len(ps) != 3 {
		return phc{}, fmt.Errorf("%w: want parameters m,t,p", ErrInvalidHash)
	}
	m, err := phcParam(ps[0], "m", maxArgon2Memory)
	if err != nil {
		return phc{}, err
	}
	t, err := phcParam(ps[1], "t", maxArgon2Time)
	if err != nil {
		return phc{}, err
	}
	p, err := phcParam(ps[2], "p", maxArgon2Threads)
	if err != nil {
		return phc{}, err
	}
	if t < 1 || p < 1 || m < 8*p {
		return phc{}, fmt.Errorf("%w: parameters below argon2 minimum", ErrInvalidHash)
	}
	salt, err := decodeCanonical(phcB64, parts[4])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return phc{}, fmt.Errorf("%w: salt is not %d to %d bytes of base64", ErrInvalidHash, minSaltLen, maxSaltLen)
	}
	key, err := decodeCanonical(phcB64, parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return phc{}, fmt.Errorf("%w: hash is not %d to %d bytes of base64", ErrInvalidHash, minKeyLen, maxKeyLen)
	}
	return phc{
		params: phcParams{memory: m, time: t, threads: uint8(p)},
		salt:   salt,
		key:    key,
	}, nil
}

// phcParam reads "name=value" with value a canonical decimal (no sign, no
// leading zeros) not above max.
func phcParam(kv, name string, max uint32) (uint32, error) {
	v, ok := strings.CutPrefix(kv, name+"=")
	if !ok {
		return 0, fmt.Errorf("%w: want parameter %s", ErrInvalidHash, name)
	}
	if v == "" || len(v) > 10 || (len(v) > 1 && v[0] == '0') {
		return 0, fmt.Errorf("%w: parameter %s is not a canonical number", ErrInvalidHash, name)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, fmt.Errorf("%w: parameter %s is not a canonical number", ErrInvalidHash, name)
		}
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n > uint64(max) {
		return 0, fmt.Errorf("%w: parameter %s above %d", ErrInvalidHash, name, max)
	}
	return uint32(n), nil
}

// decodeCanonical decodes s and insists that s is exactly the encoding of
// the result. The decoder alone skips \r and \n, even in strict mode.
func decodeCanonical(enc *base64.Encoding, s string) ([]byte, error) {
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if enc.EncodeToString(b) != s {
		return nil, errors.New("non-canonical base64")
	}
	return b, nil
}
