package fieldwatch_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
)

// gatePut is a photo store whose Put announces itself on entered and then
// blocks until the test sends on release (or its ctx ends), counting how
// many Puts are inside at once.
type gatePut struct {
	entered chan string
	release chan struct{}

	mu      sync.Mutex
	inside  int
	maxSeen int
}

func newGatePut() *gatePut {
	return &gatePut{entered: make(chan string, 64), release: make(chan struct{})}
}

func (g *gatePut) Put(ctx context.Context, key string, r io.Reader, size int64, _ blob.PutOptions) (blob.Object, error) {
	g.mu.Lock()
	g.inside++
	g.maxSeen = max(g.maxSeen, g.inside)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inside--
		g.mu.Unlock()
	}()
	g.entered <- key
	select {
	case <-g.release:
	case <-ctx.Done():
		return blob.Object{}, ctx.Err()
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return blob.Object{}, err
	}
	return blob.Object{Key: key, Size: size}, nil
}

func (g *gatePut) max() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.maxSeen
}

// storingRig is an Intake over a gatePut, with photos that differ by seed.
type storingRig struct {
	in   *fieldwatch.Intake
	st   *fakeEvidence
	gate *gatePut
}

func newStoringRig(t *testing.T, maxStoring int) *storingRig {
	t.Helper()
	r := &storingRig{st: newFakeEvidence(), gate: newGatePut()}
	var err error
	r.in, err = fieldwatch.NewIntake(r.st, r.gate, fieldwatch.IntakeConfig{SpoolDir: t.TempDir(), MaxStoring: maxStoring})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// upload claims, receives with ctx and submits with submitCtx.
func (r *storingRig) upload(ctx, submitCtx context.Context, t *testing.T, key string) (fieldwatch.Evidence, error) {
	body, meta := photo(t, key)
	c, err := r.in.Claim(ctx, "u-inspector", key)
	if err != nil {
		return fieldwatch.Evidence{}, err
	}
	defer c.Release()
	sp, err := r.in.Receive(ctx, bytes.NewReader(body))
	if err != nil {
		return fieldwatch.Evidence{}, err
	}
	defer sp.Close()
	e, _, err := r.in.Submit(submitCtx, c, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}, meta, sp)
	return e, err
}

func (r *storingRig) committed() int {
	r.st.mu.Lock()
	defer r.st.mu.Unlock()
	return len(r.st.evidence)
}

// TestIntakeBoundsStoring: at most MaxStoring uploads store and commit at
// once, however many bodies have arrived; the others wait and then all
// succeed.
func TestIntakeBoundsStoring(t *testing.T) {
	for _, tt := range []struct{ bound, uploads int }{{1, 4}, {3, 10}} {
		t.Run(fmt.Sprintf("%d of %d", tt.bound, tt.uploads), func(t *testing.T) {
			r := newStoringRig(t, tt.bound)
			ctx := t.Context()
			errs := make(chan error, tt.uploads)
			for i := range tt.uploads {
				go func() {
					_, err := r.upload(ctx, ctx, t, fmt.Sprint("k", i))
					errs <- err
				}()
			}
			// Fill the places, then let one Put go at a time, each time
			// the next has entered: the others queue at the bound
			// meanwhile, never inside the store.
			for range tt.bound {
				<-r.gate.entered
			}
			for i := range tt.uploads {
				r.gate.release <- struct{}{}
				if i+tt.bound < tt.uploads {
					<-r.gate.entered
				}
			}
			for range tt.uploads {
				if err := <-errs; err != nil {
					t.Fatalf("upload: %v", err)
				}
			}
			if got := r.gate.max(); got > tt.bound {
				t.Errorf("%d Puts ran at once, bound %d", got, tt.bound)
			}
			if got := r.committed(); got != tt.uploads {
				t.Errorf("%d committed, want %d", got, tt.uploads)
			}
		})
	}
}

// TestIntakeStoringWaitCancelled: an upload whose request ends while it
// waits for a place gives up with the retryable error (503 with
// Retry-After, or 499 when the client left, never a 500), without
// touching the store or committing, and its key can be used again.
func TestIntakeStoringWaitCancelled(t *testing.T) {
	r := newStoringRig(t, 2)
	ctx := t.Context()
	errs := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, err := r.upload(ctx, ctx, t, fmt.Sprint("holder", i))
			errs <- err
		}()
	}
	<-r.gate.entered
	<-r.gate.entered // both places taken

	waitCtx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := r.upload(ctx, waitCtx, t, "waiter")
	switch {
	case err == nil:
		t.Fatal("upload whose request ended while waiting succeeded")
	case fieldwatch.ErrorCode(err) != fieldwatch.EUNAVAILABLE:
		t.Errorf("code %q (%v), want %q", fieldwatch.ErrorCode(err), err, fieldwatch.EUNAVAILABLE)
	case !errors.Is(err, context.Canceled):
		t.Errorf("error %v does not wrap context.Canceled (the API answers 499 from it)", err)
	}
	select {
	case key := <-r.gate.entered:
		t.Fatalf("the waiting upload reached the store (%s)", key)
	default:
	}
	if got := r.committed(); got != 0 {
		t.Errorf("%d committed while the holders are still storing", got)
	}

	r.gate.release <- struct{}{}
	r.gate.release <- struct{}{}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("holder: %v", err)
		}
	}
	// The phone retries with the same key, and gets through.
	done := make(chan error, 1)
	go func() {
		_, err := r.upload(ctx, ctx, t, "waiter")
		done <- err
	}()
	<-r.gate.entered
	r.gate.release <- struct{}{}
	if err := <-done; err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := r.committed(); got != 3 {
		t.Errorf("%d committed, want 3", got)
	}
}

// TestIntakeMovesSpoolIntoDirectory: with a photo directory on the spool's
// file system, the spool file itself becomes the stored photo (no copy),
// and nothing is left in the spool.
func TestIntakeMovesSpoolIntoDirectory(t *testing.T) {
	dir := t.TempDir()
	root, spool := filepath.Join(dir, "photos"), filepath.Join(dir, "spool")
	photos, err := fileblob.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer photos.Close()
	in, err := fieldwatch.NewIntake(newFakeEvidence(), photos, fieldwatch.IntakeConfig{SpoolDir: spool})
	if err != nil {
		t.Fatal(err)
	}
	body, meta := photo(t, "moved")
	c, err := in.Claim(t.Context(), "u-inspector", "k")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	sp, err := in.Receive(t.Context(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	spooled := spoolFile(t, spool)
	e, _, err := in.Submit(t.Context(), c, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}, meta, sp)
	if err != nil {
		t.Fatal(err)
	}
	if err := sp.Close(); err != nil {
		t.Errorf("closing a spool the store took over: %v", err)
	}
	stored, err := os.Stat(filepath.Join(root, filepath.FromSlash(e.ObjectKey)))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(spooled, stored) {
		t.Errorf("the photo was copied, not moved from the spool")
	}
	if ents, _ := os.ReadDir(spool); len(ents) != 0 {
		t.Errorf("spool holds %d files after the upload", len(ents))
	}
	got, obj := mustGetBlob(t, photos, e.ObjectKey)
	if !bytes.Equal(got, body) || hexOf(obj.SHA256) != e.SHA256 {
		t.Errorf("stored photo differs from the upload")
	}
}

func spoolFile(t *testing.T, dir string) os.FileInfo {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("spool holds %d files (%v), want 1", len(ents), err)
	}
	fi, err := os.Stat(filepath.Join(dir, ents[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

func mustGetBlob(t *testing.T, d *fileblob.Dir, key string) ([]byte, blob.Object) {
	t.Helper()
	rc, obj, err := d.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b, obj
}

func hexOf(b []byte) string { return fmt.Sprintf("%x", b) }

// TestIntakeBoundsDatabaseCalls: the upload path never has more than
// MaxStoring database calls in progress, whatever the uploads are doing
// (here: claims that all arrive at once), so the rest of the pool stays
// free for reads; a call that cannot get its turn before its request
// ends is the server's 503, and never reached the database.
func TestIntakeBoundsDatabaseCalls(t *testing.T) {
	const limit = 2
	r := newIntakeRig(t, fieldwatch.IntakeConfig{MaxStoring: limit})
	entered := make(chan struct{}, 8)
	unblock := make(chan struct{})
	var (
		mu    sync.Mutex
		calls int
	)
	r.st.fail = func(m string) error {
		if m != "ClaimSubmission" {
			return nil
		}
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n <= limit { // the first ones hold their turn
			entered <- struct{}{}
			<-unblock
		}
		return nil
	}
	var wg sync.WaitGroup
	claims := make(chan *fieldwatch.Claim, limit)
	for i := range limit {
		wg.Go(func() {
			c, err := r.in.Claim(context.Background(), "u", fmt.Sprintf("k%d", i))
			if err != nil {
				t.Error(err)
				return
			}
			claims <- c
		})
	}
	for range limit {
		<-entered
	}
	// Every token is taken: a claim whose request ends while it waits
	// gives up without reaching the database.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.in.Claim(ctx, "u", "late")
	if fieldwatch.ErrorCode(err) != fieldwatch.EUNAVAILABLE || !errors.Is(err, context.Canceled) {
		t.Errorf("claim while %d database calls are in progress = %v, want EUNAVAILABLE wrapping context.Canceled", limit, err)
	}
	mu.Lock()
	if calls != limit {
		t.Errorf("%d claims reached the database, want %d", calls, limit)
	}
	mu.Unlock()
	close(unblock)
	wg.Wait()
	close(claims)
	for c := range claims {
		c.Release()
	}
	// The tokens came back: the next claim goes through.
	c, err := r.in.Claim(t.Context(), "u", "after")
	if err != nil {
		t.Fatalf("claim after the others finished: %v", err)
	}
	c.Release()
}
