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
	current   string // the role being exercised
	// own[role] is evidence that role's user uploaded; foreign was
	// uploaded by the target user, outside everyone's scope but admins'.
	own     map[string]string
	foreign string
}

// call is one request of the matrix; upload marks a multipart upload of
// body (a photo) with a fresh Idempotency-Key.
type call struct {
	method, path string
	body         any
	upload       bool
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
		"getHealth":  {ok: 200, inScope: func(*matrixFixture) call { return call{"GET", "/healthz", nil, false} }},
		"getReady":   {ok: 200, inScope: func(*matrixFixture) call { return call{"GET", "/readyz", nil, false} }},
		"getVersion": {ok: 200, inScope: func(*matrixFixture) call { return call{"GET", "/v1/version", nil, false} }},
		"login": {ok: 200, inScope: func(*matrixFixture) call {
			return call{"POST", "/v1/auth/login", map[string]string{"username": "m.target", "password": pw}, false}
		}},
		"refresh": {ok: 200, inScope: func(f *matrixFixture) call {
			_, rt := f.a.login("m.target", pw)
			return call{"POST", "/v1/auth/refresh", map[string]string{"refresh_token": rt}, false}
		}},
		"logout": {ok: 204, inScope: func(f *matrixFixture) call {
			_, rt := f.a.login("m.target", pw)
			return call{"POST", "/v1/auth/logout", map[string]string{"refresh_token": rt}, false}
		}},
		"getMe": {ok: 200, inScope: func(*matrixFixture) call { return call{"GET", "/v1/me", nil, false} }},
		"listUsers": {ok: 200, inScope: func(*matrixFixture) call {
			return call{"GET", "/v1/users?limit=10", nil, false}
		}},
		"createUser": {ok: 201, inScope: func(f *matrixFixture) call {
			return call{"POST", "/v1/users", map[string]any{
				"username": f.unique("new"), "display_name": "新用户", "role": "inspector",
				"password": pw, "townships": []string{townshipA},
			}, false}
		}},
		"getUser": {ok: 200, inScope: func(f *matrixFixture) call { return call{"GET", "/v1/users/" + f.target, nil, false} }},
		"updateUser": {ok: 200, inScope: func(f *matrixFixture) call {
			return call{"PATCH", "/v1/users/" + f.target, map[string]any{"display_name": "改名"}, false}
		}},
		"createEvidence": {ok: 201, inScope: func(f *matrixFixture) call {
			f.seq++
			return call{method: "POST", path: "/v1/evidence", upload: true, body: uniquePhoto(f.a.t, "dust-xingcheng.jpg", 1000+f.seq)}
		}},
		"listEvidence": {ok: 200, inScope: func(*matrixFixture) call { return call{"GET", "/v1/evidence", nil, false} }},
		"getEvidence": {ok: 200,
			inScope:    func(f *matrixFixture) call { return call{"GET", "/v1/evidence/" + f.mine(), nil, false} },
			outOfScope: func(f *matrixFixture) call { return call{"GET", "/v1/evidence/" + f.foreign, nil, false} }},
		"getEvidencePhoto": {ok: 200,
			inScope:    func(f *matrixFixture) call { return call{"GET", "/v1/evidence/" + f.mine() + "/photo", nil, false} },
			outOfScope: func(f *matrixFixture) call { return call{"GET", "/v1/evidence/" + f.foreign + "/photo", nil, false} }},
		"getEvidenceThumbnail": {ok: 200,
			inScope: func(f *matrixFixture) call { return call{"GET", "/v1/evidence/" + f.mine() + "/thumbnail", nil, false} },
			outOfScope: func(f *matrixFixture) call {
				return call{"GET", "/v1/evidence/" + f.foreign + "/thumbnail?size=1280", nil, false}
			}},
	}
}

// mine is evidence of the role being exercised (see do).
func (f *matrixFixture) mine() string { return f.own[f.current] }

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
		f := &matrixFixture{a: a, tokens: map[string]string{"anonymous": ""}, principal: map[string]auth.Principal{}, own: map[string]string{}}
		f.target = a.mustUser("m.target", "inspector", pw, townshipB)
		targetToken, _ := a.login("m.target", pw)
		f.foreign = a.mustUpload(targetToken, uniquePhoto(t, "dust-xingcheng.jpg", 0), map[string]any{"category": "dust_site"}).Id.String()
		a.makeThumbnails(f.foreign)
		f.own["anonymous"] = f.foreign
		for i, role := range inspect.Roles {
			name := "m." + string(role)
			id := a.mustUser(name, string(role), pw, townshipA)
			f.tokens[string(role)], _ = a.login(name, pw)
			f.principal[string(role)] = auth.Principal{UserID: id, Role: role}
			f.own[string(role)] = a.mustUpload(f.tokens[string(role)], uniquePhoto(t, "river-lh03.jpg", i+1), map[string]any{"category": "river_section"}).Id.String()
			a.makeThumbnails(f.own[string(role)])
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
					f.current = role
					c := mc.inScope(f)
					r := f.send(c, f.tokens[role])
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
					f.current = role
					c := mc.outOfScope(f)
					r := f.send(c, f.tokens[role])
					if r.status != want {
						t.Fatalf("%s %s as %s: %d, want %d: %s", c.method, c.path, role, r.status, want, r.body)
					}
				})
			}
		}
	})
}

func (f *matrixFixture) send(c call, token string) response {
	if c.upload {
		return f.a.upload(token, "", c.body.([]byte), map[string]any{"category": "other"})
	}
	return f.a.do(c.method, c.path, token, c.body)
}

func rolesOf() []string {
	var out []string
	for _, r := range inspect.Roles {
		out = append(out, string(r))
	}
	return out
}
