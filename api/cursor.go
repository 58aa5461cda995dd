package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fieldwatch/fieldwatch"
)

// Cursors are opaque to clients: the last sort key of a page, encoded,
// then signed with an HMAC of the server's cursor key and the listing it
// belongs to. openapi.yaml promises that cursors are accepted only
// exactly as the server wrote them; the signature makes that hold for
// forged ones too (a cursor built from a username, or one listing's
// cursor sent to another), not only for malformed ones. Any such cursor
// is a 400, never a silent first page.

// cursorMACBytes is the signature kept in a cursor: 128 bits.
const cursorMACBytes = 16

// errBadCursor is the answer to every cursor the server did not issue.
var errBadCursor = malformed("cursor: not a cursor this server issued", fieldwatch.FieldError{Field: "cursor", Reason: "invalid"})

// cursorSigner signs with keys[0] and accepts a signature by any key.
type cursorSigner struct{ keys [][]byte }

func (cs cursorSigner) mac(key []byte, listing, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(listing))
	m.Write([]byte{0})
	m.Write([]byte(payload))
	return m.Sum(nil)[:cursorMACBytes]
}

// seal signs payload, a cursor of the named listing ("users",
// "evidence", …) in base64url, as "payload.signature".
func (cs cursorSigner) seal(listing, payload string) string {
	return payload + "." + base64.RawURLEncoding.EncodeToString(cs.mac(cs.keys[0], listing, payload))
}

// open checks c's signature for the listing and returns its payload.
func (cs cursorSigner) open(listing, c string) (string, error) {
	i := strings.LastIndexByte(c, '.')
	if i < 0 {
		return "", errBadCursor
	}
	payload, sig := c[:i], c[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || len(got) != cursorMACBytes || base64.RawURLEncoding.EncodeToString(got) != sig {
		return "", errBadCursor
	}
	for _, k := range cs.keys {
		if hmac.Equal(got, cs.mac(k, listing, payload)) {
			return payload, nil
		}
	}
	return "", errBadCursor
}

// encodeCursor is the payload of a username cursor: base64url of the key.
func encodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	// Only the exact text encodeCursor writes: the decoder would also skip
	// CR and LF, and ignore stray bits in the last character.
	if err != nil || len(b) == 0 || !utf8.Valid(b) || encodeCursor(string(b)) != c {
		return "", errBadCursor
	}
	return string(b), nil
}

// sealTimeCursor is the signed cursor of a listing ordered by (time, id).
func (s *Server) sealTimeCursor(listing string, t time.Time, id string) string {
	return s.cursors.seal(listing, encodeTimeCursor(t, id))
}

// openTimeCursor checks and reads a cursor of sealTimeCursor.
func (s *Server) openTimeCursor(listing, c string) (time.Time, string, error) {
	payload, err := s.cursors.open(listing, c)
	if err != nil {
		return time.Time{}, "", err
	}
	return decodeTimeCursor(payload)
}
