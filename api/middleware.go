package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	oapimiddleware "github.com/oapi-codegen/echo-middleware"

	"github.com/fieldwatch/fieldwatch"
)

// Keys of values kept on the Echo context for the request's log line.
const (
	ctxKeyRequestID = "fieldwatch.request_id"
	ctxKeyUserID    = "fieldwatch.user_id"
	ctxKeyError     = "fieldwatch.error"
)

const headerRequestID = "X-Request-Id"

// clientRequestID is what we accept as a caller-chosen request id: short and
// harmless in logs. Anything else is replaced by a fresh id.
var clientRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{8,64}$`)

func requestID(c echo.Context) string {
	id, _ := c.Get(ctxKeyRequestID).(string)
	return id
}

// assignRequestID gives every request an id, echoed in X-Request-Id and in
// every problem body, so a user's report can be found in the logs.
func (s *Server) assignRequestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(headerRequestID)
		if !clientRequestID.MatchString(id) {
			id = uuid.NewString()
		}
		c.Set(ctxKeyRequestID, id)
		c.Response().Header().Set(headerRequestID, id)
		return next(c)
	}
}

// recoverPanics turns a panic into a 500 carrying the request id; the stack
// goes to the log only.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = fmt.Errorf("api: panic: %v\n%s", r, debug.Stack())
			}
		}()
		return next(c)
	}
}

// observe writes one log line and the metrics for every request. It renders
// errors itself (through the error handler) so that what it records is the
// status the client actually got.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		s.metrics.inFlight.Inc()
		defer s.metrics.inFlight.Dec()

		if err := next(c); err != nil {
			c.Error(err)
		}

		req, res := c.Request(), c.Response()
		route := s.routeOf(c)
		elapsed := time.Since(start)
		s.metrics.observe(req.Method, route, res.Status, elapsed)

		attrs := []slog.Attr{
			slog.String("request_id", requestID(c)),
			slog.String("method", req.Method),
			slog.String("route", route),
			// Path only: query strings may carry signatures or tokens.
			slog.String("path", req.URL.Path),
			slog.Int("status", res.Status),
			slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
			slog.Int64("bytes_in", req.ContentLength),
			slog.Int64("bytes_out", res.Size),
			slog.String("remote_ip", c.RealIP()),
		}
		if uid, ok := c.Get(ctxKeyUserID).(string); ok {
			attrs = append(attrs, slog.String("user_id", uid))
		}
		level := slog.LevelInfo
		if res.Status >= 500 || res.Status == StatusClientClosedRequest {
			if res.Status >= 500 {
				level = slog.LevelError
			}
			// A client that left is routine on phone networks: info, with
			// what it interrupted.
			if err, ok := c.Get(ctxKeyError).(error); ok {
				attrs = append(attrs, slog.String("error", err.Error()))
			}
		}
		s.log.LogAttrs(req.Context(), level, "request", attrs...)
		return nil
	}
}

// routeOf is the registered route template of the request (never the raw
// path, which would give metrics unbounded cardinality), or "unmatched".
func (s *Server) routeOf(c echo.Context) string {
	if p := c.Path(); s.knownPaths[p] {
		return p
	}
	return "unmatched"
}

// errBodyTimeout: a request body did not arrive within the body timeout.
var errBodyTimeout = fieldwatch.NewSentinel(fieldwatch.ETIMEOUT, "api: the request body did not arrive in time",
	"the request body did not arrive in time")

// bodyDeadline gives every request that has a body a read deadline of
// BodyTimeout, before anything else runs: a client that sends headers
// announcing a body and then stalls is cut, whether the body is read by
// the handler (limitBody answers 408) or left unread (the server's
// discard of the rest stops at the deadline and closes the connection,
// on 401s and 404s too). Uploads move the deadline on with every read
// (streamBody's idle cut). Requests without a body get none: the server's
// background read of a finished request must not cancel a slow answer.
// Deadlines are on the wall clock, not the injected one: they bound real
// network time.
func (s *Server) bodyDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.ContentLength != 0 && req.Body != nil && req.Body != http.NoBody {
			// Not every ResponseWriter supports deadlines (httptest
			// recorders); then the server's own timeouts apply.
			_ = http.NewResponseController(c.Response().Writer).SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
		}
		return next(c)
	}
}

// securityHeaders are safe for every answer: nothing we serve should be
// sniffed into another type or framed.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		return next(c)
	}
}

// limitBody bounds request bodies so a client cannot make the validator or
// the JSON decoder buffer an unbounded document, and refuses invalid UTF-8.
// These bodies are JSON documents (boundary imports are the large ones);
// photo uploads stream through streamBody instead.
//
// The body must arrive within the deadline bodyDeadline set, or, when
// idle is set (boundary imports and tracks, up to 64 MiB from an office
// link), with no gap longer than UploadIdle between bytes, like uploads.
// Once it is read the deadline is lifted: the answer may take longer.
func (s *Server) limitBody(limit int64, idle bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.ContentLength > limit {
				return echo.NewHTTPError(http.StatusRequestEntityTooLarge,
					fmt.Sprintf("request body larger than %d bytes", limit))
			}
			if req.Body == nil || req.Body == http.NoBody {
				return next(c)
			}
			rc := http.NewResponseController(c.Response().Writer)
			bounded := http.MaxBytesReader(c.Response(), req.Body, limit)
			var src io.Reader = bounded
			if idle {
				src = &idleReader{body: bounded, rc: rc, idle: s.cfg.UploadIdle}
			}
			body, err := io.ReadAll(src)
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return echo.NewHTTPError(http.StatusRequestEntityTooLarge,
					fmt.Sprintf("request body larger than %d bytes", limit))
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				limit := s.cfg.BodyTimeout
				if idle {
					limit = s.cfg.UploadIdle
				}
				return fieldwatch.Wrap(fieldwatch.ETIMEOUT, fmt.Sprintf("no request body within %s", limit), errBodyTimeout)
			}
			if err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, "reading request body: "+err.Error())
			}
			_ = rc.SetReadDeadline(time.Time{})
			// encoding/json would turn invalid UTF-8 into U+FFFD silently and
			// store mangled names; refuse it instead (docs/reliability.md#e4).
			if !utf8.Valid(body) {
				return echo.NewHTTPError(http.StatusBadRequest, "request body is not valid UTF-8")
			}
			// The validator and the binder each read the first JSON value
			// and ignore what follows it; a body with trailing data, or
			// two documents, is malformed.
			if len(body) > 0 && isJSON(req.Header.Get(echo.HeaderContentType)) && !json.Valid(body) {
				return echo.NewHTTPError(http.StatusBadRequest, "request body is not one well-formed JSON document")
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			return next(c)
		}
	}
}

// isJSON reports a JSON media type: application/json or any +json.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == echo.MIMEApplicationJSON || strings.HasSuffix(mt, "+json"))
}

// checkQuery refuses query strings that would otherwise be read in part:
// net/url drops a pair with a ";" or a bad %-escape, so a filter would
// silently vanish and a wider page be answered. No parameter of the
// contract takes invalid UTF-8 or NUL either (docs/reliability.md#e4).
func checkQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		raw := c.Request().URL.RawQuery
		if raw == "" {
			return next(c)
		}
		q, err := url.ParseQuery(raw)
		if err != nil {
			return malformed("malformed query string: separate parameters with & and %-escape ; and %")
		}
		for k, vs := range q {
			for _, v := range append([]string{k}, vs...) {
				if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
					name := strings.ToValidUTF8(k, "\ufffd")
					return malformed(fmt.Sprintf("query parameter %q: invalid UTF-8 or NUL", name), fieldwatch.FieldError{Field: name, Reason: "invalid UTF-8 or NUL"})
				}
			}
		}
		return next(c)
	}
}

// ipExtractor decides which address is the client's. X-Forwarded-For is
// only believed from configured proxies: otherwise a client could rotate it
// to escape per-address login limits.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{
			IP:   net.IP(p.Addr().AsSlice()),
			Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
		}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// validator checks each request against openapi.yaml: parameters, body
// schema (unknown members are rejected where the spec says
// additionalProperties: false) and formats. The validated body value is
// kept, and the generated handlers bind exactly that value, so a member
// spelt "ROLE" can never slip past the schema and bind as "role".
//
// The returned function gives the middleware of one operation. It checks
// the request against the route Echo matched, not one kin-openapi's own
// router would search for again on every request (most of the
// validator's cost): Echo only runs this middleware on that operation's
// route, and its path parameters are the route's.
func (s *Server) validator() (func(op operation) echo.MiddlewareFunc, error) {
	uuidFormat := openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562)
	// The spec's router is the fallback for a request Echo matched to a
	// route without giving every path parameter of the operation a value
	// (an empty segment, or a custom method whose verb is not the
	// route's: Echo routes ".../2026-10:thaw" to ":month\:freeze"): the
	// validator answers those as it always did (404, 405).
	search, err := gorillamux.NewRouter(s.spec)
	if err != nil {
		return nil, fmt.Errorf("api: request validator: %w", err)
	}
	opts := &oapimiddleware.Options{
		DoNotValidateServers: true,
		Options: openapi3filter.Options{
			MultiError:         true,
			KeepValidatedValue: true,
			// Authentication ran already (guard); the validator only checks shape.
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.WithStringFormatValidator("uuid", uuidFormat),
			},
		},
		MultiErrorHandler: func(me openapi3.MultiError) *echo.HTTPError {
			return &echo.HTTPError{Code: http.StatusBadRequest, Message: "invalid request", Internal: me}
		},
	}
	onError := func(he *echo.HTTPError) error {
		var tooBig *http.MaxBytesError
		if errors.As(he.Internal, &tooBig) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body larger than %d bytes", tooBig.Limit))
		}
		if he.Code == http.StatusBadRequest && he.Internal != nil {
			return fromOpenAPIError(he.Internal)
		}
		return he
	}
	return func(op operation) echo.MiddlewareFunc {
		r := validatorRoute(s.spec, op)
		return func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				if he := oapimiddleware.ValidateRequestFromContext(c, matchedRoute{c: c, route: r.route, names: r.names, search: search}, opts); he != nil {
					return onError(he)
				}
				return next(c)
			}
		}
	}, nil
}

// opRoute is an operation's route as kin-openapi's router would return
// it, and the names of its path parameters.
type opRoute struct {
	route *routers.Route
	names []string
}

func validatorRoute(spec *openapi3.T, op operation) opRoute {
	item := spec.Paths.Value(op.Path)
	r := opRoute{route: &routers.Route{Spec: spec, Path: op.Path, PathItem: item, Method: op.Method, Operation: item.GetOperation(op.Method)}}
	for _, seg := range strings.Split(op.Path, "/") {
		if i, j := strings.IndexByte(seg, '{'), strings.IndexByte(seg, '}'); i >= 0 && j > i {
			r.names = append(r.names, seg[i+1:j])
		}
	}
	return r
}

// matchedRoute is the routers.Router of one request: the operation Echo
// matched, with Echo's path parameters in escaped form, as a router
// returns them (the validator unescapes them). Echo matched the raw path
// when the request had one, so its values are escaped already; otherwise
// it matched the decoded path, and they are escaped here: either way the
// schema sees the segment of the decoded path, as with the spec's router.
type matchedRoute struct {
	c      echo.Context
	route  *routers.Route
	names  []string // the path parameters of the route's template
	search routers.Router
}

func (m matchedRoute) FindRoute(req *http.Request) (*routers.Route, map[string]string, error) {
	params := make(map[string]string, len(m.names))
	for _, name := range m.names {
		v := m.c.Param(name)
		if v == "" {
			return m.search.FindRoute(req)
		}
		if req.URL.RawPath == "" {
			v = url.PathEscape(v)
		}
		params[name] = v
	}
	return m.route, params, nil
}
