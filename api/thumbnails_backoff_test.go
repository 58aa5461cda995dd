package api_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
)

// flakyPhotos is the photo store that can be made unavailable and that
// counts reads per key.
type flakyPhotos struct {
	*fileblob.Dir
	mu    sync.Mutex
	down  bool
	reads map[string]int
}

func (f *flakyPhotos) Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error) {
	f.mu.Lock()
	f.reads[key]++
	down := f.down
	f.mu.Unlock()
	if down {
		return nil, blob.Object{}, errors.Join(blob.ErrUnavailable, errors.New("injected"))
	}
	return f.Dir.Get(ctx, key)
}

// TestThumbnailsBackOff: photos whose previews can never be made
// (truncated JPEGs, accepted by design) do not starve a good photo, back
// off exponentially and end failed with a reason, visible in the API;
// an unavailable photo store is not the photos' fault.
func TestThumbnailsBackOff(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		ctx := context.Background()
		a.mustUser("insp", "inspector", pw)
		tok, _ := a.login("insp", pw)
		meta := map[string]any{"category": "river_section"}
		var bad []api.Evidence
		for i := range 3 {
			p := uniquePhoto(t, "river-lh03.jpg", 900+i)
			bad = append(bad, a.mustUpload(tok, p[:len(p)/2+i], meta))
		}
		good := a.mustUpload(tok, uniquePhoto(t, "river-lh03.jpg", 999), meta)
		blobs := &flakyPhotos{Dir: a.photos, reads: map[string]int{}}
		const attempts = 3
		th := fieldwatch.NewThumbnailer(a.db, blobs, fieldwatch.ThumbnailConfig{Queue: 2, MaxAttempts: attempts, Clock: a.clock.Now})
		// One sweep: what the sweep would queue, made at once.
		sweep := func() {
			t.Helper()
			due, err := th.Due(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range due {
				_ = th.Make(ctx, e)
			}
		}
		state := func(id string) api.Evidence {
			t.Helper()
			var e api.Evidence
			r := a.do("GET", "/v1/evidence/"+id, tok, nil)
			if r.status != 200 {
				t.Fatalf("get: %d %s", r.status, r.body)
			}
			r.json(t, &e)
			return e
		}

		// The store is down: nothing counts against the photos.
		blobs.down = true
		sweep()
		blobs.down = false
		for _, e := range bad {
			if s := state(e.Id.String()); *s.ThumbnailState != api.EvidenceThumbnailStatePending || s.ThumbnailError != nil {
				t.Fatalf("after an outage: %s %v", *s.ThumbnailState, s.ThumbnailError)
			}
		}

		// Two at a time: the first two bad photos fail and back off, so
		// the second sweep, at the same instant, reaches the good one.
		sweep()
		sweep()
		if s := state(good.Id.String()); *s.ThumbnailState != api.EvidenceThumbnailStateReady || !slices.Equal(s.Thumbnails, []int{320, 1280}) {
			t.Fatalf("good photo: %s %v", *s.ThumbnailState, s.Thumbnails)
		}
		// Sweeps without time passing retry nothing.
		before := blobs.reads[fieldwatch.ObjectKey(bad[0].Sha256)]
		sweep()
		if n := blobs.reads[fieldwatch.ObjectKey(bad[0].Sha256)]; n != before {
			t.Fatalf("a backed-off photo was read again at once: %d reads, then %d", before, n)
		}
		// Time passes: every attempt is due after twice the wait of the
		// one before; after the last the photos are failed, with a reason.
		for wait := 10 * time.Minute; ; wait *= 2 {
			a.clock.Advance(wait)
			sweep()
			if wait > time.Hour*24 {
				break
			}
		}
		tok, _ = a.login("insp", pw)
		for _, e := range bad {
			s := state(e.Id.String())
			if *s.ThumbnailState != api.EvidenceThumbnailStateFailed || s.ThumbnailError == nil || *s.ThumbnailError == "" {
				t.Fatalf("bad photo: %s %v", *s.ThumbnailState, s.ThumbnailError)
			}
		}
		// Each was read once per counted attempt, plus once in the outage
		// for the two that sweep reached.
		for i, e := range bad {
			want := attempts
			if i < 2 {
				want++
			}
			if n := blobs.reads[fieldwatch.ObjectKey(e.Sha256)]; n != want {
				t.Errorf("bad photo %d read %d times, want %d", i, n, want)
			}
		}
	})
}
