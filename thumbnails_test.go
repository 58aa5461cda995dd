package fieldwatch_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
	"github.com/fieldwatch/fieldwatch/media"
)

// smallJPEG is a 64×48 photo: enough to make previews of, quickly.
func smallJPEG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for x := range 64 {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// thumbRig is a thumbnail worker over the fakes and a photo directory,
// on a test clock, with one evidence per photo it is given.
type thumbRig struct {
	*reconcileRig
	th *fieldwatch.Thumbnailer
}

func newThumbRig(t *testing.T, cfg fieldwatch.ThumbnailConfig, photos ...[]byte) *thumbRig {
	t.Helper()
	r := &thumbRig{reconcileRig: newReconcileRig(t)}
	for _, b := range photos {
		sha := hexSHA(b)
		ct := "image/jpeg"
		if b == nil {
			ct, sha = "image/heic", hexSHA([]byte("heic"))
		}
		if b != nil {
			putBlob(t, r.blobs, fieldwatch.ObjectKey(sha), b)
		}
		r.st.add(fieldwatch.Evidence{SHA256: sha, ObjectKey: fieldwatch.ObjectKey(sha), ContentType: ct, ReceivedAt: r.clock.Now()})
	}
	cfg.Clock = r.clock.Now
	r.th = fieldwatch.NewThumbnailer(r.st, r.blobs, cfg)
	return r
}

func TestThumbnailMake(t *testing.T) {
	ctx := t.Context()
	photo := smallJPEG(t)
	r := newThumbRig(t, fieldwatch.ThumbnailConfig{}, photo)
	e := r.st.get("ev-001")
	if e.ThumbnailState() != fieldwatch.ThumbnailPending {
		t.Fatalf("before: %s", e.ThumbnailState())
	}
	if err := r.th.Make(ctx, e); err != nil {
		t.Fatal(err)
	}
	e = r.st.get("ev-001")
	if !slices.Equal(e.Thumbnails, fieldwatch.ThumbnailSizes()) || e.ThumbnailState() != fieldwatch.ThumbnailReady {
		t.Fatalf("after: %v, %s", e.Thumbnails, e.ThumbnailState())
	}
	for _, n := range fieldwatch.ThumbnailSizes() {
		rc, o, err := r.blobs.Get(ctx, fieldwatch.ThumbnailKey(e.SHA256, n))
		if err != nil {
			t.Fatalf("preview %d: %v", n, err)
		}
		rc.Close()
		if o.ContentType != "image/jpeg" {
			t.Errorf("preview %d is %s", n, o.ContentType)
		}
	}
}

// TestThumbnailFailures: a photo's own failure is recorded and backed off
// until the worker gives up; a store's failure records nothing.
func TestThumbnailFailures(t *testing.T) {
	ctx := t.Context()
	t.Run("Backoff", func(t *testing.T) {
		broken := append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte{0x42}, 200)...)
		r := newThumbRig(t, fieldwatch.ThumbnailConfig{MaxAttempts: 3, RetryAfter: time.Minute}, broken)
		waits := []time.Duration{time.Minute, 2 * time.Minute}
		for i := range 3 {
			due, err := r.th.Due(ctx)
			if err != nil || len(due) != 1 {
				t.Fatalf("attempt %d: %d due, %v", i+1, len(due), err)
			}
			if err := r.th.Make(ctx, due[0]); !errors.Is(err, media.ErrCorruptImage) {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
			tr := r.st.get("ev-001").ThumbnailTries
			if tr.Attempts != i+1 || !strings.Contains(tr.Error, "cannot be decoded") {
				t.Fatalf("attempt %d: %+v", i+1, tr)
			}
			if i == 2 {
				if tr.GaveUp != fieldwatch.ThumbnailFailed || tr.NextAt != nil {
					t.Fatalf("the last attempt: %+v", tr)
				}
				break
			}
			if !tr.NextAt.Equal(r.clock.Now().Add(waits[i])) {
				t.Fatalf("attempt %d: next at %v", i+1, tr.NextAt)
			}
			if due, _ := r.th.Due(ctx); len(due) != 0 {
				t.Fatalf("attempt %d: due again at once", i+1)
			}
			r.clock.Advance(waits[i])
		}
		if s := r.st.get("ev-001").ThumbnailState(); s != fieldwatch.ThumbnailFailed {
			t.Fatalf("state %s", s)
		}
	})
	t.Run("TooManyPixels", func(t *testing.T) {
		r := newThumbRig(t, fieldwatch.ThumbnailConfig{MaxPixels: 100}, smallJPEG(t))
		if err := r.th.Make(ctx, r.st.get("ev-001")); err != nil {
			t.Fatalf("a photo too large for previews: %v", err)
		}
		if tr := r.st.get("ev-001").ThumbnailTries; tr.GaveUp != fieldwatch.ThumbnailUnsupported || !strings.Contains(tr.Error, "more pixels") {
			t.Fatalf("%+v", tr)
		}
	})
	t.Run("MissingObject", func(t *testing.T) {
		r := newThumbRig(t, fieldwatch.ThumbnailConfig{}, smallJPEG(t))
		e := r.st.get("ev-001")
		if err := r.blobs.Delete(ctx, e.ObjectKey); err != nil {
			t.Fatal(err)
		}
		if err := r.th.Make(ctx, e); !errors.Is(err, blob.ErrNotExist) {
			t.Fatalf("%v", err)
		}
		if tr := r.st.get("ev-001").ThumbnailTries; tr.Attempts != 1 || tr.Error != "the photo object is missing" {
			t.Fatalf("%+v", tr)
		}
	})
	t.Run("HEIC", func(t *testing.T) {
		r := newThumbRig(t, fieldwatch.ThumbnailConfig{}, nil)
		e := r.st.get("ev-001")
		if err := r.th.Make(ctx, e); err != nil || e.ThumbnailState() != fieldwatch.ThumbnailUnsupported {
			t.Fatalf("%s, %v", e.ThumbnailState(), err)
		}
	})
	storeFaults := []struct {
		name string
		fail string // the fake store's method that fails
	}{
		{"Unavailable", ""},
		{"PutFails", ""},
		{"RecordFails", "SetThumbnails"},
	}
	for _, tc := range storeFaults {
		t.Run(tc.name, func(t *testing.T) {
			r := newThumbRig(t, fieldwatch.ThumbnailConfig{}, smallJPEG(t))
			boom := errors.New("boom")
			var blobs fieldwatch.ThumbnailBlobs = r.blobs
			switch tc.name {
			case "Unavailable":
				blobs = failingGet{r.blobs, blob.ErrUnavailable}
			case "PutFails":
				blobs = failingPut2{r.blobs, boom}
			}
			if tc.fail != "" {
				r.st.fail = func(m string) error {
					if m == tc.fail {
						return boom
					}
					return nil
				}
			}
			th := fieldwatch.NewThumbnailer(r.st, blobs, fieldwatch.ThumbnailConfig{Clock: r.clock.Now})
			if err := th.Make(ctx, r.st.get("ev-001")); err == nil {
				t.Fatal("no error")
			}
			if tr := r.st.get("ev-001").ThumbnailTries; tr != (fieldwatch.ThumbnailTries{}) {
				t.Fatalf("the store's failure was recorded as the photo's: %+v", tr)
			}
		})
	}
}

type failingPut2 struct {
	*clockedDir
	err error
}

func (f failingPut2) Put(context.Context, string, io.Reader, int64, blob.PutOptions) (blob.Object, error) {
	return blob.Object{}, f.err
}

// TestThumbnailWorkers: Start's sweep finds the photos lacking previews
// and the workers make them; a lease-keeping store is claimed first.
func TestThumbnailWorkers(t *testing.T) {
	photo := smallJPEG(t)
	r := newThumbRig(t, fieldwatch.ThumbnailConfig{}, photo, photo)
	made := make(chan struct{}, 2)
	r.st.fail = func(m string) error {
		if m == "SetThumbnails" {
			made <- struct{}{}
		}
		return nil
	}
	st := &leasingStore{fakeEvidence: r.st, leases: map[string]string{}}
	th := fieldwatch.NewThumbnailer(st, r.blobs, fieldwatch.ThumbnailConfig{Workers: 2, Queue: 4, Clock: r.clock.Now})
	ctx, cancel := context.WithCancel(t.Context())
	th.Start(ctx, time.Hour)
	<-made
	<-made
	cancel()
	th.Wait()
	for _, id := range []string{"ev-001", "ev-002"} {
		if s := r.st.get(id).ThumbnailState(); s != fieldwatch.ThumbnailReady {
			t.Errorf("%s: %s", id, s)
		}
	}
	if st.acquired != 2 {
		t.Errorf("%d claims", st.acquired)
	}

	// A claim another replica holds is left alone.
	st.leases[fieldwatch.ThumbnailLeaseName("ev-003")] = "another replica"
	r.st.add(fieldwatch.Evidence{ID: "ev-003", ContentType: "image/jpeg"})
	st.tried = make(chan string, 8)
	th = fieldwatch.NewThumbnailer(st, r.blobs, fieldwatch.ThumbnailConfig{Workers: 1, Queue: 1})
	th.Enqueue(r.st.get("ev-003"))
	th.Enqueue(r.st.get("ev-003")) // the queue is full: dropped, for the sweep to find
	ctx, cancel = context.WithCancel(t.Context())
	th.Start(ctx, time.Hour)
	for name := range st.tried {
		if name == fieldwatch.ThumbnailLeaseName("ev-003") {
			break
		}
	}
	cancel()
	th.Wait()
	if e := r.st.get("ev-003"); e.ThumbnailState() != fieldwatch.ThumbnailPending || e.ThumbnailTries != (fieldwatch.ThumbnailTries{}) {
		t.Fatalf("made under another's claim: %+v", e)
	}
}

// leasingStore keeps leases beside the fake's evidence, as the SQL store
// does.
type leasingStore struct {
	*fakeEvidence
	mu       sync.Mutex
	leases   map[string]string
	acquired int
	tried    chan string // when set, told each lease asked for
}

func (s *leasingStore) AcquireLease(_ context.Context, name, holder string, _, _ time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tried != nil {
		select {
		case s.tried <- name:
		default:
		}
	}
	if h, ok := s.leases[name]; ok && h != holder {
		return false, nil
	}
	s.leases[name] = holder
	s.acquired++
	return true, nil
}

func (s *leasingStore) ReleaseLease(_ context.Context, name, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leases[name] == holder {
		delete(s.leases, name)
	}
	return nil
}

func TestThumbnailState(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    fieldwatch.Evidence
		want fieldwatch.ThumbnailState
	}{
		{"Pending", fieldwatch.Evidence{ContentType: "image/jpeg"}, fieldwatch.ThumbnailPending},
		{"HalfMade", fieldwatch.Evidence{ContentType: "image/png", Thumbnails: []int{320}}, fieldwatch.ThumbnailPending},
		{"Ready", fieldwatch.Evidence{ContentType: "image/webp", Thumbnails: []int{320, 1280}}, fieldwatch.ThumbnailReady},
		{"HEIF", fieldwatch.Evidence{ContentType: "image/heif"}, fieldwatch.ThumbnailUnsupported},
		{"Unknown", fieldwatch.Evidence{ContentType: "application/pdf"}, fieldwatch.ThumbnailUnsupported},
		{"GaveUp", fieldwatch.Evidence{ContentType: "image/jpeg", ThumbnailTries: fieldwatch.ThumbnailTries{GaveUp: fieldwatch.ThumbnailFailed}}, fieldwatch.ThumbnailFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.e.ThumbnailState(); got != tc.want || !got.Valid() {
				t.Fatalf("%s, want %s", got, tc.want)
			}
		})
	}
	if fieldwatch.ThumbnailState("done").Valid() || len(fieldwatch.ThumbnailStates()) != 4 {
		t.Fatal("ThumbnailStates")
	}
}

// busyFor is a RequestLoad with requests in flight for its first calls.
type busyFor struct {
	mu          sync.Mutex
	busy, calls int
}

func (b *busyFor) InFlight() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.calls <= b.busy {
		return 3
	}
	return 0
}

func TestThumbnailYield(t *testing.T) {
	const poll, most = 20 * time.Millisecond, 70 * time.Millisecond
	tests := []struct {
		name       string
		load       *busyFor // nil: no Load
		cancel     bool
		wantWaited time.Duration
		wantErr    bool
	}{
		{"NoLoad", nil, false, 0, false},
		{"Idle", &busyFor{}, false, 0, false},
		{"BusyTwoPolls", &busyFor{busy: 2}, false, 2 * poll, false},
		// Busy throughout: waits MaxYield in all, the last wait cut short.
		{"BusyAlways", &busyFor{busy: 1000}, false, most, false},
		{"Cancelled", &busyFor{busy: 1000}, true, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testclock.New(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC))
			cfg := fieldwatch.ThumbnailConfig{YieldPoll: poll, MaxYield: most, Clock: clock.Now, Sleep: clock.Sleep}
			if tt.load != nil {
				cfg.Load = tt.load
			}
			th := fieldwatch.NewThumbnailer(nil, nil, cfg)
			ctx, cancel := context.WithCancel(t.Context())
			if tt.cancel {
				cancel()
			}
			defer cancel()
			waited, err := th.Yield(ctx)
			if waited != tt.wantWaited || (err != nil) != tt.wantErr {
				t.Errorf("Yield = %v, %v; want %v, error %v", waited, err, tt.wantWaited, tt.wantErr)
			}
			if clock.Slept() != waited {
				t.Errorf("slept %v, reported %v", clock.Slept(), waited)
			}
		})
	}
}

// TestThumbnailWorkerYields checks that a worker gives way to requests
// before making a photo's previews, and still makes them when the
// requests never stop.
func TestThumbnailWorkerYields(t *testing.T) {
	r := newThumbRig(t, fieldwatch.ThumbnailConfig{}, smallJPEG(t))
	made := make(chan struct{}, 1)
	r.st.fail = func(m string) error {
		if m == "SetThumbnails" {
			made <- struct{}{}
		}
		return nil
	}
	load := &busyFor{busy: 1 << 30}
	th := fieldwatch.NewThumbnailer(r.st, r.blobs, fieldwatch.ThumbnailConfig{
		Workers: 1, Load: load, YieldPoll: time.Second, MaxYield: 5 * time.Second, Clock: r.clock.Now, Sleep: r.clock.Sleep,
	})
	ctx, cancel := context.WithCancel(t.Context())
	th.Start(ctx, time.Hour)
	<-made
	cancel()
	th.Wait()
	if got := r.clock.Slept(); got != 5*time.Second {
		t.Errorf("the worker waited %v for requests before the photo, want MaxYield 5s", got)
	}
	if s := r.st.get("ev-001").ThumbnailState(); s != fieldwatch.ThumbnailReady {
		t.Errorf("previews %s after yielding", s)
	}
}
