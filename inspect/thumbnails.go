package inspect

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
	SetThumbnails(ctx context.Context, id string, sizes []int) error
	EvidenceNeedingThumbnails(ctx context.Context, sizes []int, limit int) ([]Evidence, error)
}

// ThumbnailBlobs is what the thumbnail worker needs of the photo store.
type ThumbnailBlobs interface {
	Get(ctx context.Context, key string) (io.ReadCloser, media.Object, error)
	Put(ctx context.Context, key string, r io.Reader, size int64, opts media.PutOptions) (media.Object, error)
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
	log       *slog.Logger
	wg        sync.WaitGroup
}

// ThumbnailConfig configures a Thumbnailer. Zero values take defaults.
type ThumbnailConfig struct {
	Workers int // default 2
	Queue   int // default 256; a full queue drops work for the sweep to find
	// MaxPixels bounds what a worker decodes; default 50 MP. Decoding
	// costs up to 8 bytes per pixel, so 50 MP is 400 MB per worker. Larger
	// photos (a 200 MP phone's) are kept and served, without previews.
	MaxPixels int64
	Logger    *slog.Logger
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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Thumbnailer{store: st, blobs: blobs, queue: make(chan Evidence, cfg.Queue),
		workers: cfg.Workers, maxPixels: cfg.MaxPixels, log: cfg.Logger}
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
	pending, err := t.store.EvidenceNeedingThumbnails(ctx, ThumbnailSizes(), cap(t.queue))
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

// Make creates the previews of e now and records them. Formats without
// an in-process decoder (HEIC/HEIF) are skipped, recorded with no sizes.
func (t *Thumbnailer) Make(ctx context.Context, e Evidence) error {
	f := formatOf(e.ContentType)
	if f == media.FormatUnknown || f == media.FormatHEIC || f == media.FormatHEIF {
		return nil
	}
	rc, _, err := t.blobs.Get(ctx, e.ObjectKey)
	if err != nil {
		return err
	}
	sizes := ThumbnailSizes()
	thumbs, err := media.MakeThumbnails(rc, f, e.EXIF.Orientation, sizes, t.maxPixels)
	rc.Close()
	if errors.Is(err, media.ErrThumbnailUnsupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect: thumbnail of %s: %w", e.ID, err)
	}
	for i, th := range thumbs {
		key := ThumbnailKey(e.SHA256, sizes[i])
		if _, err := t.blobs.Put(ctx, key, bytes.NewReader(th.JPEG), int64(len(th.JPEG)), media.PutOptions{ContentType: "image/jpeg"}); err != nil {
			return err
		}
	}
	return t.store.SetThumbnails(ctx, e.ID, sizes)
}

func formatOf(contentType string) media.Format {
	for _, f := range []media.Format{media.FormatJPEG, media.FormatPNG, media.FormatWebP, media.FormatHEIC, media.FormatHEIF} {
		if f.ContentType() == contentType {
			return f
		}
	}
	return media.FormatUnknown
}
