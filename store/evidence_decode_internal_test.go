package store

import (
	"bufio"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
)

// decodeBoth decodes raw, a document of the given kind, with the
// hand-written decoder and with encoding/json (the old path). fastOK says
// whether the hand-written decoder took it; jsonErr is encoding/json's
// error.
func decodeBoth(t testing.TB, kind, raw string) (fast, slow any, fastOK bool, jsonErr error) {
	t.Helper()
	switch kind {
	case "details":
		d, ok := decodeDetails(raw)
		var j detailsDoc
		return d, j, ok, json.Unmarshal([]byte(raw), &j)
	case "responsibility":
		d, ok := decodeResponsibility(raw)
		var j responsibilityDoc
		err := json.Unmarshal([]byte(raw), &j)
		return d, j, ok, err
	case "thumbnails":
		d, ok := decodeThumbnails(raw)
		var j []int
		err := json.Unmarshal([]byte(raw), &j)
		if j == nil {
			j = []int{} // scanEvidence's rule for the old path
		}
		return d, j, ok, err
	}
	t.Fatalf("unknown document kind %q", kind)
	return nil, nil, false, nil
}

// TestDecodeDocuments decodes the documents of testdata/documents.txt
// both ways: where the hand-written decoder takes one, encoding/json must
// accept it and decode the same; where it declines, the caller falls
// back to encoding/json, so nothing changes. Documents marked fast must
// be taken, so the fast path cannot quietly decline everything.
func TestDecodeDocuments(t *testing.T) {
	f, err := os.Open("testdata/documents.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.HasPrefix(text, "#") {
			continue
		}
		head, raw, ok := strings.Cut(text, "\t")
		if !ok {
			t.Fatalf("line %d: no tab", line)
		}
		kind, mode, _ := strings.Cut(head, " ")
		fast, slow, fastOK, jsonErr := decodeBoth(t, kind, raw)
		switch {
		case mode == "fast" && !fastOK:
			t.Errorf("line %d: %s %q: the hand-written decoder declined a document as stored", line, kind, raw)
		case fastOK && jsonErr != nil:
			t.Errorf("line %d: %s %q: hand-written decoder accepted what encoding/json rejects: %v", line, kind, raw, jsonErr)
		case fastOK && !reflect.DeepEqual(fast, slow):
			t.Errorf("line %d: %s %q:\nhand-written %#v\nencoding/json %#v", line, kind, raw, fast, slow)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 40 {
		t.Fatalf("only %d documents read", n)
	}
}

// TestDecodeWrittenDocuments round-trips documents as the store writes
// them (toDetails, responsibilityJSON, thumbnailsText) through both
// decoders, and through fromDetails and fromResponsibilityJSON against
// the old path.
func TestDecodeWrittenDocuments(t *testing.T) {
	at := time.Date(2025, 5, 1, 8, 0, 0, 123456000, time.UTC)
	full := benchEvidence(t, "0196f3a0-0000-7000-8000-0000000000aa", 7, at, geo.Point{Lon: 118.21, Lat: 40.21})
	bare := fieldwatch.Evidence{}
	odd := full
	odd.EXIF.Make, odd.EXIF.Model = `<Canon & "Co">`, "line\u2028sep"
	odd.EXIF.Problems = []string{}
	odd.Responsibility = &fieldwatch.Responsibility{TownshipName: "Dongguan <East> & West", Chiefs: []fieldwatch.ChiefRef{}, Candidates: []fieldwatch.ReachCandidate{}}
	for _, tc := range []struct {
		name string
		e    fieldwatch.Evidence
		fast bool // the hand-written decoder takes both documents
	}{
		{"Full", full, true},
		{"Bare", bare, true},
		{"Escapes", odd, false}, // json.Marshal escapes < > & and U+2028
	} {
		t.Run(tc.name, func(t *testing.T) {
			details, err := json.Marshal(toDetails(tc.e))
			if err != nil {
				t.Fatal(err)
			}
			docs := [][2]string{{"details", string(details)}, {"thumbnails", thumbnailsText(tc.e.Thumbnails)}}
			if tc.e.Responsibility != nil {
				resp, err := responsibilityJSON(*tc.e.Responsibility)
				if err != nil {
					t.Fatal(err)
				}
				docs = append(docs, [2]string{"responsibility", resp})
			}
			for _, d := range docs {
				fast, slow, ok, jsonErr := decodeBoth(t, d[0], d[1])
				if jsonErr != nil {
					t.Fatalf("%s: encoding/json: %v", d[0], jsonErr)
				}
				if ok != (tc.fast || d[0] == "thumbnails") {
					t.Errorf("%s %s: hand-written decoder took it: %v, want %v", d[0], d[1], ok, tc.fast)
				}
				if ok && !reflect.DeepEqual(fast, slow) {
					t.Errorf("%s:\nhand-written %#v\nencoding/json %#v", d[0], fast, slow)
				}
			}

			var got, want fieldwatch.Evidence
			if err := fromDetails(string(details), &got); err != nil {
				t.Fatal(err)
			}
			if err := oldFromDetails(string(details), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("fromDetails:\n got %#v\nwant %#v", got, want)
			}
		})
	}
}

// oldFromDetails is fromDetails as it was before the hand-written
// decoder: encoding/json only.
func oldFromDetails(raw string, e *fieldwatch.Evidence) error {
	var d detailsDoc
	if err := json.Unmarshal([]byte(raw), &d); err != nil {
		return err
	}
	setDetails(d, e)
	return nil
}

// FuzzDecodeDocuments checks on arbitrary input that whatever the
// hand-written decoders accept, encoding/json accepts and decodes the
// same way.
func FuzzDecodeDocuments(f *testing.F) {
	for _, seed := range []string{
		`{"exif":{"position":{"lon":118.2,"lat":40.2},"altitude_m":52.5,"gps_time":"2025-04-30T23:00:00Z","problems":["x"]},"device":{"lon":1,"lat":2,"crs":"gcj02","wgs84":{"lon":1,"lat":2},"accuracy_m":8,"mock":true}}`,
		`{"zone": "core", "chiefs": [{"name": "A", "level": "village", "user_id": "u"}], "candidates": [{"code": "R", "distance_m": 1.5}], "version": 2}`,
		`[320,1280]`, `{}`, `{"exif": {"orientation": -0}}`, `{"exif": {"taken_at": "2025-03-14T17:26:53.5+08:00"}}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, kind := range []string{"details", "responsibility", "thumbnails"} {
			fast, slow, ok, jsonErr := decodeBoth(t, kind, raw)
			if !ok {
				continue
			}
			if jsonErr != nil {
				t.Fatalf("%s %q: hand-written decoder accepted what encoding/json rejects: %v", kind, raw, jsonErr)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("%s %q:\nhand-written %#v\nencoding/json %#v", kind, raw, fast, slow)
			}
		}
	})
}

// BenchmarkDecodeDocuments compares decoding a typical row's documents
// by hand and with encoding/json.
func BenchmarkDecodeDocuments(b *testing.B) {
	e := benchEvidence(b, "0196f3a0-0000-7000-8000-0000000000aa", 7, time.Now().UTC(), geo.Point{Lon: 118.21, Lat: 40.21})
	details, err := json.Marshal(toDetails(e))
	if err != nil {
		b.Fatal(err)
	}
	resp, err := responsibilityJSON(*e.Responsibility)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("HandWritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got fieldwatch.Evidence
			if err := fromDetails(string(details), &got); err != nil {
				b.Fatal(err)
			}
			if _, err := fromResponsibilityJSON(resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EncodingJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got fieldwatch.Evidence
			if err := oldFromDetails(string(details), &got); err != nil {
				b.Fatal(err)
			}
			var d responsibilityDoc
			if err := json.Unmarshal([]byte(resp), &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
