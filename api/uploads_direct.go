package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/inspect"
	"github.com/fieldwatch/fieldwatch/media"
)

// UploadStore keeps direct-upload sessions.
type UploadStore interface {
	// CreateUpload records u unless lim's caps are reached
	// (inspect.ErrUserUploadLimit, inspect.ErrUploadLimit).
	CreateUpload(ctx context.Context, u *inspect.Upload, lim inspect.UploadLimits) error
	UploadByID(ctx context.Context, id string) (inspect.Upload, error)
	// FinishUpload marks a session completed and keeps it until
	// keepUntil for replays.
	FinishUpload(ctx context.Context, id string, at, keepUntil time.Time) error
}

// UploadBlobs is the photo store as direct uploads use it.
type UploadBlobs interface {
	PresignPut(ctx context.Context, key string, ttl time.Duration) (string, error)
	Put(ctx context.Context, key string, r io.Reader, size int64, opts media.PutOptions) (media.Object, error)
	Stat(ctx context.Context, key string) (media.Object, error)
	Get(ctx context.Context, key string) (io.ReadCloser, media.Object, error)
	Delete(ctx context.Context, key string) error
}

var (
	// errUploadNotReceived: complete was called before the bytes arrived.
	errUploadNotReceived = errors.New("api: the upload's bytes have not been received; PUT them first")
	// errUploadMismatch: what arrived is not what the session declared.
	errUploadMismatch = errors.New("api: the uploaded bytes do not match the declared size and sha256")
)

// CreateUpload starts a direct upload. Open sessions count against the
// same per-user and total caps as uploads in flight, counted in the
// database (see inspect.UploadLimits): a session outlives the request
// that made it and may be completed on another replica.
func (s *Server) CreateUpload(ctx context.Context, req CreateUploadRequestObject) (CreateUploadResponseObject, error) {
	p := actor(ctx)
	if req.Body.Size > s.cfg.Intake.MaxPhotoBytes() {
		return nil, fmt.Errorf("%w: at most %d bytes", inspect.ErrTooLarge, s.cfg.Intake.MaxPhotoBytes())
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := inspect.NewUpload(id.String(), p.UserID, req.Body.Size, req.Body.Sha256, now)
	lim := inspect.OpenUploadLimits(s.cfg.UploadsPerUser, s.cfg.UploadsTotal, now)
	if err := s.cfg.Uploads.CreateUpload(ctx, &u, lim); err != nil {
		return nil, err
	}
	out := Upload{Id: id, Method: UploadMethodPUT, ExpiresAt: u.URLExpiresAt()}
	url, err := s.cfg.UploadBlobs.PresignPut(ctx, u.ObjectKey, inspect.UploadURLTTL)
	switch {
	case err == nil:
		out.Url = url
	case errors.Is(err, media.ErrUnsupported):
		// The local store cannot sign URLs: the bytes come through us,
		// authenticated like any other call.
		out.Url = "/v1/uploads/" + u.ID + "/content"
	default:
		return nil, err
	}
	return CreateUpload201JSONResponse(out), nil
}

// ownUpload loads a live session of the caller's; anyone else's, and one
// past its deadline, is not found.
func (s *Server) ownUpload(ctx context.Context, id string) (inspect.Upload, error) {
	p := actor(ctx)
	u, err := s.cfg.Uploads.UploadByID(ctx, id)
	if err != nil {
		return inspect.Upload{}, err
	}
	if u.UserID != p.UserID || !u.Live(s.now()) {
		return inspect.Upload{}, fmt.Errorf("api: upload of another user or expired: %w", errNotFound)
	}
	return u, nil
}

// PutUploadContent receives a direct upload's bytes for stores that cannot
// presign. They are stored only if they match the declared size and
// SHA-256, which the store verifies while writing.
func (s *Server) PutUploadContent(ctx context.Context, req PutUploadContentRequestObject) (PutUploadContentResponseObject, error) {
	u, err := s.ownUpload(ctx, req.Id.String())
	if err != nil {
		return nil, err
	}
	// The URL handed out has expired, or the session is done: like a
	// presigned URL past its time, it no longer takes bytes.
	if !u.AcceptsBytes(s.now()) {
		return nil, fmt.Errorf("api: upload URL expired or upload completed: %w", errNotFound)
	}
	if n := requestLength(ctx); n != u.Size {
		return nil, fmt.Errorf("%w: Content-Length %d, declared size %d", errUploadMismatch, n, u.Size)
	}
	sum, err := decodeSHA256(u.SHA256)
	if err != nil {
		return nil, err
	}
	_, err = s.cfg.UploadBlobs.Put(ctx, u.ObjectKey, req.Body, u.Size, media.PutOptions{SHA256: sum})
	if errors.Is(err, media.ErrChecksumMismatch) || errors.Is(err, media.ErrSizeMismatch) {
		return nil, fmt.Errorf("%w: %w", errUploadMismatch, err)
	}
	if err != nil {
		return nil, multipartError(err)
	}
	return PutUploadContent204Response{}, nil
}

// CompleteUpload turns a direct upload into evidence: the object is read
// back through the same checks as a multipart upload (hash, type, EXIF),
// stored content-addressed, and committed; then the temporary object goes.
func (s *Server) CompleteUpload(ctx context.Context, req CompleteUploadRequestObject) (CompleteUploadResponseObject, error) {
	u, err := s.ownUpload(ctx, req.Id.String())
	if err != nil {
		return nil, err
	}
	// The fingerprint covers the session too: the same key on another
	// session is a different request.
	rawMeta, err := json.Marshal(struct {
		Upload string       `json:"upload"`
		Meta   EvidenceMeta `json:"meta"`
	}{u.ID, *req.Body})
	if err != nil {
		return nil, err
	}
	claim, done, err := s.beginUpload(ctx, req.Params.IdempotencyKey.String())
	if err != nil {
		return nil, err
	}
	defer done()
	if claim.IsReplay() {
		e, err := s.cfg.Intake.Replay(ctx, claim, u.SHA256, rawMeta)
		if err != nil {
			return nil, err
		}
		yes := "true"
		return CompleteUpload201JSONResponse{Body: evidenceOut(e), Headers: CompleteUpload201ResponseHeaders{IdempotencyReplayed: &yes}}, nil
	}

	obj, err := s.cfg.UploadBlobs.Stat(ctx, u.ObjectKey)
	if errors.Is(err, media.ErrNotExist) {
		return nil, errUploadNotReceived
	}
	if err != nil {
		return nil, err
	}
	if obj.Size != u.Size {
		return nil, fmt.Errorf("%w: %d bytes arrived, %d declared", errUploadMismatch, obj.Size, u.Size)
	}
	rc, _, err := s.cfg.UploadBlobs.Get(ctx, u.ObjectKey)
	if err != nil {
		return nil, err
	}
	spool, err := s.cfg.Intake.Receive(ctx, rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	defer spool.Close()
	if spool.SHA256() != u.SHA256 {
		return nil, fmt.Errorf("%w: sha256 of what arrived is %s", errUploadMismatch, spool.SHA256())
	}
	meta, err := s.metaFromBody(req.Body)
	if err != nil {
		return nil, err
	}
	meta.SHA256 = u.SHA256
	e, replayed, err := s.cfg.Intake.Submit(ctx, claim, meta, rawMeta, spool)
	if err != nil {
		return nil, err
	}
	// The evidence is committed: the session stops counting against the
	// caps and is kept only for replays (the submission row, found by the
	// Idempotency-Key, answers them). Neither this nor the delete below
	// may fail the request now; the reconciler removes what they leave.
	if err := s.cfg.Uploads.FinishUpload(ctx, u.ID, s.now(), s.now().Add(inspect.UploadReplayRetention)); err != nil {
		s.log.WarnContext(ctx, "marking direct upload completed", "upload_id", u.ID, "error", err.Error())
	}
	// The evidence now has its own content-addressed copy. A failure here
	// leaves the temporary object to the reconciler.
	if err := s.cfg.UploadBlobs.Delete(ctx, u.ObjectKey); err != nil {
		s.log.WarnContext(ctx, "deleting completed upload object", "upload_id", u.ID, "error", err.Error())
	}
	s.afterStore(e, replayed)
	return CompleteUpload201JSONResponse{Body: evidenceOut(e)}, nil
}

// metaFromBody converts a validated JSON meta (the validator already
// checked it against EvidenceMeta) to the domain form.
func (s *Server) metaFromBody(m *EvidenceMeta) (inspect.EvidenceMeta, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return inspect.EvidenceMeta{}, err
	}
	return s.parseMeta(raw)
}

func decodeSHA256(h string) ([]byte, error) {
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 32 {
		return nil, fmt.Errorf("%w: sha256 is not 64 hex digits", inspect.ErrInvalid)
	}
	return b, nil
}
