package fieldwatch

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/blob"
)

// memLeases is Leases in memory, with the store's semantics.
type memLeases struct {
	mu     sync.Mutex
	leases map[string]memLease
}

type memLease struct {
	holder string
	until  time.Time
}

func (m *memLeases) AcquireLease(_ context.Context, name, holder string, now, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.leases[name]; ok && l.holder != holder && l.until.After(now) {
		return false, nil
	}
	if m.leases == nil {
		m.leases = map[string]memLease{}
	}
	m.leases[name] = memLease{holder, until}
	return true, nil
}

func (m *memLeases) ReleaseLease(_ context.Context, name, holder string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leases[name].holder == holder {
		delete(m.leases, name)
	}
	return nil
}

// steal gives the lease to someone else, as a replica that found it
// expired would.
func (m *memLeases) steal(name string, until time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leases[name] = memLease{"thief", until}
}

func TestLeasedJob(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	leases := &memLeases{}
	ran := map[string]int{}
	job := func(holder string) *LeasedJob {
		return &LeasedJob{Name: "deadlines", Holder: holder, Leases: leases, Clock: clock,
			Run: func(context.Context) error { ran[holder]++; return nil }}
	}
	a, b := job("a"), job("b")
	ttl := time.Hour // longer than any test: the lease is never renewed mid-pass here
	steps := []struct {
		name string
		at   time.Duration
		job  *LeasedJob
		want bool
	}{
		{"FreeLeaseTaken", 0, a, true},
		{"HeldByA", time.Minute, b, false},
		{"HolderRenews", 50 * time.Minute, a, true},
		{"StillHeldAfterFirstExpiry", 70 * time.Minute, b, false},
		{"TakenOverAfterExpiry", 110 * time.Minute, b, true},
		{"OldHolderSkips", 111 * time.Minute, a, false},
	}
	for _, st := range steps {
		now = t0.Add(st.at)
		got, err := st.job.Pass(t.Context(), ttl)
		if err != nil || got != st.want {
			t.Fatalf("%s: Pass = %v, %v; want %v", st.name, got, err, st.want)
		}
	}
	if ran["a"] != 2 || ran["b"] != 1 {
		t.Fatalf("passes run: %v, want a 2, b 1", ran)
	}

	t.Run("ReleaseHandsOver", func(t *testing.T) {
		if err := b.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got, err := a.Pass(t.Context(), ttl); err != nil || !got {
			t.Fatalf("after release: Pass = %v, %v", got, err)
		}
	})

	t.Run("RunErrorReturned", func(t *testing.T) {
		boom := errors.New("boom")
		j := &LeasedJob{Name: "fails", Holder: "a", Leases: leases, Clock: clock, Run: func(context.Context) error { return boom }}
		if got, err := j.Pass(t.Context(), ttl); !got || !errors.Is(err, boom) {
			t.Fatalf("Pass = %v, %v", got, err)
		}
	})

	t.Run("LeaseLostStopsThePass", func(t *testing.T) {
		// A pass that outlives its lease: the renewal, a third of the ttl
		// in, finds another holder, and the pass is cancelled.
		j := &LeasedJob{Name: "slow", Holder: "a", Leases: leases, Clock: clock}
		j.Run = func(ctx context.Context) error {
			leases.steal("slow", now.Add(time.Hour))
			<-ctx.Done()
			return ctx.Err()
		}
		got, err := j.Pass(t.Context(), 3*time.Millisecond)
		if !got || !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("Pass = %v, %v; want ErrLeaseLost", got, err)
		}
	})

	t.Run("LeaseKeptWhileThePassRuns", func(t *testing.T) {
		// A pass of many renewals' length keeps its lease: another
		// replica asking in the middle is refused.
		renewed := make(chan struct{}, 1)
		j := &LeasedJob{Name: "long", Holder: "a", Clock: clock, Leases: notifying{leases, renewed}}
		j.Run = func(ctx context.Context) error {
			<-renewed // the first Pass's acquisition
			for range 3 {
				select {
				case <-renewed:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if got, _ := leases.AcquireLease(ctx, "long", "b", now, now.Add(time.Hour)); got {
				t.Error("another holder took the lease of a running pass")
			}
			return nil
		}
		if got, err := j.Pass(t.Context(), 3*time.Millisecond); !got || err != nil {
			t.Fatalf("Pass = %v, %v", got, err)
		}
	})
}

// notifying signals every acquisition (renewals included) on ch.
type notifying struct {
	*memLeases
	ch chan struct{}
}

func (n notifying) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	ok, err := n.memLeases.AcquireLease(ctx, name, holder, now, until)
	select {
	case n.ch <- struct{}{}:
	default: // the test is not waiting
	}
	return ok, err
}

// thumbStore is a ThumbnailStore that keeps leases.
type thumbStore struct {
	memLeases
	set map[string][]int
	ev  map[string]Evidence
}

func (s *thumbStore) EvidenceByID(_ context.Context, id string) (Evidence, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.ev[id]
	if !ok {
		return Evidence{}, ErrNotFound
	}
	e.Thumbnails = s.set[id]
	return e, nil
}

func (s *thumbStore) SetThumbnails(_ context.Context, id string, sizes []int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set[id] = sizes
	return nil
}

func (s *thumbStore) SetThumbnailTries(context.Context, string, ThumbnailTries) error { return nil }

func (s *thumbStore) EvidenceNeedingThumbnails(context.Context, []int, time.Time, int) ([]Evidence, error) {
	return nil, nil
}

// thumbBlobs serves one photo and counts what is read and written.
type thumbBlobs struct {
	mu         sync.Mutex
	photo      []byte
	gets, puts int
	fail       bool
}

func (b *thumbBlobs) Get(context.Context, string) (io.ReadCloser, blob.Object, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gets++
	if b.fail {
		return nil, blob.Object{}, errors.New("store down")
	}
	return io.NopCloser(bytes.NewReader(b.photo)), blob.Object{}, nil
}

func (b *thumbBlobs) Put(_ context.Context, key string, r io.Reader, size int64, _ blob.PutOptions) (blob.Object, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.puts++
	return blob.Object{Key: key, Size: size}, nil
}

// The same photo queued several times (upload path, sweeps, another
// replica) is made once; a failure gives the claim back for a retry.
func TestThumbnailsMadeOnce(t *testing.T) {
	var photo bytes.Buffer
	if err := jpeg.Encode(&photo, image.NewGray(image.Rect(0, 0, 64, 48)), nil); err != nil {
		t.Fatal(err)
	}
	st := &thumbStore{set: map[string][]int{}}
	blobs := &thumbBlobs{photo: photo.Bytes()}
	th := NewThumbnailer(st, blobs, ThumbnailConfig{})
	e := Evidence{ID: "e1", ContentType: "image/jpeg", SHA256: "ab" + string(bytes.Repeat([]byte("0"), 62)), ObjectKey: "evidence/ab/x"}
	st.ev = map[string]Evidence{e.ID: e}

	blobs.fail = true
	if err := th.makeOnce(t.Context(), e); err == nil {
		t.Fatal("a failed Make reported success")
	}
	if n := len(st.leases); n != 0 {
		t.Fatalf("a failed Make kept its claim (%d leases): the retry would wait it out", n)
	}

	blobs.fail = false
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := th.makeOnce(t.Context(), e); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	sizes := len(ThumbnailSizes())
	if blobs.gets != 2 || blobs.puts != sizes || len(st.set["e1"]) != sizes {
		t.Fatalf("four requests after a failure: %d reads, %d previews written, recorded %v; want 2 reads, %d written",
			blobs.gets, blobs.puts, st.set["e1"], sizes)
	}
	// Another queued copy, later: the claim is still there.
	if err := th.makeOnce(t.Context(), e); err != nil || blobs.puts != sizes {
		t.Fatalf("a late copy: %v, %d previews written", err, blobs.puts)
	}
}

// A copy queued before the worker gave up on the photo (or before its
// backoff) must not make it again from its stale record: it would undo
// the give-up and the backoff.
func TestThumbnailsStaleCopyRespectsRecord(t *testing.T) {
	clock := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	st := &thumbStore{set: map[string][]int{}}
	blobs := &thumbBlobs{photo: []byte("not a jpeg")}
	th := NewThumbnailer(st, blobs, ThumbnailConfig{Clock: func() time.Time { return clock }})
	stale := Evidence{ID: "e1", ContentType: "image/jpeg", ObjectKey: "evidence/ab/x"}
	later := clock.Add(time.Hour)
	for name, tries := range map[string]ThumbnailTries{
		"GaveUp": {Attempts: 5, GaveUp: ThumbnailFailed, Error: "corrupt"},
		"NotDue": {Attempts: 2, NextAt: &later, Error: "corrupt"},
	} {
		t.Run(name, func(t *testing.T) {
			fresh := stale
			fresh.ThumbnailTries = tries
			st.ev = map[string]Evidence{"e1": fresh}
			before := blobs.gets
			if err := th.makeOnce(t.Context(), stale); err != nil {
				t.Fatal(err)
			}
			if blobs.gets != before {
				t.Fatal("a stale queued copy made the previews again")
			}
			if n := len(st.leases); n != 0 {
				t.Fatalf("a skipped copy kept its claim (%d leases)", n)
			}
		})
	}
}
