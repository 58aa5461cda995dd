package fieldwatch

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/geo"
)

func validEvidence() Evidence {
	at := time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)
	dist := 12.5
	return Evidence{
		Category: CategoryDustSite, SHA256: strings.Repeat("ab", 32), Size: 10, ContentType: "image/jpeg",
		ObjectKey: "evidence/ab", Width: 4, Height: 3, CapturedAt: &at,
		CaptureTimeSource: SourceEXIF, LocationSource: SourceDevice,
		Location: &geo.Point{Lon: 120.1, Lat: 30.2}, EXIFDeviceDistanceM: &dist,
		EXIF:   PhotoEXIF{Orientation: 6, TakenAt: &at, Problems: []string{"no GPS"}},
		Device: &DeviceFix{Lon: 120.1, Lat: 30.2, CRS: geo.WGS84, WGS84: geo.Point{Lon: 120.1, Lat: 30.2}},
		Flags:  []Flag{FlagMockLocation, FlagEXIFMissing, FlagMockLocation},
		Responsibility: &Responsibility{TownshipCode: "330100001", Zone: ZoneCore,
			Chiefs: []ChiefRef{{UserID: "u", Level: ChiefVillage}}},
	}
}

// TestEvidenceNormalize: the canonical form, and a copy that shares no
// memory with the original.
func TestEvidenceNormalize(t *testing.T) {
	e := validEvidence()
	n, err := e.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if want := []Flag{FlagEXIFMissing, FlagMockLocation}; !slices.Equal(n.Flags, want) {
		t.Errorf("flags %v, want %v", n.Flags, want)
	}
	if n.TownshipCode != "330100001" {
		t.Errorf("township %q, want the responsibility's", n.TownshipCode)
	}
	if n.Thumbnails == nil || n.EXIF.Problems == nil {
		t.Error("nil slices left nil")
	}
	if n.CapturedAt == e.CapturedAt || n.Location == e.Location || n.Device == e.Device ||
		n.EXIF.TakenAt == e.EXIF.TakenAt || n.Responsibility == e.Responsibility ||
		&n.Responsibility.Chiefs[0] == &e.Responsibility.Chiefs[0] || &n.EXIF.Problems[0] == &e.EXIF.Problems[0] {
		t.Error("the result shares memory with the original")
	}
	if len(e.Flags) != 3 {
		t.Error("the original was changed")
	}
}

func TestEvidenceNormalizeRejects(t *testing.T) {
	nan := math.NaN()
	neg := -1.0
	for _, tc := range []struct {
		name  string
		spoil func(*Evidence)
	}{
		{"Category", func(e *Evidence) { e.Category = "smoke" }},
		{"NoContentType", func(e *Evidence) { e.ContentType = "" }},
		{"NoObjectKey", func(e *Evidence) { e.ObjectKey = "" }},
		{"SHA256Upper", func(e *Evidence) { e.SHA256 = strings.Repeat("AB", 32) }},
		{"SHA256Short", func(e *Evidence) { e.SHA256 = "ab" }},
		{"NegativeSize", func(e *Evidence) { e.Size = -1 }},
		{"HugeWidth", func(e *Evidence) { e.Width = math.MaxInt32 + 1 }},
		{"Source", func(e *Evidence) { e.LocationSource = "gps" }},
		{"Location", func(e *Evidence) { e.Location = &geo.Point{Lon: 200, Lat: 0} }},
		{"Distance", func(e *Evidence) { e.EXIFDeviceDistanceM = &neg }},
		{"Altitude", func(e *Evidence) { e.EXIF.AltitudeM = &nan }},
		{"Orientation", func(e *Evidence) { e.EXIF.Orientation = 9 }},
		{"DeviceCRS", func(e *Evidence) { e.Device.CRS = "WGS-84" }},
		{"DeviceAccuracy", func(e *Evidence) { e.Device.AccuracyM = &neg }},
		{"Flag", func(e *Evidence) { e.Flags = append(e.Flags, "blurry") }},
		{"Zone", func(e *Evidence) { e.Responsibility.Zone = "outer" }},
		{"ChiefLevel", func(e *Evidence) { e.Responsibility.Chiefs[0].Level = "mayor" }},
		{"Candidate", func(e *Evidence) { e.Responsibility.Candidates = []ReachCandidate{{DistanceM: 1}} }},
		{"CodesDiffer", func(e *Evidence) { e.TownshipCode = "330100002" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := validEvidence()
			tc.spoil(&e)
			if _, err := e.Normalize(); !errors.Is(err, ErrInvalid) {
				t.Errorf("Normalize = %v, want ErrInvalid", err)
			}
		})
	}
}
