package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/inspect"
	"github.com/fieldwatch/fieldwatch/media"
	"github.com/fieldwatch/fieldwatch/store"
)

// problemContentType is the media type of every error answer (RFC 9457).
const problemContentType = "application/problem+json"

// Problem type URIs. Clients switch on these, not on titles.
const (
	problemValidation  = "urn:fieldwatch:problem:validation"
	problemUnavailable = "urn:fieldwatch:problem:unavailable"
	problemInternal    = "urn:fieldwatch:problem:internal"
	problemRateLimited = "urn:fieldwatch:problem:rate-limited"
	problemIdempotency = "urn:fieldwatch:problem:idempotency-key-reused"
	problemDigest      = "urn:fieldwatch:problem:digest-mismatch"
	problemCaseState   = "urn:fieldwatch:problem:case-state"
)

// StatusClientClosedRequest is the status recorded (log line, metrics)
// for a request whose client went away before it was answered: nginx's
// 499. Nobody reads the answer, and it is not the server's failure, so it
// must not count as a 5xx.
const StatusClientClosedRequest = 499

// retryAfterSeconds is what clients are told to wait when a dependency is
// down. Phones retry uploads with the same Idempotency-Key, so a short wait
// is safe.
const retryAfterSeconds = 5

// errorRule maps a package's exported error to an HTTP answer.
type errorRule struct {
	target error
	status int
	typ    string
	// showCause: the error's message is fit for the client (it names the
	// broken rule, never internals).
	showCause bool
}

// errorTable is the one place where domain and adapter errors become HTTP
// statuses. The first rule whose target matches (errors.Is) wins.
func errorTable() []errorRule {
	return []errorRule{
		{target: auth.ErrUnauthenticated, status: http.StatusUnauthorized},
		{target: auth.ErrRateLimited, status: http.StatusTooManyRequests, typ: problemRateLimited},
		{target: auth.ErrInvalidPassword, status: http.StatusUnprocessableEntity, typ: problemValidation, showCause: true},
		{target: auth.ErrWeakPassword, status: http.StatusUnprocessableEntity, typ: problemValidation, showCause: true},
		{target: errBodyTimeout, status: http.StatusRequestTimeout, showCause: true},
		{target: errForbidden, status: http.StatusForbidden},
		{target: inspect.ErrForbidden, status: http.StatusForbidden, showCause: true},
		{target: store.ErrNotFound, status: http.StatusNotFound},
		{target: errNotFound, status: http.StatusNotFound},
		{target: inspect.ErrNotFound, status: http.StatusNotFound},
		{target: inspect.ErrInFlight, status: http.StatusConflict, showCause: true},
		{target: inspect.ErrKeyReused, status: http.StatusUnprocessableEntity, typ: problemIdempotency, showCause: true},
		{target: inspect.ErrDigestMismatch, status: http.StatusUnprocessableEntity, typ: problemDigest, showCause: true},
		{target: inspect.ErrEmptyPhoto, status: http.StatusUnprocessableEntity, typ: problemValidation, showCause: true},
		{target: inspect.ErrTooLarge, status: http.StatusRequestEntityTooLarge, showCause: true},
		{target: media.ErrUnsupportedFormat, status: http.StatusUnsupportedMediaType, showCause: true},
		{target: http.ErrNotMultipart, status: http.StatusUnsupportedMediaType, showCause: true},
		// multipart/form-data without a boundary: the body cannot be read.
		{target: http.ErrMissingBoundary, status: http.StatusBadRequest, typ: problemValidation, showCause: true},
		{target: media.ErrTooManyPixels, status: http.StatusUnprocessableEntity, typ: problemValidation, showCause: true},
		{target: media.ErrCorruptImage, status: http.StatusUnprocessableEntity, typ: problemValidation, showCause: true},
		{target: media.ErrInvalidRange, status: http.StatusRequestedRangeNotSatisfiable},
		{target: inspect.ErrUploadNotReceived, status: http.StatusConflict, showCause: true},
		{target: inspect.ErrUploadMismatch, status: http.StatusUnprocessableEntity, typ: problemDigest, showCause: true},
		{target: errUserUploadLimit, status: http.StatusTooManyRequests, typ: problemRateLimited},
		{target: errServerUploadLimit, status: http.StatusServiceUnavailable, typ: problemUnavailable},
		{target: media.ErrNotExist, status: http.StatusNotFound},
		{target: store.ErrConflict, status: http.StatusConflict, showCause: true},
		{target: inspect.ErrConflict, status: http.StatusConflict, showCause: true},
		{target: inspect.ErrInvalid, status: http.StatusUnprocessableEntity, typ: problemValidation, showCause: true},
		{target: store.ErrUnavailable, status: http.StatusServiceUnavailable, typ: problemUnavailable},
		// A full disk (spool, photo directory) is the server's trouble and
		// passes: the phone retries later with the same key.
		{target: syscall.ENOSPC, status: http.StatusServiceUnavailable, typ: problemUnavailable},
		{target: syscall.EDQUOT, status: http.StatusServiceUnavailable, typ: problemUnavailable},
		{target: media.ErrUnavailable, status: http.StatusServiceUnavailable, typ: problemUnavailable},
		{target: context.DeadlineExceeded, status: http.StatusServiceUnavailable, typ: problemUnavailable},
	}
}

// errForbidden is returned when the caller's role may not call an operation.
var errForbidden = errors.New("api: forbidden")

// problem is the body of an error answer.
type problem = Problem

// errorHandler renders every error as problem+json. It is Echo's
// HTTPErrorHandler, so errors from routing, binding, validation, middleware
// and handlers all pass through here.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p, retryAfter := s.toProblem(c, err)
	reqID := requestID(c)
	p.RequestId = &reqID
	// The request's log line (observe) reports the cause of a 5xx.
	c.Set(ctxKeyError, err)
	h := c.Response().Header()
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="fieldwatch"`)
	}
	if p.Status == http.StatusRequestTimeout {
		// The rest of the body may never come: do not wait for it to
		// reuse the connection.
		h.Set(echo.HeaderConnection, "close")
	}
	if p.Status == http.StatusMethodNotAllowed {
		if allow, ok := c.Get(echo.ContextKeyHeaderAllow).(string); ok {
			h.Set(echo.HeaderAllow, allow)
		}
	}
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	h.Set(echo.HeaderContentType, problemContentType)
	if c.Request().Method == http.MethodHead {
		c.Response().WriteHeader(p.Status)
		return
	}
	c.Response().WriteHeader(p.Status)
	// The status line is out; a failed write only means the client left.
	_ = jsonEncode(c.Response(), p)
}

// toProblem classifies err. Internal causes never reach the client.
func (s *Server) toProblem(c echo.Context, err error) (problem, int) {
	// The request's context is also cancelled by a body cut short (the
	// client may still read the 400) or a body read that hit its deadline
	// (ours to answer, 408): only a failure that is the cancellation
	// itself is the client's.
	if errors.Is(err, context.Canceled) && clientGone(c) {
		// The work stopped (a cancelled query, an aborted store request)
		// because the client left; the log line keeps the error.
		p := newProblem(StatusClientClosedRequest, "", "the client closed the request", nil)
		p.Title = "Client Closed Request"
		return p, 0
	}
	var ve *validationError
	if errors.As(err, &ve) {
		return newProblem(http.StatusBadRequest, problemValidation, ve.detail, ve.fields), 0
	}
	var ue *unprocessableError
	if errors.As(err, &ue) {
		return newProblem(http.StatusUnprocessableEntity, problemValidation, ue.detail, ue.fields), 0
	}
	var re *rangeError
	if errors.As(err, &re) {
		return newProblem(http.StatusRequestedRangeNotSatisfiable, "", fmt.Sprintf("the photo has %d bytes", re.size), nil), 0
	}
	var te *inspect.TransitionError
	if errors.As(err, &te) {
		p := newProblem(http.StatusConflict, problemCaseState, te.Error(), nil)
		allowed := make([]CaseAction, 0, len(te.Allowed))
		for _, a := range te.Allowed {
			allowed = append(allowed, CaseAction(a))
		}
		p.AllowedActions = &allowed
		return p, 0
	}
	var ee *inspect.EvidenceError
	if errors.As(err, &ee) {
		fields := make([]FieldError, 0, len(ee.Problems))
		for _, pr := range ee.Problems {
			fields = append(fields, FieldError{Field: fmt.Sprintf("/evidence_ids/%d", pr.Index), Reason: pr.Reason})
		}
		return newProblem(http.StatusUnprocessableEntity, problemValidation, ee.Error(), fields), 0
	}
	var rl *auth.LimitedError
	if errors.As(err, &rl) {
		return newProblem(http.StatusTooManyRequests, problemRateLimited, "too many attempts; retry later", nil),
			max(1, int((rl.RetryAfter+time.Second-1)/time.Second))
	}
	for _, r := range errorTable() {
		if !errors.Is(err, r.target) {
			continue
		}
		detail := http.StatusText(r.status)
		if r.showCause && !fromDatabase(err) {
			detail = clientMessage(err)
		} else if r.showCause && r.status == http.StatusConflict {
			detail = "the request conflicts with the current state; read it again and retry"
		}
		retry := 0
		switch r.status {
		case http.StatusServiceUnavailable:
			retry = retryAfterSeconds
			detail = "a storage dependency is unavailable; retry later with the same Idempotency-Key"
			if errors.Is(err, errServerUploadLimit) {
				detail = "too many uploads in progress; retry later with the same Idempotency-Key"
			}
		case http.StatusTooManyRequests:
			retry = retryAfterSeconds
			detail = "too many of your uploads are in progress; retry later"
		case http.StatusConflict:
			if errors.Is(err, inspect.ErrInFlight) {
				retry = retryAfterSeconds
			}
		}
		if r.status == http.StatusUnauthorized {
			detail = "missing, invalid or expired credentials"
		}
		return newProblem(r.status, r.typ, detail, nil), retry
	}
	// Echo's binder answers 415 when a body the validator accepted (so of
	// a media type the contract allows) does not bind to the generated
	// types and is not application/json, the one type it can fall back
	// to: a GeoJSON import holding 1e400. The body is malformed, not of
	// the wrong type.
	if errors.Is(err, echo.ErrUnsupportedMediaType) {
		return newProblem(http.StatusBadRequest, problemValidation,
			"request body: a value does not fit the type the contract gives it (a number out of range?)", nil), 0
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return s.httpErrorProblem(he), 0
	}
	return newProblem(http.StatusInternalServerError, problemInternal,
		"internal error; quote the request id when reporting it", nil), 0
}

// httpErrorProblem covers Echo's own errors: unknown routes, wrong methods,
// oversized bodies, malformed JSON and bad parameters.
func (s *Server) httpErrorProblem(he *echo.HTTPError) problem {
	status := he.Code
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		return newProblem(status, problemInternal, "internal error; quote the request id when reporting it", nil)
	}
	detail := http.StatusText(status)
	if msg, ok := he.Message.(string); ok && msg != "" && msg != detail {
		detail = msg
	}
	typ := ""
	if status == http.StatusBadRequest {
		typ = problemValidation
	}
	return newProblem(status, typ, detail, nil)
}

func newProblem(status int, typ, detail string, fields []FieldError) problem {
	if typ == "" {
		typ = "about:blank"
	}
	p := problem{Type: typ, Title: http.StatusText(status), Status: status}
	if detail != "" {
		p.Detail = &detail
	}
	if len(fields) > 0 {
		p.Fields = &fields
	}
	return p
}

// clientGone reports whether the request's client went away: net/http
// cancels the request's context when the connection closes (the server's
// base context is never cancelled, see cmd/fieldwatch).
func clientGone(c echo.Context) bool {
	ctx := c.Request().Context()
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled)
}

// fromDatabase reports whether err carries a database driver's own error
// as classified by package store, which wraps it as "%w: %w" with one of
// its sentinels first. That text names constraints, columns and SQL
// states: it is for logs, never for clients, whatever rule matched.
func fromDatabase(err error) bool {
	switch e := err.(type) {
	case nil:
		return false
	case interface{ Unwrap() []error }:
		errs := e.Unwrap()
		if len(errs) > 1 && (errs[0] == store.ErrConflict || errs[0] == store.ErrNotFound || errs[0] == store.ErrUnavailable) {
			return true
		}
		for _, inner := range errs {
			if fromDatabase(inner) {
				return true
			}
		}
		return false
	case interface{ Unwrap() error }:
		return fromDatabase(e.Unwrap())
	}
	return false
}

// clientMessage strips the package prefixes ("inspect: invalid: ") that
// wrapped errors carry, leaving the sentence meant for the client.
func clientMessage(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"inspect: invalid: ", "store: conflict: ", "auth: invalid password: ", "auth: weak password: ", "inspect: ", "media: ", "api: "} {
		if i := strings.LastIndex(msg, prefix); i >= 0 {
			return msg[i+len(prefix):]
		}
	}
	return msg
}

// unprocessableError is well-formed input that breaks a rule, with the
// offending fields (422).
type unprocessableError struct {
	detail string
	fields []FieldError
}

func (e *unprocessableError) Error() string { return "api: unprocessable: " + e.detail }

// validationError is a request that does not match openapi.yaml.
type validationError struct {
	detail string
	fields []FieldError
}

func (e *validationError) Error() string { return "api: invalid request: " + e.detail }

// fromOpenAPIError turns kin-openapi's nested errors into field errors that
// name the parameter or the JSON pointer of the offending body member.
func fromOpenAPIError(err error) *validationError {
	ve := &validationError{detail: "the request does not match the API contract"}
	collectFieldErrors(err, "", &ve.fields)
	if len(ve.fields) == 1 {
		ve.detail = ve.fields[0].Field + ": " + ve.fields[0].Reason
	}
	return ve
}

// collectFieldErrors walks the error tree. Body members are named by JSON
// Pointer (RFC 6901, "/townships/0"), parameters by their name.
func collectFieldErrors(err error, field string, out *[]FieldError) {
	switch e := err.(type) {
	case openapi3.MultiError:
		for _, e := range e {
			collectFieldErrors(e, field, out)
		}
	case *openapi3filter.RequestError:
		switch {
		case e.Parameter != nil:
			field = e.Parameter.Name
		case e.RequestBody != nil:
			field = ""
		}
		if e.Err != nil {
			collectFieldErrors(e.Err, field, out)
			return
		}
		*out = append(*out, FieldError{Field: orDefault(field, "body"), Reason: firstLine(e.Reason)})
	case *openapi3.SchemaError:
		if ptr := e.JSONPointer(); len(ptr) > 0 {
			field += "/" + strings.Join(ptr, "/")
		}
		reason := e.Reason
		if reason == "" {
			reason = firstLine(e.Error())
		}
		*out = append(*out, FieldError{Field: orDefault(field, "body"), Reason: reason})
	default:
		if inner := errors.Unwrap(err); inner != nil {
			collectFieldErrors(inner, field, out)
			return
		}
		*out = append(*out, FieldError{Field: orDefault(field, "body"), Reason: firstLine(err.Error())})
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
