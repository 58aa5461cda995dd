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
	CreateUpload(ctx context.Context, u *inspect.Upload) error
	UploadByID(ctx context.Context, id string) (inspect.Upload, error)
}

// UploadBlobs is the photo store as direct uploads use it.
type UploadBlobs interface {
	PresignPut(ctx context.Context, key string, ttl time.Duration) (string, error)
	Put(ctx context.Context, key string, r io.Reader, size int64, opts media.PutOptions) (media.Object, error)
	Stat(ctx context.Context, key string) (media.Object, error)
	Get(ctx context.Context, key string) (io.ReadCloser, media.Object, error)
	Delete(ctx context.Context, key string) error
}

const (
	// uploadURLTTL is how long a direct-upload URL accepts the PUT: long
	// enough to start a large upload on a bad network, short enough that a
	// leaked URL is soon useless.
	uploadURLTTL = 15 * time.Minute
	// uploadRetention keeps a session so that retries of its completion
	// replay for as long as idempotency keys must work (offline backlogs).
	uploadRetention = 30 * 24 * time.Hour
)

var (
	// errUploadNotReceived: complete was called before the bytes arrived.
	errUploadNotReceived = errors.New("api: the upload's bytes have not been received; PUT them first")
	// errUploadMismatch: what arrived is not what the session declared.
	errUploadMismatch = errors.New("api: the uploaded bytes do not match the declared size and sha256")
)

// CreateUpload starts a direct upload.
func (s *Server) CreateUpload(ctx context.Context, req CreateUploadRequestObject) (CreateUploadResponseObject, error) {
	p, _ := principal(ctx)
	if req.Body.Size > s.cfg.Intake.MaxPhotoBytes() {
		return nil, fmt.Errorf("%w: at most %d bytes", inspect.ErrTooLarge, s.cfg.Intake.MaxPhotoBytes())
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := inspect.Upload{
		ID: id.String(), UserID: p.UserID, ObjectKey: "uploads/" + id.String(),
		Size: req.Body.Size, SHA256: req.Body.Sha256, CreatedAt: now, ExpiresAt: now.Add(uploadRetention),
	}
	if err := s.cfg.Uploads.CreateUpload(ctx, &u); err != nil {
		return nil, err
	}
	out := Upload{Id: id, Method: UploadMethodPUT, ExpiresAt: now.Add(uploadURLTTL)}
	url, err := s.cfg.UploadBlobs.PresignPut(ctx, u.ObjectKey, uploadURLTTL)
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

// ownUpload loads a session of the caller's; anyone else's is not found.
func (s *Server) ownUpload(ctx context.Context, id string) (inspect.Upload, error) {
	p, _ := principal(ctx)
	u, err := s.cfg.Uploads.UploadByID(ctx, id)
	if err != nil {
		return inspect.Upload{}, err
	}
	if u.UserID != p.UserID || !s.now().Before(u.ExpiresAt) {
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
