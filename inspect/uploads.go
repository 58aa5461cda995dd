package inspect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch/media"
)

// Lifetimes of a direct-upload session.
const (
	// UploadURLTTL is how long a direct-upload URL accepts the PUT: long
	// enough to start a large upload on a bad network, short enough that
	// a leaked URL is soon useless. While its URL is valid a session is
	// open and counts against the upload caps.
	UploadURLTTL = 15 * time.Minute
	// UploadGrace is how long after its URL expired a session may still
	// be completed: a PUT that began just before the URL expired may take
	// minutes on 3G (S3 checks the signature when a request starts, not
	// when it ends), and the completion must still find its session.
	UploadGrace = 10 * time.Minute
	// UploadReplayRetention keeps a completed session so that retries of
	// its completion replay, for as long as idempotency keys must work
	// (offline backlogs, docs/reliability.md#c6).
	UploadReplayRetention = 30 * 24 * time.Hour
	// UploadPrefix is where the objects of direct uploads live, one per
	// session, under the session's id.
	UploadPrefix = "uploads/"
)

// Errors of the upload caps. They name no numbers: a client only needs to
// know whether to slow down (its own cap) or try again later (the
// server's).
var (
	// ErrUserUploadLimit: the user already has as many uploads in
	// progress as one user may (HTTP 429).
	ErrUserUploadLimit = errors.New("inspect: too many uploads in progress for this user")
	// ErrUploadLimit: the server has as many uploads in progress as it
	// takes (HTTP 503).
	ErrUploadLimit = errors.New("inspect: too many uploads in progress")
)

// NewUpload returns a session for a declared photo, created at now, with
// its object under UploadPrefix. It is open until its URL expires and may
// be completed until ExpiresAt.
func NewUpload(id, userID string, size int64, sha256hex string, now time.Time) Upload {
	return Upload{ID: id, UserID: userID, ObjectKey: UploadPrefix + id, Size: size, SHA256: sha256hex,
		CreatedAt: now, ExpiresAt: now.Add(UploadURLTTL + UploadGrace)}
}

// URLExpiresAt is when the session's upload URL stops accepting bytes.
func (u Upload) URLExpiresAt() time.Time { return u.CreatedAt.Add(UploadURLTTL) }

// AcceptsBytes reports whether the session's bytes may still be PUT at
// now: it is not completed and its URL is valid.
func (u Upload) AcceptsBytes(now time.Time) bool {
	return u.CompletedAt == nil && now.Before(u.URLExpiresAt())
}

// Live reports whether the session may still be completed (or, once
// completed, replayed) at now. A session that is not live is the
// reconciler's to remove, with its object.
func (u Upload) Live(now time.Time) bool { return now.Before(u.ExpiresAt) }

// UploadLimits caps the open direct-upload sessions (not completed,
// created after OpenSince) when one is created. The store counts them in
// the database, so the caps hold across replicas: a session outlives the
// request that made it, and its completion may reach another replica.
// Zero caps do not limit.
type UploadLimits struct {
	PerUser   int // more open sessions of one user: ErrUserUploadLimit
	Total     int // more open sessions in all: ErrUploadLimit
	OpenSince time.Time
}

// OpenUploadLimits returns the caps as they apply at now: sessions whose
// URL is still valid count.
func OpenUploadLimits(perUser, total int, now time.Time) UploadLimits {
	return UploadLimits{PerUser: perUser, Total: total, OpenSince: now.Add(-UploadURLTTL)}
}

// UploadCounts says where the direct-upload sessions stand.
type UploadCounts struct {
	Open      int // not completed and not past their deadline
	Expired   int // not completed and past their deadline: the reconciler's to sweep
	Completed int // kept so that retries of their completion replay
}

// UploadSessionStore is what sweeping and checking direct uploads need of
// persistence.
type UploadSessionStore interface {
	// ExpiredUploads returns up to limit sessions whose ExpiresAt is
	// before the given time, oldest first.
	ExpiredUploads(ctx context.Context, before time.Time, limit int) ([]Upload, error)
	// UploadByID returns a session, or an error matching ErrNotFound.
	UploadByID(ctx context.Context, id string) (Upload, error)
	DeleteUpload(ctx context.Context, id string) error
	CountUploads(ctx context.Context, now time.Time) (UploadCounts, error)
}

// UploadBlobs is what sweeping and checking direct uploads need of the
// photo store.
type UploadBlobs interface {
	List(ctx context.Context, prefix string, fn func(media.Object) error) error
	Delete(ctx context.Context, key string) error
}

// abandonedUpload reports whether the object o under UploadPrefix has no
// live session that may still want it: its session is gone, completed
// (the evidence has its own copy) or past its deadline.
func abandonedUpload(ctx context.Context, st UploadSessionStore, o media.Object, now time.Time) (bool, error) {
	id := strings.TrimPrefix(o.Key, UploadPrefix)
	u, err := st.UploadByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return u.ObjectKey != o.Key || u.CompletedAt != nil || !u.Live(now), nil
}

// sweepUploads removes direct-upload sessions past their deadline with
// their objects (an open one's deadline is its URL's expiry plus
// UploadGrace; a completed one's the end of its replay retention), then
// deletes objects under UploadPrefix that no live session wants: bytes of
// sessions swept before, or left by a completion whose own delete failed.
// A session's row goes only after its object, so a failed delete is
// retried on the next pass.
func sweepUploads(ctx context.Context, st UploadSessionStore, blobs UploadBlobs, now time.Time, log *slog.Logger) (sessions, objects int, err error) {
	var errs []error
	expired, err := st.ExpiredUploads(ctx, now, 500)
	if err != nil {
		errs = append(errs, err)
	}
	for _, u := range expired {
		if err := blobs.Delete(ctx, u.ObjectKey); err != nil && !errors.Is(err, media.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		if err := st.DeleteUpload(ctx, u.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		sessions++
	}
	err = blobs.List(ctx, UploadPrefix, func(o media.Object) error {
		gone, err := abandonedUpload(ctx, st, o, now)
		if err != nil || !gone {
			return err
		}
		if err := blobs.Delete(ctx, o.Key); err != nil && !errors.Is(err, media.ErrNotExist) {
			return err
		}
		log.Info("deleted abandoned upload object", slog.String("key", o.Key))
		objects++
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("inspect: sweep upload objects: %w", err))
	}
	return sessions, objects, errors.Join(errs...)
}

// UploadReport is what CheckUploads found.
type UploadReport struct {
	UploadCounts
	// Abandoned are the keys of objects under UploadPrefix without a
	// live session: content nobody can complete any more, taking space
	// until the reconciler deletes it.
	Abandoned []string
}

// CheckUploads reports where direct uploads stand for `fieldwatch check`:
// open, expired and completed sessions, and abandoned upload objects.
// None of these breaks a promise made with a 201, so they are reported,
// not counted as violations.
func CheckUploads(ctx context.Context, st UploadSessionStore, blobs UploadBlobs, now time.Time) (UploadReport, error) {
	var rep UploadReport
	c, err := st.CountUploads(ctx, now)
	if err != nil {
		return rep, err
	}
	rep.UploadCounts = c
	err = blobs.List(ctx, UploadPrefix, func(o media.Object) error {
		gone, err := abandonedUpload(ctx, st, o, now)
		if gone {
			rep.Abandoned = append(rep.Abandoned, o.Key)
		}
		return err
	})
	return rep, err
}
