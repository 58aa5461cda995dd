package api_test

import (
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/inspect"
)

// matrixFixture is the little world the matrix runs in: one user per role,
// scoped to township A, and objects in and out of their scope.
type matrixFixture struct {
	a         *testAPI
	tokens    map[string]string // role → access token ("" for anonymous)
	principal map[string]auth.Principal
	target    string // a user id to read and patch
	seq       int    // for unique names
}

// call is one request of the matrix.
type call struct {
	method, path string
	body         any
}

// matrixCase says how to call an operation. inScope reaches an object the
// caller may see; outOfScope (nil when the operation has no scoped object)
// one it may not. ok is the success status.
type matrixCase struct {
	ok         int
	inScope    func(f *matrixFixture) call
	outOfScope func(f *matrixFixture) call
}

const townshipA, townshipB = "130227101", "130227102"

// matrixCases must name every operation of openapi.yaml: the test fails
// for an operation added to the spec without one.
func matrixCases() map[string]matrixCase {
	return map[string]matrixCase{
		"getHealth":  {ok: 200, inScope: func(*matrixFixture) call { return call{"GET", "/healthz", nil} }},
		"getReady":   {ok: 200, inScope: func(*matrixFixture) call { return call{"GET", "/readyz", nil} }},
		"getVersion": {ok: 200, inScope: func(*matrixFixture) call { return call{"GET", "/v1/version", nil} }},
		"login": {ok: 200, inScope: func(*matrixFixture) call {
			return call{"POST", "/v1/auth/login", map[string]string{"username": "m.target", "password": pw}}
		}},
		"refresh": {ok: 200, inScope: func(f *matrixFixture) call {
			_, rt := f.a.login("m.target", pw)
			return call{"POST", "/v1/auth/refresh", map[string]string{"refresh_token": rt}}
		}},
		"logout": {ok: 204, inScope: func(f *matrixFixture) call {
			_, rt := f.a.login("m.target", pw)
			return call{"POST", "/v1/auth/logout", map[string]string{"refresh_token": rt}}
		}},
		"getMe": {ok: 200, inScope: func(*matrixFixture) call { return call{"GET", "/v1/me", nil} }},
		"listUsers": {ok: 200, inScope: func(*matrixFixture) call {
			return call{"GET", "/v1/users?limit=10", nil}
		}},
		"createUser": {ok: 201, inScope: func(f *matrixFixture) call {
			return call{"POST", "/v1/users", map[string]any{
				"username": f.unique("new"), "display_name": "新用户", "role": "inspector",
				"password": pw, "townships": []string{townshipA},
			}}
		}},
		"getUser": {ok: 200, inScope: func(f *matrixFixture) call { return call{"GET", "/v1/users/" + f.target, nil} }},
		"updateUser": {ok: 200, inScope: func(f *matrixFixture) call {
			return call{"PATCH", "/v1/users/" + f.target, map[string]any{"display_name": "改名"}}
		}},
	}
}

func (f *matrixFixture) unique(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s.%d", prefix, f.seq)
}

// TestAuthorizationMatrix drives every operation of openapi.yaml as every
// role (and anonymously), on objects in and out of scope, and checks the
// answer against the policy in auth.Operations: 401 without a token, 403
// for a role the rule excludes, 404 for an out-of-scope object, success
// otherwise.
func TestAuthorizationMatrix(t *testing.T) {
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData(fieldwatch.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, path := range spec.Paths.InMatchingOrder() {
		for _, op := range spec.Paths.Value(path).Operations() {
			ops = append(ops, op.OperationID)
		}
	}
	sort.Strings(ops)
	cases, policy := matrixCases(), auth.Operations()
	for _, op := range ops {
		if _, ok := cases[op]; !ok {
			t.Errorf("operation %s has no authorization matrix case: add one to matrixCases", op)
		}
		if _, ok := policy[op]; !ok {
			t.Errorf("operation %s has no access rule in auth.Operations", op)
		}
	}
	if t.Failed() {
		return
	}

	forEachBackend(t, func(t *testing.T, a *testAPI) {
		f := &matrixFixture{a: a, tokens: map[string]string{"anonymous": ""}, principal: map[string]auth.Principal{}}
		f.target = a.mustUser("m.target", "inspector", pw, townshipB)
		for _, role := range inspect.Roles {
			name := "m." + string(role)
			id := a.mustUser(name, string(role), pw, townshipA)
			f.tokens[string(role)], _ = a.login(name, pw)
			f.principal[string(role)] = auth.Principal{UserID: id, Role: role}
		}
		roles := append([]string{"anonymous"}, rolesOf()...)
		for _, op := range ops {
			mc, rule := cases[op], policy[op]
			for _, role := range roles {
				p := f.principal[role]
				want := mc.ok
				switch {
				case rule.Public:
				case role == "anonymous":
					want = http.StatusUnauthorized
				case !rule.Allows(p):
					want = http.StatusForbidden
				}
				t.Run(op+"/"+role+"/InScope", func(t *testing.T) {
					c := mc.inScope(f)
					r := a.do(c.method, c.path, f.tokens[role], c.body)
					if r.status != want {
						t.Fatalf("%s %s as %s: %d, want %d: %s", c.method, c.path, role, r.status, want, r.body)
					}
				})
				if mc.outOfScope == nil {
					continue
				}
				if want == mc.ok && !p.Is(inspect.RoleAdmin) {
					want = http.StatusNotFound
				}
				t.Run(op+"/"+role+"/OutOfScope", func(t *testing.T) {
					c := mc.outOfScope(f)
					r := a.do(c.method, c.path, f.tokens[role], c.body)
					if r.status != want {
						t.Fatalf("%s %s as %s: %d, want %d: %s", c.method, c.path, role, r.status, want, r.body)
					}
				})
			}
		}
	})
}

func rolesOf() []string {
	var out []string
	for _, r := range inspect.Roles {
		out = append(out, string(r))
	}
	return out
}
