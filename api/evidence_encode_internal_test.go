package api

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
)

func ptr[T any](v T) *T { return &v }

// encodeCases are evidence values that exercise every member, omitted or
// present, and the number, time and string forms encoding/json has
// rules for.
func encodeCases() map[string]fieldwatch.Evidence {
	at := time.Date(2025, 5, 1, 8, 0, 0, 123456000, time.UTC)
	full := fieldwatch.Evidence{
		ID: "0196f3a0-0000-7000-8000-00000000000a", UploaderID: "0196f3a0-0000-7000-8000-00000000000b",
		Category: "dust_site", Subcategory: "stockpile", Note: "covered on the north side only",
		SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 4 << 20,
		ContentType: "image/jpeg", ObjectKey: "photos/x", Width: 4000, Height: 3000,
		ReceivedAt: at, CapturedAt: ptr(at.Add(-time.Hour)), CaptureTimeSource: fieldwatch.SourceEXIF,
		Location: &geo.Point{Lon: 118.2101, Lat: 40.2034}, LocationSource: fieldwatch.SourceEXIF,
		EXIF: fieldwatch.PhotoEXIF{Position: &geo.Point{Lon: 118.2101, Lat: 40.2034}, AltitudeM: ptr(52.5),
			GPSTime: ptr(at.Add(-time.Hour)), TakenAt: ptr(at.Add(-time.Hour - time.Second)), TakenAtZoned: true,
			Orientation: 6, Make: "Xiaomi", Model: "Redmi Note 12", DirectionDeg: ptr(181.25), Problems: []string{"gps_dop missing"}},
		Device: &fieldwatch.DeviceFix{Lon: 118.2112, Lat: 40.2025, CRS: "gcj02", WGS84: geo.Point{Lon: 118.205, Lat: 40.2011},
			AccuracyM: ptr(8.0), Provider: "fused", Mock: true},
		EXIFDeviceDistanceM: ptr(12.75),
		Flags:               []fieldwatch.Flag{fieldwatch.FlagCaptureStale, fieldwatch.FlagEXIFDeviceMismatch},
		DuplicateOf:         "0196f3a0-0000-7000-8000-00000000000c",
		TownshipCode:        "130102001", ReachCode: "R-0042",
		Responsibility: &fieldwatch.Responsibility{TownshipCode: "130102001", TownshipName: "Dongguan Town",
			Zone: fieldwatch.ZoneCore, ReachCode: "R-0042", ReachName: "Hutuo River, section 4", ReachDistM: 37.5,
			Chiefs: []fieldwatch.ChiefRef{
				{UserID: "0196f3a0-0000-7000-8000-000000000001", Name: "Wang Lei", Level: fieldwatch.ChiefTownship},
				{UserID: "0196f3a0-0000-7000-8000-000000000002", Name: "Li Na", Level: fieldwatch.ChiefVillage}},
			Candidates: []fieldwatch.ReachCandidate{{Code: "R-0042", DistanceM: 37.5}, {Code: "R-0043", DistanceM: 212.25}},
			Method:     "exif-point-in-polygon", Version: 3},
		Thumbnails:     []int{320, 1280},
		ThumbnailTries: fieldwatch.ThumbnailTries{Attempts: 2, Error: "decode: <truncated> & \"odd\""},
	}
	odd := full
	odd.ID, odd.UploaderID, odd.DuplicateOf = "not-a-uuid", "0196F3A0-0000-7000-8000-00000000000B", "urn:uuid:0196f3a0-0000-7000-8000-00000000000c"
	odd.Responsibility = &fieldwatch.Responsibility{Chiefs: []fieldwatch.ChiefRef{{UserID: "0196f3a0x0000-7000-8000-000000000001"},
		{UserID: "0196f3a00000-7000-8000-0000-00000001"}, {UserID: "{0196f3a0-0000-7000-8000-000000000001}"}, {UserID: "0196f3a0-0000-7000-8000-00000000000g"}}}
	odd.Note = "line\nbreak\ttab \x01 ctl \u2028 sep \u2029 <b>&amp;</b> \\ \"q\" 河长 \xff bad"
	odd.EXIF.Make, odd.EXIF.Model = "华为", "Mate\u00a060"
	odd.EXIF.Problems = []string{"", "a\"b"}
	odd.EXIF.TakenAt, odd.EXIF.TakenAtZoned = nil, true
	odd.EXIF.AltitudeM, odd.EXIF.DirectionDeg = ptr(-0.0), ptr(1e-7)
	odd.Location = &geo.Point{Lon: 1e21, Lat: -1.5e-300}
	odd.EXIF.Position = &geo.Point{Lon: 0.000001, Lat: 0.0000009999}
	odd.Device = &fieldwatch.DeviceFix{CRS: "wgs84", Lon: 123456789012345678, Lat: 1e20}
	odd.EXIFDeviceDistanceM = ptr(math.MaxFloat64)
	odd.ReceivedAt = time.Date(2025, 5, 1, 8, 0, 0, 1, time.FixedZone("CST", 8*3600))
	odd.CapturedAt = ptr(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC))
	odd.Width, odd.Height = 0, 3000
	odd.Responsibility.TownshipCode, odd.Responsibility.ReachDistM = "T", 5
	odd.ThumbnailTries = fieldwatch.ThumbnailTries{GaveUp: fieldwatch.ThumbnailFailed}
	reachOnly := full
	reachOnly.Responsibility = &fieldwatch.Responsibility{ReachCode: "R", ReachName: "<r>", ReachDistM: 0,
		Candidates: []fieldwatch.ReachCandidate{{Code: "R"}}, Method: "m"}
	reachOnly.Flags, reachOnly.Thumbnails, reachOnly.EXIF.Problems = nil, nil, nil
	return map[string]fieldwatch.Evidence{
		"Full":      full,
		"Odd":       odd,
		"ReachOnly": reachOnly,
		"Bare":      {},
	}
}

// TestEvidenceJSONMatchesEncodingJSON checks that the hand-written
// encoder writes exactly what encoding/json writes for the generated
// types, for one evidence, a page, and through the response objects
// (status, headers, body).
func TestEvidenceJSONMatchesEncodingJSON(t *testing.T) {
	cases := encodeCases()
	var all []fieldwatch.Evidence
	for name, e := range cases {
		all = append(all, e)
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(evidenceOut(e))
			if err != nil {
				t.Fatal(err)
			}
			if got := appendEvidenceJSON(nil, &e); !bytes.Equal(got, want) {
				t.Errorf("hand-written:\n%s\nencoding/json:\n%s", got, want)
			}

			gotRec, wantRec := httptest.NewRecorder(), httptest.NewRecorder()
			if err := (evidenceResponse{e}).VisitGetEvidenceResponse(gotRec); err != nil {
				t.Fatal(err)
			}
			if err := GetEvidence200JSONResponse(evidenceOut(e)).VisitGetEvidenceResponse(wantRec); err != nil {
				t.Fatal(err)
			}
			sameResponse(t, gotRec, wantRec)
		})
	}
	for _, next := range []*string{nil, ptr("djE6MjAyNS0wNS0wMVQwODowMDowMC4xMjM0NTZafDAxOTY")} {
		for _, items := range [][]fieldwatch.Evidence{nil, all[:1], all} {
			page := EvidencePage{Items: []Evidence{}, NextCursor: next}
			for _, e := range items {
				page.Items = append(page.Items, evidenceOut(e))
			}
			gotRec, wantRec := httptest.NewRecorder(), httptest.NewRecorder()
			if err := (evidencePageResponse{items: items, next: next}).VisitListEvidenceResponse(gotRec); err != nil {
				t.Fatal(err)
			}
			if err := ListEvidence200JSONResponse(page).VisitListEvidenceResponse(wantRec); err != nil {
				t.Fatal(err)
			}
			sameResponse(t, gotRec, wantRec)
		}
	}
}

func sameResponse(t *testing.T, got, want *httptest.ResponseRecorder) {
	t.Helper()
	if got.Code != want.Code || got.Header().Get("Content-Type") != want.Header().Get("Content-Type") ||
		len(got.Header()) != len(want.Header()) {
		t.Errorf("response %d %v, want %d %v", got.Code, got.Header(), want.Code, want.Header())
	}
	if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Errorf("body:\n%s\nwant:\n%s", got.Body.Bytes(), want.Body.Bytes())
	}
}

// TestEvidenceJSONUnencodable checks that evidence encoding/json cannot
// write (never returned by the store) still fails as it did, not as
// invalid or altered JSON.
func TestEvidenceJSONUnencodable(t *testing.T) {
	for name, mutate := range map[string]func(e *fieldwatch.Evidence){
		"NaNLocation":    func(e *fieldwatch.Evidence) { e.Location = &geo.Point{Lon: math.NaN()} },
		"InfDistance":    func(e *fieldwatch.Evidence) { e.EXIFDeviceDistanceM = ptr(math.Inf(1)) },
		"NaNCandidate":   func(e *fieldwatch.Evidence) { e.Responsibility.Candidates[0].DistanceM = math.NaN() },
		"InfDevice":      func(e *fieldwatch.Evidence) { e.Device.AccuracyM = ptr(math.Inf(-1)) },
		"YearOutOfRange": func(e *fieldwatch.Evidence) { e.ReceivedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		t.Run(name, func(t *testing.T) {
			e := encodeCases()["Full"]
			r := *e.Responsibility
			r.Candidates = append([]fieldwatch.ReachCandidate{}, r.Candidates...)
			e.Responsibility = &r
			d := *e.Device
			e.Device = &d
			mutate(&e)
			if encodable(&e) {
				t.Fatal("encodable")
			}
			if err := (evidenceResponse{e}).VisitGetEvidenceResponse(httptest.NewRecorder()); err == nil {
				t.Error("GetEvidence: no error")
			}
			items := []fieldwatch.Evidence{encodeCases()["Full"], e}
			if err := (evidencePageResponse{items: items}).VisitListEvidenceResponse(httptest.NewRecorder()); err == nil {
				t.Error("ListEvidence: no error")
			}
		})
	}
}

// BenchmarkEncodeEvidencePage compares a page of 50 written by hand with
// evidenceOut and encoding/json.
func BenchmarkEncodeEvidencePage(b *testing.B) {
	items := make([]fieldwatch.Evidence, 50)
	for i := range items {
		items[i] = encodeCases()["Full"]
	}
	next := ptr("cursor")
	b.Run("HandWritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := (evidencePageResponse{items: items, next: next}).VisitListEvidenceResponse(httptest.NewRecorder()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("EncodingJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			page := EvidencePage{Items: make([]Evidence, 0, len(items)), NextCursor: next}
			for _, e := range items {
				page.Items = append(page.Items, evidenceOut(e))
			}
			if err := ListEvidence200JSONResponse(page).VisitListEvidenceResponse(httptest.NewRecorder()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestAppendJSONString compares appendJSONString with encoding/json on the
// strings its fast path must pass through or hand over: valid multi-byte
// UTF-8 is written directly, the line and paragraph separators, invalid
// UTF-8 and the replacement character itself go to encoding/json.
func TestAppendJSONString(t *testing.T) {
	for name, s := range map[string]string{
		"empty":           "",
		"ascii":           "Dongguan Town",
		"chinese":         "东关镇 滹沱河 第4段",
		"emoji":           "ok 👍",
		"line separator":  "a\u2028b",
		"para separator":  "a\u2029b",
		"invalid":         "河\xffb",
		"truncated":       "河\xe6\xb2",
		"replacement":     "a\ufffdb",
		"html after utf8": "河<b>&",
		"quote after":     "河\"\\",
		"control after":   "河\n",
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := appendJSONString(nil, s); string(got) != string(want) {
				t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
			}
		})
	}
}
