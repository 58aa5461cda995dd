package fieldwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch/blob"
)

// ReconcileStore is what the reconciler needs of persistence.
type ReconcileStore interface {
	StaleSubmissions(ctx context.Context, staleBefore time.Time, limit int) ([]Submission, error)
	// ReleaseStaleSubmission releases the claim only if its heartbeat is
	// still older than staleBefore: one that beat after it was listed is
	// alive.
	ReleaseStaleSubmission(ctx context.Context, userID, key, attempt string, staleBefore time.Time) error
	// DeleteOrphanObject calls del if and only if no evidence row and no
	// pending upload names the hash, holding the per-hash lock that
	// uploads take before their PUT and at their commit.
	DeleteOrphanObject(ctx context.Context, sha256 string, del func(context.Context) error) (bool, error)
	// UploadSessionStore: the direct-upload sessions to sweep.
	UploadSessionStore
}

// ReconcileBlobs is what the reconciler needs of the photo store.
type ReconcileBlobs interface {
	List(ctx context.Context, prefix string, fn func(blob.Object) error) error
	Delete(ctx context.Context, key string) error
}

// Reconciler repairs what a crash or a lost connection leaves behind:
// pending submissions nobody is finishing, photo objects no evidence row
// points to, and spool files of uploads that died. It runs at start and
// periodically; every step is safe to repeat and to run on several
// replicas at once.
type Reconciler struct {
	store    ReconcileStore
	blobs    ReconcileBlobs
	spoolDir string
	// staleAfter matches IntakeConfig.StaleAfter: a claim without a
	// heartbeat for this long has no live request behind it.
	staleAfter time.Duration
	// orphanAge is how old an unreferenced object must be before it is
	// deleted. An upload stores its object seconds before committing the
	// row; an hour leaves room for any commit in flight.
	orphanAge time.Duration
	now       func() time.Time
	log       *slog.Logger
}

// ReconcileConfig configures a Reconciler. Zero values take defaults.
type ReconcileConfig struct {
	SpoolDir   string
	StaleAfter time.Duration // default 5 min
	OrphanAge  time.Duration // default 1 h
	Clock      func() time.Time
	Logger     *slog.Logger
}

// NewReconciler returns a Reconciler.
func NewReconciler(st ReconcileStore, blobs ReconcileBlobs, cfg ReconcileConfig) *Reconciler {
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 5 * time.Minute
	}
	if cfg.OrphanAge <= 0 {
		cfg.OrphanAge = time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reconciler{store: st, blobs: blobs, spoolDir: cfg.SpoolDir, staleAfter: cfg.StaleAfter,
		orphanAge: cfg.OrphanAge, now: cfg.Clock, log: cfg.Logger}
}

// ReconcileReport counts what one pass repaired.
type ReconcileReport struct {
	AbandonedSubmissions int // pending claims released
	OrphanObjects        int // evidence objects deleted
	SpoolFiles           int // temp files removed
	ExpiredUploads       int // direct-upload sessions past their deadline, with their objects
	AbandonedUploads     int // objects under uploads/ that no live session wants
}

// Run makes one pass (releasing at most 500 abandoned claims; the next pass
// takes the rest). A pending submission whose request died cannot be
// completed (its metadata died with it), so it is released: the phone's
// retry with the same key then starts afresh and stores exactly once.
func (r *Reconciler) Run(ctx context.Context) (ReconcileReport, error) {
	var rep ReconcileReport
	now := r.now()
	var errs []error

	staleBefore := now.Add(-r.staleAfter)
	stale, err := r.store.StaleSubmissions(ctx, staleBefore, 500)
	if err != nil {
		errs = append(errs, err)
	}
	for _, s := range stale {
		if err := r.store.ReleaseStaleSubmission(ctx, s.UserID, s.Key, s.Attempt, staleBefore); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.AbandonedSubmissions++
	}

	err = r.blobs.List(ctx, "evidence/", func(o blob.Object) error {
		if now.Sub(o.ModTime) < r.orphanAge {
			return nil
		}
		sha := o.Key[strings.LastIndexByte(o.Key, '/')+1:]
		if len(sha) != 64 || ObjectKey(sha) != o.Key {
			return nil // not an evidence object
		}
		// Checked and deleted under the hash's lock: an upload marks the
		// hash under it before its PUT, and a commit adds its row under
		// it, so neither can slip in between the check and the delete.
		deleted, err := r.store.DeleteOrphanObject(ctx, sha, func(ctx context.Context) error {
			return r.blobs.Delete(ctx, o.Key)
		})
		if deleted {
			rep.OrphanObjects++
		}
		return err
	})
	if err != nil {
		errs = append(errs, err)
	}

	rep.ExpiredUploads, rep.AbandonedUploads, err = sweepUploads(ctx, r.store, r.blobs, now, r.log)
	if err != nil {
		errs = append(errs, err)
	}

	if r.spoolDir != "" {
		n, err := SweepSpool(r.spoolDir, now.Add(-r.staleAfter))
		rep.SpoolFiles = n
		if err != nil {
			errs = append(errs, err)
		}
	}
	if rep != (ReconcileReport{}) {
		r.log.Info("reconciled", slog.Int("abandoned_submissions", rep.AbandonedSubmissions),
			slog.Int("orphan_objects", rep.OrphanObjects), slog.Int("spool_files", rep.SpoolFiles),
			slog.Int("expired_uploads", rep.ExpiredUploads), slog.Int("abandoned_uploads", rep.AbandonedUploads))
	}
	return rep, errors.Join(errs...)
}

// SweepSpool removes spool files last written before cutoff: an upload
// that is still receiving writes to its file continuously. A reconciler
// pass sweeps its replica's spool; each replica has its own, which the
// replica holding the reconciler's lease cannot see, so a replica also
// sweeps its own when it starts.
func SweepSpool(dir string, cutoff time.Time) (int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("fieldwatch: sweep spool: %w", err)
	}
	n := 0
	var errs []error
	for _, de := range entries {
		if !de.Type().IsRegular() || !strings.HasPrefix(de.Name(), "upload-") {
			continue
		}
		info, err := de.Info()
		if err != nil || info.ModTime().After(cutoff) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, de.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
