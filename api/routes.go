package api

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/console"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// infraRoutes are served outside openapi.yaml: the contract itself, its
// rendering, metrics for the scraper, and the review console (static
// files that call the API like any client). Everything else must be an
// operation of the spec (routes_test.go checks).
var infraRoutes = []string{
	"GET /openapi.yaml",
	"GET /docs",
	"GET /docs/:asset",
	"GET /metrics",
	"GET /console",
	"GET /console/*",
}

// routes is the map of the API.
func (s *Server) routes() (*echo.Echo, error) {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = ipExtractor(s.cfg.TrustedProxies)
	// Unknown routes and wrong methods pass through the error handler as
	// echo.ErrNotFound / ErrMethodNotAllowed and come out as problem+json.

	// "/v1/users/" is "/v1/users": a trailing slash must reach the same
	// access rule, not a different route (docs/reliability.md#a8).
	// "/console/" keeps its slash: it is the console page's canonical
	// URL, which "/console" redirects to (the page's relative URLs need it).
	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{
		Skipper: func(c echo.Context) bool { return c.Request().URL.Path == console.Prefix },
	}))
	e.Use(
		s.bodyDeadline, // first: nothing may wait on a stalled body without a deadline
		s.recoverPanics,
		s.assignRequestID,
		s.observe, // logs and metrics: sees the final status of everything below
		securityHeaders,
		withRequestInfo,
	)

	e.GET("/openapi.yaml", s.serveSpec)
	e.GET("/docs", s.serveDocsIndex)
	e.GET("/docs/:asset", s.serveDocsAsset)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{})))
	ui, err := console.Handler(s.cfg.Console)
	if err != nil {
		return nil, err
	}
	e.GET("/console", echo.WrapHandler(ui))
	e.GET("/console/*", echo.WrapHandler(ui))

	perOp, err := s.operationMiddlewares()
	if err != nil {
		return nil, err
	}
	RegisterHandlersWithOptions(e, NewStrictHandler(s, nil), RegisterHandlersOptions{
		OperationMiddlewares: perOp,
	})
	s.knownPaths = map[string]bool{}
	for _, rt := range e.Routes() {
		s.knownPaths[rt.Path] = true
	}
	return e, nil
}

// operationMiddlewares attaches, to every operation of the spec, its access
// rule from auth.Operations (authentication and role check, before anything
// is parsed) and then
// request validation against the spec. An operation without a rule is a
// start-up error: no route may go unguarded by omission.
func (s *Server) operationMiddlewares() (map[string][]echo.MiddlewareFunc, error) {
	return s.operationMiddlewaresFor(auth.Operations())
}

func (s *Server) operationMiddlewaresFor(rules map[string]auth.Access) (map[string][]echo.MiddlewareFunc, error) {
	validate, err := s.validator()
	if err != nil {
		return nil, err
	}
	out := map[string][]echo.MiddlewareFunc{}
	var missing []string
	for _, op := range specOperations(s.spec) {
		rule, ok := rules[op.ID]
		if !ok {
			missing = append(missing, op.ID)
			continue
		}
		if rule.Public != op.Public {
			return nil, fmt.Errorf("api: operation %s: access rule public=%v but spec security says public=%v", op.ID, rule.Public, op.Public)
		}
		var mws []echo.MiddlewareFunc
		if name, verb, ok := customMethod(op.Path); ok {
			mws = append(mws, customMethodParam(name, verb))
		}
		if streamingOperations[op.ID] {
			mws = append(mws, s.guard(rule), checkQuery)
			if op.FormData {
				mws = append(mws, formDataOnly)
			}
			mws = append(mws, s.streamBody(s.maxUpload))
		} else {
			limit := s.cfg.MaxJSONBody
			if largeBodyOperations[op.ID] {
				limit = largeBodyLimit
			}
			mws = append(mws, s.guard(rule), checkQuery, s.limitBody(limit, largeBodyOperations[op.ID]), validate(op))
		}
		out[op.ID] = mws
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("api: operations without an access rule: %s", strings.Join(missing, ", "))
	}
	for id := range rules {
		if _, ok := out[id]; !ok {
			return nil, fmt.Errorf("api: access rule for unknown operation %s", id)
		}
	}
	return out, nil
}

// streamingOperations take bodies too large to buffer. kin-openapi's
// validator reads the whole body into memory (even to check security
// requirements), so these skip it: their parameters are checked by the
// generated binding (types, required), their bodies by the handler as they
// stream (the meta part against its schema in openapi.yaml).
var streamingOperations = map[string]bool{"createEvidence": true, "putUploadContent": true}

// largeBodyOperations take JSON bodies larger than the others, up to
// largeBodyLimit, which may arrive slowly (an idle cut instead of the body
// timeout): GeoJSON boundary imports and the GPS tracks of patrols.
var largeBodyOperations = map[string]bool{"importTownships": true, "importReaches": true, "createPatrol": true}

// largeBodyLimit bounds the body of a largeBodyOperation: a county's
// detailed boundaries run to a few megabytes of GeoJSON, a day's track to
// less.
const largeBodyLimit = 64 << 20

// operation is one method+path of the spec.
type operation struct {
	ID       string
	Method   string
	Path     string // OpenAPI template, /v1/users/{id}
	EchoPath string // Echo template, /v1/users/:id
	Public   bool   // security: [] in the spec
	FormData bool   // the only request body is multipart/form-data
}

// specOperations lists the spec's operations in a stable order.
func specOperations(spec *openapi3.T) []operation {
	var ops []operation
	for _, path := range spec.Paths.InMatchingOrder() {
		item := spec.Paths.Value(path)
		for method, op := range item.Operations() {
			sec := spec.Security
			if op.Security != nil {
				sec = *op.Security
			}
			ops = append(ops, operation{
				ID:       op.OperationID,
				Method:   strings.ToUpper(method),
				Path:     path,
				EchoPath: echoPath(path),
				Public:   len(sec) == 0,
				FormData: onlyFormData(op),
			})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Method < ops[j].Method
	})
	return ops
}

// onlyFormData reports an operation whose one request body type is
// multipart/form-data.
func onlyFormData(op *openapi3.Operation) bool {
	if op.RequestBody == nil || op.RequestBody.Value == nil {
		return false
	}
	c := op.RequestBody.Value.Content
	return len(c) == 1 && c.Get("multipart/form-data") != nil
}

// customMethod finds a last segment like {month}:freeze (a custom
// method on a resource, in the style of Google's AIP-136).
func customMethod(template string) (name, verb string, ok bool) {
	seg := path.Base(template)
	param, verb, found := strings.Cut(seg, "}:")
	if !found || !strings.HasPrefix(param, "{") {
		return "", "", false
	}
	return param[1:], verb, true
}

// customMethodParam sets the path parameter of a custom method route from
// the request path: Echo matches /v1/assessments/:month\:freeze but
// leaves month empty.
func customMethodParam(name, verb string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if v, ok := strings.CutSuffix(path.Base(c.Request().URL.Path), ":"+verb); ok {
				names, values := c.ParamNames(), c.ParamValues()
				if i := slices.Index(names, name); i >= 0 && i < len(values) {
					values[i] = v
				} else {
					names, values = append(names, name), append(values, v)
				}
				c.SetParamNames(names...)
				c.SetParamValues(values...)
			}
			return next(c)
		}
	}
}

// echoPath turns /a/{b}/c into /a/:b/c, and escapes a colon inside a
// segment (/v1/townships:import) as Echo and the generated routes do.
func echoPath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if name, verb, ok := customMethod("/" + seg); ok {
			segs[i] = ":" + name + `\:` + verb
		} else if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			segs[i] = ":" + seg[1:len(seg)-1]
		} else {
			segs[i] = strings.ReplaceAll(seg, ":", `\:`)
		}
	}
	return strings.Join(segs, "/")
}
