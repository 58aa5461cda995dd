package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/geo"
)

// Intake is the upload path (fieldwatch.Intake).
type Intake interface {
	Claim(ctx context.Context, userID, key string) (*fieldwatch.Claim, error)
	Receive(ctx context.Context, r io.Reader) (*fieldwatch.Spool, error)
	Submit(ctx context.Context, c *fieldwatch.Claim, meta fieldwatch.EvidenceMeta, rawMeta []byte, sp *fieldwatch.Spool) (fieldwatch.Evidence, bool, error)
	Replay(ctx context.Context, c *fieldwatch.Claim, photoSHA256 string, rawMeta []byte) (fieldwatch.Evidence, error)
	MaxPhotoBytes() int64
}

// Archive reads evidence within the caller's scope and records its
// reviews (fieldwatch.Archive).
type Archive interface {
	Evidence(ctx context.Context, a fieldwatch.Actor, id string) (fieldwatch.Evidence, error)
	List(ctx context.Context, a fieldwatch.Actor, f fieldwatch.EvidenceFilter) ([]fieldwatch.Evidence, error)
	Review(ctx context.Context, a fieldwatch.Actor, evidenceID string, req fieldwatch.ReviewRequest) (fieldwatch.Review, error)
	Reviews(ctx context.Context, a fieldwatch.Actor, evidenceID string) ([]fieldwatch.Review, error)
}

// PhotoReader reads photo bytes for the photo and thumbnail endpoints.
type PhotoReader interface {
	Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error)
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	Stat(ctx context.Context, key string) (blob.Object, error)
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
}

const (
	maxMetaBytes   = 64 << 10
	maxUploadParts = 4
	// presignTTL bounds how long a photo link handed to a client works
	// (docs/reliability.md#a9).
	presignTTL = 5 * time.Minute
)

// CreateEvidence receives one photo. The multipart body is streamed: the
// photo goes to a spool file while it is hashed; nothing holds it in
// memory. See openapi.yaml for the idempotency contract.
func (s *Server) CreateEvidence(ctx context.Context, req CreateEvidenceRequestObject) (CreateEvidenceResponseObject, error) {
	claim, done, err := s.beginUpload(ctx, actor(ctx).UserID, req.Params.IdempotencyKey.String())
	if err != nil {
		return nil, err
	}
	defer done()

	var (
		rawMeta []byte
		spool   *fieldwatch.Spool
	)
	defer func() {
		if spool != nil {
			spool.Close()
		}
	}()
	for parts := 0; ; parts++ {
		part, err := req.Body.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bodyError(err)
		}
		if parts >= maxUploadParts {
			return nil, malformed(fmt.Sprintf("at most %d parts: photo and meta", maxUploadParts))
		}
		switch part.FormName() {
		case "meta":
			if rawMeta != nil {
				return nil, malformed("more than one meta part")
			}
			if rawMeta, err = io.ReadAll(io.LimitReader(part, maxMetaBytes+1)); err != nil {
				return nil, bodyError(err)
			}
			if len(rawMeta) > maxMetaBytes {
				return nil, malformed(fmt.Sprintf("meta part larger than %d bytes", maxMetaBytes))
			}
		case "photo":
			if spool != nil {
				return nil, malformed("more than one photo part; send one photo per request")
			}
			if spool, err = s.cfg.Intake.Receive(ctx, part); err != nil {
				return nil, bodyError(err)
			}
		default:
			return nil, malformed("unexpected part", fieldwatch.FieldError{Field: part.FormName(), Reason: "only the parts photo and meta are accepted"})
		}
		part.Close()
	}
	switch {
	case spool == nil:
		return nil, malformed("missing photo part", fieldwatch.FieldError{Field: "photo", Reason: "required"})
	case rawMeta == nil:
		return nil, malformed("missing meta part", fieldwatch.FieldError{Field: "meta", Reason: "required"})
	}
	meta, err := s.parseMeta(rawMeta)
	if err != nil {
		return nil, err
	}
	e, replayed, err := s.cfg.Intake.Submit(ctx, claim, meta, rawMeta, spool)
	if err != nil {
		return nil, err
	}
	s.afterStore(e, replayed)
	res := CreateEvidence201JSONResponse{Body: evidenceOut(e)}
	if replayed {
		yes := "true"
		res.Headers.IdempotencyReplayed = &yes
	}
	return res, nil
}

// afterStore counts newly stored bytes and asks for previews; a replay
// stored nothing.
func (s *Server) afterStore(e fieldwatch.Evidence, replayed bool) {
	if replayed {
		return
	}
	s.metrics.uploadBytes.Add(float64(e.Size))
	if s.cfg.Thumbnails != nil {
		s.cfg.Thumbnails.Enqueue(e)
	}
}

// beginUpload takes an upload slot and claims the Idempotency-Key for
// userID; done releases both. It is the fieldwatch.Claimer of direct uploads.
func (s *Server) beginUpload(ctx context.Context, userID, key string) (*fieldwatch.Claim, func(), error) {
	release, err := s.uploads.acquire(userID)
	if err != nil {
		return nil, nil, err
	}
	claim, err := s.cfg.Intake.Claim(ctx, userID, key)
	if err != nil {
		release()
		return nil, nil, err
	}
	return claim, func() { claim.Release(); release() }, nil
}

// bodyError gives a failure while reading the multipart body its code:
// a body over the limit is ETOOLARGE, anything else the client sent that
// net/http cannot parse EMALFORMED; the server's own failures (a
// cancelled or timed-out read, a spool that cannot be written) keep
// theirs.
func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return fieldwatch.Errorf(fieldwatch.ETOOLARGE, "%w: %w", fieldwatch.ErrTooLarge, err)
	case fieldwatch.ErrorCode(err) != fieldwatch.EINTERNAL, errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, fieldwatch.ErrSpoolWrite):
		return err
	}
	return &fieldwatch.Error{Code: fieldwatch.EMALFORMED, Message: "malformed multipart body: " + firstLine(err.Error()), Err: err}
}

// parseMeta validates the meta part against its schema in openapi.yaml and
// then decodes it; the schema forbids unknown members, so the decode sees
// exactly what was validated.
func (s *Server) parseMeta(raw []byte) (fieldwatch.EvidenceMeta, error) {
	// The meta part bypasses limitBody; refuse invalid UTF-8 here too,
	// before encoding/json turns it into U+FFFD (docs/reliability.md#e4).
	if !utf8.Valid(raw) {
		return fieldwatch.EvidenceMeta{}, malformed("meta is not valid UTF-8", fieldwatch.FieldError{Field: "meta", Reason: "invalid UTF-8"})
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&v); err != nil || dec.More() {
		return fieldwatch.EvidenceMeta{}, malformed("meta is not a JSON document", fieldwatch.FieldError{Field: "meta", Reason: "invalid JSON"})
	}
	if err := s.metaSchema.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		ve := fromOpenAPIError(err)
		for i := range ve.Fields {
			ve.Fields[i].Field = "meta" + strings.TrimPrefix(ve.Fields[i].Field, "body")
		}
		if len(ve.Fields) == 1 {
			ve.Message = ve.Fields[0].Field + ": " + ve.Fields[0].Reason
		}
		return fieldwatch.EvidenceMeta{}, ve
	}
	var m EvidenceMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return fieldwatch.EvidenceMeta{}, malformed("meta: " + err.Error())
	}
	out := fieldwatch.EvidenceMeta{Category: fieldwatch.Category(m.Category), CapturedAt: m.CapturedAt}
	if m.Subcategory != nil {
		out.Subcategory = *m.Subcategory
	}
	if m.Note != nil {
		out.Note = *m.Note
	}
	if m.Sha256 != nil {
		out.SHA256 = *m.Sha256
	}
	if d := m.DeviceLocation; d != nil {
		out.Device = &fieldwatch.DeviceInput{Lon: d.Lon, Lat: d.Lat, AccuracyM: d.AccuracyM}
		if d.Crs != nil {
			out.Device.CRS = geo.CRS(*d.Crs)
		}
		if d.Provider != nil {
			out.Device.Provider = *d.Provider
		}
		if d.Mock != nil {
			out.Device.Mock = *d.Mock
		}
	}
	return out, nil
}

// GetEvidence returns one piece of evidence in the caller's scope.
func (s *Server) GetEvidence(ctx context.Context, req GetEvidenceRequestObject) (GetEvidenceResponseObject, error) {
	e, err := s.cfg.Evidence.Evidence(ctx, actor(ctx), req.Id.String())
	if err != nil {
		return nil, err
	}
	return evidenceResponse{e}, nil
}

// GetEvidencePhoto serves the original bytes: a presigned redirect where
// the store can mint one, else the bytes with Range support.
func (s *Server) GetEvidencePhoto(ctx context.Context, req GetEvidencePhotoRequestObject) (GetEvidencePhotoResponseObject, error) {
	e, err := s.cfg.Evidence.Evidence(ctx, actor(ctx), req.Id.String())
	if err != nil {
		return nil, err
	}
	url, err := s.cfg.Photos.PresignGet(ctx, e.ObjectKey, presignTTL)
	switch {
	case err == nil:
		return GetEvidencePhoto307Response{Headers: GetEvidencePhoto307ResponseHeaders{Location: &url}}, nil
	case !errors.Is(err, blob.ErrUnsupported):
		return nil, err
	}
	filename := e.ID + extOf(e.ContentType)
	if req.Params.Range != nil {
		if off, n, ok := parseRange(*req.Params.Range, e.Size); ok {
			rc, err := s.cfg.Photos.GetRange(ctx, e.ObjectKey, off, n)
			if err != nil {
				return nil, err
			}
			return blobResponse{body: rc, contentType: e.ContentType, filename: filename, status: http.StatusPartialContent,
				length: n, contentRange: fmt.Sprintf("bytes %d-%d/%d", off, off+n-1, e.Size)}, nil
		} else if rangeUnsatisfiable(*req.Params.Range, e.Size) {
			return nil, fieldwatch.Errorf(fieldwatch.ERANGE, "the photo has %d bytes", e.Size)
		}
	}
	rc, obj, err := s.cfg.Photos.Get(ctx, e.ObjectKey)
	if err != nil {
		return nil, err
	}
	return blobResponse{body: rc, contentType: e.ContentType, filename: filename, status: http.StatusOK, length: obj.Size}, nil
}

// GetEvidenceThumbnail serves a JPEG preview once the background worker
// has made it.
func (s *Server) GetEvidenceThumbnail(ctx context.Context, req GetEvidenceThumbnailRequestObject) (GetEvidenceThumbnailResponseObject, error) {
	e, err := s.cfg.Evidence.Evidence(ctx, actor(ctx), req.Id.String())
	if err != nil {
		return nil, err
	}
	size := 320
	if req.Params.Size != nil {
		size = int(*req.Params.Size)
	}
	rc, obj, err := s.cfg.Photos.Get(ctx, fieldwatch.ThumbnailKey(e.SHA256, size))
	if err != nil {
		return nil, err
	}
	return blobResponse{body: rc, contentType: "image/jpeg", filename: fmt.Sprintf("%s-%d.jpg", e.ID, size), status: http.StatusOK, length: obj.Size}, nil
}

// blobResponse streams stored bytes with the type sniffed at upload, never
// one a client declared, and headers that stop browsers from second-
// guessing it (docs/reliability.md#d4).
type blobResponse struct {
	body         io.ReadCloser
	contentType  string
	filename     string
	status       int
	length       int64
	contentRange string
}

func (b blobResponse) visit(w http.ResponseWriter) error {
	defer b.body.Close()
	h := w.Header()
	h.Set("Content-Type", b.contentType)
	h.Set("Content-Length", strconv.FormatInt(b.length, 10))
	h.Set("Content-Disposition", `inline; filename="`+b.filename+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Accept-Ranges", "bytes")
	h.Set("Cache-Control", "private, max-age=300")
	if b.contentRange != "" {
		h.Set("Content-Range", b.contentRange)
	}
	w.WriteHeader(b.status)
	_, err := io.Copy(w, b.body)
	return err
}

// VisitGetEvidencePhotoResponse implements GetEvidencePhotoResponseObject.
func (b blobResponse) VisitGetEvidencePhotoResponse(w http.ResponseWriter) error { return b.visit(w) }

// VisitGetEvidenceThumbnailResponse implements GetEvidenceThumbnailResponseObject.
func (b blobResponse) VisitGetEvidenceThumbnailResponse(w http.ResponseWriter) error {
	return b.visit(w)
}

// parseRange understands one "bytes=a-b", "bytes=a-" or "bytes=-n" range.
// Anything else (several ranges, other units) is ignored and the whole
// photo served, as RFC 9110 allows.
func parseRange(h string, size int64) (off, n int64, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	first, last, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	switch {
	case first == "":
		suffix, err := strconv.ParseInt(last, 10, 64)
		if err != nil || suffix <= 0 {
			return 0, 0, false
		}
		suffix = min(suffix, size)
		return size - suffix, suffix, size > 0
	default:
		a, err := strconv.ParseInt(first, 10, 64)
		if err != nil || a < 0 || a >= size {
			return 0, 0, false
		}
		b := size - 1
		if last != "" {
			if b, err = strconv.ParseInt(last, 10, 64); err != nil || b < a {
				return 0, 0, false
			}
			b = min(b, size-1)
		}
		return a, b - a + 1, true
	}
}

// rangeUnsatisfiable reports a well-formed single range that starts past
// the end.
func rangeUnsatisfiable(h string, size int64) bool {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return false
	}
	first, _, _ := strings.Cut(spec, "-")
	a, err := strconv.ParseInt(first, 10, 64)
	return err == nil && a >= size
}

func extOf(contentType string) string {
	switch contentType {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/webp":
		return ".webp"
	case "image/heic":
		return ".heic"
	case "image/heif":
		return ".heif"
	}
	return ""
}

// ListEvidence pages through evidence in the caller's scope.
func (s *Server) ListEvidence(ctx context.Context, req ListEvidenceRequestObject) (ListEvidenceResponseObject, error) {
	prm := req.Params
	f := fieldwatch.EvidenceFilter{Limit: 50}
	if prm.Limit != nil {
		f.Limit = *prm.Limit
	}
	if prm.Category != nil {
		c := fieldwatch.Category(*prm.Category)
		f.Category = &c
	}
	if prm.Flag != nil {
		fl := fieldwatch.Flag(*prm.Flag)
		f.Flag = &fl
	}
	f.Township, f.Reach = prm.Township, prm.Reach
	if prm.ReviewState != nil {
		st := string(*prm.ReviewState)
		f.ReviewState = &st
	}
	if prm.Uploader != nil {
		u := prm.Uploader.String()
		f.UploaderID = &u
	}
	if err := checkTimeRange(prm.From, prm.To); err != nil {
		return nil, err
	}
	f.From, f.To = prm.From, prm.To
	crs, err := queryCRS(prm.Crs)
	if err != nil {
		return nil, err
	}
	if prm.Bbox != nil {
		b, err := parseBBoxIn(*prm.Bbox, crs)
		if err != nil {
			return nil, err
		}
		f.BBox = &b
	}
	if prm.Near != nil || prm.RadiusM != nil {
		if prm.Near == nil || prm.RadiusM == nil {
			return nil, malformed("near and radius_m go together")
		}
		pt, err := parseLonLat("near", *prm.Near)
		if err != nil {
			return nil, err
		}
		if pt, err = geo.ToWGS84(pt, crs); err != nil {
			return nil, malformed("near: "+err.Error(), fieldwatch.FieldError{Field: "near", Reason: err.Error()})
		}
		f.Near, f.RadiusM = &pt, *prm.RadiusM
	}
	if prm.Cursor != nil {
		t, id, err := s.openTimeCursor("evidence", *prm.Cursor)
		if err != nil {
			return nil, err
		}
		f.AfterTime, f.AfterID = &t, id
	}
	items, err := s.cfg.Evidence.List(ctx, actor(ctx), f)
	if err != nil {
		return nil, err
	}
	var next *string
	if len(items) == f.Limit {
		last := items[len(items)-1]
		c := s.sealTimeCursor("evidence", last.ReceivedAt, last.ID)
		next = &c
	}
	if wantsGeoJSON(ctx) {
		fc := FeatureCollection{Type: FeatureCollectionTypeFeatureCollection, Features: []Feature{}, NextCursor: next}
		for _, e := range items {
			if e.Location == nil {
				continue
			}
			id := e.ID
			fc.Features = append(fc.Features, Feature{
				Type: FeatureTypeFeature, Id: &id,
				Geometry: struct {
					Coordinates []float64           `json:"coordinates"`
					Type        FeatureGeometryType `json:"type"`
				}{Coordinates: []float64{e.Location.Lon, e.Location.Lat}, Type: FeatureGeometryTypePoint},
				Properties: featureProperties(e),
			})
		}
		return ListEvidence200ApplicationGeoPlusJSONResponse(fc), nil
	}
	// Written by hand (evidence_encode.go): the same bytes as an
	// EvidencePage through encoding/json, at a fraction of the cost.
	return evidencePageResponse{items: items, next: next}, nil
}

// featureProperties are the flat attributes a GIS shows for a point.
func featureProperties(e fieldwatch.Evidence) map[string]any {
	props := map[string]any{
		"category":        string(e.Category),
		"received_at":     e.ReceivedAt.Format(time.RFC3339),
		"location_source": string(e.LocationSource),
		"sha256":          e.SHA256,
		"flags":           strings.Join(flagStrings(e.Flags), ","),
		"uploader_id":     e.UploaderID,
	}
	if e.CapturedAt != nil {
		props["captured_at"] = e.CapturedAt.Format(time.RFC3339)
	}
	if e.Note != "" {
		props["note"] = e.Note
	}
	if e.TownshipCode != "" {
		props["township_code"] = e.TownshipCode
	}
	if e.ReachCode != "" {
		props["reach_code"] = e.ReachCode
	}
	return props
}

func flagStrings(fs []fieldwatch.Flag) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

type acceptKey struct{}

// withAccept records the Accept header for handlers that negotiate.
func withAccept(ctx context.Context, accept string) context.Context {
	return context.WithValue(ctx, acceptKey{}, accept)
}

func wantsGeoJSON(ctx context.Context) bool {
	a, _ := ctx.Value(acceptKey{}).(string)
	return strings.Contains(a, "application/geo+json")
}

func parseBBox(s string) (geo.Box, error) {
	parts := strings.Split(s, ",")
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil || i >= 4 {
			return geo.Box{}, malformed("bbox: want minLon,minLat,maxLon,maxLat", fieldwatch.FieldError{Field: "bbox", Reason: "not four numbers"})
		}
		v[i] = f
	}
	b, err := geo.NewBox(v[0], v[1], v[2], v[3])
	if err != nil {
		return geo.Box{}, malformed("bbox: "+err.Error(), fieldwatch.FieldError{Field: "bbox", Reason: err.Error()})
	}
	return b, nil
}

// queryCRS is the coordinate system a list query's near and bbox are
// given in: WGS-84 when absent; an unknown one is a 400 on crs.
func queryCRS(c *CRS) (geo.CRS, error) {
	if c == nil {
		return geo.WGS84, nil
	}
	crs, err := geo.ParseCRS(string(*c))
	if err != nil {
		return "", malformed("crs: "+err.Error(), fieldwatch.FieldError{Field: "crs", Reason: err.Error()})
	}
	return crs, nil
}

// parseBBoxIn parses a bbox given in crs and converts it to WGS-84 by its
// two corners. GCJ-02 and BD-09 offsets from WGS-84 vary slowly (a few
// metres per kilometre), so the converted corners bound the converted
// area to well under a metre at county scale; no densified edge is needed.
func parseBBoxIn(s string, crs geo.CRS) (geo.Box, error) {
	b, err := parseBBox(s)
	if err != nil || crs == geo.WGS84 {
		return b, err
	}
	lo, err1 := geo.ToWGS84(geo.Point{Lon: b.MinLon, Lat: b.MinLat}, crs)
	hi, err2 := geo.ToWGS84(geo.Point{Lon: b.MaxLon, Lat: b.MaxLat}, crs)
	if err := errors.Join(err1, err2); err != nil {
		return geo.Box{}, malformed("bbox: "+err.Error(), fieldwatch.FieldError{Field: "bbox", Reason: err.Error()})
	}
	w, err := geo.NewBox(lo.Lon, lo.Lat, hi.Lon, hi.Lat)
	if err != nil {
		return geo.Box{}, malformed("bbox: "+err.Error(), fieldwatch.FieldError{Field: "bbox", Reason: err.Error()})
	}
	return w, nil
}

func parseLonLat(field, s string) (geo.Point, error) {
	lonS, latS, ok := strings.Cut(s, ",")
	lon, err1 := strconv.ParseFloat(lonS, 64)
	lat, err2 := strconv.ParseFloat(latS, 64)
	if !ok || err1 != nil || err2 != nil {
		return geo.Point{}, malformed(field+": want lon,lat", fieldwatch.FieldError{Field: field, Reason: "not two numbers"})
	}
	p := geo.Point{Lon: lon, Lat: lat}
	if err := p.Validate(); err != nil {
		return geo.Point{}, malformed(field+": "+err.Error(), fieldwatch.FieldError{Field: field, Reason: err.Error()})
	}
	return p, nil
}

// Evidence cursors carry the last (received_at, id); they are opaque to
// clients and a tampered one is a 400.
func encodeTimeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeTimeCursor(c string) (time.Time, string, error) {
	bad := malformed("cursor: not a cursor this server issued", fieldwatch.FieldError{Field: "cursor", Reason: "invalid"})
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", bad
	}
	ts, id, ok := strings.Cut(string(b), "|")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if !ok || err != nil || len(id) != 36 {
		return time.Time{}, "", bad
	}
	// Only the exact text this server writes: a UUID, and the time in
	// UTC (a cursor of 0000-01-01T00:00:00+08:00 would turn into a year
	// no cursor can hold).
	if _, err := uuid.Parse(id); err != nil || encodeTimeCursor(t, id) != c {
		return time.Time{}, "", bad
	}
	return t, id, nil
}

// checkTimeRange refuses a from after to: an inverted range is a client
// mistake, not an empty page.
func checkTimeRange(from, to *time.Time) error {
	if from != nil && to != nil && from.After(*to) {
		return malformed("from is after to", fieldwatch.FieldError{Field: "from", Reason: "after to"}, fieldwatch.FieldError{Field: "to", Reason: "before from"})
	}
	return nil
}

// evidenceOut is the API view of evidence. GetEvidence and ListEvidence
// write the same JSON by hand (appendEvidenceJSON); a change here must be
// made there too, which TestEvidenceJSONMatchesEncodingJSON checks.
func evidenceOut(e fieldwatch.Evidence) Evidence {
	out := Evidence{
		Id:                mustUUID(e.ID),
		UploaderId:        mustUUID(e.UploaderID),
		Category:          Category(e.Category),
		Sha256:            e.SHA256,
		Size:              e.Size,
		ContentType:       e.ContentType,
		ReceivedAt:        e.ReceivedAt,
		CapturedAt:        e.CapturedAt,
		CaptureTimeSource: EvidenceCaptureTimeSource(e.CaptureTimeSource),
		LocationSource:    EvidenceLocationSource(e.LocationSource),
		Flags:             make([]EvidenceFlag, 0, len(e.Flags)),
		Thumbnails:        append([]int{}, e.Thumbnails...),
		Exif:              PhotoEXIF{Problems: append([]string{}, e.EXIF.Problems...)},
	}
	if e.Subcategory != "" {
		out.Subcategory = &e.Subcategory
	}
	if e.Note != "" {
		out.Note = &e.Note
	}
	state := EvidenceThumbnailState(e.ThumbnailState())
	out.ThumbnailState = &state
	if e.ThumbnailTries.Error != "" {
		out.ThumbnailError = &e.ThumbnailTries.Error
	}
	if e.Width > 0 {
		out.Width, out.Height = &e.Width, &e.Height
	}
	if e.Location != nil {
		out.Location = &Position{Lon: e.Location.Lon, Lat: e.Location.Lat}
	}
	for _, f := range e.Flags {
		out.Flags = append(out.Flags, EvidenceFlag(f))
	}
	if e.DuplicateOf != "" {
		d := mustUUID(e.DuplicateOf)
		out.DuplicateOf = &d
	}
	out.ExifDeviceDistanceM = e.EXIFDeviceDistanceM
	if e.TownshipCode != "" {
		out.TownshipCode = &e.TownshipCode
	}
	if e.ReachCode != "" {
		out.ReachCode = &e.ReachCode
	}
	if r := e.Responsibility; r != nil {
		out.Responsibility = responsibilityOut(*r)
	}
	x := e.EXIF
	if x.Position != nil {
		out.Exif.Position = &Position{Lon: x.Position.Lon, Lat: x.Position.Lat}
	}
	out.Exif.AltitudeM, out.Exif.GpsTime, out.Exif.TakenAt, out.Exif.DirectionDeg = x.AltitudeM, x.GPSTime, x.TakenAt, x.DirectionDeg
	if x.TakenAt != nil {
		out.Exif.TakenAtZoned = &x.TakenAtZoned
	}
	if x.Orientation != 0 {
		out.Exif.Orientation = &x.Orientation
	}
	if x.Make != "" {
		out.Exif.Make = &x.Make
	}
	if x.Model != "" {
		out.Exif.Model = &x.Model
	}
	if d := e.Device; d != nil {
		out.DeviceLocation = &DeviceFix{
			Lon: d.Lon, Lat: d.Lat, Crs: CRS(d.CRS), Mock: d.Mock, AccuracyM: d.AccuracyM,
			Wgs84: Position{Lon: d.WGS84.Lon, Lat: d.WGS84.Lat},
		}
		if d.Provider != "" {
			out.DeviceLocation.Provider = &d.Provider
		}
	}
	return out
}

func responsibilityOut(r fieldwatch.Responsibility) *Responsibility {
	out := &Responsibility{Method: r.Method, Version: r.Version, Chiefs: chiefsOut(r.Chiefs)}
	for _, c := range r.Candidates {
		out.Candidates = append(out.Candidates, struct {
			Code      string  `json:"code"`
			DistanceM float64 `json:"distance_m"`
		}{c.Code, c.DistanceM})
	}
	if out.Candidates == nil {
		out.Candidates = []struct {
			Code      string  `json:"code"`
			DistanceM float64 `json:"distance_m"`
		}{}
	}
	if r.TownshipCode != "" {
		out.TownshipCode, out.TownshipName = &r.TownshipCode, &r.TownshipName
		z := ResponsibilityZone(r.Zone)
		out.Zone = &z
	}
	if r.ReachCode != "" {
		out.ReachCode, out.ReachName, out.ReachDistanceM = &r.ReachCode, &r.ReachName, &r.ReachDistM
	}
	return out
}
