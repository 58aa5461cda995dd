package fieldwatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/media"
)

// ThumbnailSizes are the longer sides of the previews made for each photo:
// a list thumbnail and a screen-sized view.
func ThumbnailSizes() []int { return []int{320, 1280} }

// ThumbnailKey is where the preview of the photo with this hex SHA-256 at
// this size lives. Content addressed like the original: duplicates share
// previews.
func ThumbnailKey(sha256hex string, size int) string {
	return "thumbnails/" + sha256hex[:2] + "/" + sha256hex + "-" + strconv.Itoa(size) + ".jpg"
}

// ThumbnailStore is what the thumbnail worker needs of persistence.
type ThumbnailStore interface {
	// SetThumbnails records the sizes made and clears ThumbnailTries.
	SetThumbnails(ctx context.Context, id string, sizes []int) error
	// SetThumbnailTries records a failed attempt (or giving up).
	SetThumbnailTries(ctx context.Context, id string, tr ThumbnailTries) error
	// EvidenceByID reads the photo's record afresh: a queued copy may be
	// older than an attempt that failed meanwhile.
	EvidenceByID(ctx context.Context, id string) (Evidence, error)
	// EvidenceNeedingThumbnails returns up to limit thumbnailable
	// evidence lacking one of sizes, not given up on and due at now,
	// fewest failures first, then oldest first.
	EvidenceNeedingThumbnails(ctx context.Context, sizes []int, now time.Time, limit int) ([]Evidence, error)
}

// ThumbnailBlobs is what the thumbnail worker needs of the photo store.
type ThumbnailBlobs interface {
	Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error)
	Put(ctx context.Context, key string, r io.Reader, size int64, opts blob.PutOptions) (blob.Object, error)
}

// RequestLoad is how busy the request path is, for background work to
// give way to it. The app counts the HTTP requests being served.
type RequestLoad interface {
	InFlight() int
}

// Thumbnailer makes previews in the background, off the request path,
// with a fixed number of workers: decoding a 200 MP photo takes about
// 800 MB, so concurrency, not the queue, is what bounds memory.
type Thumbnailer struct {
	store     ThumbnailStore
	blobs     ThumbnailBlobs
	queue     chan Evidence
	workers   int
	maxPixels int64
	// maxAttempts failures of a photo's own make it failed; retryAfter
	// is the wait after the first, doubled after each further one.
	maxAttempts int
	retryAfter  time.Duration
	now         func() time.Time
	log         *slog.Logger
	wg          sync.WaitGroup
	// load, when set, is what a worker yields to before each photo: see
	// ThumbnailConfig.Load.
	load                RequestLoad
	yieldPoll, maxYield time.Duration
	sleep               func(context.Context, time.Duration) error
}

// ThumbnailConfig configures a Thumbnailer. Zero values take defaults.
type ThumbnailConfig struct {
	Workers int // default 2
	Queue   int // default 256; a full queue drops work for the sweep to find
	// MaxPixels bounds what a worker decodes; default 50 MP. Decoding
	// costs up to 8 bytes per pixel, so 50 MP is 400 MB per worker. Larger
	// photos (a 200 MP phone's) are kept and served, without previews.
	MaxPixels int64
	// MaxAttempts is how many failures of a photo's own (it does not
	// decode) the worker takes before marking its previews failed;
	// default 5. RetryAfter is the wait after the first failure, doubled
	// after each further one; default 10 min, so a bad photo is tried at
	// 0, 10, 30, 70 and 150 minutes and then left alone, and photos that
	// can never be made do not crowd out the ones that can.
	MaxAttempts int
	RetryAfter  time.Duration
	Clock       func() time.Time // default time.Now
	Logger      *slog.Logger
	// Load, when set, puts previews below requests: before each photo a
	// worker waits while requests are in flight, looking again every
	// YieldPoll (default 20 ms), for at most MaxYield (default 10 s).
	// Previews compete with uploads for the same cores (a 12 MP photo
	// costs about 0.13 s of CPU, a 4 MiB upload about 0.02 s), so while
	// uploads arrive a backlog waits for a gap instead of slowing them;
	// MaxYield bounds the wait, so under constant load a backlog still
	// drains, at one photo per worker per MaxYield. A photo already being
	// made is finished.
	Load      RequestLoad
	YieldPoll time.Duration
	MaxYield  time.Duration
	// Sleep waits d or until ctx ends (default a timer); tests pass a
	// testclock's Sleep.
	Sleep func(ctx context.Context, d time.Duration) error
}

// NewThumbnailer returns a Thumbnailer; Start runs it.
func NewThumbnailer(st ThumbnailStore, blobs ThumbnailBlobs, cfg ThumbnailConfig) *Thumbnailer {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 256
	}
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = 50_000_000
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 10 * time.Minute
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.YieldPoll <= 0 {
		cfg.YieldPoll = 20 * time.Millisecond
	}
	if cfg.MaxYield <= 0 {
		cfg.MaxYield = 10 * time.Second
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	return &Thumbnailer{store: st, blobs: blobs, queue: make(chan Evidence, cfg.Queue),
		workers: cfg.Workers, maxPixels: cfg.MaxPixels, maxAttempts: cfg.MaxAttempts, retryAfter: cfg.RetryAfter,
		now: cfg.Clock, log: cfg.Logger,
		load: cfg.Load, yieldPoll: cfg.YieldPoll, maxYield: cfg.MaxYield, sleep: cfg.Sleep}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// Yield waits while requests are in flight, for at most MaxYield (see
// ThumbnailConfig.Load), and returns how long it waited. It returns at
// once without a Load, and with ctx's error when ctx ends.
func (t *Thumbnailer) Yield(ctx context.Context) (time.Duration, error) {
	var waited time.Duration
	if t.load == nil {
		return 0, ctx.Err()
	}
	for waited < t.maxYield && t.load.InFlight() > 0 {
		d := min(t.yieldPoll, t.maxYield-waited)
		if err := t.sleep(ctx, d); err != nil {
			return waited, err
		}
		waited += d
	}
	return waited, ctx.Err()
}

// Enqueue asks for previews of e without waiting. When the queue is full
// the request is dropped: the periodic sweep finds evidence still lacking
// previews.
func (t *Thumbnailer) Enqueue(e Evidence) {
	select {
	case t.queue <- e:
	default:
	}
}

// Start runs the workers and a sweep every interval until ctx ends; Wait
// blocks until they have stopped.
func (t *Thumbnailer) Start(ctx context.Context, sweepEvery time.Duration) {
	for range t.workers {
		t.wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case e := <-t.queue:
					if _, err := t.Yield(ctx); err != nil {
						return
					}
					// Claimed first: this replica's sweep, the upload
					// path and other replicas may queue the same photo.
					if err := t.makeOnce(ctx, e); err != nil && ctx.Err() == nil {
						t.log.Warn("thumbnail failed", slog.String("evidence_id", e.ID), slog.String("error", err.Error()))
					}
				}
			}
		})
	}
	t.wg.Go(func() {
		tick := time.NewTicker(sweepEvery)
		defer tick.Stop()
		for {
			t.sweep(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
}

// Wait blocks until the workers started by Start have stopped.
func (t *Thumbnailer) Wait() { t.wg.Wait() }

func (t *Thumbnailer) sweep(ctx context.Context) {
	pending, err := t.Due(ctx)
	if err != nil {
		if ctx.Err() == nil {
			t.log.Warn("thumbnail sweep", slog.String("error", err.Error()))
		}
		return
	}
	for _, e := range pending {
		t.Enqueue(e)
	}
}

// Due returns what a sweep queues: up to a queue's worth of evidence
// whose previews are missing and due now, photos never failed first.
func (t *Thumbnailer) Due(ctx context.Context) ([]Evidence, error) {
	return t.store.EvidenceNeedingThumbnails(ctx, ThumbnailSizes(), t.now(), cap(t.queue))
}

// Make creates the previews of e now and records them. Formats without
// an in-process decoder (HEIC/HEIF) are skipped: ThumbnailState reports
// them unsupported. A failure that is the photo's own (it does not
// decode, it has too many pixels) is recorded in its ThumbnailTries, with
// the next attempt backed off or the photo given up on; one caused by
// the photo store being unavailable, or by ctx ending, is not the
// photo's fault and records nothing, so the next sweep tries again.
func (t *Thumbnailer) Make(ctx context.Context, e Evidence) error {
	f := formatOf(e.ContentType)
	if f == media.FormatUnknown || f == media.FormatHEIC || f == media.FormatHEIF {
		return nil
	}
	photoFault, err := t.make(ctx, e, f)
	if !photoFault || errors.Is(err, blob.ErrUnavailable) || ctx.Err() != nil {
		return err
	}
	tr := e.ThumbnailTries
	tr.Attempts++
	tr.Error = thumbnailReason(err)
	tr.NextAt = nil
	switch {
	case errors.Is(err, media.ErrThumbnailUnsupported), errors.Is(err, media.ErrTooManyPixels):
		tr.GaveUp = ThumbnailUnsupported
	case tr.Attempts >= t.maxAttempts:
		tr.GaveUp = ThumbnailFailed
	default:
		next := t.now().Add(t.retryAfter << min(tr.Attempts-1, 20))
		tr.NextAt = &next
	}
	if serr := t.store.SetThumbnailTries(ctx, e.ID, tr); serr != nil {
		return errors.Join(err, serr)
	}
	if tr.GaveUp == ThumbnailUnsupported {
		return nil // not a failure: the photo is kept and served without previews
	}
	return err
}

// make makes and records e's previews. photoFault says whether an error
// may be the photo's own: its object is missing or does not decode.
// Failing to store the previews or to record them is the stores' fault.
func (t *Thumbnailer) make(ctx context.Context, e Evidence, f media.Format) (photoFault bool, err error) {
	rc, _, err := t.blobs.Get(ctx, e.ObjectKey)
	if err != nil {
		return errors.Is(err, blob.ErrNotExist), err
	}
	sizes := ThumbnailSizes()
	thumbs, err := media.MakeThumbnails(rc, f, e.EXIF.Orientation, sizes, t.maxPixels)
	rc.Close()
	if err != nil {
		return true, fmt.Errorf("fieldwatch: thumbnail of %s: %w", e.ID, err)
	}
	for i, th := range thumbs {
		key := ThumbnailKey(e.SHA256, sizes[i])
		if _, err := t.blobs.Put(ctx, key, bytes.NewReader(th.JPEG), int64(len(th.JPEG)), blob.PutOptions{ContentType: "image/jpeg"}); err != nil {
			return false, err
		}
	}
	return false, t.store.SetThumbnails(ctx, e.ID, sizes)
}

// thumbnailReason is the client-fit reason shown with a failed preview:
// the kind of failure, never a path or a store's message.
func thumbnailReason(err error) string {
	switch {
	case errors.Is(err, media.ErrCorruptImage):
		return "the image cannot be decoded (truncated or not what its type says)"
	case errors.Is(err, media.ErrTooManyPixels):
		return "the image has more pixels than previews are made for"
	case errors.Is(err, media.ErrThumbnailUnsupported), errors.Is(err, media.ErrUnsupportedFormat):
		return "no decoder for this image format"
	case errors.Is(err, blob.ErrNotExist):
		return "the photo object is missing"
	}
	return "making the previews failed"
}

func formatOf(contentType string) media.Format {
	for _, f := range []media.Format{media.FormatJPEG, media.FormatPNG, media.FormatWebP, media.FormatHEIC, media.FormatHEIF} {
		if f.ContentType() == contentType {
			return f
		}
	}
	return media.FormatUnknown
}
