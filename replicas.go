package fieldwatch

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Several replicas of the service may share one database and one photo
// store. Requests need nothing more (every claim and write is decided in
// the database), but background jobs run on every replica's timer, and
// what must happen once takes a lease first: a deadline sweep, a
// reconciler pass, the previews of one photo.

// Leases hand a named lease to one holder at a time.
type Leases interface {
	// AcquireLease gives the lease name to holder until until, and
	// reports whether holder has it: true when it was free, had expired
	// at now, or was already holder's (it then runs until until); false,
	// with no error, while another holder has it.
	AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	// ReleaseLease ends holder's lease now; it does nothing when holder
	// does not hold it.
	ReleaseLease(ctx context.Context, name, holder string) error
}

// NewHolder returns a name for a lease holder that no other process
// uses: a replica's identity for its job leases.
func NewHolder(prefix string) string { return prefix + "-" + rand.Text() }

// LeasedJob is a background job that runs in one replica at a time.
// The replica that runs it keeps the lease while it lives, renewing it
// at each pass; the others skip their passes until it stops renewing
// (it stopped, or died and its lease expired), and then one of them
// takes over.
type LeasedJob struct {
	Name   string // the lease's name, the same on every replica
	Holder string // this replica (see NewHolder)
	Leases Leases
	// Run is one pass of the job. It must be safe to repeat: a holder
	// slower than its lease may overlap with the next one.
	Run   func(ctx context.Context) error
	Clock func() time.Time // default time.Now
}

// ErrLeaseLost: another holder took a job's lease while this replica
// was running a pass (this one was too slow to renew it), so the pass
// was stopped.
var ErrLeaseLost = errors.New("fieldwatch: job lease lost")

// Pass runs the job once if this replica holds its lease or can take it
// for ttl, and reports whether it ran. While the pass runs the lease is
// renewed every third of ttl, however long the pass takes; a pass whose
// lease was taken over regardless is cancelled with ErrLeaseLost. Make
// ttl longer than the interval between passes, so that the holder
// renews before it expires; a dead holder's job then waits at most ttl
// for another replica.
func (j *LeasedJob) Pass(ctx context.Context, ttl time.Duration) (bool, error) {
	now := j.now()
	got, err := j.Leases.AcquireLease(ctx, j.Name, j.Holder, now, now.Add(ttl))
	if err != nil {
		return false, fmt.Errorf("fieldwatch: job %s: lease: %w", j.Name, err)
	}
	if !got {
		return false, nil
	}
	pctx, stop := context.WithCancelCause(ctx)
	var keeper sync.WaitGroup
	keeper.Go(func() { j.keep(pctx, ttl, stop) })
	err = j.Run(pctx)
	lost := errors.Is(context.Cause(pctx), ErrLeaseLost)
	stop(nil)
	keeper.Wait()
	if lost {
		err = errors.Join(fmt.Errorf("fieldwatch: job %s: %w", j.Name, ErrLeaseLost), err)
	}
	return true, err
}

// keep renews the lease every third of ttl until ctx ends, and cancels
// ctx with ErrLeaseLost if another holder has taken it. A failed renewal
// (the database did not answer) is tried again at the next tick: the
// lease lasts three of them.
func (j *LeasedJob) keep(ctx context.Context, ttl time.Duration, stop context.CancelCauseFunc) {
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := j.now()
		if got, err := j.Leases.AcquireLease(ctx, j.Name, j.Holder, now, now.Add(ttl)); err == nil && !got {
			stop(ErrLeaseLost)
			return
		}
	}
}

// Release gives the lease up, so that another replica takes the job at
// its next pass instead of after the lease expires. Call it when this
// replica stops; it does nothing when another replica holds the lease.
func (j *LeasedJob) Release(ctx context.Context) error {
	if err := j.Leases.ReleaseLease(ctx, j.Name, j.Holder); err != nil {
		return fmt.Errorf("fieldwatch: job %s: release: %w", j.Name, err)
	}
	return nil
}

func (j *LeasedJob) now() time.Time {
	if j.Clock == nil {
		return time.Now()
	}
	return j.Clock()
}

// ThumbnailClaimTTL is how long a worker's claim on one photo's
// previews lasts. It covers the photo's wait in a queue and its
// decoding; a worker that dies mid-way leaves the photo to the sweep
// once the claim runs out.
const ThumbnailClaimTTL = 30 * time.Minute

// ThumbnailLeaseName is the lease a worker takes before making the
// previews of the evidence with this id.
func ThumbnailLeaseName(evidenceID string) string { return "thumbnails:" + evidenceID }

// makeOnce makes e's previews unless another worker, in this replica or
// in another one sharing the database, has claimed them: the upload
// path, this replica's sweep and the other replicas' sweeps may all
// queue the same photo. It claims through the store when the store
// keeps leases (the SQL store does); other stores make every request.
// A claim is left to expire after success (so that a copy still queued
// somewhere finds it taken) and given back after a failure (so that the
// next sweep may retry at once).
func (t *Thumbnailer) makeOnce(ctx context.Context, e Evidence) error {
	leases, ok := t.store.(Leases)
	if !ok {
		_, err := t.makeDue(ctx, e.ID)
		return err
	}
	name, holder, now := ThumbnailLeaseName(e.ID), NewHolder("thumbnailer"), t.now()
	got, err := leases.AcquireLease(ctx, name, holder, now, now.Add(ThumbnailClaimTTL))
	if err != nil {
		return fmt.Errorf("fieldwatch: thumbnail claim of %s: %w", e.ID, err)
	}
	if !got {
		return nil
	}
	made, err := t.makeDue(ctx, e.ID)
	if !made || err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err = errors.Join(err, leases.ReleaseLease(rctx, name, holder))
	}
	return err
}

// makeDue makes the previews of the evidence with this id if its record,
// read afresh, still wants them now, and reports whether it made them. A
// queued copy may predate an attempt that failed meanwhile: made from the
// copy, it would retry before the backoff allows and write its older
// attempt count over the newer one, even undoing a give-up.
func (t *Thumbnailer) makeDue(ctx context.Context, id string) (bool, error) {
	e, err := t.store.EvidenceByID(ctx, id)
	if err != nil {
		return false, err
	}
	if e.ThumbnailState() != ThumbnailPending {
		return false, nil
	}
	if next := e.ThumbnailTries.NextAt; next != nil && t.now().Before(*next) {
		return false, nil
	}
	if err := t.Make(ctx, e); err != nil {
		return false, err
	}
	return true, nil
}
