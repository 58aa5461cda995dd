package api

import (
	"encoding/base64"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// Cursors are opaque to clients: base64url of the last sort key. A cursor
// that does not decode is a 400, never a silent first page.
func encodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(key))
}

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	// Only the exact text encodeCursor writes: the decoder would also skip
	// CR and LF, and ignore stray bits in the last character.
	if err != nil || len(b) == 0 || !utf8.Valid(b) || encodeCursor(string(b)) != c {
		return "", echo.NewHTTPError(400, "cursor: not a cursor this server issued")
	}
	return string(b), nil
}
