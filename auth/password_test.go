package auth

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// testHasher is shared because each hash costs ~19 MiB and tens of ms.
var testHasher = sync.OnceValue(func() *Hasher {
	h, err := NewHasher(Argon2Params{})
	if err != nil {
		panic(err)
	}
	return h
})

// chinesePassword has 60 runes (180 bytes of UTF-8), far past bcrypt's
// 72-byte cut.
const chinesePassword = "清水绿岸鱼翔浅底清水绿岸鱼翔浅底清水绿岸鱼翔浅底清水绿岸鱼翔浅底清水绿岸鱼翔浅底清水绿岸鱼翔浅底清水绿岸鱼翔浅底河长巡河"

// mustPHC builds a hash with arbitrary (also below-floor) parameters, the
// way an older configuration would have written it.
func mustPHC(t *testing.T, pw string, m, tm uint32, p uint8, saltN, keyN int) string {
	t.Helper()
	salt := []byte(strings.Repeat("s", saltN))
	npw, err := normalizePassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	key := argon2.IDKey([]byte(npw), salt, tm, m, p, uint32(keyN))
	return phc{params: phcParams{memory: m, time: tm, threads: p}, salt: salt, key: key}.String()
}

func TestHashPassword_RoundTrip(t *testing.T) {
	t.Parallel()
	h := testHasher()
	tests := []struct {
		name  string
		pw    string
		other string // a different password that must not verify
	}{
		{"ASCII", "correct horse battery", "correct horse batterY"},
		{"Chinese60", chinesePassword, strings.TrimSuffix(chinesePassword, "河") + "江"},
		{"Chinese60_FirstRuneDiffers", chinesePassword, "浊" + strings.TrimPrefix(chinesePassword, "清")},
		{"Max256Runes", strings.Repeat("长", MaxPasswordRunes), strings.Repeat("长", MaxPasswordRunes-1) + "短"},
		{"Emoji", "🌊🌊🌊🌊🌊🌊🌊🌊", "🌊🌊🌊🌊🌊🌊🌊🌀"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := h.HashPassword(tt.pw)
			if err != nil {
				t.Fatalf("HashPassword: %v", err)
			}
			if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
				t.Errorf("PHC = %q, want argon2id m=19456,t=2,p=1", enc)
			}
			ok, rehash, err := h.VerifyPassword(tt.pw, enc)
			if err != nil || !ok || rehash {
				t.Errorf("VerifyPassword(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
			ok, _, err = h.VerifyPassword(tt.other, enc)
			if err != nil || ok {
				t.Errorf("VerifyPassword(wrong) = %v, %v; want false, nil", ok, err)
			}
		})
	}
	t.Run("Chinese60_Is60Runes", func(t *testing.T) {
		if n := utf8.RuneCountInString(chinesePassword); n != 60 {
			t.Fatalf("test password has %d runes, want 60", n)
		}
	})
	t.Run("SaltIsRandom", func(t *testing.T) {
		a, _ := h.HashPassword("same password")
		b, _ := h.HashPassword("same password")
		if a == b {
			t.Error("two hashes of one password are equal: salt not random")
		}
	})
	t.Run("NFC", func(t *testing.T) {
		// é typed as one code point on one phone and as e + combining
		// accent on another must be the same password.
		enc, err := h.HashPassword("caf\u00e9-caf\u00e9")
		if err != nil {
			t.Fatal(err)
		}
		ok, _, err := h.VerifyPassword("cafe\u0301-cafe\u0301", enc)
		if err != nil || !ok {
			t.Errorf("decomposed form: ok=%v err=%v, want match", ok, err)
		}
	})
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name string
		pw   string
		want error
	}{
		{"OK_8ASCII", "abcdefgh", nil},
		{"OK_8Chinese", "河长巡河保护环境", nil},
		{"OK_256Runes", strings.Repeat("河", 256), nil},
		{"ErrWeakPassword_Empty", "", ErrWeakPassword},
		{"ErrWeakPassword_7", "abcdefg", ErrWeakPassword},
		{"ErrWeakPassword_7Chinese", "河长巡河保护环", ErrWeakPassword},
		// 7 runes once composed, though 8 code points as typed.
		{"ErrWeakPassword_CountsAfterNFC", "abcdef" + "e\u0301", ErrWeakPassword},
		{"ErrInvalidPassword_257Runes", strings.Repeat("河", 257), ErrInvalidPassword},
		{"ErrInvalidPassword_Huge", strings.Repeat("a", 1<<20), ErrInvalidPassword},
		{"ErrInvalidPassword_NUL", "abcd\x00efgh", ErrInvalidPassword},
		{"ErrInvalidPassword_BadUTF8", "abcdefgh\xff", ErrInvalidPassword},
		{"ErrInvalidPassword_Surrogate", "abcdefgh\xed\xa0\x80", ErrInvalidPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ValidatePassword(tt.pw)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("ValidatePassword = %v, want %v", err, tt.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "auth: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	t.Run("HashPassword_Refuses", func(t *testing.T) {
		if _, err := testHasher().HashPassword("short"); !errors.Is(err, ErrWeakPassword) {
			t.Errorf("HashPassword(short) = %v, want ErrWeakPassword", err)
		}
	})
}

func TestVerifyPassword_Rehash(t *testing.T) {
	t.Parallel()
	h := testHasher()
	const pw = "correct horse battery"
	tests := []struct {
		name   string
		phc    string
		rehash bool
	}{
		{"Current", mustPHC(t, pw, 19456, 2, 1, 16, 32), false},
		{"Stronger", mustPHC(t, pw, 24576, 3, 2, 16, 32), false},
		{"MemoryBelow", mustPHC(t, pw, 4096, 2, 1, 16, 32), true},
		{"TimeBelow", mustPHC(t, pw, 19456, 1, 1, 16, 32), true},
		{"ShortSalt", mustPHC(t, pw, 19456, 2, 1, 8, 32), true},
		{"ShortKey", mustPHC(t, pw, 19456, 2, 1, 16, 16), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.VerifyPassword(pw, tt.phc)
			if err != nil || !ok {
				t.Fatalf("VerifyPassword = %v, %v; want a match", ok, err)
			}
			if rehash != tt.rehash {
				t.Errorf("needsRehash = %v, want %v", rehash, tt.rehash)
			}
			ok, rehash, _ = h.VerifyPassword("wrong password", tt.phc)
			if ok || rehash {
				t.Errorf("wrong password: ok=%v rehash=%v, want false, false", ok, rehash)
			}
		})
	}
}

func TestVerifyPassword_BadCandidate(t *testing.T) {
	h := testHasher()
	enc := mustPHC(t, "abcdefgh", 19456, 2, 1, 16, 32)
	for name, pw := range map[string]string{
		"NUL":       "abcdefgh\x00",
		"BadUTF8":   "abcdefgh\xff",
		"TooLong":   strings.Repeat("a", 1<<20),
		"ShortIsOK": "abc", // below the minimum: simply wrong, not an error
	} {
		t.Run(name, func(t *testing.T) {
			ok, rehash, err := h.VerifyPassword(pw, enc)
			if ok || rehash || err != nil {
				t.Errorf("VerifyPassword = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestDummyVerify(t *testing.T) {
	h := testHasher()
	// It must run the full computation without error and never match.
	h.DummyVerify("anything at all")
	if ok, _, err := h.VerifyPassword("anything at all", h.dummy); ok || err != nil {
		t.Errorf("dummy hash: ok=%v err=%v; want well-formed and unmatched", ok, err)
	}
}

func TestNewHasher(t *testing.T) {
	tests := []struct {
		name string
		p    Argon2Params
		ok   bool
	}{
		{"Defaults", Argon2Params{}, true},
		{"Stronger", Argon2Params{Memory: 65536, Time: 3, Threads: 4, MaxConcurrent: 2}, true},
		{"ErrMemoryBelowFloor", Argon2Params{Memory: 16384}, false},
		{"ErrTimeBelowFloor", Argon2Params{Time: 1}, false},
		{"ErrMemoryAboveCap", Argon2Params{Memory: 1 << 20}, false},
		{"ErrTimeAboveCap", Argon2Params{Time: 100}, false},
		{"ErrThreadsAboveCap", Argon2Params{Threads: 64}, false},
		{"ErrNegativeConcurrency", Argon2Params{MaxConcurrent: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewHasher(tt.p)
			if (err == nil) != tt.ok {
				t.Errorf("NewHasher(%+v) err = %v, want ok=%v", tt.p, err, tt.ok)
			}
		})
	}
}

const (
	goodSalt = "c29tZXNhbHRzb21lc2FsdA" // 16 bytes
	goodKey  = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
)

func TestParsePHC(t *testing.T) {
	good := "$argon2id$v=19$m=19456,t=2,p=1$" + goodSalt + "$" + goodKey
	if _, err := parsePHC(good); err != nil {
		t.Fatalf("parsePHC(good) = %v", err)
	}
	bad := map[string]string{
		"Empty":               "",
		"Dollar":              "$",
		"PlainText":           "hunter2hunter2",
		"Bcrypt":              "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"Argon2i":             "$argon2i$v=19$m=19456,t=2,p=1$" + goodSalt + "$" + goodKey,
		"Argon2d":             "$argon2d$v=19$m=19456,t=2,p=1$" + goodSalt + "$" + goodKey,
		"Version16":           "$argon2id$v=16$m=19456,t=2,p=1$" + goodSalt + "$" + goodKey,
		"NoVersion":           "$argon2id$m=19456,t=2,p=1$" + goodSalt + "$" + goodKey,
		"MissingP":            "$argon2id$v=19$m=19456,t=2$" + goodSalt + "$" + goodKey,
		"ExtraParam":          "$argon2id$v=19$m=19456,t=2,p=1,keyid=x$" + goodSalt + "$" + goodKey,
		"ParamOrder":          "$argon2id$v=19$t=2,m=19456,p=1$" + goodSalt + "$" + goodKey,
		"LeadingZero":         "$argon2id$v=19$m=019456,t=2,p=1$" + goodSalt + "$" + goodKey,
		"PlusSign":            "$argon2id$v=19$m=+19456,t=2,p=1$" + goodSalt + "$" + goodKey,
		"Negative":            "$argon2id$v=19$m=-1,t=2,p=1$" + goodSalt + "$" + goodKey,
		"Space":               "$argon2id$v=19$m=19456, t=2,p=1$" + goodSalt + "$" + goodKey,
		"EmptyValue":          "$argon2id$v=19$m=,t=2,p=1$" + goodSalt + "$" + goodKey,
		"Overflow":            "$argon2id$v=19$m=4294967296,t=2,p=1$" + goodSalt + "$" + goodKey,
		"HostileMemory":       "$argon2id$v=19$m=4294967295,t=2,p=1$" + goodSalt + "$" + goodKey,
		"MemoryAboveCap":      "$argon2id$v=19$m=131073,t=2,p=1$" + goodSalt + "$" + goodKey,
		"HostileTime":         "$argon2id$v=19$m=19456,t=4294967295,p=1$" + goodSalt + "$" + goodKey,
		"HostileThreads":      "$argon2id$v=19$m=19456,t=2,p=255$" + goodSalt + "$" + goodKey,
		"ZeroTime":            "$argon2id$v=19$m=19456,t=0,p=1$" + goodSalt + "$" + goodKey,
		"ZeroThreads":         "$argon2id$v=19$m=19456,t=2,p=0$" + goodSalt + "$" + goodKey,
		"MemoryBelow8P":       "$argon2id$v=19$m=8,t=2,p=2$" + goodSalt + "$" + goodKey,
		"ShortSalt":           "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$" + goodKey,
		"EmptySalt":           "$argon2id$v=19$m=19456,t=2,p=1$$" + goodKey,
		"PaddedSalt":          "$argon2id$v=19$m=19456,t=2,p=1$" + goodSalt + "==$" + goodKey,
		"URLAlphabetSalt":     "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2F-_A$" + goodKey,
		"NonCanonicalSalt":    "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAB$" + goodKey,
		"ShortKey":            "$argon2id$v=19$m=19456,t=2,p=1$" + goodSalt + "$AAECAwQFBgc",
		"LongKey":             "$argon2id$v=19$m=19456,t=2,p=1$" + goodSalt + "$" + strings.Repeat("A", 100),
		"MissingKey":          "$argon2id$v=19$m=19456,t=2,p=1$" + goodSalt,
		"TrailingDollar":      good + "$",
		"NoLeadingDollar":     strings.TrimPrefix(good, "$"),
		"TrailingNewline":     good + "\n",
		"NUL":                 good[:20] + "\x00" + good[21:],
		"TooLong":             good + strings.Repeat("A", 300),
		"UpperCaseAlgorithm":  "$ARGON2ID$v=19$m=19456,t=2,p=1$" + goodSalt + "$" + goodKey,
		"NonASCIIDigits":      "$argon2id$v=19$m=１９４５６,t=2,p=1$" + goodSalt + "$" + goodKey,
		"ManyDollars":         strings.Repeat("$", 200),
		"ManyCommas":          "$argon2id$v=19$" + strings.Repeat(",", 200) + "$" + goodSalt + "$" + goodKey,
		"WhitespaceInBase64":  "$argon2id$v=19$m=19456,t=2,p=1$" + goodSalt[:4] + " " + goodSalt[4:] + "$" + goodKey,
		"NewlineInBase64":     "$argon2id$v=19$m=19456,t=2,p=1$" + goodSalt[:4] + "\n" + goodSalt[4:] + "$" + goodKey,
		"ElevenDigitMemory":   "$argon2id$v=19$m=10000000000,t=2,p=1$" + goodSalt + "$" + goodKey,
		"DuplicateMemory":     "$argon2id$v=19$m=19456,m=19456,p=1$" + goodSalt + "$" + goodKey,
		"EqualsInsideValue":   "$argon2id$v=19$m=19=456,t=2,p=1$" + goodSalt + "$" + goodKey,
		"VersionLeadingZero":  "$argon2id$v=019$m=19456,t=2,p=1$" + goodSalt + "$" + goodKey,
		"VersionWithoutValue": "$argon2id$v=$m=19456,t=2,p=1$" + goodSalt + "$" + goodKey,
	}
	h := testHasher()
	for name, s := range bad {
		t.Run("ErrInvalidHash_"+name, func(t *testing.T) {
			if _, err := parsePHC(s); !errors.Is(err, ErrInvalidHash) {
				t.Errorf("parsePHC(%q) = %v, want ErrInvalidHash", s, err)
			}
			if !strings.HasPrefix(name, "Hostile") && name != "Empty" {
				return // each VerifyPassword costs a full hash; a few suffice
			}
			// Hostile parameters are refused; the time spent is the
			// Hasher's own, not what the string asks for.
			ok, rehash, err := h.VerifyPassword("abcdefgh", s)
			if ok || rehash || !errors.Is(err, ErrInvalidHash) {
				t.Errorf("VerifyPassword = %v, %v, %v; want false, false, ErrInvalidHash", ok, rehash, err)
			}
		})
	}
}

func FuzzParsePHC(f *testing.F) {
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$" + goodSalt + "$" + goodKey)
	f.Add("$argon2id$v=19$m=131072,t=16,p=16$" + goodSalt + "$" + goodKey)
	f.Add("$argon2id$v=19$m=4294967295,t=2,p=1$" + goodSalt + "$" + goodKey)
	f.Add("$argon2id$v=19$m=019456,t=2,p=1$" + goodSalt + "==$" + goodKey)
	f.Add("$argon2i$v=19$m=19456,t=2,p=1$$")
	f.Add("$$$$$")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePHC(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("error %v does not wrap ErrInvalidHash", err)
			}
			return
		}
		// Strict: only the canonical form is accepted.
		if got := p.String(); got != s {
			t.Fatalf("accepted non-canonical %q (canonical %q)", s, got)
		}
		if p.params.memory > maxArgon2Memory || p.params.time > maxArgon2Time ||
			p.params.threads > maxArgon2Threads || p.params.time < 1 || p.params.threads < 1 {
			t.Fatalf("accepted parameters outside the caps: %+v", p.params)
		}
		if len(p.salt) < minSaltLen || len(p.salt) > maxSaltLen || len(p.key) < minKeyLen || len(p.key) > maxKeyLen {
			t.Fatalf("accepted salt %d or key %d bytes", len(p.salt), len(p.key))
		}
	})
}
