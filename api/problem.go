package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"github.com/fieldwatch/fieldwatch"
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
// down or they are to slow down, unless the error says how long. Phones
// retry uploads with the same Idempotency-Key, so a short wait is safe.
const retryAfterSeconds = 5

// answer is how the API answers one error code.
type answer struct {
	status int
	typ    string // problem type; "" is about:blank
	// detail is shown when the error carries no message of its own, or
	// always when fixed.
	detail string
	fixed  bool
	// retry: the answer carries Retry-After.
	retry bool
}

// codeAnswers is the one place where error codes become HTTP answers.
// Every error reaching errorHandler is classified by errorCode, then
// answered from here; the message is the one set where the error was
// made (fieldwatch.ErrorMessage).
func codeAnswers() map[fieldwatch.Code]answer {
	return map[fieldwatch.Code]answer{
		fieldwatch.EMALFORMED:       {status: http.StatusBadRequest, typ: problemValidation},
		fieldwatch.EINVALID:         {status: http.StatusUnprocessableEntity, typ: problemValidation},
		fieldwatch.EUNAUTHENTICATED: {status: http.StatusUnauthorized, detail: "missing, invalid or expired credentials", fixed: true},
		fieldwatch.EFORBIDDEN:       {status: http.StatusForbidden},
		fieldwatch.ENOTFOUND:        {status: http.StatusNotFound, detail: http.StatusText(http.StatusNotFound), fixed: true},
		fieldwatch.ETIMEOUT:         {status: http.StatusRequestTimeout},
		fieldwatch.ECONFLICT:        {status: http.StatusConflict},
		fieldwatch.ECASESTATE:       {status: http.StatusConflict, typ: problemCaseState},
		fieldwatch.EINFLIGHT:        {status: http.StatusConflict, retry: true},
		fieldwatch.EKEYREUSED:       {status: http.StatusUnprocessableEntity, typ: problemIdempotency},
		fieldwatch.EDIGEST:          {status: http.StatusUnprocessableEntity, typ: problemDigest},
		fieldwatch.ETOOLARGE:        {status: http.StatusRequestEntityTooLarge},
		fieldwatch.EUNSUPPORTED:     {status: http.StatusUnsupportedMediaType},
		fieldwatch.ERANGE:           {status: http.StatusRequestedRangeNotSatisfiable},
		fieldwatch.ERATELIMITED:     {status: http.StatusTooManyRequests, typ: problemRateLimited, retry: true},
		fieldwatch.EUNAVAILABLE: {status: http.StatusServiceUnavailable, typ: problemUnavailable, retry: true,
			detail: fieldwatch.ErrUnavailable.Message},
		fieldwatch.EINTERNAL: {status: http.StatusInternalServerError, typ: problemInternal,
			detail: "internal error; quote the request id when reporting it", fixed: true},
	}
}

// errForbidden is returned when the caller's role may not call an operation.
var errForbidden = fieldwatch.NewSentinel(fieldwatch.EFORBIDDEN, "api: forbidden", http.StatusText(http.StatusForbidden))

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

// toProblem answers err from codeAnswers. Internal causes never reach the
// client.
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
	err = classify(err)
	code := fieldwatch.ErrorCode(err)
	if code == fieldwatch.EINTERNAL {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return s.httpErrorProblem(he), 0
		}
	}
	a, ok := codeAnswers()[code]
	if !ok {
		a = codeAnswers()[fieldwatch.EINTERNAL]
	}
	detail := fieldwatch.ErrorMessage(err)
	if a.fixed || detail == "" {
		detail = a.detail
	}
	if detail == "" {
		detail = http.StatusText(a.status)
	}
	if code == fieldwatch.EUNAVAILABLE && s.takesIdempotencyKey(c) {
		detail += " with the same Idempotency-Key"
	}
	var fields []FieldError
	for _, f := range fieldwatch.ErrorFields(err) {
		fields = append(fields, FieldError{Field: f.Field, Reason: f.Reason})
	}
	p := newProblem(a.status, a.typ, detail, fields)
	var te *fieldwatch.TransitionError
	if code == fieldwatch.ECASESTATE && errors.As(err, &te) {
		allowed := make([]CaseAction, 0, len(te.Allowed))
		for _, act := range te.Allowed {
			allowed = append(allowed, CaseAction(act))
		}
		p.AllowedActions = &allowed
	}
	retry := 0
	if a.retry {
		retry = retryAfterSeconds
		if d := fieldwatch.ErrorRetryAfter(err); d > 0 {
			retry = max(1, int((d+time.Second-1)/time.Second))
		}
	}
	return p, retry
}

// classify gives err a code when it carries none: errors of the standard
// library and Echo, which cannot know the domain's codes. Their text is
// the client's message where it describes the client's request.
func classify(err error) error {
	if fieldwatch.ErrorCode(err) != fieldwatch.EINTERNAL {
		return err
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return fieldwatch.Wrap(fieldwatch.ETOOLARGE, "", err)
	case errors.Is(err, http.ErrNotMultipart):
		return fieldwatch.Wrap(fieldwatch.EUNSUPPORTED, err.Error(), err)
	case errors.Is(err, http.ErrMissingBoundary):
		// multipart/form-data without a boundary: the body cannot be read.
		return fieldwatch.Wrap(fieldwatch.EMALFORMED, err.Error(), err)
	// A full disk (spool, photo directory) is the server's trouble and
	// passes: the phone retries later with the same key.
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT),
		errors.Is(err, context.DeadlineExceeded):
		return fieldwatch.Wrap(fieldwatch.EUNAVAILABLE, "", err)
	case errors.Is(err, echo.ErrUnsupportedMediaType):
		// Echo's binder answers 415 when a body the validator accepted
		// (so of a media type the contract allows) does not bind to the
		// generated types and is not application/json, the one type it
		// can fall back to: a GeoJSON import holding 1e400. The body is
		// malformed, not of the wrong type.
		return fieldwatch.Wrap(fieldwatch.EMALFORMED,
			"request body: a value does not fit the type the contract gives it (a number out of range?)", err)
	}
	return err
}

// takesIdempotencyKey reports whether the request's operation takes an
// Idempotency-Key, so that a retry with the same key is safe.
func (s *Server) takesIdempotencyKey(c echo.Context) bool {
	return s.idempotent[c.Request().Method+" "+c.Path()]
}

// idempotentOperations lists, as "METHOD /echo/:path", the operations of
// spec that take an Idempotency-Key header.
func idempotentOperations(spec *openapi3.T) map[string]bool {
	out := map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			params := append(openapi3.Parameters{}, item.Parameters...)
			params = append(params, op.Parameters...)
			for _, p := range params {
				if p.Value != nil && p.Value.In == openapi3.ParameterInHeader && p.Value.Name == "Idempotency-Key" {
					out[method+" "+echoPath(path)] = true
				}
			}
		}
	}
	return out
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

// malformed is a request that does not match openapi.yaml (400).
func malformed(detail string, fields ...fieldwatch.FieldError) error {
	return &fieldwatch.Error{Code: fieldwatch.EMALFORMED, Message: detail, Fields: fields}
}

// unprocessable is well-formed input that breaks a rule, with the
// offending fields (422).
func unprocessable(detail string, fields ...fieldwatch.FieldError) error {
	return &fieldwatch.Error{Code: fieldwatch.EINVALID, Message: detail, Fields: fields}
}

// fromOpenAPIError turns kin-openapi's nested errors into field errors that
// name the parameter or the JSON pointer of the offending body member.
func fromOpenAPIError(err error) *fieldwatch.Error {
	ve := &fieldwatch.Error{Code: fieldwatch.EMALFORMED, Message: "the request does not match the API contract", Err: err}
	collectFieldErrors(err, "", &ve.Fields)
	if len(ve.Fields) == 1 {
		ve.Message = ve.Fields[0].Field + ": " + ve.Fields[0].Reason
	}
	return ve
}

// collectFieldErrors walks the error tree. Body members are named by JSON
// Pointer (RFC 6901, "/townships/0"), parameters by their name.
func collectFieldErrors(err error, field string, out *[]fieldwatch.FieldError) {
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
		*out = append(*out, fieldwatch.FieldError{Field: orDefault(field, "body"), Reason: firstLine(e.Reason)})
	case *openapi3.SchemaError:
		if ptr := e.JSONPointer(); len(ptr) > 0 {
			field += "/" + strings.Join(ptr, "/")
		}
		reason := e.Reason
		if reason == "" {
			reason = firstLine(e.Error())
		}
		*out = append(*out, fieldwatch.FieldError{Field: orDefault(field, "body"), Reason: reason})
	default:
		if inner := errors.Unwrap(err); inner != nil {
			collectFieldErrors(inner, field, out)
			return
		}
		*out = append(*out, fieldwatch.FieldError{Field: orDefault(field, "body"), Reason: firstLine(err.Error())})
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
