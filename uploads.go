package fieldwatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/blob"
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
	// UploadSweepDelay is how long past its deadline a session is left
	// alone by the reconciler: a completion that began while the session
	// was live is still reading its object and committing.
	UploadSweepDelay = 15 * time.Minute
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
	ErrUserUploadLimit = NewSentinel(ERATELIMITED, "fieldwatch: too many uploads in progress for this user",
		"too many of your uploads are in progress; retry later")
	// ErrUploadLimit: the server has as many uploads in progress as it
	// takes (HTTP 503).
	ErrUploadLimit = NewSentinel(EUNAVAILABLE, "fieldwatch: too many uploads in progress",
		"too many uploads in progress; retry later")
)

// Errors of a direct upload's bytes.
var (
	// ErrUploadNotReceived: the session is completed before its bytes
	// arrived (HTTP 409).
	ErrUploadNotReceived = NewSentinel(ECONFLICT, "fieldwatch: the upload's bytes have not been received",
		"the upload's bytes have not been received; PUT them first")
	// ErrUploadMismatch: what arrived is not what the session declared
	// (HTTP 422).
	ErrUploadMismatch = NewSentinel(EDIGEST, "fieldwatch: the uploaded bytes do not match the declared size and sha256",
		"the uploaded bytes do not match the declared size and sha256")
)

// Default caps on uploads in progress, per user and in all.
const (
	DefaultUploadsPerUser = 8
	DefaultUploadsTotal   = 1000
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
	List(ctx context.Context, prefix string, fn func(blob.Object) error) error
	Delete(ctx context.Context, key string) error
}

// abandonedUpload reports whether the object o under UploadPrefix has no
// live session that may still want it: its session is gone, completed
// (the evidence has its own copy) or past its deadline.
func abandonedUpload(ctx context.Context, st UploadSessionStore, o blob.Object, now time.Time) (bool, error) {
	id := strings.TrimPrefix(o.Key, UploadPrefix)
	u, err := st.UploadByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return u.ObjectKey != o.Key || u.CompletedAt != nil || !u.Live(now.Add(-UploadSweepDelay)), nil
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
	expired, err := st.ExpiredUploads(ctx, now.Add(-UploadSweepDelay), 500)
	if err != nil {
		errs = append(errs, err)
	}
	for _, u := range expired {
		if err := blobs.Delete(ctx, u.ObjectKey); err != nil && !errors.Is(err, blob.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		if err := st.DeleteUpload(ctx, u.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		sessions++
	}
	err = blobs.List(ctx, UploadPrefix, func(o blob.Object) error {
		gone, err := abandonedUpload(ctx, st, o, now)
		if err != nil || !gone {
			return err
		}
		if err := blobs.Delete(ctx, o.Key); err != nil && !errors.Is(err, blob.ErrNotExist) {
			return err
		}
		log.Info("deleted abandoned upload object", slog.String("key", o.Key))
		objects++
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("fieldwatch: sweep upload objects: %w", err))
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
	err = blobs.List(ctx, UploadPrefix, func(o blob.Object) error {
		gone, err := abandonedUpload(ctx, st, o, now)
		if gone {
			rep.Abandoned = append(rep.Abandoned, o.Key)
		}
		return err
	})
	return rep, err
}

// DirectUploadStore is what direct uploads need of persistence.
type DirectUploadStore interface {
	// CreateUpload records u unless lim's caps are reached
	// (ErrUserUploadLimit, ErrUploadLimit).
	CreateUpload(ctx context.Context, u *Upload, lim UploadLimits) error
	// UploadByID returns a session, or an error matching ErrNotFound.
	UploadByID(ctx context.Context, id string) (Upload, error)
	// FinishUpload marks a session completed and keeps it until
	// keepUntil for replays.
	FinishUpload(ctx context.Context, id string, at, keepUntil time.Time) error
}

// DirectUploadBlobs is the photo store as direct uploads use it.
type DirectUploadBlobs interface {
	// PresignPut returns a URL the client PUTs the bytes to, or an error
	// matching blob.ErrUnsupported when the store cannot sign URLs.
	PresignPut(ctx context.Context, key string, ttl time.Duration) (string, error)
	// Put stores exactly size bytes whose SHA-256 is opts.SHA256, or fails
	// with blob.ErrSizeMismatch or blob.ErrChecksumMismatch.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts blob.PutOptions) (blob.Object, error)
	Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error)
	Delete(ctx context.Context, key string) error
}

// UploadIntake is the intake (Intake) as the completion of a direct upload
// uses it: the bytes go through the same checks as a multipart upload.
type UploadIntake interface {
	MaxPhotoBytes() int64
	Receive(ctx context.Context, r io.Reader) (*Spool, error)
	Replay(ctx context.Context, c *Claim, photoSHA256 string, rawMeta []byte) (Evidence, error)
	Submit(ctx context.Context, c *Claim, meta EvidenceMeta, rawMeta []byte, sp *Spool) (Evidence, bool, error)
}

// DirectUploadsConfig configures direct uploads.
type DirectUploadsConfig struct {
	// PerUser and Total cap the open sessions, per user (beyond:
	// ErrUserUploadLimit) and in all (beyond: ErrUploadLimit). Defaults
	// DefaultUploadsPerUser and DefaultUploadsTotal.
	PerUser, Total int
	Clock          func() time.Time // default time.Now
	Logger         *slog.Logger     // default discards
}

// DirectUploads runs direct-upload sessions: a phone declares a photo's
// size and SHA-256, PUTs the bytes straight to the photo store (or, where
// the store cannot presign, through the API), and completes the session
// into evidence. Sessions are their owner's alone: anyone else's, and
// one past its deadline, is not found.
type DirectUploads struct {
	store  DirectUploadStore
	blobs  DirectUploadBlobs
	intake UploadIntake
	cfg    DirectUploadsConfig
}

// NewDirectUploads returns direct uploads over the given ports.
func NewDirectUploads(store DirectUploadStore, blobs DirectUploadBlobs, intake UploadIntake, cfg DirectUploadsConfig) *DirectUploads {
	if cfg.PerUser <= 0 {
		cfg.PerUser = DefaultUploadsPerUser
	}
	if cfg.Total <= 0 {
		cfg.Total = DefaultUploadsTotal
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &DirectUploads{store: store, blobs: blobs, intake: intake, cfg: cfg}
}

// Create opens a session for a photo of size bytes with the given
// SHA-256 (hex). Open sessions count against the caps in the database: a
// session outlives the request that made it and may be completed on
// another replica. putURL is where the bytes go; it is empty when the
// photo store cannot presign, and the bytes then come through PutContent.
func (d *DirectUploads) Create(ctx context.Context, a Actor, size int64, sha256hex string) (u Upload, putURL string, err error) {
	if max := d.intake.MaxPhotoBytes(); size > max {
		return Upload{}, "", Errorf(ETOOLARGE, "%w: at most %d bytes", ErrTooLarge, max)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Upload{}, "", err
	}
	now := d.cfg.Clock().UTC()
	u = NewUpload(id.String(), a.UserID, size, sha256hex, now)
	if err := d.store.CreateUpload(ctx, &u, OpenUploadLimits(d.cfg.PerUser, d.cfg.Total, now)); err != nil {
		return Upload{}, "", err
	}
	putURL, err = d.blobs.PresignPut(ctx, u.ObjectKey, UploadURLTTL)
	if errors.Is(err, blob.ErrUnsupported) {
		return u, "", nil
	}
	if err != nil {
		return Upload{}, "", err
	}
	return u, putURL, nil
}

// session loads a live session of a's; anyone else's, and one past its
// deadline, is not found.
func (d *DirectUploads) session(ctx context.Context, a Actor, id string) (Upload, error) {
	u, err := d.store.UploadByID(ctx, id)
	if err != nil {
		return Upload{}, err
	}
	if u.UserID != a.UserID || !u.Live(d.cfg.Clock()) {
		return Upload{}, fmt.Errorf("fieldwatch: upload of another user or expired: %w", ErrNotFound)
	}
	return u, nil
}

// PutContent stores a session's bytes for stores that cannot presign;
// length is what the client announced. They are stored only if they
// match the declared size and SHA-256, which the store verifies while
// writing (else ErrUploadMismatch). Once the session's URL expired, or
// the session completed, it takes no bytes, like a presigned URL past its
// time: ErrNotFound.
func (d *DirectUploads) PutContent(ctx context.Context, a Actor, id string, body io.Reader, length int64) error {
	u, err := d.session(ctx, a, id)
	if err != nil {
		return err
	}
	if !u.AcceptsBytes(d.cfg.Clock()) {
		return fmt.Errorf("fieldwatch: upload URL expired or upload completed: %w", ErrNotFound)
	}
	if length != u.Size {
		return Errorf(EDIGEST, "%w: Content-Length %d, declared size %d", ErrUploadMismatch, length, u.Size)
	}
	sum := blob.ParseHexSHA256(u.SHA256)
	if sum == nil {
		return Errorf(EINVALID, "sha256 is not 64 hex digits")
	}
	_, err = d.blobs.Put(ctx, u.ObjectKey, body, u.Size, blob.PutOptions{SHA256: sum})
	if errors.Is(err, blob.ErrChecksumMismatch) || errors.Is(err, blob.ErrSizeMismatch) {
		msg := ErrUploadMismatch.Message
		var det interface{ Detail() string }
		if errors.As(err, &det) {
			msg += ": " + det.Detail()
		}
		return Wrap(EDIGEST, msg, Errorf(EDIGEST, "%w: %w", ErrUploadMismatch, err))
	}
	return err
}

// Completion is a request to turn a direct upload into evidence.
type Completion struct {
	UploadID string
	Key      string // Idempotency-Key
	Meta     EvidenceMeta
	// RawMeta is what the key's fingerprint covers besides the photo: the
	// meta as the client sent it, and the session, since the same key on
	// another session is a different request.
	RawMeta []byte
}

// Claimer takes the Idempotency-Key for one attempt of userID's (see
// Intake.Claim); done releases it. The API's also holds one of its
// slots for uploads in flight.
type Claimer func(ctx context.Context, userID, key string) (c *Claim, done func(), err error)

// Complete turns a's session into evidence: the object is read back
// through the same checks as a multipart upload (hash, type, EXIF),
// stored content-addressed and committed; then the temporary object
// goes. The key is claimed (through claim) only once the session is
// known to be a's and live, so a request for another's session leaves
// no trace. A retry of a completed request replays its evidence: then
// replayed is true.
func (d *DirectUploads) Complete(ctx context.Context, a Actor, req Completion, claim Claimer) (e Evidence, replayed bool, err error) {
	u, err := d.session(ctx, a, req.UploadID)
	if err != nil {
		return Evidence{}, false, err
	}
	c, done, err := claim(ctx, a.UserID, req.Key)
	if err != nil {
		return Evidence{}, false, err
	}
	defer done()
	if c.IsReplay() {
		e, err := d.intake.Replay(ctx, c, u.SHA256, req.RawMeta)
		return e, err == nil, err
	}
	if u.CompletedAt != nil {
		// Completed under another key: its bytes are evidence already and
		// its object is gone (or going). Only that key replays.
		return Evidence{}, false, Errorf(ECONFLICT, "this upload was already completed with another Idempotency-Key")
	}
	rc, obj, err := d.blobs.Get(ctx, u.ObjectKey)
	if errors.Is(err, blob.ErrNotExist) {
		return Evidence{}, false, ErrUploadNotReceived
	}
	if err != nil {
		return Evidence{}, false, err
	}
	if obj.Size != u.Size {
		rc.Close()
		return Evidence{}, false, Errorf(EDIGEST, "%w: %d bytes arrived, %d declared", ErrUploadMismatch, obj.Size, u.Size)
	}
	spool, err := d.intake.Receive(ctx, rc)
	rc.Close()
	if err != nil {
		return Evidence{}, false, err
	}
	defer spool.Close()
	if spool.SHA256() != u.SHA256 {
		return Evidence{}, false, Errorf(EDIGEST, "%w: sha256 of what arrived is %s", ErrUploadMismatch, spool.SHA256())
	}
	meta := req.Meta
	meta.SHA256 = u.SHA256
	e, replayed, err = d.intake.Submit(ctx, c, meta, req.RawMeta, spool)
	if err != nil {
		return Evidence{}, false, err
	}
	// The evidence is committed: the session stops counting against the
	// caps and is kept only for replays (the submission row, found by the
	// Idempotency-Key, answers them). Neither this nor the delete below
	// may fail the request now; the reconciler removes what they leave.
	now := d.cfg.Clock()
	if err := d.store.FinishUpload(ctx, u.ID, now, now.Add(UploadReplayRetention)); err != nil {
		d.cfg.Logger.WarnContext(ctx, "marking direct upload completed", "upload_id", u.ID, "error", err.Error())
	}
	// The evidence now has its own content-addressed copy. A failure here
	// leaves the temporary object to the reconciler.
	if err := d.blobs.Delete(ctx, u.ObjectKey); err != nil {
		d.cfg.Logger.WarnContext(ctx, "deleting completed upload object", "upload_id", u.ID, "error", err.Error())
	}
	return e, replayed, nil
}
