package store

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/text/unicode/norm"

	"github.com/fieldwatch/fieldwatch"
)

// checkText rejects what no column can hold faithfully: PostgreSQL refuses
// invalid UTF-8 and NUL in text with a server error (a 500 to the client),
// and SQLite would store them and hand back bytes other code then chokes on.
// Checking here turns both into the client's error, the same on both backends.
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "%s is not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "%s contains a NUL character", field)
	}
	return nil
}

// normUsername returns the stored form of a username (NFC, so that the
// same name typed on two keyboards is one account) and its key: the stored
// form with ASCII letters lower-cased, on which uniqueness, lookup and
// ordering are decided (see fieldwatch.User.Username).
func normUsername(username string) (name, key string, err error) {
	if err := checkText("username", username); err != nil {
		return "", "", err
	}
	name = norm.NFC.String(username)
	if name == "" {
		return "", "", fieldwatch.Errorf(fieldwatch.EINVALID, "username is empty")
	}
	return name, usernameKey(name), nil
}

// usernameKey lower-cases ASCII letters only: full Unicode case folding
// would merge names that people in the county consider distinct.
func usernameKey(nfc string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, nfc)
}

// parseID returns the canonical form of a UUID, or false if id is not one.
// Lookups of ids that cannot exist answer ErrNotFound without a query, and
// PostgreSQL's uuid column never sees a malformed value.
func parseID(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// newID returns a fresh id. Version 7 ids grow with time, which keeps
// inserts at the right edge of the primary key index.
func newID() (string, error) {
	u, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("store: new id: %w", err)
	}
	return u.String(), nil
}

// checkTime rejects times the SQLite text form cannot order correctly
// (years outside 0001–9999); PostgreSQL would accept a wider range, and the
// backends must agree.
func checkTime(field string, t time.Time) error {
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "%s is out of range", field)
	}
	return nil
}

// normTownships validates township codes and returns them sorted without
// duplicates, never nil, so that equal sets compare equal.
func normTownships(codes []string) ([]string, error) {
	out := make([]string, 0, len(codes))
	seen := make(map[string]bool, len(codes))
	for _, c := range codes {
		if err := checkText("township code", c); err != nil {
			return nil, err
		}
		if c == "" {
			return nil, fieldwatch.Errorf(fieldwatch.EINVALID, "empty township code")
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out, nil
}

// normTimePtr copies a time in its stored form.
func normTimePtr(field string, t *time.Time) (*time.Time, error) {
	if t == nil {
		return nil, nil
	}
	r := roundTime(*t)
	if err := checkTime(field, r); err != nil {
		return nil, err
	}
	return &r, nil
}
