package fieldwatch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
	"github.com/fieldwatch/fieldwatch/demo"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
	"github.com/fieldwatch/fieldwatch/media"
)

// photoTaken is when the test photos under testdata/photos were taken
// (their EXIF DateTimeOriginal, 09:00 +08:00); the intake's clock starts
// an hour later, so their capture times raise no flag.
var (
	photoTaken = time.Date(2026, 11, 20, 1, 0, 11, 0, time.UTC)
	intakeT0   = photoTaken.Add(time.Hour)
)

// readPhoto reads one of the repository's test photos (see
// testdata/photos/manifest.json for what each shows).
func readPhoto(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "photos", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// intakeRig is an Intake over the fake store and a photo directory in a
// temporary directory, on a test clock.
type intakeRig struct {
	in    *fieldwatch.Intake
	st    *fakeEvidence
	blobs *fileblob.Dir
	clock *testclock.Clock
	spool string
}

func newIntakeRig(t *testing.T, cfg fieldwatch.IntakeConfig) *intakeRig {
	t.Helper()
	r := &intakeRig{st: newFakeEvidence(), clock: testclock.New(intakeT0)}
	var err error
	if r.blobs, err = fileblob.Open(filepath.Join(t.TempDir(), "photos")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.blobs.Close() })
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = filepath.Join(t.TempDir(), "spool")
	}
	r.spool = cfg.SpoolDir
	if cfg.Clock == nil {
		cfg.Clock = r.clock.Now
	}
	if r.in, err = fieldwatch.NewIntake(r.st, r.blobs, cfg); err != nil {
		t.Fatal(err)
	}
	return r
}

// upload runs the upload path as the API does: claim, receive, submit,
// release.
func (r *intakeRig) upload(ctx context.Context, key string, body []byte, meta fieldwatch.EvidenceMeta, rawMeta string) (fieldwatch.Evidence, bool, error) {
	c, err := r.in.Claim(ctx, "u-inspector", key)
	if err != nil {
		return fieldwatch.Evidence{}, false, err
	}
	defer c.Release()
	sp, err := r.in.Receive(ctx, bytes.NewReader(body))
	if err != nil {
		return fieldwatch.Evidence{}, false, err
	}
	defer sp.Close()
	return r.in.Submit(ctx, c, meta, []byte(rawMeta), sp)
}

func countyBox(t *testing.T) *geo.Box {
	t.Helper()
	b, err := demo.CountyBox()
	if err != nil {
		t.Fatal(err)
	}
	return &b
}

func ptrTime(t time.Time) *time.Time { return &t }
func ptrF(f float64) *float64        { return &f }

// TestIntakeDescribe runs photos through the whole upload path and checks
// what the domain made of them: where the position and capture time came
// from and which doubts became flags.
func TestIntakeDescribe(t *testing.T) {
	dust := fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}
	withDevice := func(lon, lat float64, crs geo.CRS, mock bool) fieldwatch.EvidenceMeta {
		m := dust
		m.Device = &fieldwatch.DeviceInput{Lon: lon, Lat: lat, CRS: crs, AccuracyM: ptrF(8), Provider: "fused", Mock: mock}
		return m
	}
	// The EXIF position of dust-xingcheng.jpg is 118.3, 40.14.
	tests := []struct {
		name       string
		photo      string
		meta       fieldwatch.EvidenceMeta
		at         time.Time // the clock at receipt; zero: intakeT0
		flags      []fieldwatch.Flag
		locSource  fieldwatch.Source
		timeSource fieldwatch.Source
	}{
		{"EXIFInCounty", "dust-xingcheng.jpg", dust, time.Time{}, nil, fieldwatch.SourceEXIF, fieldwatch.SourceEXIF},
		{"DeviceAgrees", "dust-xingcheng.jpg", withDevice(118.3005, 40.1402, "", false), time.Time{}, nil, fieldwatch.SourceEXIF, fieldwatch.SourceEXIF},
		{"EXIFDeviceMismatch", "dust-xingcheng.jpg", withDevice(118.31, 40.14, geo.WGS84, false), time.Time{},
			[]fieldwatch.Flag{fieldwatch.FlagEXIFDeviceMismatch}, fieldwatch.SourceEXIF, fieldwatch.SourceEXIF},
		{"MockLocation", "dust-xingcheng.jpg", withDevice(118.3, 40.14, "", true), time.Time{},
			[]fieldwatch.Flag{fieldwatch.FlagMockLocation}, fieldwatch.SourceEXIF, fieldwatch.SourceEXIF},
		{"CaptureStale", "dust-xingcheng.jpg", dust, photoTaken.Add(73 * time.Hour),
			[]fieldwatch.Flag{fieldwatch.FlagCaptureStale}, fieldwatch.SourceEXIF, fieldwatch.SourceEXIF},
		{"CaptureTimeFuture", "dust-xingcheng.jpg", dust, photoTaken.Add(-6 * time.Minute),
			[]fieldwatch.Flag{fieldwatch.FlagCaptureTimeFuture}, fieldwatch.SourceEXIF, fieldwatch.SourceEXIF},
		{"WithinClockSkew", "dust-xingcheng.jpg", dust, photoTaken.Add(-4 * time.Minute), nil, fieldwatch.SourceEXIF, fieldwatch.SourceEXIF},
		{"OutsideCounty", "outside-county.jpg", dust, time.Time{},
			[]fieldwatch.Flag{fieldwatch.FlagOutsideCounty}, fieldwatch.SourceEXIF, fieldwatch.SourceEXIF},
		{"EXIFMissingDeviceFix", "no-exif.jpg", withDevice(118.3, 40.14, "", false), time.Time{},
			[]fieldwatch.Flag{fieldwatch.FlagEXIFMissing, fieldwatch.FlagCaptureTimeMissing}, fieldwatch.SourceDevice, fieldwatch.SourceNone},
		{"LocationMissing", "no-exif.jpg", dust, time.Time{},
			[]fieldwatch.Flag{fieldwatch.FlagLocationMissing, fieldwatch.FlagEXIFMissing, fieldwatch.FlagCaptureTimeMissing}, fieldwatch.SourceNone, fieldwatch.SourceNone},
		{"ClaimedCaptureTime", "no-exif.jpg", fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite, CapturedAt: ptrTime(intakeT0.Add(-time.Minute))}, time.Time{},
			[]fieldwatch.Flag{fieldwatch.FlagLocationMissing, fieldwatch.FlagEXIFMissing}, fieldwatch.SourceNone, fieldwatch.SourceDevice},
		{"ClaimedCaptureTimeStale", "no-exif.jpg", fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite, CapturedAt: ptrTime(intakeT0.Add(-100 * time.Hour))}, time.Time{},
			[]fieldwatch.Flag{fieldwatch.FlagLocationMissing, fieldwatch.FlagEXIFMissing, fieldwatch.FlagCaptureStale}, fieldwatch.SourceNone, fieldwatch.SourceDevice},
		{"PNGWithoutMetadata", "screenshot.png", fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryOther}, time.Time{},
			[]fieldwatch.Flag{fieldwatch.FlagLocationMissing, fieldwatch.FlagEXIFMissing, fieldwatch.FlagCaptureTimeMissing}, fieldwatch.SourceNone, fieldwatch.SourceNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newIntakeRig(t, fieldwatch.IntakeConfig{County: countyBox(t)})
			if !tc.at.IsZero() {
				r.clock.Set(tc.at)
			}
			body := readPhoto(t, tc.photo)
			e, replayed, err := r.upload(t.Context(), "key-1", body, tc.meta, `{"category":"`+string(tc.meta.Category)+`"}`)
			if err != nil {
				t.Fatal(err)
			}
			if replayed {
				t.Error("a first upload answered as a replay")
			}
			if !slices.Equal(e.Flags, tc.flags) {
				t.Errorf("flags %v, want %v", e.Flags, tc.flags)
			}
			if e.LocationSource != tc.locSource || e.CaptureTimeSource != tc.timeSource {
				t.Errorf("location from %s, capture time from %s; want %s, %s", e.LocationSource, e.CaptureTimeSource, tc.locSource, tc.timeSource)
			}
			if e.SHA256 != hexSHA(body) || e.Size != int64(len(body)) || e.ObjectKey != fieldwatch.ObjectKey(e.SHA256) {
				t.Errorf("stored as %s (%d bytes) at %s", e.SHA256, e.Size, e.ObjectKey)
			}
			if !e.ReceivedAt.Equal(r.clock.Now()) {
				t.Errorf("received at %v, the clock says %v", e.ReceivedAt, r.clock.Now())
			}
			if got := r.st.get(e.ID); got.ID != e.ID {
				t.Errorf("evidence %s not committed", e.ID)
			}
			rc, _, err := r.blobs.Get(t.Context(), e.ObjectKey)
			if err != nil {
				t.Fatalf("photo not stored: %v", err)
			}
			rc.Close()
		})
	}
}

func TestIntakeDescribeDetails(t *testing.T) {
	r := newIntakeRig(t, fieldwatch.IntakeConfig{})
	meta := fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite, Subcategory: " 工地 ", Note: "line one\nline two\u200b",
		Device: &fieldwatch.DeviceInput{Lon: 118.3005, Lat: 40.1402, Provider: "gps"}}
	e, _, err := r.upload(t.Context(), "k", readPhoto(t, "rotated-dust-baimiaozi.jpg"), meta, "{}")
	if err != nil {
		t.Fatal(err)
	}
	if e.Subcategory != "工地" || e.Note != "line one\nline two" {
		t.Errorf("text kept as %q, %q", e.Subcategory, e.Note)
	}
	if e.ContentType != "image/jpeg" || e.Width != 3000 || e.Height != 2250 || e.EXIF.Orientation != 6 {
		t.Errorf("image %s %dx%d orientation %d", e.ContentType, e.Width, e.Height, e.EXIF.Orientation)
	}
	if e.EXIF.TakenAt == nil || !e.EXIF.TakenAtZoned || e.EXIF.Position == nil {
		t.Errorf("EXIF %+v", e.EXIF)
	}
	if e.Device == nil || e.Device.CRS != geo.WGS84 || e.Device.Provider != "gps" || e.EXIFDeviceDistanceM == nil {
		t.Errorf("device fix %+v, distance %v", e.Device, e.EXIFDeviceDistanceM)
	}
}

// TestIntakeDeviceCRS checks that fixes in GCJ-02 and BD-09, as Chinese
// map SDKs report them, are converted to WGS-84 before they are used.
func TestIntakeDeviceCRS(t *testing.T) {
	const lon, lat = 118.3, 40.14
	for _, crs := range []geo.CRS{geo.WGS84, geo.GCJ02, geo.BD09} {
		t.Run(string(crs), func(t *testing.T) {
			r := newIntakeRig(t, fieldwatch.IntakeConfig{})
			meta := fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite, Device: &fieldwatch.DeviceInput{Lon: lon, Lat: lat, CRS: crs}}
			e, _, err := r.upload(t.Context(), "k", readPhoto(t, "no-exif.jpg"), meta, "{}")
			if err != nil {
				t.Fatal(err)
			}
			want, err := geo.ToWGS84(geo.Point{Lon: lon, Lat: lat}, crs)
			if err != nil {
				t.Fatal(err)
			}
			if e.Location == nil || *e.Location != want || e.Device.WGS84 != want {
				t.Fatalf("located at %v, want %v", e.Location, want)
			}
			if e.Device.Lon != lon || e.Device.Lat != lat || e.Device.CRS != crs {
				t.Errorf("the fix as received is not kept: %+v", e.Device)
			}
			moved := geo.Distance(geo.Point{Lon: lon, Lat: lat}, want)
			if (crs == geo.WGS84) != (moved == 0) || moved > 2000 {
				t.Errorf("%s moved the point %.0f m", crs, moved)
			}
		})
	}
}

// TestIntakeRefuses lists what cannot become evidence; each leaves
// nothing stored and gives the key back.
func TestIntakeRefuses(t *testing.T) {
	dust := readPhoto(t, "dust-xingcheng.jpg")
	tests := []struct {
		name string
		cfg  fieldwatch.IntakeConfig
		body []byte
		meta fieldwatch.EvidenceMeta
		want error
	}{
		{"ErrEmptyPhoto", fieldwatch.IntakeConfig{}, nil, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}, fieldwatch.ErrEmptyPhoto},
		{"ErrTooLarge", fieldwatch.IntakeConfig{MaxPhotoBytes: 1000}, dust, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}, fieldwatch.ErrTooLarge},
		{"ErrDigestMismatch", fieldwatch.IntakeConfig{}, dust, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite, SHA256: hexSHA([]byte("other"))}, fieldwatch.ErrDigestMismatch},
		{"ErrInvalid_Category", fieldwatch.IntakeConfig{}, dust, fieldwatch.EvidenceMeta{Category: "noise"}, fieldwatch.ErrInvalid},
		{"ErrInvalid_Subcategory", fieldwatch.IntakeConfig{}, dust, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite, Subcategory: strings.Repeat("x", 65)}, fieldwatch.ErrInvalid},
		{"ErrInvalid_Note", fieldwatch.IntakeConfig{}, dust, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite, Note: "\xff"}, fieldwatch.ErrInvalid},
		{"ErrInvalid_SwappedFix", fieldwatch.IntakeConfig{}, dust, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite, Device: &fieldwatch.DeviceInput{Lon: 40.14, Lat: 118.3}}, fieldwatch.ErrInvalid},
		{"ErrInvalid_CRS", fieldwatch.IntakeConfig{}, dust, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite, Device: &fieldwatch.DeviceInput{Lon: 118.3, Lat: 40.14, CRS: "utm"}}, fieldwatch.ErrInvalid},
		{"ErrInvalid_Provider", fieldwatch.IntakeConfig{}, dust, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite, Device: &fieldwatch.DeviceInput{Lon: 118.3, Lat: 40.14, Provider: strings.Repeat("p", 33)}}, fieldwatch.ErrInvalid},
		{"NotAnImage", fieldwatch.IntakeConfig{}, []byte("%PDF-1.7 not a photo"), fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}, media.ErrUnsupportedFormat},
		{"TooManyPixels", fieldwatch.IntakeConfig{MaxPixels: 1000}, dust, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}, media.ErrTooManyPixels},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newIntakeRig(t, tc.cfg)
			_, _, err := r.upload(t.Context(), "key", tc.body, tc.meta, "{}")
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if len(r.st.evidence) != 0 || len(r.st.subs) != 0 {
				t.Fatalf("left %d evidence and %d submissions", len(r.st.evidence), len(r.st.subs))
			}
			if n := countFiles(t, r.spool); n != 0 {
				t.Fatalf("left %d spool files", n)
			}
		})
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func TestIntakeDeclaredDigest(t *testing.T) {
	r := newIntakeRig(t, fieldwatch.IntakeConfig{})
	body := readPhoto(t, "dust-xingcheng.jpg")
	meta := fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite, SHA256: strings.ToUpper(hexSHA(body))}
	if _, _, err := r.upload(t.Context(), "k", body, meta, "{}"); err != nil {
		t.Fatalf("an upper-case declared digest: %v", err)
	}
}

// TestIntakeIdempotency: a key names one upload. A retry of it replays
// the first answer, and the key cannot name anything else.
func TestIntakeIdempotency(t *testing.T) {
	ctx := t.Context()
	body := readPhoto(t, "dust-xingcheng.jpg")
	meta := fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}
	const raw = `{"category":"dust_site"}`

	t.Run("Replay", func(t *testing.T) {
		r := newIntakeRig(t, fieldwatch.IntakeConfig{})
		first, _, err := r.upload(ctx, "k", body, meta, raw)
		if err != nil {
			t.Fatal(err)
		}
		r.clock.Advance(time.Hour)
		again, replayed, err := r.upload(ctx, "k", body, meta, raw)
		if err != nil || !replayed || again.ID != first.ID {
			t.Fatalf("retry: %s replayed=%v %v; want %s", again.ID, replayed, err, first.ID)
		}
		if len(r.st.evidence) != 1 {
			t.Fatalf("%d evidence stored", len(r.st.evidence))
		}
	})
	t.Run("ErrKeyReused", func(t *testing.T) {
		r := newIntakeRig(t, fieldwatch.IntakeConfig{})
		if _, _, err := r.upload(ctx, "k", body, meta, raw); err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.upload(ctx, "k", body, meta, `{"category":"other"}`); !errors.Is(err, fieldwatch.ErrKeyReused) {
			t.Fatalf("other meta: %v", err)
		}
		if _, _, err := r.upload(ctx, "k", append(slices.Clone(body), 0), meta, raw); !errors.Is(err, fieldwatch.ErrKeyReused) {
			t.Fatalf("other bytes: %v", err)
		}
	})
	t.Run("ReplayByHash", func(t *testing.T) {
		r := newIntakeRig(t, fieldwatch.IntakeConfig{})
		first, _, err := r.upload(ctx, "k", body, meta, raw)
		if err != nil {
			t.Fatal(err)
		}
		c, err := r.in.Claim(ctx, "u-inspector", "k")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		if !c.IsReplay() {
			t.Fatal("the claim of a completed key is not a replay")
		}
		if e, err := r.in.Replay(ctx, c, hexSHA(body), []byte(raw)); err != nil || e.ID != first.ID {
			t.Fatalf("Replay: %s, %v", e.ID, err)
		}
		if _, err := r.in.Replay(ctx, c, hexSHA([]byte("x")), []byte(raw)); !errors.Is(err, fieldwatch.ErrKeyReused) {
			t.Fatalf("Replay of other bytes: %v", err)
		}
		if _, err := r.in.Replay(ctx, c, "not hex", []byte(raw)); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Fatalf("Replay of a bad hash: %v", err)
		}
		fresh, err := r.in.Claim(ctx, "u-inspector", "another key")
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Release()
		if fresh.IsReplay() {
			t.Fatal("a fresh key's claim is a replay")
		}
		if _, err := r.in.Replay(ctx, fresh, hexSHA(body), []byte(raw)); !errors.Is(err, fieldwatch.ErrKeyReused) {
			t.Fatalf("Replay of a fresh claim: %v", err)
		}
	})
	t.Run("ErrInFlight", func(t *testing.T) {
		r := newIntakeRig(t, fieldwatch.IntakeConfig{})
		c, err := r.in.Claim(ctx, "u-inspector", "k")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		if _, err := r.in.Claim(ctx, "u-inspector", "k"); !errors.Is(err, fieldwatch.ErrInFlight) {
			t.Fatalf("second claim: %v", err)
		}
		if other, err := r.in.Claim(ctx, "u-other", "k"); err != nil {
			t.Fatalf("another user's key: %v", err)
		} else {
			other.Release()
		}
	})
	t.Run("ReleasedKeyRetries", func(t *testing.T) {
		r := newIntakeRig(t, fieldwatch.IntakeConfig{})
		bad := meta
		bad.SHA256 = hexSHA([]byte("x"))
		if _, _, err := r.upload(ctx, "k", body, bad, raw); !errors.Is(err, fieldwatch.ErrDigestMismatch) {
			t.Fatal(err)
		}
		if _, _, err := r.upload(ctx, "k", body, meta, raw); err != nil {
			t.Fatalf("the retry after a refusal: %v", err)
		}
	})
	t.Run("Takeover", func(t *testing.T) {
		// A claim whose heartbeat has been silent for TakeoverAfter has
		// no live request behind it: a retry takes it over, and the old
		// attempt can no longer store anything.
		r := newIntakeRig(t, fieldwatch.IntakeConfig{Heartbeat: time.Hour, TakeoverAfter: time.Minute})
		old, err := r.in.Claim(ctx, "u-inspector", "k")
		if err != nil {
			t.Fatal(err)
		}
		defer old.Release()
		sp, err := r.in.Receive(ctx, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		r.clock.Advance(time.Minute + time.Second)
		e, _, err := r.upload(ctx, "k", body, meta, raw)
		if err != nil {
			t.Fatalf("takeover: %v", err)
		}
		if _, _, err := r.in.Submit(ctx, old, meta, []byte(raw), sp); !errors.Is(err, fieldwatch.ErrInFlight) {
			t.Fatalf("the old attempt: %v", err)
		}
		if len(r.st.evidence) != 1 || r.st.evidence[0].ID != e.ID {
			t.Fatalf("stored %d evidence", len(r.st.evidence))
		}
	})
}

// TestIntakeFailures: a store or photo store failing mid-way fails the
// upload and gives the key back for the retry.
func TestIntakeFailures(t *testing.T) {
	body := readPhoto(t, "dust-xingcheng.jpg")
	meta := fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}
	boom := errors.New("boom")
	for _, method := range []string{"ClaimSubmission", "MarkSubmissionObject", "CommitEvidence"} {
		t.Run(method, func(t *testing.T) {
			r := newIntakeRig(t, fieldwatch.IntakeConfig{})
			r.st.fail = func(m string) error {
				if m == method {
					return boom
				}
				return nil
			}
			if _, _, err := r.upload(t.Context(), "k", body, meta, "{}"); !errors.Is(err, boom) {
				t.Fatalf("got %v", err)
			}
			r.st.fail = nil
			if _, _, err := r.upload(t.Context(), "k", body, meta, "{}"); err != nil {
				t.Fatalf("retry: %v", err)
			}
		})
	}
	t.Run("Linker", func(t *testing.T) {
		r := newIntakeRig(t, fieldwatch.IntakeConfig{Linker: failingLinker{boom}})
		if _, _, err := r.upload(t.Context(), "k", body, meta, "{}"); !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("Put", func(t *testing.T) {
		st := newFakeEvidence()
		in, err := fieldwatch.NewIntake(st, failingPut{boom}, fieldwatch.IntakeConfig{SpoolDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		c, err := in.Claim(t.Context(), "u", "k")
		if err != nil {
			t.Fatal(err)
		}
		sp, err := in.Receive(t.Context(), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		if _, _, err := in.Submit(t.Context(), c, meta, nil, sp); !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
		c.Release()
		if len(st.subs) != 0 {
			t.Fatal("the key was not given back")
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		r := newIntakeRig(t, fieldwatch.IntakeConfig{})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := r.in.Receive(ctx, bytes.NewReader(body)); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("SpoolDir", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "a-file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := fieldwatch.NewIntake(newFakeEvidence(), nil, fieldwatch.IntakeConfig{SpoolDir: filepath.Join(file, "spool")}); err == nil {
			t.Fatal("NewIntake made a spool under a file")
		}
		r := newIntakeRig(t, fieldwatch.IntakeConfig{})
		if err := os.RemoveAll(r.spool); err != nil {
			t.Fatal(err)
		}
		if _, err := r.in.Receive(t.Context(), bytes.NewReader(body)); err == nil {
			t.Fatal("received into a missing spool")
		}
	})
}

type failingLinker struct{ err error }

func (l failingLinker) Link(context.Context, *fieldwatch.Evidence) (*fieldwatch.Responsibility, error) {
	return nil, l.err
}
func (failingLinker) HasTownships() bool { return true }

type failingPut struct{ err error }

func (p failingPut) Put(context.Context, string, io.Reader, int64, blob.PutOptions) (blob.Object, error) {
	return blob.Object{}, p.err
}

// TestIntakeReleaseRetries: when the database cannot take a release (the
// very outage that failed the upload), Release retries it in the
// background until it goes through.
func TestIntakeReleaseRetries(t *testing.T) {
	r := newIntakeRig(t, fieldwatch.IntakeConfig{})
	released := make(chan struct{})
	failures := 0
	r.st.fail = func(m string) error {
		if m != "ReleaseSubmission" {
			return nil
		}
		if failures < 2 {
			failures++
			return errors.New("database down")
		}
		close(released)
		return nil
	}
	c, err := r.in.Claim(t.Context(), "u", "k")
	if err != nil {
		t.Fatal(err)
	}
	c.Release() // fails, and goes on in the background
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("the release was not retried")
	}
	r.st.fail = nil
}

// TestIntakeHeartbeat: a claim says it is alive while its upload is
// received, so neither a retry nor the reconciler takes it for dead.
func TestIntakeHeartbeat(t *testing.T) {
	r := newIntakeRig(t, fieldwatch.IntakeConfig{Heartbeat: time.Millisecond})
	beats := make(chan struct{}, 1)
	r.st.fail = func(m string) error {
		if m == "HeartbeatSubmissions" {
			select {
			case beats <- struct{}{}:
			default:
			}
			return errors.New("heartbeat refused") // logged, not fatal
		}
		return nil
	}
	c, err := r.in.Claim(t.Context(), "u", "k")
	if err != nil {
		t.Fatal(err)
	}
	<-beats
	<-beats
	c.Release()
	if len(r.st.subs) != 0 {
		t.Fatal("the key was not given back")
	}
}

// TestIntakeHeartbeatBatches: one heartbeat names every claim the
// process holds pending, and no claim it no longer holds; beating stops
// with the last claim and starts again with the next.
func TestIntakeHeartbeatBatches(t *testing.T) {
	r := newIntakeRig(t, fieldwatch.IntakeConfig{Heartbeat: time.Millisecond})
	beats := make(chan []string, 1)
	r.st.onHeartbeat = func(claims []fieldwatch.SubmissionAttempt) {
		keys := make([]string, 0, len(claims))
		for _, c := range claims {
			keys = append(keys, c.Key)
		}
		slices.Sort(keys)
		select {
		case beats <- keys:
		default:
		}
	}
	// next returns the keys of a heartbeat begun after the call: the
	// first one received after draining may have taken its claims
	// before, the one after it cannot (one goroutine beats in turn).
	next := func() []string {
		t.Helper()
		var keys []string
		for range 3 {
			select {
			case keys = <-beats:
			case <-time.After(10 * time.Second):
				t.Fatal("no heartbeat")
			}
		}
		return keys
	}
	claims := map[string]*fieldwatch.Claim{}
	for _, k := range []string{"a", "b", "c"} {
		c, err := r.in.Claim(t.Context(), "u", k)
		if err != nil {
			t.Fatal(err)
		}
		claims[k] = c
	}
	if got := next(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("heartbeat names %v, want [a b c]", got)
	}
	claims["a"].Release()
	r.clock.Advance(time.Second)
	if got := next(); !slices.Equal(got, []string{"b", "c"}) {
		t.Fatalf("after releasing a, heartbeat names %v, want [b c]", got)
	}
	r.st.mu.Lock()
	beat := r.st.subs[subKey{"u", "b"}].UpdatedAt
	_, released := r.st.subs[subKey{"u", "a"}]
	r.st.mu.Unlock()
	if !beat.Equal(intakeT0.Add(time.Second)) {
		t.Errorf("b's heartbeat time %v, want %v", beat, intakeT0.Add(time.Second))
	}
	if released {
		t.Error("a's key was not given back")
	}
	claims["b"].Release()
	claims["c"].Release()
	c, err := r.in.Claim(t.Context(), "u", "d")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if got := next(); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("a claim after all were released: heartbeat names %v, want [d]", got)
	}
}

// TestIntakeLinks: with an atlas, evidence is linked to the township and
// reach that answer for its place, and a position outside every township
// is flagged even without a county box.
func TestIntakeLinks(t *testing.T) {
	atlas, _, _ := newAtlasRig(t)
	tests := []struct {
		photo    string
		category fieldwatch.Category
		township string
		reach    string
		flags    []fieldwatch.Flag
	}{
		{"dust-xingcheng.jpg", fieldwatch.CategoryDustSite, "130227101", "", nil},
		{"river-lh03.jpg", fieldwatch.CategoryRiverSection, "130227106", "LH-03", nil},
		{"outside-county.jpg", fieldwatch.CategoryDustSite, "", "", []fieldwatch.Flag{fieldwatch.FlagOutsideCounty}},
		{"no-exif.jpg", fieldwatch.CategoryDustSite, "", "", []fieldwatch.Flag{fieldwatch.FlagLocationMissing, fieldwatch.FlagEXIFMissing, fieldwatch.FlagCaptureTimeMissing}},
	}
	for _, tc := range tests {
		t.Run(tc.photo, func(t *testing.T) {
			r := newIntakeRig(t, fieldwatch.IntakeConfig{Linker: atlas})
			e, _, err := r.upload(t.Context(), "k", readPhoto(t, tc.photo), fieldwatch.EvidenceMeta{Category: tc.category}, "{}")
			if err != nil {
				t.Fatal(err)
			}
			if e.TownshipCode != tc.township || e.ReachCode != tc.reach || !slices.Equal(e.Flags, tc.flags) {
				t.Fatalf("linked to %q, %q with flags %v; want %q, %q, %v", e.TownshipCode, e.ReachCode, e.Flags, tc.township, tc.reach, tc.flags)
			}
			if (e.Responsibility == nil) != (tc.photo == "no-exif.jpg") {
				t.Fatalf("responsibility %+v", e.Responsibility)
			}
		})
	}
}

func TestIntakeFailpoint(t *testing.T) {
	var points []string
	r := newIntakeRig(t, fieldwatch.IntakeConfig{Failpoint: func(name string) { points = append(points, name) }})
	if _, _, err := r.upload(t.Context(), "k", readPhoto(t, "dust-xingcheng.jpg"), fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}, "{}"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(points, []string{"after-object-put"}) {
		t.Fatalf("failpoints %v", points)
	}
	if r.in.MaxPhotoBytes() != 40<<20 {
		t.Fatalf("default size limit %d", r.in.MaxPhotoBytes())
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		max       int
		multiline bool
		want      string
		err       bool
	}{
		{"OK", "  dust at the gate ", 100, false, "dust at the gate", false},
		{"NFC", "e\u0301", 100, false, "\u00e9", false},
		{"ControlAndBidi", "a\u0000b\u202ec\u200bd\ufeff", 100, false, "abcd", false},
		{"NewlinesInNotes", "a\nb\tc", 100, true, "a\nb\tc", false},
		{"NewlinesInTitles", "a\nb\tc", 100, false, "abc", false},
		{"Chinese", "工地扬尘", 4, false, "工地扬尘", false},
		{"ErrInvalid_TooLong", "工地扬尘", 3, false, "", true},
		{"ErrInvalid_UTF8", "a\xffb", 100, false, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fieldwatch.CleanText("note", tc.in, tc.max, tc.multiline)
			if tc.err {
				if !errors.Is(err, fieldwatch.ErrInvalid) || !strings.Contains(err.Error(), "note") {
					t.Fatalf("got %q, %v; want an ErrInvalid naming the field", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func ExampleObjectKey() {
	fmt.Println(fieldwatch.ObjectKey("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"))
	fmt.Println(fieldwatch.ThumbnailKey("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", 320))
	// Output:
	// evidence/9f/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
	// thumbnails/9f/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08-320.jpg
}
