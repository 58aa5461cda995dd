package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// Every error answer is problem+json with the right status, for errors
// from routing, validation, authentication and handlers alike.
func TestErrorsAreProblems(t *testing.T) {
	a := newTestAPI(t)
	a.mustUser("admin1", "admin", "correct horse battery")
	a.mustUser("insp1", "inspector", "correct horse battery", "130227100")
	admin, _ := a.login("admin1", "correct horse battery")
	insp, _ := a.login("insp1", "correct horse battery")

	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   any
		status int
		field  string // a field the problem must name, if any
	}{
		{name: "UnknownRoute", method: "GET", path: "/v1/nothing-here", status: 404},
		{name: "UnknownRouteWithToken", method: "GET", path: "/v1/nothing-here", token: admin, status: 404},
		{name: "WrongMethod", method: "DELETE", path: "/v1/me", token: admin, status: 405},
		{name: "HeadOnAdminRoute", method: "HEAD", path: "/v1/users", token: insp, status: 405},
		{name: "MalformedJSON", method: "POST", path: "/v1/auth/login", body: `{"username":"a",`, status: 400},
		{name: "NotAnObject", method: "POST", path: "/v1/auth/login", body: `[1,2]`, status: 400},
		{name: "MissingField", method: "POST", path: "/v1/auth/login", body: `{"username":"a"}`, status: 400, field: "/password"},
		{name: "UnknownField", method: "POST", path: "/v1/auth/login", body: `{"username":"a","password":"b","admin":true}`, status: 400},
		// Go's decoder matches keys case-insensitively; the schema must not.
		{name: "CaseVariantKey", method: "POST", path: "/v1/auth/login", body: `{"username":"a","PASSWORD":"b"}`, status: 400},
		{name: "MassAssignment", method: "POST", path: "/v1/users", token: admin,
			body: `{"username":"x1","display_name":"X","role":"inspector","password":"long enough pw","id":"00000000-0000-0000-0000-000000000001"}`, status: 400},
		{name: "EnumViolation", method: "POST", path: "/v1/users", token: admin,
			body: `{"username":"x2","display_name":"X","role":"superuser","password":"long enough pw"}`, status: 400, field: "/role"},
		{name: "BadQueryParam", method: "GET", path: "/v1/users?limit=0", token: admin, status: 400, field: "limit"},
		{name: "LimitTooLarge", method: "GET", path: "/v1/users?limit=100000", token: admin, status: 400, field: "limit"},
		{name: "TamperedCursor", method: "GET", path: "/v1/users?cursor=%25%25", token: admin, status: 400},
		{name: "BadUUID", method: "GET", path: "/v1/users/not-a-uuid", token: admin, status: 400},
		{name: "UnknownUser", method: "GET", path: "/v1/users/7f0c1e1e-4a43-4b8e-9b53-0a5d1c8a9e11", token: admin, status: 404},
		{name: "NoToken", method: "GET", path: "/v1/me", status: 401},
		{name: "GarbageToken", method: "GET", path: "/v1/me", token: "abc.def.ghi", status: 401},
		{name: "HugeToken", method: "GET", path: "/v1/me", token: strings.Repeat(".", 1<<16), status: 401},
		{name: "RefreshTokenAsAccess", method: "GET", path: "/v1/me", token: "fwr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", status: 401},
		{name: "NonAdminOnAdminRoute", method: "GET", path: "/v1/users", token: insp, status: 403},
		{name: "NonAdminTrailingSlash", method: "GET", path: "/v1/users/", token: insp, status: 403},
		{name: "NonAdminCreate", method: "POST", path: "/v1/users", token: insp,
			body: `{"username":"x3","display_name":"X","role":"admin","password":"long enough pw"}`, status: 403},
		{name: "AnonymousAdminRouteBadBody", method: "POST", path: "/v1/users", body: `{"nonsense":1}`, status: 401},
		{name: "BodyTooLarge", method: "POST", path: "/v1/auth/login", body: `{"username":"` + strings.Repeat("a", 2<<20) + `","password":"x"}`, status: 413},
		{name: "InvalidUTF8Name", method: "POST", path: "/v1/users", token: admin,
			body: "{\"username\":\"x4\",\"display_name\":\"\xff\xfe\",\"role\":\"inspector\",\"password\":\"long enough pw\"}", status: 400},
		{name: "DuplicateUsername", method: "POST", path: "/v1/users", token: admin,
			body: `{"username":"insp1","display_name":"X","role":"inspector","password":"long enough pw"}`, status: 409},
		{name: "WeakPassword", method: "POST", path: "/v1/users", token: admin,
			body: `{"username":"x5","display_name":"X","role":"inspector","password":"abcdefg\u0000h"}`, status: 422},
		{name: "BadTownshipCode", method: "POST", path: "/v1/users", token: admin,
			body: `{"username":"x6","display_name":"X","role":"inspector","password":"long enough pw","townships":["12"]}`, status: 400},
		{name: "EmptyPatch", method: "PATCH", path: "/v1/users/7f0c1e1e-4a43-4b8e-9b53-0a5d1c8a9e11", token: admin, body: `{}`, status: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do(tc.method, tc.path, tc.token, tc.body)
			if tc.method == http.MethodHead {
				if r.status != tc.status {
					t.Fatalf("status %d, want %d", r.status, tc.status)
				}
				return
			}
			p := requireProblem(t, r, tc.status)
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			if tc.field != "" {
				if p.Fields == nil {
					t.Fatalf("no fields in %s", r.body)
				}
				found := false
				for _, f := range *p.Fields {
					found = found || strings.Contains(f.Field, tc.field)
				}
				if !found {
					t.Fatalf("fields %+v do not name %q", *p.Fields, tc.field)
				}
			}
		})
	}
}
