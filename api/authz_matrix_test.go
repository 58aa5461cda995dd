package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/api"
	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
	"github.com/fieldwatch/fieldwatch/demo"
)

// matrixFixture is the little world the matrix runs in: one user per role,
// scoped to township A, and objects in and out of their scope.
type matrixFixture struct {
	a       *testAPI
	tokens  map[string]string // role → access token ("" for anonymous)
	actors  map[string]fieldwatch.Actor
	target  string // a user id to read and patch
	seq     int    // for unique names
	current string // the role being exercised
	// own[role] is evidence that role's user uploaded; foreign was
	// uploaded by the target user, outside everyone's scope but admins'.
	own         map[string]string
	foreign     string
	targetToken string
}

// session starts a direct upload as token's user (the target's for
// anonymous callers) and, if filled, PUTs its bytes.
func (f *matrixFixture) session(token string, filled bool) (string, []byte) {
	if token == "" {
		token = f.targetToken
	}
	f.seq++
	photo := uniquePhoto(f.a.t, "river-lh03.jpg", 5000+f.seq)
	sum := sha256.Sum256(photo)
	r := f.a.do("POST", "/v1/uploads", token, map[string]any{"size": len(photo), "sha256": hex.EncodeToString(sum[:])})
	if r.status != 201 {
		f.a.t.Fatalf("create upload: %d %s", r.status, r.body)
	}
	var u api.Upload
	r.json(f.a.t, &u)
	if filled {
		if r := f.a.put(token, u.Url, photo); r.status != 204 {
			f.a.t.Fatalf("put content: %d %s", r.status, r.body)
		}
	}
	return u.Id.String(), photo
}

// call is one request of the matrix; upload marks a multipart upload of
// body (a photo) with a fresh Idempotency-Key.
type call struct {
	method, path string
	body         any
	upload       bool
	raw          []byte // sent as application/octet-stream when set
	key          bool   // send a fresh Idempotency-Key
	geojson      bool   // body is GeoJSON
}

// matrixCase says how to call an operation. inScope reaches an object the
// caller may see; outOfScope (nil when the operation has no scoped object)
// one it may not. ok is the success status.
type matrixCase struct {
	ok         int
	inScope    func(f *matrixFixture) call
	outOfScope func(f *matrixFixture) call
	// ownerOnly: the object is private to its owner, so out of scope
	// means 404 for administrators too.
	ownerOnly bool
	// domain is the answer, by role, where the access rule lets a role
	// through but the domain refuses the in-scope call: inspectors see a
	// case made from their evidence but may not start its work (403);
	// patrols are seen by the reach's chiefs and township's officers, not
	// by inspectors (404).
	domain map[string]int
}

const townshipA, townshipB = "130227101", "130227102"

// matrixCases must name every operation of openapi.yaml: the test fails
// for an operation added to the spec without one.
func matrixCases() map[string]matrixCase {
	return map[string]matrixCase{
		"getHealth":  {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/healthz", body: nil} }},
		"getReady":   {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/readyz", body: nil} }},
		"getVersion": {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/version", body: nil} }},
		"login": {ok: 200, inScope: func(*matrixFixture) call {
			return call{method: "POST", path: "/v1/auth/login", body: map[string]string{"username": "m.target", "password": pw}}
		}},
		"refresh": {ok: 200, inScope: func(f *matrixFixture) call {
			_, rt := f.a.login("m.target", pw)
			return call{method: "POST", path: "/v1/auth/refresh", body: map[string]string{"refresh_token": rt}}
		}},
		"logout": {ok: 204, inScope: func(f *matrixFixture) call {
			_, rt := f.a.login("m.target", pw)
			return call{method: "POST", path: "/v1/auth/logout", body: map[string]string{"refresh_token": rt}}
		}},
		"getMe": {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/me", body: nil} }},
		"listUsers": {ok: 200, inScope: func(*matrixFixture) call {
			return call{method: "GET", path: "/v1/users?limit=10", body: nil}
		}},
		"createUser": {ok: 201, inScope: func(f *matrixFixture) call {
			return call{method: "POST", path: "/v1/users", body: map[string]any{
				"username": f.unique("new"), "display_name": "新用户", "role": "inspector",
				"password": pw, "townships": []string{townshipA},
			}}
		}},
		"getUser": {ok: 200, inScope: func(f *matrixFixture) call { return call{method: "GET", path: "/v1/users/" + f.target, body: nil} }},
		"updateUser": {ok: 200, inScope: func(f *matrixFixture) call {
			return call{method: "PATCH", path: "/v1/users/" + f.target, body: map[string]any{"display_name": "改名"}}
		}},
		"createEvidence": {ok: 201, inScope: func(f *matrixFixture) call {
			f.seq++
			return call{method: "POST", path: "/v1/evidence", upload: true, body: uniquePhoto(f.a.t, "dust-xingcheng.jpg", 1000+f.seq)}
		}},
		"createUpload": {ok: 201, inScope: func(f *matrixFixture) call {
			return call{method: "POST", path: "/v1/uploads", body: map[string]any{"size": 10, "sha256": strings.Repeat("a", 64)}}
		}},
		"putUploadContent": {ok: 204, ownerOnly: true,
			inScope: func(f *matrixFixture) call {
				id, photo := f.session(f.tokens[f.current], false)
				return call{method: "PUT", path: "/v1/uploads/" + id + "/content", raw: photo}
			},
			outOfScope: func(f *matrixFixture) call {
				id, photo := f.session(f.targetToken, false)
				return call{method: "PUT", path: "/v1/uploads/" + id + "/content", raw: photo}
			}},
		"completeUpload": {ok: 201, ownerOnly: true,
			inScope: func(f *matrixFixture) call {
				id, _ := f.session(f.tokens[f.current], true)
				return call{method: "POST", path: "/v1/uploads/" + id + "/complete", body: map[string]any{"category": "other"}, key: true}
			},
			outOfScope: func(f *matrixFixture) call {
				id, _ := f.session(f.targetToken, true)
				return call{method: "POST", path: "/v1/uploads/" + id + "/complete", body: map[string]any{"category": "other"}, key: true}
			}},
		"importTownships": {ok: 201, inScope: func(f *matrixFixture) call {
			f.a.clock.Advance(time.Second) // each import is a new version, later than the last
			return call{method: "POST", path: "/v1/townships:import", body: geoJSONValue(f.a.t, demo.TownshipsGeoJSON), geojson: true}
		}},
		"importReaches": {ok: 201, inScope: func(f *matrixFixture) call {
			f.a.clock.Advance(time.Second)
			return call{method: "POST", path: "/v1/reaches:import", body: geoJSONValue(f.a.t, demo.ReachesGeoJSON), geojson: true}
		}},
		"listTownships": {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/townships"} }},
		"getTownship":   {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/townships/130227101"} }},
		"listReaches":   {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/reaches?river=滦河"} }},
		"getReach":      {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/reaches/LH-03"} }},
		"getMyReaches":  {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/me/reaches"} }},
		"setReachChiefs": {ok: 200, inScope: func(f *matrixFixture) call {
			return call{method: "PUT", path: "/v1/reaches/LH-03/chiefs", body: []map[string]any{
				{"user_id": f.actors["river_chief"].UserID, "level": "village"},
			}}
		}},
		"reviewEvidence": {ok: 201,
			inScope: func(f *matrixFixture) call {
				return call{method: "POST", path: "/v1/evidence/" + f.mine() + "/review", body: map[string]any{"decision": "accepted"}}
			},
			outOfScope: func(f *matrixFixture) call {
				return call{method: "POST", path: "/v1/evidence/" + f.foreign + "/review", body: map[string]any{"decision": "needs_info"}}
			}},
		"listEvidenceReviews": {ok: 200,
			inScope: func(f *matrixFixture) call { return call{method: "GET", path: "/v1/evidence/" + f.mine() + "/reviews"} },
			outOfScope: func(f *matrixFixture) call {
				return call{method: "GET", path: "/v1/evidence/" + f.foreign + "/reviews"}
			}},
		"relinkEvidence": {ok: 200, inScope: func(*matrixFixture) call { return call{method: "POST", path: "/v1/admin/relink"} }},
		"createCase": {ok: 201, inScope: func(f *matrixFixture) call {
			return call{method: "POST", path: "/v1/cases", body: f.caseBody(f.mine())}
		}},
		"listCases": {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/cases?overdue=false"} }},
		"getCase": {ok: 200,
			inScope:    func(f *matrixFixture) call { return call{method: "GET", path: "/v1/cases/" + f.caseOf(f.mine())} },
			outOfScope: func(f *matrixFixture) call { return call{method: "GET", path: "/v1/cases/" + f.caseOf(f.foreign)} }},
		"commentCase": {ok: 201,
			inScope: func(f *matrixFixture) call {
				return call{method: "POST", path: "/v1/cases/" + f.caseOf(f.mine()) + "/comments", body: map[string]any{"body": "评论"}}
			},
			outOfScope: func(f *matrixFixture) call {
				return call{method: "POST", path: "/v1/cases/" + f.caseOf(f.foreign) + "/comments", body: map[string]any{"body": "评论"}}
			}},
		"transitionCase": {ok: 200, domain: map[string]int{"inspector": http.StatusForbidden},
			inScope: func(f *matrixFixture) call {
				return call{method: "POST", path: "/v1/cases/" + f.caseOf(f.mine()) + "/transitions", body: map[string]any{"action": "start"}, key: true}
			},
			outOfScope: func(f *matrixFixture) call {
				return call{method: "POST", path: "/v1/cases/" + f.caseOf(f.foreign) + "/transitions", body: map[string]any{"action": "start"}, key: true}
			}},
		"createPatrol": {ok: 201,
			inScope: func(f *matrixFixture) call {
				return call{method: "POST", path: "/v1/patrols", key: true, body: f.patrolBody("LH-04")}
			},
			outOfScope: func(f *matrixFixture) call {
				return call{method: "POST", path: "/v1/patrols", key: true, body: f.patrolBody("CH-02")}
			}},
		"listPatrols": {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/patrols?valid=false"} }},
		"getPatrol": {ok: 200, domain: map[string]int{"inspector": http.StatusNotFound},
			inScope:    func(f *matrixFixture) call { return call{method: "GET", path: "/v1/patrols/" + f.patrolOn("LH-04")} },
			outOfScope: func(f *matrixFixture) call { return call{method: "GET", path: "/v1/patrols/" + f.patrolOn("CH-02")} }},
		"listReachPatrols": {ok: 200, domain: map[string]int{"inspector": http.StatusNotFound},
			inScope:    func(*matrixFixture) call { return call{method: "GET", path: "/v1/reaches/LH-04/patrols"} },
			outOfScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/reaches/CH-02/patrols"} }},
		"getPatrolCompliance": {ok: 200, inScope: func(*matrixFixture) call {
			return call{method: "GET", path: "/v1/patrols/compliance?month=2026-11"}
		}},
		"createLetter": {ok: 201, inScope: func(f *matrixFixture) call {
			f.seq++
			body := map[string]any{"year": 2026, "signed_on": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, f.seq).Format(time.DateOnly),
				"indicators": []map[string]any{{"metric": "overdue_cases", "rule": "deduct", "target": 0, "points_per": 5, "weight": 100}}}
			return call{method: "POST", path: "/v1/townships/" + townshipA + "/letters", body: body}
		}},
		"listLetters":   {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/townships/" + townshipA + "/letters"} }},
		"getAssessment": {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/assessments/2026-11"} }},
		"getTownshipAssessment": {ok: 200, domain: map[string]int{"inspector": http.StatusNotFound, "river_chief": http.StatusNotFound},
			inScope: func(*matrixFixture) call {
				return call{method: "GET", path: "/v1/assessments/2026-11/townships/" + townshipA}
			},
			outOfScope: func(*matrixFixture) call {
				return call{method: "GET", path: "/v1/assessments/2026-11/townships/130227108"}
			}},
		"freezeAssessment": {ok: 201, inScope: func(f *matrixFixture) call {
			f.seq++
			return call{method: "POST", path: fmt.Sprintf("/v1/assessments/%d-%02d:freeze", 2020+f.seq/12, 1+f.seq%12)}
		}},
		"listAudit":    {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/audit?limit=10"} }},
		"getAuditHead": {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/audit/head"} }},
		"listEvidence": {ok: 200, inScope: func(*matrixFixture) call { return call{method: "GET", path: "/v1/evidence", body: nil} }},
		"getEvidence": {ok: 200,
			inScope:    func(f *matrixFixture) call { return call{method: "GET", path: "/v1/evidence/" + f.mine(), body: nil} },
			outOfScope: func(f *matrixFixture) call { return call{method: "GET", path: "/v1/evidence/" + f.foreign, body: nil} }},
		"getEvidencePhoto": {ok: 200,
			inScope: func(f *matrixFixture) call {
				return call{method: "GET", path: "/v1/evidence/" + f.mine() + "/photo", body: nil}
			},
			outOfScope: func(f *matrixFixture) call {
				return call{method: "GET", path: "/v1/evidence/" + f.foreign + "/photo", body: nil}
			}},
		"getEvidenceThumbnail": {ok: 200,
			inScope: func(f *matrixFixture) call {
				return call{method: "GET", path: "/v1/evidence/" + f.mine() + "/thumbnail", body: nil}
			},
			outOfScope: func(f *matrixFixture) call {
				return call{method: "GET", path: "/v1/evidence/" + f.foreign + "/thumbnail?size=1280", body: nil}
			}},
	}
}

// caseBody opens a case on evidence, accountable to township A.
func (f *matrixFixture) caseBody(evidenceID string) map[string]any {
	return map[string]any{"evidence_ids": []string{evidenceID}, "title": f.unique("案件"), "category": "other",
		"severity": "low", "township_code": townshipA}
}

// caseOf opens a fresh case (as the administrator) on the evidence: for
// the foreign evidence, in the foreign evidence's own township.
func (f *matrixFixture) caseOf(evidenceID string) string {
	body := f.caseBody(evidenceID)
	if evidenceID == f.foreign {
		delete(body, "township_code")
	}
	r := f.a.do("POST", "/v1/cases", f.tokens["admin"], body)
	if r.status != http.StatusCreated {
		f.a.t.Fatalf("open case: %d %s", r.status, r.body)
	}
	var c api.Case
	r.json(f.a.t, &c)
	return c.Id.String()
}

// patrolBody is a patrol along the demo track (over CH-02), recorded
// against reach.
func (f *matrixFixture) patrolBody(reach string) map[string]any {
	return map[string]any{"reach_code": reach, "track": syntheticTrack(f.a.t, "short-walk", time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC))}
}

// patrolOn records a patrol on reach as the administrator.
func (f *matrixFixture) patrolOn(reach string) string {
	r := f.a.do("POST", "/v1/patrols", f.tokens["admin"], f.patrolBody(reach), "Idempotency-Key", uuid.NewString())
	if r.status != http.StatusCreated {
		f.a.t.Fatalf("patrol: %d %s", r.status, r.body)
	}
	var p api.Patrol
	r.json(f.a.t, &p)
	return p.Id.String()
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

	for _, b := range backends {
		t.Run(b, func(t *testing.T) { runMatrix(t, newTestAPIConfigured(t, b, manySessions), ops, cases, policy) })
	}
}

// manySessions lifts the per-user cap on open upload sessions: the matrix
// opens one for every operation and role.
func manySessions(c *app.Config) { c.UploadsPerUser, c.UploadsTotal = 10000, 10000 }

func runMatrix(t *testing.T, a *testAPI, ops []string, cases map[string]matrixCase, policy map[string]auth.Access) {
	{
		a.importDemoCounty()
		f := &matrixFixture{a: a, tokens: map[string]string{"anonymous": ""}, actors: map[string]fieldwatch.Actor{}, own: map[string]string{}}
		f.target = a.mustUser("m.target", "inspector", pw, townshipB)
		targetToken, _ := a.login("m.target", pw)
		f.targetToken = targetToken
		// In township 130227108: outside township A and far from any reach.
		f.foreign = a.mustUpload(targetToken, uniquePhoto(t, "burning-luojiatun.jpg", 0), map[string]any{"category": "open_burning"}).Id.String()
		a.makeThumbnails(f.foreign)
		f.own["anonymous"] = f.foreign
		for i, role := range fieldwatch.Roles() {
			name := "m." + string(role)
			id := a.mustUser(name, string(role), pw, townshipA)
			f.tokens[string(role)], _ = a.login(name, pw)
			f.actors[string(role)] = fieldwatch.Actor{UserID: id, Role: role}
			f.own[string(role)] = a.mustUpload(f.tokens[string(role)], uniquePhoto(t, "river-lh03.jpg", i+1), map[string]any{"category": "river_section"}).Id.String()
			a.makeThumbnails(f.own[string(role)])
		}
		// The river chief answers for LH-04, a reach in township A.
		if r := a.do("PUT", "/v1/reaches/LH-04/chiefs", f.tokens["admin"], []map[string]any{
			{"user_id": f.actors["river_chief"].UserID, "level": "village"},
		}); r.status != http.StatusOK {
			t.Fatalf("chiefs: %d %s", r.status, r.body)
		}
		roles := append([]string{"anonymous"}, rolesOf()...)
		for _, op := range ops {
			mc, rule := cases[op], policy[op]
			for _, role := range roles {
				p := f.actors[role]
				want := mc.ok
				switch {
				case rule.Public:
				case role == "anonymous":
					want = http.StatusUnauthorized
				case !rule.Allows(p):
					want = http.StatusForbidden
				}
				inWant := want
				if d, ok := mc.domain[role]; ok && want == mc.ok {
					inWant = d
				}
				t.Run(op+"/"+role+"/InScope", func(t *testing.T) {
					f.current = role
					c := mc.inScope(f)
					r := f.send(c, f.tokens[role])
					if r.status != inWant {
						t.Fatalf("%s %s as %s: %d, want %d: %s", c.method, c.path, role, r.status, inWant, r.body)
					}
				})
				if mc.outOfScope == nil {
					continue
				}
				if want == mc.ok && (mc.ownerOnly || !p.Is(fieldwatch.RoleAdmin)) {
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
	}
}

func (f *matrixFixture) send(c call, token string) response {
	switch {
	case c.upload:
		return f.a.upload(token, "", c.body.([]byte), map[string]any{"category": "other"})
	case c.raw != nil:
		return f.a.put(token, c.path, c.raw)
	case c.key:
		return f.a.do(c.method, c.path, token, c.body, "Idempotency-Key", uuid.NewString())
	case c.geojson:
		return f.a.do(c.method, c.path, token, c.body, "Content-Type", "application/geo+json")
	}
	return f.a.do(c.method, c.path, token, c.body)
}

func rolesOf() []string {
	var out []string
	for _, r := range fieldwatch.Roles() {
		out = append(out, string(r))
	}
	return out
}
