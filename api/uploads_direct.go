package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/fieldwatch/fieldwatch"
)

// DirectUploads runs direct-upload sessions (fieldwatch.DirectUploads): their
// lifetimes, caps, ownership and checks live there, not here.
type DirectUploads interface {
	Create(ctx context.Context, a fieldwatch.Actor, size int64, sha256hex string) (fieldwatch.Upload, string, error)
	PutContent(ctx context.Context, a fieldwatch.Actor, id string, body io.Reader, length int64) error
	Complete(ctx context.Context, a fieldwatch.Actor, req fieldwatch.Completion, claim fieldwatch.Claimer) (fieldwatch.Evidence, bool, error)
}

// CreateUpload starts a direct upload. Where the photo store cannot sign
// URLs the bytes come through us (PutUploadContent), authenticated like
// any other call.
func (s *Server) CreateUpload(ctx context.Context, req CreateUploadRequestObject) (CreateUploadResponseObject, error) {
	u, url, err := s.cfg.Uploads.Create(ctx, actor(ctx), req.Body.Size, req.Body.Sha256)
	if err != nil {
		return nil, err
	}
	if url == "" {
		url = "/v1/uploads/" + u.ID + "/content"
	}
	return CreateUpload201JSONResponse(Upload{Id: mustUUID(u.ID), Method: UploadMethodPUT, Url: url, ExpiresAt: u.URLExpiresAt()}), nil
}

// PutUploadContent receives a direct upload's bytes for stores that cannot
// presign.
func (s *Server) PutUploadContent(ctx context.Context, req PutUploadContentRequestObject) (PutUploadContentResponseObject, error) {
	body := &readErrors{r: req.Body}
	err := s.cfg.Uploads.PutContent(ctx, actor(ctx), req.Id.String(), body, requestLength(ctx))
	if err != nil && body.err != nil && !errors.Is(err, fieldwatch.ErrUploadMismatch) {
		// The body did not arrive whole: cut short, too large, stalled.
		return nil, bodyError(err)
	}
	if err != nil {
		return nil, err
	}
	return PutUploadContent204Response{}, nil
}

// readErrors remembers the first error reading a request body returned
// (other than io.EOF), so that a failure can be told apart as the
// client's.
type readErrors struct {
	r   io.Reader
	err error
}

func (r *readErrors) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF && r.err == nil {
		r.err = err
	}
	return n, err
}

// CompleteUpload turns a direct upload into evidence.
func (s *Server) CompleteUpload(ctx context.Context, req CompleteUploadRequestObject) (CompleteUploadResponseObject, error) {
	// The fingerprint covers the session too: the same key on another
	// session is a different request.
	id := req.Id.String()
	rawMeta, err := json.Marshal(struct {
		Upload string       `json:"upload"`
		Meta   EvidenceMeta `json:"meta"`
	}{id, *req.Body})
	if err != nil {
		return nil, err
	}
	meta, err := s.metaFromBody(req.Body)
	if err != nil {
		return nil, err
	}
	e, replayed, err := s.cfg.Uploads.Complete(ctx, actor(ctx),
		fieldwatch.Completion{UploadID: id, Key: req.Params.IdempotencyKey.String(), Meta: meta, RawMeta: rawMeta}, s.beginUpload)
	if err != nil {
		return nil, err
	}
	if replayed {
		yes := "true"
		return CompleteUpload201JSONResponse{Body: evidenceOut(e), Headers: CompleteUpload201ResponseHeaders{IdempotencyReplayed: &yes}}, nil
	}
	s.afterStore(e, false)
	return CompleteUpload201JSONResponse{Body: evidenceOut(e)}, nil
}

// metaFromBody converts a validated JSON meta (the validator already
// checked it against EvidenceMeta) to the domain form.
func (s *Server) metaFromBody(m *EvidenceMeta) (fieldwatch.EvidenceMeta, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return fieldwatch.EvidenceMeta{}, err
	}
	return s.parseMeta(raw)
}
