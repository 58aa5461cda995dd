package store

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Hand-written decoders for the JSON documents stored with evidence (the
// details and responsibility columns, and the thumbnail sizes). Every
// listed row carries them, and encoding/json's reflection made their
// decoding the largest cost of a list. They accept the documents as the
// store writes them, and as PostgreSQL prints them back from jsonb (other
// key order and spacing): a strict subset of JSON with the documents'
// fixed fields. Anything outside it (an unknown or repeated key, an
// escape in a string, null where the writer never puts one, any syntax
// error) makes them report !ok, and the caller decodes the document with
// encoding/json instead. So a document decodes exactly as before, only
// faster; TestDecodeDocuments and FuzzDecodeDetails compare the two.

// jsonReader reads one JSON document from s. The first failure sets bad,
// after which every method returns zero values.
type jsonReader struct {
	s   string
	i   int
	bad bool
}

func (r *jsonReader) fail() { r.bad = true }

func (r *jsonReader) ws() {
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, 0 at the end.
func (r *jsonReader) peek() byte {
	r.ws()
	if r.bad || r.i >= len(r.s) {
		return 0
	}
	return r.s[r.i]
}

// expect consumes c, the next byte after white space.
func (r *jsonReader) expect(c byte) {
	if r.peek() != c {
		r.fail()
		return
	}
	r.i++
}

// end checks that only white space follows the document.
func (r *jsonReader) end() bool {
	r.ws()
	return !r.bad && r.i == len(r.s)
}

// null consumes a null if one comes next.
func (r *jsonReader) null() bool {
	if r.peek() == 'n' && len(r.s)-r.i >= 4 && r.s[r.i:r.i+4] == "null" {
		r.i += 4
		return true
	}
	return false
}

// object calls field for each member of an object, with the reader at
// the member's value; field consumes the value. A key seen twice fails:
// encoding/json merges repeated keys into what the first one decoded.
func (r *jsonReader) object(field func(key string)) {
	r.expect('{')
	if r.peek() == '}' {
		r.i++
		return
	}
	var buf [12]string
	seen := buf[:0]
	for !r.bad {
		key := r.str()
		for _, k := range seen {
			if k == key {
				r.fail()
			}
		}
		seen = append(seen, key)
		r.expect(':')
		if r.bad {
			return
		}
		field(key)
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return
		default:
			r.fail()
		}
	}
}

// array calls elem for each element of an array; elem consumes it.
func (r *jsonReader) array(elem func()) {
	r.expect('[')
	if r.peek() == ']' {
		r.i++
		return
	}
	for !r.bad {
		elem()
		switch r.peek() {
		case ',':
			r.i++
		case ']':
			r.i++
			return
		default:
			r.fail()
		}
	}
}

// str reads a string without escapes; escapes (rare in these documents)
// are left to encoding/json, as are control characters and invalid
// UTF-8, which it rejects or replaces.
func (r *jsonReader) str() string {
	r.expect('"')
	if r.bad {
		return ""
	}
	start, ascii := r.i, true
	for r.i < len(r.s) {
		c := r.s[r.i]
		switch {
		case c == '"':
			v := r.s[start:r.i]
			r.i++
			if !ascii && !utf8.ValidString(v) {
				r.fail()
				return ""
			}
			return v
		case c == '\\' || c < 0x20:
			r.fail()
			return ""
		case c >= utf8.RuneSelf:
			ascii = false
		}
		r.i++
	}
	r.fail()
	return ""
}

// number returns the text of a number in JSON's grammar, which is
// narrower than strconv's (no '+', no leading zeros, no hex, no "Inf").
func (r *jsonReader) number() string {
	r.ws()
	start := r.i
	digits := func() bool {
		n := r.i
		for r.i < len(r.s) && r.s[r.i] >= '0' && r.s[r.i] <= '9' {
			r.i++
		}
		return r.i > n
	}
	if r.i < len(r.s) && r.s[r.i] == '-' {
		r.i++
	}
	switch {
	case r.i < len(r.s) && r.s[r.i] == '0':
		r.i++
	case !digits():
		r.fail()
		return ""
	}
	if r.i < len(r.s) && r.s[r.i] == '.' {
		r.i++
		if !digits() {
			r.fail()
			return ""
		}
	}
	if r.i < len(r.s) && (r.s[r.i] == 'e' || r.s[r.i] == 'E') {
		r.i++
		if r.i < len(r.s) && (r.s[r.i] == '+' || r.s[r.i] == '-') {
			r.i++
		}
		if !digits() {
			r.fail()
			return ""
		}
	}
	return r.s[start:r.i]
}

func (r *jsonReader) float() float64 {
	s := r.number()
	if r.bad {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		r.fail()
	}
	return f
}

func (r *jsonReader) int() int64 {
	s := r.number()
	if r.bad {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		r.fail()
	}
	return n
}

func (r *jsonReader) bool() bool {
	r.ws()
	switch {
	case len(r.s)-r.i >= 4 && r.s[r.i:r.i+4] == "true":
		r.i += 4
		return true
	case len(r.s)-r.i >= 5 && r.s[r.i:r.i+5] == "false":
		r.i += 5
		return false
	}
	r.fail()
	return false
}

// floatPtr reads a number, or null as nil.
func (r *jsonReader) floatPtr() *float64 {
	if r.null() {
		return nil
	}
	f := r.float()
	return &f
}

// timePtr reads a time as time.Time's UnmarshalJSON does (RFC 3339), or
// null as nil.
func (r *jsonReader) timePtr() *time.Time {
	if r.null() {
		return nil
	}
	s := r.str()
	if r.bad {
		return nil
	}
	t := new(time.Time)
	if err := t.UnmarshalText([]byte(s)); err != nil {
		r.fail()
		return nil
	}
	return t
}

func (r *jsonReader) point() pointDoc {
	var p pointDoc
	r.object(func(key string) {
		switch key {
		case "lon":
			p.Lon = r.float()
		case "lat":
			p.Lat = r.float()
		default:
			r.fail()
		}
	})
	return p
}

// decodeDetails decodes a details document; !ok means use encoding/json.
func decodeDetails(raw string) (d detailsDoc, ok bool) {
	r := jsonReader{s: raw}
	r.object(func(key string) {
		switch key {
		case "exif":
			d.EXIF = r.exif()
		case "device":
			if !r.null() {
				d.Device = r.device()
			}
		default:
			r.fail()
		}
	})
	return d, r.end()
}

func (r *jsonReader) exif() exifDoc {
	var x exifDoc
	r.object(func(key string) {
		switch key {
		case "position":
			if !r.null() {
				p := r.point()
				x.Position = &p
			}
		case "altitude_m":
			x.AltitudeM = r.floatPtr()
		case "gps_time":
			x.GPSTime = r.timePtr()
		case "taken_at":
			x.TakenAt = r.timePtr()
		case "taken_at_zoned":
			x.TakenAtZoned = r.bool()
		case "orientation":
			n := r.int()
			if int64(int(n)) != n {
				r.fail()
			}
			x.Orientation = int(n)
		case "make":
			x.Make = r.str()
		case "model":
			x.Model = r.str()
		case "direction_deg":
			x.DirectionDeg = r.floatPtr()
		case "problems":
			if r.null() {
				x.Problems = nil
				return
			}
			x.Problems = []string{}
			r.array(func() { x.Problems = append(x.Problems, r.str()) })
		default:
			r.fail()
		}
	})
	return x
}

func (r *jsonReader) device() *deviceDoc {
	v := &deviceDoc{}
	r.object(func(key string) {
		switch key {
		case "lon":
			v.Lon = r.float()
		case "lat":
			v.Lat = r.float()
		case "crs":
			v.CRS = r.str()
		case "wgs84":
			v.WGS84 = r.point()
		case "accuracy_m":
			v.AccuracyM = r.floatPtr()
		case "provider":
			v.Provider = r.str()
		case "mock":
			v.Mock = r.bool()
		default:
			r.fail()
		}
	})
	return v
}

// decodeResponsibility decodes a responsibility document; !ok means use
// encoding/json.
func decodeResponsibility(raw string) (d responsibilityDoc, ok bool) {
	r := jsonReader{s: raw}
	r.object(func(key string) {
		switch key {
		case "township_code":
			d.TownshipCode = r.str()
		case "township_name":
			d.TownshipName = r.str()
		case "zone":
			d.Zone = r.str()
		case "reach_code":
			d.ReachCode = r.str()
		case "reach_name":
			d.ReachName = r.str()
		case "reach_dist_m":
			d.ReachDistM = r.float()
		case "chiefs":
			d.Chiefs = make([]chiefRefDoc, 0, 4) // one allocation for most records
			r.array(func() { d.Chiefs = append(d.Chiefs, r.chief()) })
		case "candidates":
			d.Candidates = make([]candidateDoc, 0, 4)
			r.array(func() { d.Candidates = append(d.Candidates, r.candidate()) })
		case "method":
			d.Method = r.str()
		case "version":
			d.Version = r.int()
		default:
			r.fail()
		}
	})
	return d, r.end()
}

func (r *jsonReader) chief() chiefRefDoc {
	var c chiefRefDoc
	r.object(func(key string) {
		switch key {
		case "user_id":
			c.UserID = r.str()
		case "name":
			c.Name = r.str()
		case "level":
			c.Level = r.str()
		default:
			r.fail()
		}
	})
	return c
}

func (r *jsonReader) candidate() candidateDoc {
	var c candidateDoc
	r.object(func(key string) {
		switch key {
		case "code":
			c.Code = r.str()
		case "distance_m":
			c.DistanceM = r.float()
		default:
			r.fail()
		}
	})
	return c
}

// decodeThumbnails decodes the thumbnails column (e.g. [320,1280]);
// !ok means use encoding/json.
func decodeThumbnails(raw string) (sizes []int, ok bool) {
	r := jsonReader{s: raw}
	sizes = []int{}
	r.array(func() {
		n := r.int()
		if int64(int(n)) != n {
			r.fail()
		}
		sizes = append(sizes, int(n))
	})
	return sizes, r.end()
}
