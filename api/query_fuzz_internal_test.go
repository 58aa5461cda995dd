package api

import (
	"encoding/base64"
	"math"
	"net/http/httptest"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/fieldwatch/fieldwatch"
)

// FuzzQueryParams feeds one string to every parser of query and header
// values the handlers own (what the contract's patterns let through):
// bbox and near, the time cursors of evidence, cases and patrols, the
// username cursor of users, and the Range of photos. A refusal must be a
// 400 (an fieldwatch.EMALFORMED error or Echo's 400), and what is accepted must keep
// the parser's promises.
func FuzzQueryParams(f *testing.F) {
	good := encodeTimeCursor(time.Date(2026, 11, 28, 9, 0, 0, 123, time.UTC), "01a22498-2c38-7be7-997a-591baf1c10aa")
	for _, s := range []string{
		"118.2,40.1,118.4,40.3", "119,41,118,40", "-180,-90,180,90", "118,40,119,91", ".,.,.,.", "1e308,1,2,3",
		"0x1p-2,40,119,41", "NaN,0,1,1", "118.3,40.1", "118.3", "118.3,95", "-0,-0",
		good, good + "A", "bm9wZQ", base64.RawURLEncoding.EncodeToString([]byte("2026-11-28T09:00:00+08:00|01A22498-2C38-7BE7-997A-591BAF1C10AA")),
		base64.RawURLEncoding.EncodeToString([]byte("2026-11-28T09:00:00Z|" + "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx")),
		encodeCursor("c.admin"), "__8", "2026-11-28T09:00:00.5+08:00|01a22498-2c38-7be7-997a-591baf1c10aa",
		"bytes=0-99", "bytes=-5", "bytes=5-", "bytes=5-2", "bytes=0-0,2-3", "bytes=99999999999999999999-", "bytes=--1", "lines=0-1",
	} {
		f.Add(s, int64(1000))
	}
	f.Add("bytes=-1", int64(0))
	f.Fuzz(func(t *testing.T, s string, size int64) {
		checkBBox(t, s)
		checkLonLat(t, s)
		// Cursors are base64 of a key: fuzz the key too, which byte
		// mutations of its base64 hardly reach.
		checkTimeCursor(t, s)
		checkTimeCursor(t, base64.RawURLEncoding.EncodeToString([]byte(s)))
		checkUserCursor(t, s)
		checkRange(t, s, min(max(size, 0), 1<<40))
	})
}

// isBadRequest reports an error the problem table answers with 400.
func isBadRequest(err error) bool {
	if fieldwatch.ErrorCode(err) == fieldwatch.EMALFORMED {
		return true
	}
	c := echo.New().NewContext(httptest.NewRequest("GET", "/", nil), httptest.NewRecorder())
	p, _ := (&Server{}).toProblem(c, err)
	return p.Status == 400
}

func checkBBox(t *testing.T, s string) {
	b, err := parseBBox(s)
	if err != nil {
		if !isBadRequest(err) {
			t.Fatalf("parseBBox(%q): %v is not a 400", s, err)
		}
		return
	}
	for _, v := range []float64{b.MinLon, b.MinLat, b.MaxLon, b.MaxLat} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("parseBBox(%q) = %+v: not finite", s, b)
		}
	}
	if b.MinLon > b.MaxLon || b.MinLat > b.MaxLat || b.MinLon < -180 || b.MaxLon > 180 || b.MinLat < -90 || b.MaxLat > 90 {
		t.Fatalf("parseBBox(%q) = %+v: min above max or out of range", s, b)
	}
}

func checkLonLat(t *testing.T, s string) {
	p, err := parseLonLat("near", s)
	if err != nil {
		if !isBadRequest(err) {
			t.Fatalf("parseLonLat(%q): %v is not a 400", s, err)
		}
		return
	}
	if math.IsNaN(p.Lon) || math.IsNaN(p.Lat) || math.Abs(p.Lon) > 180 || math.Abs(p.Lat) > 90 {
		t.Fatalf("parseLonLat(%q) = %+v: not a WGS-84 position", s, p)
	}
}

// checkTimeCursor: an accepted cursor names a UUID and is exactly what
// the server writes for its key (so it re-encodes to itself), and that
// decodes to the same key.
func checkTimeCursor(t *testing.T, s string) {
	at, id, err := decodeTimeCursor(s)
	if err != nil {
		if !isBadRequest(err) {
			t.Fatalf("decodeTimeCursor(%q): %v is not a 400", s, err)
		}
		return
	}
	if _, err := uuid.Parse(id); err != nil {
		t.Fatalf("decodeTimeCursor(%q) accepted the id %q: %v", s, id, err)
	}
	if c := encodeTimeCursor(at, id); c != s {
		t.Fatalf("decodeTimeCursor(%q) = %v %s, which re-encodes to %q", s, at, id, c)
	}
	if at2, id2, err := decodeTimeCursor(s); err != nil || !at2.Equal(at) || id2 != id {
		t.Fatalf("decodeTimeCursor(%q) = %v %s, then %v %s %v", s, at, id, at2, id2, err)
	}
}

func checkUserCursor(t *testing.T, s string) {
	after, err := decodeCursor(s)
	if err != nil {
		if !isBadRequest(err) {
			t.Fatalf("decodeCursor(%q): %v is not a 400", s, err)
		}
		return
	}
	if after == "" || !utf8.ValidString(after) {
		t.Fatalf("decodeCursor(%q) = %q", s, after)
	}
	if c := encodeCursor(after); c != s {
		t.Fatalf("decodeCursor(%q) = %q, which re-encodes to %q", s, after, c)
	}
}

// checkRange: a range served lies inside the photo and is not empty; a
// range is never both served and unsatisfiable.
func checkRange(t *testing.T, h string, size int64) {
	off, n, ok := parseRange(h, size)
	unsat := rangeUnsatisfiable(h, size)
	if ok && unsat {
		t.Fatalf("Range %q of %d bytes is both served and unsatisfiable", h, size)
	}
	if ok && (off < 0 || n < 1 || off+n > size) {
		t.Fatalf("Range %q of %d bytes served as offset %d length %d", h, size, off, n)
	}
}
