package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// testSeed derives a fixed, random-looking seed from a name, so tests
// are reproducible without checking secrets in.
func testSeed(name string) string {
	sum := sha256.Sum256([]byte("fieldwatch test key " + name))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func mustKeySet(t testing.TB, spec string) *KeySet {
	t.Helper()
	ks, err := ParseKeySet(spec)
	if err != nil {
		t.Fatalf("ParseKeySet: %v", err)
	}
	return ks
}

func TestParseKeySet(t *testing.T) {
	a, b := testSeed("a"), testSeed("b")
	tests := []struct {
		name   string
		spec   string
		active string
		kids   []string
		err    error
	}{
		{"OK_One", "k1:" + a, "k1", []string{"k1"}, nil},
		{"OK_FirstSigns", "new:" + b + ",old:" + a, "new", []string{"new", "old"}, nil},
		{"OK_Spaces", "  new:" + b + " , old:" + a + "\n", "new", []string{"new", "old"}, nil},
		{"OK_KIDCharacters", "2026-03_v1.a:" + a, "2026-03_v1.a", []string{"2026-03_v1.a"}, nil},
		{"ErrWeakKey_Empty", "", "", nil, ErrWeakKey},
		{"ErrWeakKey_Blank", "   ", "", nil, ErrWeakKey},
		{"ErrWeakKey_NoColon", a, "", nil, ErrWeakKey},
		{"ErrWeakKey_EmptyKID", ":" + a, "", nil, ErrWeakKey},
		{"ErrWeakKey_BadKID", "k/1:" + a, "", nil, ErrWeakKey},
		{"ErrWeakKey_LongKID", strings.Repeat("k", 65) + ":" + a, "", nil, ErrWeakKey},
		{"ErrWeakKey_EmptyEntry", "k1:" + a + ",", "", nil, ErrWeakKey},
		{"ErrWeakKey_ShortSeed", "k1:" + a[:22], "", nil, ErrWeakKey},
		{"ErrWeakKey_LongSeed", "k1:" + a + "AAAA", "", nil, ErrWeakKey},
		{"ErrWeakKey_PaddedSeed", "k1:" + base64.URLEncoding.EncodeToString(make([]byte, 32)), "", nil, ErrWeakKey},
		{"ErrWeakKey_StdAlphabet", "k1:+" + a[1:], "", nil, ErrWeakKey},
		{"ErrWeakKey_ZeroSeed", "k1:" + base64.RawURLEncoding.EncodeToString(make([]byte, 32)), "", nil, ErrWeakKey},
		{"ErrWeakKey_PasswordSeed", "k1:" + base64.RawURLEncoding.EncodeToString([]byte("passwordpasswordpasswordpassword")), "", nil, ErrWeakKey},
		{"ErrWeakKey_DuplicateKID", "k1:" + a + ",k1:" + b, "", nil, ErrWeakKey},
		{"ErrWeakKey_DuplicateSeed", "k1:" + a + ",k2:" + a, "", nil, ErrWeakKey},
		{"ErrWeakKey_TooMany", manyKeys(17), "", nil, ErrWeakKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := ParseKeySet(tt.spec)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParseKeySet err = %v, want %v", err, tt.err)
				}
				// The seed is a secret: error messages may name kids only.
				for _, s := range []string{a, b} {
					if strings.Contains(err.Error(), s) || strings.Contains(err.Error(), s[:10]) {
						t.Errorf("error %q reveals a seed", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeySet: %v", err)
			}
			if ks.ActiveKID() != tt.active {
				t.Errorf("ActiveKID = %q, want %q", ks.ActiveKID(), tt.active)
			}
			if got := strings.Join(ks.KIDs(), ","); got != strings.Join(tt.kids, ",") {
				t.Errorf("KIDs = %s, want %s", got, strings.Join(tt.kids, ","))
			}
		})
	}
}

func manyKeys(n int) string {
	var e []string
	for i := range n {
		e = append(e, fmt.Sprintf("k%d:%s", i, testSeed(fmt.Sprint(i))))
	}
	return strings.Join(e, ",")
}

func TestGenerateKey(t *testing.T) {
	e1, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	e2, _ := GenerateKey()
	if e1 == e2 {
		t.Fatal("GenerateKey returned the same key twice")
	}
	ks := mustKeySet(t, e1+","+e2)
	kid, _, _ := strings.Cut(e1, ":")
	if ks.ActiveKID() != kid {
		t.Errorf("ActiveKID = %q, want %q", ks.ActiveKID(), kid)
	}
}

func TestKeySet_DoesNotPrintSeeds(t *testing.T) {
	seed := testSeed("secret")
	ks := mustKeySet(t, "k1:"+seed)
	raw, _ := base64.RawURLEncoding.DecodeString(seed)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, ks)
		if strings.Contains(out, seed) || strings.Contains(out, string(raw)) || strings.Contains(out, fmt.Sprint(raw[:4])) {
			t.Errorf("%s prints key material: %q", format, out)
		}
		if !strings.Contains(out, "k1") {
			t.Errorf("%s = %q, want the kid", format, out)
		}
	}
}

// Derived secrets are the same for the same keys (replicas agree), differ
// by purpose and by key, and put the signing key's first.
func TestDeriveKeys(t *testing.T) {
	a := mustKeySet(t, "k2:"+testSeed("b")+",k1:"+testSeed("a"))
	b := mustKeySet(t, "k2:"+testSeed("b")+",k1:"+testSeed("a"))
	ka, kb := a.DeriveKeys("cursor"), b.DeriveKeys("cursor")
	if len(ka) != 2 || len(ka[0]) != 32 || string(ka[0]) != string(kb[0]) || string(ka[1]) != string(kb[1]) {
		t.Fatalf("DeriveKeys not deterministic: %x %x", ka, kb)
	}
	if string(ka[0]) == string(ka[1]) || string(ka[0]) == string(a.DeriveKeys("other")[0]) {
		t.Fatal("derived keys do not depend on key and purpose")
	}
	if only := mustKeySet(t, "k2:"+testSeed("b")).DeriveKeys("cursor"); string(only[0]) != string(ka[0]) {
		t.Fatal("the signing key's secret is not first")
	}
}
