package fieldwatch_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
)

// putBlob stores b under key in blobs.
func putBlob(t *testing.T, blobs interface {
	Put(context.Context, string, io.Reader, int64, blob.PutOptions) (blob.Object, error)
}, key string, b []byte) {
	t.Helper()
	if _, err := blobs.Put(t.Context(), key, bytes.NewReader(b), int64(len(b)), blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

func hasBlob(t *testing.T, blobs *clockedDir, key string) bool {
	t.Helper()
	_, err := blobs.Stat(t.Context(), key)
	if err != nil && !errors.Is(err, blob.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// clockedDir is a photo directory on the test clock: objects are stamped
// with the clock's time when put, so their age follows the clock.
type clockedDir struct {
	*fileblob.Dir
	clock  *testclock.Clock
	mu     sync.Mutex
	stamps map[string]time.Time
}

func (d *clockedDir) Put(ctx context.Context, key string, r io.Reader, size int64, opts blob.PutOptions) (blob.Object, error) {
	o, err := d.Dir.Put(ctx, key, r, size, opts)
	if err == nil {
		d.mu.Lock()
		d.stamps[key] = d.clock.Now()
		d.mu.Unlock()
		o.ModTime = d.clock.Now()
	}
	return o, err
}

func (d *clockedDir) List(ctx context.Context, prefix string, fn func(blob.Object) error) error {
	return d.Dir.List(ctx, prefix, func(o blob.Object) error {
		d.mu.Lock()
		o.ModTime = d.stamps[o.Key]
		d.mu.Unlock()
		return fn(o)
	})
}

// reconcileRig is a reconciler over the fakes and a photo directory, on
// a test clock.
type reconcileRig struct {
	st    *fakeEvidence
	blobs *clockedDir
	spool string
	clock *testclock.Clock
	log   *bytes.Buffer
	rec   *fieldwatch.Reconciler
}

func newReconcileRig(t *testing.T) *reconcileRig {
	t.Helper()
	r := &reconcileRig{st: newFakeEvidence(), spool: t.TempDir(), clock: testclock.New(intakeT0), log: &bytes.Buffer{}}
	dir, err := fileblob.Open(filepath.Join(t.TempDir(), "photos"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	r.blobs = &clockedDir{Dir: dir, clock: r.clock, stamps: map[string]time.Time{}}
	r.rec = fieldwatch.NewReconciler(r.st, r.blobs, fieldwatch.ReconcileConfig{SpoolDir: r.spool, Clock: r.clock.Now,
		Logger: slog.New(slog.NewTextHandler(r.log, nil))})
	return r
}

func TestReconcileSubmissions(t *testing.T) {
	ctx := t.Context()
	r := newReconcileRig(t)
	in, err := fieldwatch.NewIntake(r.st, r.blobs, fieldwatch.IntakeConfig{SpoolDir: r.spool, Clock: r.clock.Now, Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	dead, err := in.Claim(ctx, "u", "dead") // its request died: no heartbeat, no release
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Release()
	r.clock.Advance(5*time.Minute + time.Second)
	live, err := in.Claim(ctx, "u", "live")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Release()
	rep, err := r.rec.Run(ctx)
	if err != nil || rep.AbandonedSubmissions != 1 {
		t.Fatalf("%+v, %v", rep, err)
	}
	// The phone's retry with the released key starts afresh.
	if c, err := in.Claim(ctx, "u", "dead"); err != nil || c.IsReplay() {
		t.Fatalf("retry: %v", err)
	} else {
		c.Release()
	}
	if !strings.Contains(r.log.String(), "abandoned_submissions=1") {
		t.Fatalf("log: %s", r.log)
	}
}

// TestReconcileOrphans: an evidence object that no row and no pending
// upload names is deleted once older than the orphan age, under the
// store's per-hash check (DeleteOrphanObject calls back only when
// nothing names the hash).
func TestReconcileOrphans(t *testing.T) {
	ctx := t.Context()
	r := newReconcileRig(t)
	orphan, young, owned, pending := []byte("orphan"), []byte("young"), []byte("owned"), []byte("pending")
	for _, b := range [][]byte{orphan, owned, pending} {
		putBlob(t, r.blobs, fieldwatch.ObjectKey(hexSHA(b)), b)
	}
	putBlob(t, r.blobs, "evidence/ab/not-a-hash", []byte("x"))
	r.st.add(fieldwatch.Evidence{SHA256: hexSHA(owned), ObjectKey: fieldwatch.ObjectKey(hexSHA(owned))})
	r.st.subs[subKey{"u", "k"}] = &fieldwatch.Submission{UserID: "u", Key: "k", State: fieldwatch.SubmissionPending, UpdatedAt: r.clock.Now().Add(2 * time.Hour), Attempt: "a"}
	r.st.marks[subKey{"u", "k"}] = hexSHA(pending)
	r.clock.Advance(time.Hour + time.Minute)
	putBlob(t, r.blobs, fieldwatch.ObjectKey(hexSHA(young)), young)

	rep, err := r.rec.Run(ctx)
	if err != nil || rep.OrphanObjects != 1 {
		t.Fatalf("%+v, %v", rep, err)
	}
	for _, tc := range []struct {
		key  string
		kept bool
	}{
		{fieldwatch.ObjectKey(hexSHA(orphan)), false},
		{fieldwatch.ObjectKey(hexSHA(young)), true},
		{fieldwatch.ObjectKey(hexSHA(owned)), true},
		{fieldwatch.ObjectKey(hexSHA(pending)), true},
		{"evidence/ab/not-a-hash", true},
	} {
		if hasBlob(t, r.blobs, tc.key) != tc.kept {
			t.Errorf("%s kept: %v, want %v", tc.key, !tc.kept, tc.kept)
		}
	}

	t.Run("DeleteFails", func(t *testing.T) {
		boom := errors.New("boom")
		putBlob(t, r.blobs, fieldwatch.ObjectKey(hexSHA(orphan)), orphan)
		r.clock.Advance(2 * time.Hour)
		rec := fieldwatch.NewReconciler(r.st, failingDelete{r.blobs, boom}, fieldwatch.ReconcileConfig{Clock: r.clock.Now})
		rep, err := rec.Run(ctx)
		if !errors.Is(err, boom) || rep.OrphanObjects != 0 {
			t.Fatalf("%+v, %v", rep, err)
		}
	})
}

type failingDelete struct {
	*clockedDir
	err error
}

func (f failingDelete) Delete(context.Context, string) error { return f.err }

// TestReconcileUploads: direct-upload sessions past their deadline go
// with their objects, and objects no live session wants are deleted.
func TestReconcileUploads(t *testing.T) {
	ctx := t.Context()
	r := newReconcileRig(t)
	now := r.clock.Now()
	done := now.Add(-time.Minute)
	sessions := []fieldwatch.Upload{
		fieldwatch.NewUpload("open", "u", 5, hexSHA([]byte("a")), now),
		fieldwatch.NewUpload("expired", "u", 5, hexSHA([]byte("b")), now.Add(-fieldwatch.UploadURLTTL-fieldwatch.UploadGrace-fieldwatch.UploadSweepDelay-time.Second)),
		fieldwatch.NewUpload("completed", "u", 5, hexSHA([]byte("c")), now.Add(-time.Hour)),
		// Past its deadline by less than the sweep delay: a completion
		// that began in time may still be reading it.
		fieldwatch.NewUpload("completing", "u", 5, hexSHA([]byte("d")), now.Add(-fieldwatch.UploadURLTTL-fieldwatch.UploadGrace-time.Second)),
	}
	sessions[2].CompletedAt, sessions[2].ExpiresAt = &done, now.Add(fieldwatch.UploadReplayRetention)
	for _, u := range sessions {
		r.st.uploads[u.ID] = u
		putBlob(t, r.blobs, u.ObjectKey, []byte("bytes"))
	}
	putBlob(t, r.blobs, fieldwatch.UploadPrefix+"stray", []byte("bytes"))

	check, err := fieldwatch.CheckUploads(ctx, r.st, r.blobs, now)
	if err != nil {
		t.Fatal(err)
	}
	if check.UploadCounts != (fieldwatch.UploadCounts{Open: 1, Expired: 2, Completed: 1}) ||
		!slices.Equal(check.Abandoned, []string{"uploads/completed", "uploads/expired", "uploads/stray"}) {
		t.Fatalf("check: %+v", check)
	}

	rep, err := r.rec.Run(ctx)
	if err != nil || rep.ExpiredUploads != 1 || rep.AbandonedUploads != 2 {
		t.Fatalf("%+v, %v", rep, err)
	}
	if _, ok := r.st.uploads["expired"]; ok {
		t.Error("the expired session is kept")
	}
	for key, kept := range map[string]bool{"uploads/open": true, "uploads/completing": true, "uploads/expired": false, "uploads/completed": false, "uploads/stray": false} {
		if hasBlob(t, r.blobs, key) != kept {
			t.Errorf("%s kept: %v", key, !kept)
		}
	}
	if check, _ := fieldwatch.CheckUploads(ctx, r.st, r.blobs, now); len(check.Abandoned) != 0 {
		t.Fatalf("after a pass: %+v", check)
	}

	t.Run("DeleteFails", func(t *testing.T) {
		boom := errors.New("boom")
		r.st.uploads["expired"] = sessions[1]
		rec := fieldwatch.NewReconciler(r.st, failingDelete{r.blobs, boom}, fieldwatch.ReconcileConfig{Clock: r.clock.Now})
		rep, err := rec.Run(ctx)
		if !errors.Is(err, boom) || rep.ExpiredUploads != 0 {
			t.Fatalf("%+v, %v", rep, err)
		}
		if _, ok := r.st.uploads["expired"]; !ok {
			t.Fatal("the session went before its object")
		}
	})
	t.Run("LookupFails", func(t *testing.T) {
		boom := errors.New("boom")
		r.st.fail = func(m string) error {
			if m == "UploadByID" {
				return boom
			}
			return nil
		}
		defer func() { r.st.fail = nil }()
		if _, err := fieldwatch.CheckUploads(ctx, r.st, r.blobs, now); !errors.Is(err, boom) {
			t.Fatalf("check: %v", err)
		}
		if _, err := r.rec.Run(ctx); !errors.Is(err, boom) {
			t.Fatalf("run: %v", err)
		}
	})
}

func TestUploadLifetimes(t *testing.T) {
	t0 := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	u := fieldwatch.NewUpload("s1", "u", 10, "ab", t0)
	if u.ObjectKey != "uploads/s1" || !u.URLExpiresAt().Equal(t0.Add(15*time.Minute)) || !u.ExpiresAt.Equal(t0.Add(25*time.Minute)) {
		t.Fatalf("%+v", u)
	}
	for _, tc := range []struct {
		after        time.Duration
		bytes, alive bool
	}{{0, true, true}, {15*time.Minute - 1, true, true}, {15 * time.Minute, false, true}, {25 * time.Minute, false, false}} {
		if got := u.AcceptsBytes(t0.Add(tc.after)); got != tc.bytes {
			t.Errorf("after %v: accepts bytes %v", tc.after, got)
		}
		if got := u.Live(t0.Add(tc.after)); got != tc.alive {
			t.Errorf("after %v: live %v", tc.after, got)
		}
	}
	u.CompletedAt = &t0
	if u.AcceptsBytes(t0) {
		t.Error("a completed session accepts bytes")
	}
	if l := fieldwatch.OpenUploadLimits(2, 10, t0); l.PerUser != 2 || l.Total != 10 || !l.OpenSince.Equal(t0.Add(-15*time.Minute)) {
		t.Errorf("%+v", l)
	}
}

// TestReconcileSpool: spool files of uploads that died are removed once
// they have not been written for StaleAfter; live ones and other files
// stay.
func TestReconcileSpool(t *testing.T) {
	r := newReconcileRig(t)
	old := r.clock.Now().Add(-6 * time.Minute)
	write := func(name string, mtime time.Time) string {
		p := filepath.Join(r.spool, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dead := write("upload-1.part", old)
	live := write("upload-2.part", r.clock.Now())
	other := write("notes.txt", old)
	if err := os.Mkdir(filepath.Join(r.spool, "upload-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	rep, err := r.rec.Run(t.Context())
	if err != nil || rep.SpoolFiles != 1 {
		t.Fatalf("%+v, %v", rep, err)
	}
	for p, kept := range map[string]bool{dead: false, live: true, other: true} {
		if _, err := os.Stat(p); (err == nil) != kept {
			t.Errorf("%s kept: %v", filepath.Base(p), err == nil)
		}
	}
	if n, err := fieldwatch.SweepSpool(filepath.Join(r.spool, "missing"), r.clock.Now()); n != 0 || err != nil {
		t.Fatalf("a missing spool: %d, %v", n, err)
	}
	if n, err := fieldwatch.SweepSpool(r.spool, r.clock.Now().Add(time.Minute)); n != 1 || err != nil {
		t.Fatalf("a replica's own sweep: %d, %v", n, err)
	}
	file := filepath.Join(r.spool, "notes.txt")
	if _, err := fieldwatch.SweepSpool(file, r.clock.Now()); err == nil {
		t.Fatal("swept a file as a spool")
	}
}

func TestReconcileFailures(t *testing.T) {
	r := newReconcileRig(t)
	boom := errors.New("boom")
	r.st.subs[subKey{"u", "k"}] = &fieldwatch.Submission{UserID: "u", Key: "k", State: fieldwatch.SubmissionPending, Attempt: "a"}
	for _, method := range []string{"StaleSubmissions", "ReleaseStaleSubmission"} {
		r.st.fail = func(m string) error {
			if m == method {
				return boom
			}
			return nil
		}
		if _, err := r.rec.Run(t.Context()); !errors.Is(err, boom) {
			t.Fatalf("%s failing: %v", method, err)
		}
	}
}

// TestCheckInvariants: every row has its object with its hash and size;
// every object older than the orphan age has a row.
func TestCheckInvariants(t *testing.T) {
	ctx := t.Context()
	r := newReconcileRig(t)
	good, damaged, lost, orphan := []byte("good"), []byte("damaged"), []byte("lost"), []byte("orphan")
	putBlob(t, r.blobs, fieldwatch.ObjectKey(hexSHA(good)), good)
	putBlob(t, r.blobs, fieldwatch.ObjectKey(hexSHA(damaged)), []byte("changed"))
	putBlob(t, r.blobs, fieldwatch.ObjectKey(hexSHA(orphan)), orphan)
	for i, b := range [][]byte{good, damaged, lost} {
		r.st.add(fieldwatch.Evidence{SHA256: hexSHA(b), Size: int64(len(b)), ObjectKey: fieldwatch.ObjectKey(hexSHA(b)), ReceivedAt: r.clock.Now().Add(time.Duration(i) * time.Second)})
	}
	rep, err := fieldwatch.CheckInvariants(ctx, r.st, r.blobs, fieldwatch.InvariantConfig{Clock: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Evidence != 3 || rep.Objects != 3 || len(rep.Problems) != 2 || len(rep.Pending) != 1 {
		t.Fatalf("%+v", rep)
	}
	if !strings.Contains(rep.Problems[0], "missing") || !strings.Contains(rep.Problems[1], "row says") || !strings.Contains(rep.Pending[0], "no evidence row yet") {
		t.Fatalf("%q", rep.Problems)
	}
	r.clock.Advance(2 * time.Hour)
	rep, err = fieldwatch.CheckInvariants(ctx, r.st, r.blobs, fieldwatch.InvariantConfig{Clock: r.clock.Now})
	if err != nil || len(rep.Problems) != 3 || len(rep.Pending) != 0 {
		t.Fatalf("past the orphan age: %+v, %v", rep, err)
	}

	boom := errors.New("boom")
	rep, err = fieldwatch.CheckInvariants(ctx, r.st, failingGet{r.blobs, boom}, fieldwatch.InvariantConfig{Clock: r.clock.Now})
	if err != nil || len(rep.Problems) != 4 || !strings.Contains(rep.Problems[0], "reading") {
		t.Fatalf("unreadable objects: %+v, %v", rep, err)
	}
	r.st.fail = func(string) error { return boom }
	if _, err := fieldwatch.CheckInvariants(ctx, r.st, r.blobs, fieldwatch.InvariantConfig{}); !errors.Is(err, boom) {
		t.Fatalf("a failing store: %v", err)
	}
}

type failingGet struct {
	*clockedDir
	err error
}

func (f failingGet) Get(context.Context, string) (io.ReadCloser, blob.Object, error) {
	return nil, blob.Object{}, f.err
}
