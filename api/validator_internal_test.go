package api

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"
)

// The validator checks a request against the route Echo matched instead
// of searching the spec again. That is only right if, for every
// operation, Echo and the spec's router agree on the operation and on the
// path parameters: this drives one concrete path per operation through an
// Echo with the API's route templates and compares the two answers.
func TestMatchedRouteAgreesWithSpecRouter(t *testing.T) {
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	search, err := gorillamux.NewRouter(spec)
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	sample := map[string]string{"month": "2026-10"}
	ops := specOperations(spec)
	if len(ops) < 40 {
		t.Fatalf("only %d operations", len(ops))
	}
	for _, op := range ops {
		t.Run(op.ID, func(t *testing.T) {
			var got struct {
				route  *routers.Route
				params map[string]string
			}
			v := validatorRoute(spec, op)
			e := echo.New()
			// Every template, as the API registers them, so Echo's choice
			// among similar paths is the real one.
			for _, other := range ops {
				var mws []echo.MiddlewareFunc
				if name, verb, ok := customMethod(other.Path); ok {
					mws = append(mws, customMethodParam(name, verb))
				}
				other := other
				e.Add(other.Method, other.EchoPath, func(c echo.Context) error {
					if other.ID != op.ID {
						t.Errorf("Echo routed %s %s to %s", op.Method, op.Path, other.ID)
						return nil
					}
					// The spec's router is only the fallback for odd
					// requests; here it must not be needed.
					unused := routerFunc(func(*http.Request) (*routers.Route, map[string]string, error) {
						t.Errorf("%s fell back to the spec's router", op.ID)
						return search.FindRoute(c.Request())
					})
					route, params, err := matchedRoute{c: c, route: v.route, names: v.names, search: unused}.FindRoute(c.Request())
					if err != nil {
						t.Errorf("matched route: %v", err)
					}
					got.route, got.params = route, params
					return nil
				}, mws...)
			}
			path := param.ReplaceAllStringFunc(op.Path, func(m string) string {
				if v, ok := sample[m[1:len(m)-1]]; ok {
					return v
				}
				return "x" + m[1:len(m)-1]
			})
			req := httptest.NewRequest(op.Method, path, nil)
			e.ServeHTTP(httptest.NewRecorder(), req)
			want, wantParams, err := search.FindRoute(httptest.NewRequest(op.Method, path, nil))
			if err != nil {
				t.Fatalf("spec router: %v", err)
			}
			if got.route == nil {
				t.Fatalf("Echo did not reach %s", op.ID)
			}
			if got.route.Operation != want.Operation || got.route.PathItem != want.PathItem || got.route.Path != want.Path {
				t.Errorf("route %s %s, spec router %s %s", got.route.Method, got.route.Path, want.Method, want.Path)
			}
			if !maps.Equal(got.params, wantParams) {
				t.Errorf("params %v, spec router %v", got.params, wantParams)
			}
		})
	}
}

type routerFunc func(*http.Request) (*routers.Route, map[string]string, error)

func (f routerFunc) FindRoute(r *http.Request) (*routers.Route, map[string]string, error) {
	return f(r)
}
