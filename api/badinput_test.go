package api_test

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch/api"
)

// The bad-input suite (docs/reliability.md#bad-input: "bad input gets a clear
// application/problem+json error; the service never answers 500 or panics
// because of what a client sent"). Every case is one malformed request
// and the exact 4xx problem it must get; a second table holds the inputs
// the catalogue says are accepted (and flagged or cleaned), with what
// they must become. Both run on every database backend.

// minBadInputCases is the size of the 4xx table: raise it when adding
// cases, so that a deletion is noticed.
const minBadInputCases = 449

// badRequest is one malformed request and the problem it must get.
type badRequest struct {
	family string
	name   string
	method string
	path   string
	token  string
	// body is sent as is; ctype is its Content-Type: "" means
	// application/json when there is a body, noCT means no header at all.
	body   []byte
	ctype  string
	header []string // extra header pairs
	// raw, when set, is written to a TCP connection as the whole request
	// (for lying Content-Lengths and cut bodies), then the write side is
	// closed; method, path, body and headers above are ignored.
	raw string
	// status is the exact answer; typ the problem type when it is not the
	// one the status implies (see defaultProblemType).
	status int
	typ    string
}

const noCT = "-"

// as is the request sent with another token.
func (c badRequest) as(token string) badRequest { c.token = token; return c }

// typed is the request expecting another problem type.
func (c badRequest) typed(typ string) badRequest { c.typ = typ; return c }

// badWorld is the fixture the cases point at: the case world's users and
// evidence, a case, an upload session, a letter and a frozen month.
type badWorld struct {
	*caseWorld
	a        *testAPI
	caseID   string
	uploadID string // the inspector's direct-upload session, bytes not yet sent
	adminUp  string // an administrator's session: not the inspector's
	upPhoto  []byte // what the inspector's session declared
	stored   int    // evidence rows the fixture and the accepted cases created
}

func newBadWorld(t *testing.T, a *testAPI) *badWorld {
	t.Helper()
	w := &badWorld{caseWorld: newCaseWorld(t, a), a: a, stored: 1}
	w.caseID = w.open(t, map[string]any{"evidence_ids": []string{w.evidence.Id.String()}, "title": "河道垃圾",
		"category": "river_section", "severity": "medium"}).Id.String()
	w.upPhoto = uniquePhoto(t, "dust-xingcheng.jpg", 9001)
	w.uploadID = w.session(t, w.ins, w.upPhoto)
	w.adminUp = w.session(t, w.admin, uniquePhoto(t, "dust-xingcheng.jpg", 9002))
	if r := a.do("POST", "/v1/townships/"+townshipA+"/letters", w.admin, testLetter); r.status != http.StatusCreated {
		t.Fatalf("letter: %d %s", r.status, r.body)
	}
	if r := a.do("POST", "/v1/assessments/2026-10:freeze", w.admin, nil); r.status != http.StatusCreated {
		t.Fatalf("freeze: %d %s", r.status, r.body)
	}
	return w
}

// session starts a direct upload of photo for token.
func (w *badWorld) session(t *testing.T, token string, photo []byte) string {
	t.Helper()
	sum := sha256.Sum256(photo)
	r := w.a.do("POST", "/v1/uploads", token, map[string]any{"size": len(photo), "sha256": hex.EncodeToString(sum[:])})
	if r.status != http.StatusCreated {
		t.Fatalf("create upload: %d %s", r.status, r.body)
	}
	var u api.Upload
	r.json(t, &u)
	return u.Id.String()
}

// foreignToken is a correctly signed access token of this server for
// another audience.
func (w *badWorld) foreignToken(t *testing.T, mod func(jwt.MapClaims)) string {
	t.Helper()
	kid, seedB64, _ := strings.Cut(w.a.key, ":")
	seed, err := base64.RawURLEncoding.DecodeString(seedB64)
	if err != nil {
		t.Fatal(err)
	}
	now := w.a.clock.Now()
	c := jwt.MapClaims{"sub": w.ids["c.admin"], "role": "admin", "iss": "fieldwatch", "aud": "fieldwatch-api",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": uuid.NewString()}
	mod(c)
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"], tok.Header["typ"] = kid, "at+jwt"
	s, err := tok.SignedString(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// algNoneToken is an unsigned token claiming to be the administrator.
func (w *badWorld) algNoneToken() string {
	enc := base64.RawURLEncoding.EncodeToString
	now := w.a.clock.Now()
	head := enc([]byte(`{"alg":"none","typ":"at+jwt"}`))
	body := enc(fmt.Appendf(nil, `{"sub":%q,"role":"admin","iss":"fieldwatch","aud":"fieldwatch-api","exp":%d}`,
		w.ids["c.admin"], now.Add(time.Hour).Unix()))
	return head + "." + body + "."
}

func (w *badWorld) send(t *testing.T, tc badRequest) response {
	t.Helper()
	if tc.raw != "" {
		return w.a.sendRaw(t, tc.raw)
	}
	var rd io.Reader
	if tc.body != nil {
		rd = bytes.NewReader(tc.body)
	}
	req, err := http.NewRequest(tc.method, w.a.srv.URL+tc.path, rd)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case tc.ctype == noCT:
	case tc.ctype != "":
		req.Header.Set("Content-Type", tc.ctype)
	case tc.body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	if tc.token != "" {
		req.Header.Set("Authorization", "Bearer "+tc.token)
	}
	for i := 0; i+1 < len(tc.header); i += 2 {
		req.Header.Add(tc.header[i], tc.header[i+1])
	}
	return w.a.send(req)
}

// sendRaw writes a request to a fresh connection as is, closes the write
// side (so a body shorter than its Content-Length ends), and reads the
// answer.
func (a *testAPI) sendRaw(t *testing.T, raw string) response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	// The server may already have answered and closed, when the body
	// ran past its Content-Length (the rest would be the next request):
	// then there is no write side left to close, and the answer waits to
	// be read all the same.
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil && !errors.Is(err, syscall.ENOTCONN) {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// defaultProblemType is the problem type README promises for a status.
func defaultProblemType(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "urn:fieldwatch:problem:validation"
	case http.StatusTooManyRequests:
		return "urn:fieldwatch:problem:rate-limited"
	}
	return "about:blank"
}

// requireBadInput checks the answer to a bad request: never a 5xx, the
// exact status, and a complete problem of the right type and title.
func requireBadInput(t *testing.T, r response, tc badRequest) {
	t.Helper()
	if r.status >= 500 {
		t.Fatalf("server error %d for bad input: %s", r.status, r.body)
	}
	p := requireProblem(t, r, tc.status)
	want := tc.typ
	if want == "" {
		want = defaultProblemType(tc.status)
	}
	if p.Type != want {
		t.Fatalf("problem type %q, want %q: %s", p.Type, want, r.body)
	}
	if p.Title != http.StatusText(tc.status) {
		t.Fatalf("problem title %q, want %q", p.Title, http.StatusText(tc.status))
	}
	if tc.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") == "" {
		t.Fatal("401 without WWW-Authenticate")
	}
}

// TestBadInput sends every malformed request of the catalogue to a real
// server and then checks that nothing was stored and the invariants hold.
func TestBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, a *testAPI) {
		w := newBadWorld(t, a)
		cases := badInputCases(t, w)
		seen := map[string]bool{}
		perFamily := map[string]int{}
		for _, tc := range cases {
			name := tc.family + "/" + tc.name
			if seen[name] {
				t.Fatalf("two cases named %s", name)
			}
			seen[name] = true
			perFamily[tc.family]++
			t.Run(name, func(t *testing.T) { requireBadInput(t, w.send(t, tc), tc) })
		}
		for _, tc := range acceptedInputCases(t, w) {
			t.Run("accepted/"+tc.name, func(t *testing.T) { tc.run(t) })
		}

		if n := a.countEvidence(); n != w.stored {
			t.Errorf("%d evidence rows, want %d: a rejected request stored something", n, w.stored)
		}
		a.checkInvariants()
		if r := a.do("GET", "/readyz", "", nil); r.status != http.StatusOK {
			t.Errorf("not ready after the bad inputs: %d %s", r.status, r.body)
		}
		if len(cases) < minBadInputCases {
			t.Errorf("%d bad-input cases, want at least %d: were cases deleted?", len(cases), minBadInputCases)
		}
		for _, f := range badInputFamilies {
			if perFamily[f] == 0 {
				t.Errorf("family %s has no case", f)
			}
		}
		t.Logf("%d bad-input cases: %v", len(cases), perFamily)
	})
}

// badInputFamilies are the endpoint families (and cross-cutting kinds of
// input) the suite must cover.
var badInputFamilies = []string{"auth", "headers", "users", "upload", "image", "direct", "evidence", "list", "review",
	"import", "geography", "relink", "cases", "audit", "patrols", "compliance", "letters", "assessments", "unicode",
	"content-type", "limits", "method", "path"}

func js(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// part is one multipart part: name, Content-Type, bytes.
func part(name, ct string, body []byte) [3]string { return [3]string{name, ct, string(body)} }

func badInputCases(t *testing.T, w *badWorld) []badRequest {
	admin, ins, chief, officer := w.admin, w.ins, w.chief, w.officer
	ev := w.evidence.Id.String()
	missing := uuid.NewString()
	photo := uniquePhoto(t, "dust-xingcheng.jpg", 9100)
	meta := []byte(`{"category":"dust_site"}`)
	var cases []badRequest
	add := func(family string, cs ...badRequest) {
		for _, c := range cs {
			c.family = family
			cases = append(cases, c)
		}
	}
	post := func(name, path, token string, body []byte, status int) badRequest {
		return badRequest{name: name, method: "POST", path: path, token: token, body: body, status: status}
	}
	get := func(name, path, token string, status int) badRequest {
		return badRequest{name: name, method: "GET", path: path, token: token, status: status}
	}
	// upload is a multipart POST /v1/evidence by the inspector.
	upload := func(name string, status int, parts ...[3]string) badRequest {
		ct, body := multipartBody(t, parts...)
		return badRequest{name: name, method: "POST", path: "/v1/evidence", token: ins, ctype: ct, body: body,
			header: []string{"Idempotency-Key", uuid.NewString()}, status: status}
	}
	rawUpload := func(name, ct string, body []byte, status int) badRequest {
		return badRequest{name: name, method: "POST", path: "/v1/evidence", token: ins, ctype: ct, body: body,
			header: []string{"Idempotency-Key", uuid.NewString()}, status: status}
	}
	metaCase := func(name, m string, status int) badRequest {
		return upload(name, status, part("meta", "application/json", []byte(m)), part("photo", "image/jpeg", photo))
	}
	raw := func(name string, status int, format string, args ...any) badRequest {
		return badRequest{name: name, raw: fmt.Sprintf(format, args...), status: status}
	}

	// --- login, refresh, logout (public; rate limits are per account, so
	// each failing login names its own)
	add("auth",
		post("LoginNotJSON", "/v1/auth/login", "", []byte(`{"username":`), 400),
		post("LoginEmptyBody", "/v1/auth/login", "", []byte(``), 400),
		post("LoginJSONArray", "/v1/auth/login", "", []byte(`[]`), 400),
		post("LoginJSONNull", "/v1/auth/login", "", []byte(`null`), 400),
		post("LoginUnknownMember", "/v1/auth/login", "", []byte(`{"username":"u1","password":"xxxxxxxx","role":"admin"}`), 400),
		post("LoginUsernameNumber", "/v1/auth/login", "", []byte(`{"username":1,"password":"xxxxxxxx"}`), 400),
		post("LoginMissingPassword", "/v1/auth/login", "", []byte(`{"username":"u2"}`), 400),
		post("LoginEmptyUsername", "/v1/auth/login", "", []byte(`{"username":"","password":"xxxxxxxx"}`), 400),
		post("LoginUsernameTooLong", "/v1/auth/login", "", js(map[string]string{"username": strings.Repeat("u", 65), "password": "xxxxxxxx"}), 400),
		post("LoginPasswordTooLong", "/v1/auth/login", "", js(map[string]string{"username": "u3", "password": strings.Repeat("p", 1025)}), 400),
		post("LoginTrailingGarbage", "/v1/auth/login", "", []byte(`{"username":"u4","password":"xxxxxxxx"} {"x":1}`), 400),
		post("LoginDeepNesting", "/v1/auth/login", "", []byte(strings.Repeat("[", 100000)+strings.Repeat("]", 100000)), 400),
		post("LoginUnknownUser", "/v1/auth/login", "", []byte(`{"username":"nobody.here","password":"xxxxxxxx"}`), 401),
		post("RefreshEmptyToken", "/v1/auth/refresh", "", []byte(`{"refresh_token":""}`), 400),
		post("RefreshGarbageToken", "/v1/auth/refresh", "", []byte(`{"refresh_token":"garbage"}`), 401),
		post("RefreshTokenTooLong", "/v1/auth/refresh", "", js(map[string]string{"refresh_token": strings.Repeat("r", 4097)}), 400),
		post("RefreshTokenNumber", "/v1/auth/refresh", "", []byte(`{"refresh_token":42}`), 400),
		post("RefreshAccessToken", "/v1/auth/refresh", "", js(map[string]string{"refresh_token": admin}), 401),
		post("LogoutNotJSON", "/v1/auth/logout", "", []byte(`refresh_token=abc`), 400),
		post("LogoutUnknownMember", "/v1/auth/logout", "", []byte(`{"refresh_token":"abc","all":true}`), 400),
		post("LogoutMissingToken", "/v1/auth/logout", "", []byte(`{}`), 400),
	)

	// --- the Authorization header
	me := func(name, authz string) badRequest {
		return badRequest{name: name, method: "GET", path: "/v1/me", header: []string{"Authorization", authz}, status: 401}
	}
	add("headers",
		me("BearerWithoutToken", "Bearer"),
		me("BearerSpacesOnly", "Bearer    "),
		me("BearerNineKiB", "Bearer "+strings.Repeat("A", 9<<10)),
		me("BearerThreeDotsOnly", "Bearer .."),
		me("BearerTwoTokens", "Bearer "+admin+" "+admin),
		me("BearerNonASCII", "Bearer 令牌令牌"),
		me("Basic", "Basic "+base64.StdEncoding.EncodeToString([]byte("c.admin:"+pw))),
		me("TokenWithoutScheme", admin),
		me("AlgNone", "Bearer "+w.algNoneToken()),
		me("OtherAudience", "Bearer "+w.foreignToken(t, func(c jwt.MapClaims) { c["aud"] = "fieldwatch-console" })),
		me("OtherIssuer", "Bearer "+w.foreignToken(t, func(c jwt.MapClaims) { c["iss"] = "someone-else" })),
		me("SubjectNotAUser", "Bearer "+w.foreignToken(t, func(c jwt.MapClaims) { c["sub"] = "../../admin" })),
		me("ExpiresAsString", "Bearer "+w.foreignToken(t, func(c jwt.MapClaims) { c["exp"] = "tomorrow" })),
		get("NoAuthorization", "/v1/users", "", 401),
		get("InspectorOnAdminOperation", "/v1/users", ins, 403),
	)

	// --- users (administrators)
	user := func(mod func(m map[string]any)) []byte {
		m := map[string]any{"username": "bad.user", "display_name": "坏用户", "role": "inspector", "password": pw}
		mod(m)
		return js(m)
	}
	uid := w.ids["c.ins"]
	patch := func(name, body string, status int) badRequest {
		return badRequest{name: name, method: "PATCH", path: "/v1/users/" + uid, token: admin, body: []byte(body), status: status}
	}
	add("users",
		post("CreateMissingRole", "/v1/users", admin, user(func(m map[string]any) { delete(m, "role") }), 400),
		post("CreateUnknownRole", "/v1/users", admin, user(func(m map[string]any) { m["role"] = "root" }), 400),
		post("CreateShortPassword", "/v1/users", admin, user(func(m map[string]any) { m["password"] = "short" }), 400),
		post("CreateUsernameWithSpace", "/v1/users", admin, user(func(m map[string]any) { m["username"] = "bad user" }), 422),
		post("CreateUsernameSlash", "/v1/users", admin, user(func(m map[string]any) { m["username"] = "../admin" }), 422),
		post("CreateDisplayNameOnlyControls", "/v1/users", admin, user(func(m map[string]any) { m["display_name"] = "\u0007\u200b\u202e" }), 422),
		post("CreateDisplayNameTooLong", "/v1/users", admin, user(func(m map[string]any) { m["display_name"] = strings.Repeat("名", 101) }), 400),
		post("CreateBadTownshipCode", "/v1/users", admin, user(func(m map[string]any) { m["townships"] = []string{"12345"} }), 400),
		post("CreateTooManyTownships", "/v1/users", admin, user(func(m map[string]any) {
			ts := make([]string, 101)
			for i := range ts {
				ts[i] = fmt.Sprintf("130227%03d", i)
			}
			m["townships"] = ts
		}), 400),
		post("CreatePhoneTooLong", "/v1/users", admin, user(func(m map[string]any) { m["phone"] = strings.Repeat("1", 33) }), 400),
		post("CreateServerOwnedField", "/v1/users", admin, user(func(m map[string]any) { m["id"] = uuid.NewString() }), 400),
		post("CreateActiveField", "/v1/users", admin, user(func(m map[string]any) { m["active"] = false }), 400),
		post("CreateDuplicateUsername", "/v1/users", admin, user(func(m map[string]any) { m["username"] = "C.ADMIN" }), 409),
		get("GetNotUUID", "/v1/users/not-a-uuid", admin, 400),
		get("GetUUIDInBraces", "/v1/users/%7B"+uid+"%7D", admin, 400),
		get("GetUnknown", "/v1/users/"+missing, admin, 404),
		patch("PatchEmptyObject", `{}`, 400),
		patch("PatchUnknownMember", `{"username":"renamed"}`, 400),
		patch("PatchActiveString", `{"active":"yes"}`, 400),
		patch("PatchRoleUnknown", `{"role":"superuser"}`, 400),
		patch("PatchPasswordNull", `{"password":null}`, 400),
		badRequest{name: "PatchUnknownUser", method: "PATCH", path: "/v1/users/" + missing, token: admin, body: []byte(`{"active":false}`), status: 404},
		get("ListRoleUnknown", "/v1/users?role=root", admin, 400),
		get("ListActiveMaybe", "/v1/users?active=maybe", admin, 400),
		get("ListCursorGarbage", "/v1/users?cursor=%25%25%25", admin, 400),
		get("ListCursorInvalidUTF8", "/v1/users?cursor="+base64.RawURLEncoding.EncodeToString([]byte{0xff, 0xfe}), admin, 400),
		get("ListCursorTooLong", "/v1/users?cursor="+strings.Repeat("A", 513), admin, 400),
		get("ListCursorWithCRLF", "/v1/users?cursor=Yy5h%0D%0AZG1pbg", admin, 400),
	)

	// --- POST /v1/evidence: the multipart body
	okMeta, okPhoto := part("meta", "application/json", meta), part("photo", "image/jpeg", photo)
	goodCT, good := multipartBody(t, okMeta, okPhoto)
	boundary := string(good[2:bytes.IndexByte(good, '\r')])
	tooBigMeta := `{"category":"dust_site","note":"` + strings.Repeat("x", 70<<10) + `"}`
	add("upload",
		rawUpload("NoBoundary", "multipart/form-data", good, 400),
		rawUpload("EmptyBoundary", "multipart/form-data; boundary=", good, 415),
		rawUpload("WrongBoundary", "multipart/form-data; boundary=not-the-one", good, 400),
		rawUpload("MixedNotFormData", "multipart/mixed; boundary="+boundary, good, 415),
		rawUpload("ContentTypeJSON", "application/json", []byte(`{"category":"dust_site"}`), 415),
		rawUpload("ContentTypeJPEG", "image/jpeg", photo, 415),
		rawUpload("NoContentType", noCT, good, 415),
		rawUpload("EmptyBody", "multipart/form-data; boundary="+boundary, []byte{}, 400),
		rawUpload("Truncated", "multipart/form-data; boundary="+boundary, good[:len(good)/2], 400),
		rawUpload("NoClosingBoundary", "multipart/form-data; boundary="+boundary, good[:len(good)-len(boundary)-6], 400),
		rawUpload("GarbageAfterBoundary", "multipart/form-data; boundary="+boundary, []byte("--"+boundary+"\r\n\x00\x01\x02garbage"), 400),
		rawUpload("PartHeaderTooLong", "multipart/form-data; boundary="+boundary,
			[]byte("--"+boundary+"\r\nX-Junk: "+strings.Repeat("h", 20<<10)+"\r\n\r\nx\r\n--"+boundary+"--\r\n"), 400),
		upload("MissingPhotoPart", 400, okMeta),
		upload("MissingMetaPart", 400, okPhoto),
		upload("TwoPhotoParts", 400, okMeta, okPhoto, okPhoto),
		upload("TwoMetaParts", 400, okMeta, okMeta, okPhoto),
		upload("UnexpectedPart", 400, okMeta, part("evil", "text/plain", []byte("x")), okPhoto),
		upload("FiveParts", 400, okMeta, part("a", "text/plain", nil), part("b", "text/plain", nil), part("c", "text/plain", nil), okPhoto),
		metaCase("MetaNotJSON", `category=dust_site`, 400),
		metaCase("MetaTwoDocuments", `{"category":"dust_site"}{"category":"other"}`, 400),
		metaCase("MetaArray", `[{"category":"dust_site"}]`, 400),
		metaCase("MetaNull", `null`, 400),
		metaCase("MetaUnknownField", `{"category":"dust_site","township_code":"130227101"}`, 400),
		metaCase("MetaServerOwnedUploader", `{"category":"dust_site","uploader_id":"`+uid+`"}`, 400),
		metaCase("MetaMissingCategory", `{"note":"x"}`, 400),
		metaCase("MetaTooLarge", tooBigMeta, 400),
		metaCase("MetaNumberOverflow", `{"category":"dust_site","device_location":{"lon":1e400,"lat":40}}`, 400),
		metaCase("MetaNaNLiteral", `{"category":"dust_site","device_location":{"lon":NaN,"lat":40}}`, 400),
		metaCase("MetaNaNString", `{"category":"dust_site","device_location":{"lon":"NaN","lat":40}}`, 400),
		metaCase("MetaInfinity", `{"category":"dust_site","device_location":{"lon":Infinity,"lat":40}}`, 400),
		metaCase("MetaLatitude91", `{"category":"dust_site","device_location":{"lon":118.3,"lat":91}}`, 400),
		metaCase("MetaHugeAccuracy", `{"category":"dust_site","device_location":{"lon":118.3,"lat":40.1,"accuracy_m":1e308}}`, 400),
		metaCase("MetaNegativeAccuracy", `{"category":"dust_site","device_location":{"lon":118.3,"lat":40.1,"accuracy_m":-1}}`, 400),
		metaCase("MetaUnknownCRS", `{"category":"dust_site","device_location":{"lon":118.3,"lat":40.1,"crs":"epsg:4326"}}`, 400),
		metaCase("MetaCapturedAtGarbage", `{"category":"dust_site","captured_at":"yesterday"}`, 400),
		metaCase("MetaCapturedAtYear99999", `{"category":"dust_site","captured_at":"99999-01-01T00:00:00Z"}`, 400),
		metaCase("MetaSHA256Uppercase", `{"category":"dust_site","sha256":"`+strings.Repeat("A", 64)+`"}`, 400),
		metaCase("MetaSHA256Mismatch", `{"category":"dust_site","sha256":"`+strings.Repeat("0", 64)+`"}`, 422).typed("urn:fieldwatch:problem:digest-mismatch"),
		metaCase("MetaNoteTooLong", `{"category":"dust_site","note":"`+strings.Repeat("注", 2001)+`"}`, 400),
		metaCase("MetaInvalidUTF8", "{\"category\":\"dust_site\",\"note\":\"\xff\xfe\"}", 400),
		metaCase("MetaOverlongSlash", "{\"category\":\"dust_site\",\"note\":\"\xc0\xaf\"}", 400),
		badRequest{name: "MissingIdempotencyKey", method: "POST", path: "/v1/evidence", token: ins, ctype: goodCT, body: good, status: 400},
		badRequest{name: "IdempotencyKeyNotUUID", method: "POST", path: "/v1/evidence", token: ins, ctype: goodCT, body: good,
			header: []string{"Idempotency-Key", "photo-1"}, status: 400},
		badRequest{name: "IdempotencyKeyTwice", method: "POST", path: "/v1/evidence", token: ins, ctype: goodCT, body: good,
			header: []string{"Idempotency-Key", uuid.NewString(), "Idempotency-Key", uuid.NewString()}, status: 400},
		badRequest{name: "NoToken", method: "POST", path: "/v1/evidence", ctype: goodCT, body: good,
			header: []string{"Idempotency-Key", uuid.NewString()}, status: 401},
	)
	// The same body again, with its own boundary, for the raw cases.
	mct, mbody := multipartBody(t, okMeta, okPhoto)
	rawHead := func(length int) string {
		return fmt.Sprintf("POST /v1/evidence HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nIdempotency-Key: %s\r\n"+
			"Content-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", ins, uuid.NewString(), mct, length)
	}
	add("upload",
		raw("ContentLengthLongerThanBody", 400, "%s%s", rawHead(len(mbody)), mbody[:len(mbody)-10]),
		raw("ContentLengthShorterThanBody", 400, "%s%s", rawHead(len(mbody)/2), mbody),
		raw("ContentLengthBeyondLimit", 413, "%s", rawHead(1<<40)),
	)

	// --- the photo part itself
	text := []byte("this is not a photo, it is a sentence\n")
	add("image",
		upload("ZeroBytes", 422, okMeta, part("photo", "image/jpeg", nil)),
		upload("Text", 415, okMeta, part("photo", "image/jpeg", text)),
		upload("HTML", 415, okMeta, part("photo", "image/jpeg", []byte("<!DOCTYPE html><script>alert(1)</script>"))),
		upload("GIF", 415, okMeta, part("photo", "image/gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"))),
		upload("TIFF", 415, okMeta, part("photo", "image/tiff", []byte("MM\x00\x2a\x00\x00\x00\x08\x00\x00"))),
		upload("BMP", 415, okMeta, part("photo", "image/bmp", append([]byte("BM"), make([]byte, 60)...))),
		upload("PNGBomb100000Square", 422, okMeta, part("photo", "image/png", pngBomb(t))),
		upload("JPEGMarkersOnly", 422, okMeta, part("photo", "image/jpeg", []byte{0xff, 0xd8, 0xff, 0xd9})),
		upload("JPEGBombSOF", 422, okMeta, part("photo", "image/jpeg", jpegBomb(t))),
		upload("WebPHeaderOnly", 415, okMeta, part("photo", "image/webp", []byte("RIFF\x04\x00\x00\x00WEBP"))),
		upload("HEICBrandOnly", 422, okMeta, part("photo", "image/heic", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"))),
	)

	// --- direct uploads
	sum := sha256.Sum256(w.upPhoto)
	wrong := bytes.Clone(w.upPhoto)
	wrong[len(wrong)-1] ^= 1
	content := "/v1/uploads/" + w.uploadID + "/content"
	putRaw := func(name string, length int, body []byte, status int) badRequest {
		return raw(name, status, "PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"+
			"Content-Length: %d\r\nConnection: close\r\n\r\n%s", content, ins, length, body)
	}
	complete := func(name, id string, key string, body string, status int) badRequest {
		c := badRequest{name: name, method: "POST", path: "/v1/uploads/" + id + "/complete", token: ins, body: []byte(body), status: status}
		if key != "" {
			c.header = []string{"Idempotency-Key", key}
		}
		return c
	}
	add("direct",
		post("CreateSizeZero", "/v1/uploads", ins, js(map[string]any{"size": 0, "sha256": hex.EncodeToString(sum[:])}), 400),
		post("CreateSizeNegative", "/v1/uploads", ins, js(map[string]any{"size": -5, "sha256": hex.EncodeToString(sum[:])}), 400),
		post("CreateSizeString", "/v1/uploads", ins, js(map[string]any{"size": "12", "sha256": hex.EncodeToString(sum[:])}), 400),
		post("CreateSizeFraction", "/v1/uploads", ins, []byte(`{"size":1.5,"sha256":"`+hex.EncodeToString(sum[:])+`"}`), 400),
		post("CreateSizeBeyondInt64", "/v1/uploads", ins, []byte(`{"size":99999999999999999999999,"sha256":"`+hex.EncodeToString(sum[:])+`"}`), 400),
		post("CreateSizeOverPhotoLimit", "/v1/uploads", ins, js(map[string]any{"size": 1 << 40, "sha256": hex.EncodeToString(sum[:])}), 413),
		post("CreateSHA256Short", "/v1/uploads", ins, js(map[string]any{"size": 10, "sha256": "abc"}), 400),
		post("CreateSHA256Uppercase", "/v1/uploads", ins, js(map[string]any{"size": 10, "sha256": strings.ToUpper(hex.EncodeToString(sum[:]))}), 400),
		post("CreateUnknownMember", "/v1/uploads", ins, js(map[string]any{"size": 10, "sha256": hex.EncodeToString(sum[:]), "key": "evidence/x"}), 400),
		badRequest{name: "ContentNotUUID", method: "PUT", path: "/v1/uploads/nope/content", token: ins, ctype: "application/octet-stream", body: w.upPhoto, status: 400},
		badRequest{name: "ContentUnknownSession", method: "PUT", path: "/v1/uploads/" + missing + "/content", token: ins, ctype: "application/octet-stream", body: w.upPhoto, status: 404},
		badRequest{name: "ContentOtherUsersSession", method: "PUT", path: "/v1/uploads/" + w.adminUp + "/content", token: ins, ctype: "application/octet-stream", body: w.upPhoto, status: 404},
		badRequest{name: "ContentWrongLength", method: "PUT", path: content, token: ins, ctype: "application/octet-stream", body: w.upPhoto[:100],
			status: 422, typ: "urn:fieldwatch:problem:digest-mismatch"},
		badRequest{name: "ContentWrongBytes", method: "PUT", path: content, token: ins, ctype: "application/octet-stream", body: wrong,
			status: 422, typ: "urn:fieldwatch:problem:digest-mismatch"},
		putRaw("ContentBodyCutShort", len(w.upPhoto), w.upPhoto[:len(w.upPhoto)/2], 400),
		complete("CompleteNotUUID", "nope", uuid.NewString(), `{"category":"dust_site"}`, 400),
		complete("CompleteMissingKey", w.uploadID, "", `{"category":"dust_site"}`, 400),
		complete("CompleteKeyNotUUID", w.uploadID, "k-1", `{"category":"dust_site"}`, 400),
		complete("CompleteBeforeBytes", w.uploadID, uuid.NewString(), `{"category":"dust_site"}`, 409),
		complete("CompleteUnknownMember", w.uploadID, uuid.NewString(), `{"category":"dust_site","size":1}`, 400),
		complete("CompleteMetaNotJSON", w.uploadID, uuid.NewString(), `{"category":`, 400),
		complete("CompleteUnknownSession", missing, uuid.NewString(), `{"category":"dust_site"}`, 404),
		complete("CompleteOtherUsersSession", w.adminUp, uuid.NewString(), `{"category":"dust_site"}`, 404),
	)

	// --- evidence reads
	photoPath := "/v1/evidence/" + ev + "/photo"
	add("evidence",
		get("GetNotUUID", "/v1/evidence/123", ins, 400),
		get("GetUUIDTooLong", "/v1/evidence/"+ev+"0", ins, 400),
		get("GetSQLInjection", "/v1/evidence/'%20OR%201=1--", ins, 400),
		get("GetUnknown", "/v1/evidence/"+missing, ins, 404),
		get("GetOutOfScope", "/v1/evidence/"+ev, w.other, 404),
		get("PhotoNotUUID", "/v1/evidence/x/photo", ins, 400),
		badRequest{name: "PhotoRangePastEnd", method: "GET", path: photoPath, token: ins, header: []string{"Range", "bytes=999999999-"}, status: 416},
		badRequest{name: "PhotoRangeAtSize", method: "GET", path: photoPath, token: ins, header: []string{"Range", fmt.Sprintf("bytes=%d-", w.evidence.Size)}, status: 416},
		badRequest{name: "PhotoRangeTooLong", method: "GET", path: photoPath, token: ins, header: []string{"Range", "bytes=" + strings.Repeat("0-1,", 60)}, status: 400},
		get("ThumbnailSizeNotAllowed", "/v1/evidence/"+ev+"/thumbnail?size=640", ins, 400),
		get("ThumbnailSizeNotNumber", "/v1/evidence/"+ev+"/thumbnail?size=big", ins, 400),
		get("ThumbnailSizeNegative", "/v1/evidence/"+ev+"/thumbnail?size=-320", ins, 400),
		get("ThumbnailNotMadeYet", "/v1/evidence/"+ev+"/thumbnail?size=1280", ins, 404),
		get("ReviewsNotUUID", "/v1/evidence/zzz/reviews", ins, 400),
		get("ReviewsUnknown", "/v1/evidence/"+missing+"/reviews", ins, 404),
	)

	// --- list query parameters (evidence, users, cases, patrols)
	list := func(name, query string) badRequest { return get(name, "/v1/evidence?"+query, admin, 400) }
	add("list",
		list("BBoxNotNumbers", "bbox=a,b,c,d"),
		list("BBoxThreeNumbers", "bbox=118,40,119"),
		list("BBoxFiveNumbers", "bbox=118,40,119,41,42"),
		list("BBoxDotsOnly", "bbox=.,.,.,."),
		list("BBoxManyDots", "bbox=1.2.3,40,119,41"),
		list("BBoxMinGreaterThanMax", "bbox=119,41,118,40"),
		list("BBoxLatitude91", "bbox=118,40,119,91"),
		list("BBoxLongitude181", "bbox=-181,40,119,41"),
		list("BBoxTooLong", "bbox="+strings.Repeat("1", 60)+","+strings.Repeat("1", 40)+",2,3"),
		list("BBoxHexFloat", "bbox=0x1p-2,40,119,41"),
		list("BBoxInfinity", "bbox=-Inf,40,Inf,41"),
		list("BBoxSpaces", "bbox=118,%2040,119,41"),
		list("NearWithoutRadius", "near=118.3,40.1"),
		list("RadiusWithoutNear", "radius_m=100"),
		list("RadiusZero", "near=118.3,40.1&radius_m=0"),
		list("RadiusHuge", "near=118.3,40.1&radius_m=1e9"),
		list("RadiusNaN", "near=118.3,40.1&radius_m=NaN"),
		list("NearOneNumber", "near=118.3&radius_m=100"),
		list("NearLatitude95", "near=118.3,95&radius_m=100"),
		list("NearDotsOnly", "near=.,.&radius_m=100"),
		list("LimitZero", "limit=0"),
		list("LimitTenThousand", "limit=10000"),
		list("LimitNegative", "limit=-1"),
		list("LimitNotNumber", "limit=abc"),
		list("LimitFraction", "limit=1.5"),
		list("LimitBeyondInt64", "limit=99999999999999999999"),
		list("CursorGarbage", "cursor=%21%21%21"),
		list("CursorBase64OfJunk", "cursor="+base64.RawURLEncoding.EncodeToString([]byte("hello world"))),
		list("CursorBadTime", "cursor="+base64.RawURLEncoding.EncodeToString([]byte("yesterday|"+missing))),
		list("CursorIDNotUUID", "cursor="+base64.RawURLEncoding.EncodeToString([]byte("2026-11-28T09:00:00Z|"+strings.Repeat("x", 36)))),
		list("CursorIDWithQuote", "cursor="+base64.RawURLEncoding.EncodeToString([]byte("2026-11-28T09:00:00Z|'; DROP TABLE evidence; --  xxxx"))),
		list("CursorPadded", "cursor="+base64.URLEncoding.EncodeToString([]byte("2026-11-28T09:00:00Z|"+missing+"x"))),
		list("CursorTooLong", "cursor="+strings.Repeat("A", 513)),
		list("CursorNotUTC", "cursor="+base64.RawURLEncoding.EncodeToString([]byte("2026-11-28T17:00:00+08:00|"+missing))),
		list("FromNotTime", "from=yesterday"),
		list("FromAfterTo", "from=2026-11-28T00:00:00Z&to=2026-11-01T00:00:00Z"),
		list("FlagUnknown", "flag=suspicious"),
		list("ReviewStateUnknown", "review_state=maybe"),
		list("CategoryUnknown", "category=noise"),
		list("TownshipNotNineDigits", "township=13022710"),
		list("ReachLowercase", "reach=lh-03"),
		list("UploaderNotUUID", "uploader=me"),
		list("QuerySemicolonSeparator", "category=dust_site;flag=duplicate_of"),
		list("QuerySemicolonInValue", "bbox=118,40,119,41;"),
		list("QueryBadPercentEscape", "township=%zz"),
		list("QueryTruncatedPercentEscape", "limit=5%"),
		get("CasesStateUnknown", "/v1/cases?state=pending", admin, 400),
		get("CasesOverdueMaybe", "/v1/cases?overdue=maybe", admin, 400),
		get("CasesCursorJunk", "/v1/cases?cursor=bm9wZQ", admin, 400),
		get("CasesLimitZero", "/v1/cases?limit=0", admin, 400),
		get("PatrolsValidMaybe", "/v1/patrols?valid=maybe", admin, 400),
		get("PatrolsChiefNotUUID", "/v1/patrols?chief=c.chief", admin, 400),
		get("PatrolsCursorJunk", "/v1/patrols?cursor=%E2%98%83", admin, 400),
		get("PatrolsFromAfterTo", "/v1/patrols?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z", admin, 400),
		get("PatrolsReachPathTraversal", "/v1/patrols?reach=..%2F..%2Fetc", admin, 400),
	)

	// --- reviews
	review := "/v1/evidence/" + ev + "/review"
	add("review",
		post("DecisionUnknown", review, admin, []byte(`{"decision":"approved"}`), 400),
		post("DecisionMissing", review, admin, []byte(`{"note":"x"}`), 400),
		post("NoteTooLong", review, admin, js(map[string]string{"decision": "accepted", "note": strings.Repeat("n", 2001)}), 400),
		post("NoteNumber", review, admin, []byte(`{"decision":"accepted","note":5}`), 400),
		post("ServerOwnedReviewer", review, admin, []byte(`{"decision":"accepted","reviewer_id":"`+uid+`"}`), 400),
		post("EvidenceNotUUID", "/v1/evidence/1/review", admin, []byte(`{"decision":"accepted"}`), 400),
		post("EvidenceUnknown", "/v1/evidence/"+missing+"/review", admin, []byte(`{"decision":"accepted"}`), 404),
		post("NotAdministrator", review, ins, []byte(`{"decision":"accepted"}`), 403),
	)

	// --- boundary and reach imports (GeoJSON)
	imp := func(name, path, body string, status int) badRequest {
		return badRequest{name: name, method: "POST", path: path, token: admin, ctype: "application/geo+json", body: []byte(body), status: status}
	}
	const ti, ri = "/v1/townships:import", "/v1/reaches:import"
	township := func(geom string) string {
		return `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"130227199","name":"测试镇","kind":"town","zone":"core"},"geometry":` + geom + `}]}`
	}
	reach := func(geom string) string {
		return `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"ZZ-01","river":"测试河","name":"测试段","township_code":"130227101"},"geometry":` + geom + `}]}`
	}
	square := `{"type":"Polygon","coordinates":[[[118.1,40.1],[118.2,40.1],[118.2,40.2],[118.1,40.2],[118.1,40.1]]]}`
	add("import",
		imp("NotJSON", ti, `FeatureCollection`, 400),
		imp("Truncated", ti, township(square)[:60], 400),
		imp("NotAFeatureCollection", ti, `{"type":"Feature","geometry":null,"properties":{}}`, 400),
		imp("FeaturesNotArray", ti, `{"type":"FeatureCollection","features":{}}`, 400),
		imp("FeatureNotObject", ti, `{"type":"FeatureCollection","features":[42]}`, 400),
		imp("EmptyFeatures", ti, `{"type":"FeatureCollection","features":[]}`, 422),
		imp("GeometryNull", ti, township(`null`), 422),
		imp("GeometryPoint", ti, township(`{"type":"Point","coordinates":[118.1,40.1]}`), 422),
		imp("CoordinatesStrings", ti, township(`{"type":"Polygon","coordinates":[[["118.1","40.1"],["118.2","40.1"],["118.2","40.2"],["118.1","40.1"]]]}`), 422),
		imp("HugeCoordinates", ti, township(`{"type":"Polygon","coordinates":[[[1e300,1e300],[1e301,1e300],[1e301,1e301],[1e300,1e300]]]}`), 422),
		imp("CoordinateOverflow", ti, township(`{"type":"Polygon","coordinates":[[[1e400,40.1],[118.2,40.1],[118.2,40.2],[1e400,40.1]]]}`), 400),
		imp("ThreeDimensional", ti, township(`{"type":"Polygon","coordinates":[[[118.1,40.1,5],[118.2,40.1,5],[118.2,40.2,5],[118.1,40.1,5]]]}`), 422),
		imp("RingNotClosed", ti, township(`{"type":"Polygon","coordinates":[[[118.1,40.1],[118.2,40.1],[118.2,40.2],[118.1,40.2]]]}`), 422),
		imp("RingTooShort", ti, township(`{"type":"Polygon","coordinates":[[[118.1,40.1],[118.2,40.1],[118.1,40.1]]]}`), 422),
		imp("SelfIntersecting", ti, township(`{"type":"Polygon","coordinates":[[[118.1,40.1],[118.2,40.2],[118.2,40.1],[118.1,40.2],[118.1,40.1]]]}`), 422),
		imp("SwappedLonLat", ti, township(`{"type":"Polygon","coordinates":[[[40.1,118.1],[40.1,118.2],[40.2,118.2],[40.1,118.1]]]}`), 422),
		imp("CodeNotNineDigits", ti, strings.Replace(township(square), "130227199", "1302", 1), 422),
		imp("CodeMissing", ti, strings.Replace(township(square), `"code":"130227199",`, "", 1), 422),
		imp("DeepNesting", ti, `{"type":"FeatureCollection","features":[`+strings.Repeat("[", 50000)+strings.Repeat("]", 50000)+`]}`, 400),
		imp("EffectiveFromGarbage", ti+"?effective_from=soon", township(square), 400),
		imp("NotAdministrator", ti, township(square), 403).as(ins),
		imp("ReachIsPolygon", ri, reach(square), 422),
		imp("ReachSinglePoint", ri, reach(`{"type":"LineString","coordinates":[[118.1,40.1]]}`), 422),
		imp("ReachNaNString", ri, reach(`{"type":"LineString","coordinates":[[118.1,40.1],["NaN",40.2]]}`), 422),
		imp("ReachCodeLowercase", ri, strings.Replace(reach(`{"type":"LineString","coordinates":[[118.1,40.1],[118.2,40.2]]}`), "ZZ-01", "zz-01", 1), 422),
	)

	// --- townships, reaches, chiefs
	chiefs := "/v1/reaches/LH-03/chiefs"
	put := func(name, path, body string, status int) badRequest {
		return badRequest{name: name, method: "PUT", path: path, token: admin, body: []byte(body), status: status}
	}
	add("geography",
		get("ReachCodeLowercase", "/v1/reaches/lh-03", ins, 400),
		get("ReachCodePathTraversal", "/v1/reaches/..%2F..%2Fetc%2Fpasswd", ins, 400),
		get("ReachCodeDotDot", "/v1/reaches/..", ins, 400),
		get("ReachUnknown", "/v1/reaches/ZZ-999", ins, 404),
		get("ReachCodeTooManyDigits", "/v1/reaches/LH-0003", ins, 400),
		get("TownshipCodeLetters", "/v1/townships/13022710A", ins, 400),
		get("TownshipPathTraversal", "/v1/townships/..%2F..%2F..%2Fetc", ins, 400),
		get("TownshipUnknown", "/v1/townships/999999999", ins, 404),
		get("ReachesBBoxMinGreaterThanMax", "/v1/reaches?bbox=119,41,118,40", ins, 400),
		get("ReachesBBoxNotNumbers", "/v1/reaches?bbox=x,y,z,w", ins, 400),
		get("ReachesChiefNotUUID", "/v1/reaches?chief=someone", ins, 400),
		get("ReachesRiverTooLong", "/v1/reaches?river="+strings.Repeat("河", 65), ins, 400),
		get("ReachesTownshipShort", "/v1/reaches?township=1", ins, 400),
		put("ChiefsNotArray", chiefs, `{"user_id":"`+w.ids["c.chief"]+`","level":"village"}`, 400),
		put("ChiefsLevelUnknown", chiefs, `[{"user_id":"`+w.ids["c.chief"]+`","level":"province"}]`, 400),
		put("ChiefsUserNotUUID", chiefs, `[{"user_id":"c.chief","level":"village"}]`, 400),
		put("ChiefsUnknownMember", chiefs, `[{"user_id":"`+w.ids["c.chief"]+`","level":"village","name":"x"}]`, 400),
		put("ChiefsValidFromGarbage", chiefs, `[{"user_id":"`+w.ids["c.chief"]+`","level":"village","valid_from":"now"}]`, 400),
		put("ChiefsTooMany", chiefs, func() string {
			items := make([]string, 51)
			for i := range items {
				items[i] = `{"user_id":"` + uuid.NewString() + `","level":"village"}`
			}
			return "[" + strings.Join(items, ",") + "]"
		}(), 400),
		put("ChiefsNotARiverChief", chiefs, `[{"user_id":"`+uid+`","level":"village"}]`, 422),
		put("ChiefsUnknownUser", chiefs, `[{"user_id":"`+missing+`","level":"village"}]`, 422),
		put("ChiefsValidToBeforeFrom", chiefs, `[{"user_id":"`+w.ids["c.chief"]+`","level":"village","valid_from":"2026-12-01T00:00:00Z","valid_to":"2026-11-01T00:00:00Z"}]`, 422),
		put("ChiefsUnknownReach", "/v1/reaches/ZZ-99/chiefs", `[{"user_id":"`+w.ids["c.chief"]+`","level":"village"}]`, 404),
		put("ChiefsBadReachCode", "/v1/reaches/lh03/chiefs", `[]`, 400),
	)

	add("relink",
		post("NotAdministrator", "/v1/admin/relink", officer, nil, 403),
		get("WrongMethod", "/v1/admin/relink", admin, 405),
	)

	// --- cases
	caseBody := func(mod func(m map[string]any)) []byte {
		m := map[string]any{"evidence_ids": []string{ev}, "title": "河道垃圾", "category": "river_section", "severity": "medium"}
		mod(m)
		return js(m)
	}
	tr := "/v1/cases/" + w.caseID + "/transitions"
	transition := func(name, body string, key string, status int) badRequest {
		c := badRequest{name: name, method: "POST", path: tr, token: admin, body: []byte(body), status: status}
		if key != "" {
			c.header = []string{"Idempotency-Key", key}
		}
		return c
	}
	comment := "/v1/cases/" + w.caseID + "/comments"
	add("cases",
		post("CreateNotJSON", "/v1/cases", admin, []byte(`{"title":"x",`), 400),
		post("CreateEvidenceEmpty", "/v1/cases", admin, caseBody(func(m map[string]any) { m["evidence_ids"] = []string{} }), 400),
		post("CreateEvidenceDuplicated", "/v1/cases", admin, caseBody(func(m map[string]any) { m["evidence_ids"] = []string{ev, ev} }), 400),
		post("CreateEvidenceNotUUID", "/v1/cases", admin, caseBody(func(m map[string]any) { m["evidence_ids"] = []string{"ev-1"} }), 400),
		post("CreateEvidenceNotArray", "/v1/cases", admin, caseBody(func(m map[string]any) { m["evidence_ids"] = ev }), 400),
		post("CreateEvidenceUnknown", "/v1/cases", admin, caseBody(func(m map[string]any) { m["evidence_ids"] = []string{missing} }), 422),
		post("CreateDeadlineInPast", "/v1/cases", admin, caseBody(func(m map[string]any) { m["deadline"] = "2020-01-01T00:00:00Z" }), 422),
		post("CreateDeadlineGarbage", "/v1/cases", admin, caseBody(func(m map[string]any) { m["deadline"] = "next week" }), 400),
		post("CreateTitleEmpty", "/v1/cases", admin, caseBody(func(m map[string]any) { m["title"] = "" }), 400),
		post("CreateTitleTooLong", "/v1/cases", admin, caseBody(func(m map[string]any) { m["title"] = strings.Repeat("题", 201) }), 400),
		post("CreateTitleOnlyControls", "/v1/cases", admin, caseBody(func(m map[string]any) { m["title"] = "\u0001\u0002\u200b\u202e" }), 422),
		post("CreateTitleOnlySpaces", "/v1/cases", admin, caseBody(func(m map[string]any) { m["title"] = "   \t " }), 422),
		post("CreateSeverityUnknown", "/v1/cases", admin, caseBody(func(m map[string]any) { m["severity"] = "critical" }), 400),
		post("CreateTownshipBad", "/v1/cases", admin, caseBody(func(m map[string]any) { m["township_code"] = "1302271O1" }), 400),
		post("CreateReachBad", "/v1/cases", admin, caseBody(func(m map[string]any) { m["reach_code"] = "LH_03" }), 400),
		post("CreateServerOwnedState", "/v1/cases", admin, caseBody(func(m map[string]any) { m["state"] = "closed" }), 400),
		post("CreateNotAdministrator", "/v1/cases", officer, caseBody(func(m map[string]any) {}), 403),
		transition("ActionUnknown", `{"action":"close"}`, uuid.NewString(), 400),
		transition("ActionMissing", `{"note":"x"}`, uuid.NewString(), 400),
		transition("MissingIdempotencyKey", `{"action":"start"}`, "", 400),
		transition("IdempotencyKeyNotUUID", `{"action":"start"}`, "start-1", 400),
		transition("EvidenceEmpty", `{"action":"submit_rectification","evidence_ids":[]}`, uuid.NewString(), 400),
		transition("EvidenceDuplicated", `{"action":"submit_rectification","evidence_ids":["`+ev+`","`+ev+`"]}`, uuid.NewString(), 400),
		transition("EvidenceNotUUID", `{"action":"submit_rectification","evidence_ids":["x"]}`, uuid.NewString(), 400),
		transition("OverrideReasonEmpty", `{"action":"start","override_reason":""}`, uuid.NewString(), 400),
		transition("VerifyWhileOpen", `{"action":"verify"}`, uuid.NewString(), 409).typed("urn:fieldwatch:problem:case-state"),
		transition("ReopenWhileOpen", `{"action":"reopen"}`, uuid.NewString(), 409).typed("urn:fieldwatch:problem:case-state"),
		badRequest{name: "TransitionCaseNotUUID", method: "POST", path: "/v1/cases/1/transitions", token: admin, body: []byte(`{"action":"start"}`),
			header: []string{"Idempotency-Key", uuid.NewString()}, status: 400},
		badRequest{name: "TransitionUnknownCase", method: "POST", path: "/v1/cases/" + missing + "/transitions", token: admin, body: []byte(`{"action":"start"}`),
			header: []string{"Idempotency-Key", uuid.NewString()}, status: 404},
		post("CommentEmpty", comment, admin, []byte(`{"body":""}`), 400),
		post("CommentTooLong", comment, admin, js(map[string]string{"body": strings.Repeat("评", 4001)}), 400),
		post("CommentUnknownMember", comment, admin, []byte(`{"body":"x","author":"someone"}`), 400),
		post("CommentOnlyControls", comment, admin, []byte(`{"body":"\u0000\u0007\u200b"}`), 422),
		post("CommentUnknownCase", "/v1/cases/"+missing+"/comments", admin, []byte(`{"body":"x"}`), 404),
		post("CommentOutOfScope", comment, w.other, []byte(`{"body":"x"}`), 404),
		get("GetNotUUID", "/v1/cases/abc", admin, 400),
		get("GetUnknown", "/v1/cases/"+missing, admin, 404),
	)

	// --- the audit trail (administrators)
	audit := func(name, query string, status int) badRequest { return get(name, "/v1/audit?"+query, admin, status) }
	add("audit",
		audit("AfterNegative", "after=-1", 400),
		audit("AfterNotNumber", "after=abc", 400),
		audit("AfterBeyondInt64", "after=9223372036854775808", 400),
		audit("ActionUppercase", "action=CASE.OPENED", 400),
		audit("ActionSemicolon", "action=case;drop", 400),
		audit("ActorBadPercentEscape", "actor=%G0", 400),
		audit("ActionPercent", "action=case%25", 400),
		audit("ActionTooLong", "action="+strings.Repeat("a", 65), 400),
		audit("ObjectTypeDigits", "object_type=case1", 400),
		audit("ObjectIDTooLong", "object_id="+strings.Repeat("x", 65), 400),
		audit("ActorNotUUID", "actor=root", 400),
		audit("FromNotTime", "from=2026-13-01T00:00:00Z", 400),
		audit("FromAfterTo", "from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z", 400),
		audit("LimitZero", "limit=0", 400),
		get("NotAdministrator", "/v1/audit", officer, 403),
		get("HeadNotAdministrator", "/v1/audit/head", ins, 403),
	)

	// --- patrols
	patrol := func(name string, body map[string]any, status int) badRequest {
		if _, ok := body["reach_code"]; !ok {
			body["reach_code"] = "LH-03"
		}
		return badRequest{name: name, method: "POST", path: "/v1/patrols", token: chief, body: js(body),
			header: []string{"Idempotency-Key", uuid.NewString()}, status: status}
	}
	line := map[string]any{"type": "LineString", "coordinates": [][]float64{{118.27, 40.25}, {118.28, 40.25}, {118.29, 40.25}}}
	times := []string{"2026-11-20T08:00:00Z", "2026-11-20T08:20:00Z", "2026-11-20T08:40:00Z"}
	track := func(geom any, ts any) map[string]any {
		return map[string]any{"type": "Feature", "geometry": geom, "properties": map[string]any{"times": ts}}
	}
	gpx := `<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>` +
		`<trkpt lat="40.25" lon="118.27"><time>2026-11-20T08:00:00Z</time></trkpt>` +
		`<trkpt lat="40.25" lon="118.28"><time>2026-11-20T08:30:00Z</time></trkpt></trkseg></trk></gpx>`
	laughs := `<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>` +
		`<gpx version="1.1"><trk><name>&lol3;</name></trk></gpx>`
	xxe := `<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><gpx version="1.1"><trk><name>&xxe;</name></trk></gpx>`
	add("patrols",
		patrol("TrackNotFeature", map[string]any{"track": map[string]any{"type": "FeatureCollection", "features": []any{}}}, 400),
		patrol("TrackGeometryPoint", map[string]any{"track": track(map[string]any{"type": "Point", "coordinates": []float64{118.27, 40.25}}, times[:1])}, 422),
		patrol("TrackTimesCountMismatch", map[string]any{"track": track(line, times[:2])}, 422),
		patrol("TrackTimesNotStrings", map[string]any{"track": track(line, []int{1, 2, 3})}, 422),
		patrol("TrackTimesGarbage", map[string]any{"track": track(line, []string{"a", "b", "c"})}, 422),
		patrol("TrackTimesBackwards", map[string]any{"track": track(line, []string{times[2], times[1], times[0]})}, 422),
		patrol("TrackLatitude91", map[string]any{"track": track(map[string]any{"type": "LineString", "coordinates": [][]float64{{118.27, 91}, {118.28, 40.25}, {118.29, 40.25}}}, times)}, 422),
		patrol("TrackNoTimes", map[string]any{"track": map[string]any{"type": "Feature", "geometry": line, "properties": map[string]any{}}}, 422),
		patrol("GPXBillionLaughs", map[string]any{"gpx": laughs}, 422),
		patrol("GPXExternalEntity", map[string]any{"gpx": xxe}, 422),
		patrol("GPXNotXML", map[string]any{"gpx": "lat,lon,time\n40.25,118.27,2026-11-20T08:00:00Z\n"}, 422),
		patrol("GPXWrongRoot", map[string]any{"gpx": `<kml><Document/></kml>`}, 422),
		patrol("GPXUnclosed", map[string]any{"gpx": gpx[:len(gpx)-20]}, 422),
		patrol("BothTrackAndGPX", map[string]any{"track": track(line, times), "gpx": gpx}, 422),
		patrol("NeitherTrackNorGPX", map[string]any{"note": "walked"}, 422),
		patrol("ReachCodeBad", map[string]any{"reach_code": "lh-03", "gpx": gpx}, 400),
		patrol("ReachUnknown", map[string]any{"reach_code": "ZZ-99", "gpx": gpx}, 404),
		patrol("EvidenceDuplicated", map[string]any{"gpx": gpx, "evidence_ids": []string{ev, ev}}, 400),
		patrol("UnknownMember", map[string]any{"gpx": gpx, "chief_id": uid}, 400),
		badRequest{name: "MissingIdempotencyKey", method: "POST", path: "/v1/patrols", token: chief, body: js(map[string]any{"reach_code": "LH-03", "gpx": gpx}), status: 400},
		badRequest{name: "NotAChief", method: "POST", path: "/v1/patrols", token: ins, body: js(map[string]any{"reach_code": "LH-03", "gpx": gpx}),
			header: []string{"Idempotency-Key", uuid.NewString()}, status: 403},
		get("GetNotUUID", "/v1/patrols/nope", chief, 400),
		get("GetUnknown", "/v1/patrols/"+missing, chief, 404),
		get("ReachPatrolsBadCode", "/v1/reaches/LH03/patrols", chief, 400),
		get("ReachPatrolsUnknownReach", "/v1/reaches/ZZ-98/patrols", chief, 404),
		get("ReachPatrolsLimitHuge", "/v1/reaches/LH-03/patrols?limit=501", chief, 400),
	)

	add("compliance",
		get("MonthThirteen", "/v1/patrols/compliance?month=2026-13", chief, 400),
		get("MonthOneDigit", "/v1/patrols/compliance?month=2026-1", chief, 400),
		get("MonthMissing", "/v1/patrols/compliance", chief, 400),
		get("MonthEmpty", "/v1/patrols/compliance?month=", chief, 400),
		get("MonthWithDay", "/v1/patrols/compliance?month=2026-11-01", chief, 400),
		get("MonthZero", "/v1/patrols/compliance?month=2026-00", chief, 400),
		get("MonthTwice", "/v1/patrols/compliance?month=2026-11&month=2026-10", chief, 400),
	)

	// --- responsibility letters
	letter := func(mod func(m map[string]any)) []byte {
		m := map[string]any{"year": 2026, "signed_on": "2026-02-01", "indicators": []map[string]any{
			{"metric": "evidence_found", "rule": "linear", "floor": 0, "target": 3, "weight": 100}}}
		mod(m)
		return js(m)
	}
	letters := "/v1/townships/" + townshipA + "/letters"
	ind := func(m map[string]any) func(map[string]any) {
		return func(l map[string]any) {
			base := map[string]any{"metric": "evidence_found", "rule": "linear", "floor": 0, "target": 3, "weight": 100}
			for k, v := range m {
				if v == nil {
					delete(base, k)
				} else {
					base[k] = v
				}
			}
			l["indicators"] = []map[string]any{base}
		}
	}
	add("letters",
		post("WeightsNot100", letters, admin, letter(ind(map[string]any{"weight": 60})), 422),
		post("WeightsOver100", letters, admin, letter(func(l map[string]any) {
			l["indicators"] = []map[string]any{{"metric": "evidence_found", "rule": "linear", "target": 3, "weight": 100},
				{"metric": "overdue_cases", "rule": "deduct", "target": 0, "points_per": 5, "weight": 50}}
		}), 422),
		post("MetricUnknown", letters, admin, letter(ind(map[string]any{"metric": "happiness"})), 400),
		post("RuleUnknown", letters, admin, letter(ind(map[string]any{"rule": "exponential"})), 400),
		post("WeightZero", letters, admin, letter(ind(map[string]any{"weight": 0})), 400),
		post("WeightNegative", letters, admin, letter(ind(map[string]any{"weight": -100})), 400),
		post("TargetNegative", letters, admin, letter(ind(map[string]any{"target": -1})), 400),
		post("Year1999", letters, admin, letter(func(l map[string]any) { l["year"] = 1999 }), 400),
		post("YearString", letters, admin, letter(func(l map[string]any) { l["year"] = "2026" }), 400),
		post("SignedOnGarbage", letters, admin, letter(func(l map[string]any) { l["signed_on"] = "last spring" }), 400),
		post("SignedOnImpossibleDate", letters, admin, letter(func(l map[string]any) { l["signed_on"] = "2026-02-30" }), 400),
		post("SignedOnDateTime", letters, admin, letter(func(l map[string]any) { l["signed_on"] = "2026-02-01T00:00:00Z" }), 400),
		post("IndicatorsEmpty", letters, admin, letter(func(l map[string]any) { l["indicators"] = []any{} }), 400),
		post("IndicatorUnknownMember", letters, admin, letter(ind(map[string]any{"bonus": 5})), 400),
		post("DuplicateSignedOn", letters, admin, js(testLetter), 409),
		post("TownshipCodeBad", "/v1/townships/13022710/letters", admin, letter(func(map[string]any) {}), 400),
		post("TownshipUnknown", "/v1/townships/999999999/letters", admin, letter(func(map[string]any) {}), 404),
		post("NotAdministrator", letters, officer, letter(func(map[string]any) {}), 403),
		get("ListBadCode", "/v1/townships/abc/letters", admin, 400),
	)

	add("assessments",
		get("MonthGarbage", "/v1/assessments/november", admin, 400),
		get("MonthThirteen", "/v1/assessments/2026-13", admin, 400),
		get("MonthOneDigit", "/v1/assessments/2026-1", admin, 400),
		get("FormatPDF", "/v1/assessments/2026-11?format=pdf", admin, 400),
		get("FormatUppercase", "/v1/assessments/2026-11?format=CSV", admin, 400),
		get("TownshipBadCode", "/v1/assessments/2026-11/townships/1", admin, 400),
		get("TownshipUnknown", "/v1/assessments/2026-11/townships/999999999", admin, 404),
		get("TownshipOutOfScope", "/v1/assessments/2026-11/townships/"+townshipA, officer, 404),
		post("FreezeFutureMonth", "/v1/assessments/2026-12:freeze", admin, nil, 409),
		post("FreezeCurrentMonth", "/v1/assessments/2026-11:freeze", admin, nil, 409),
		post("FreezeTwice", "/v1/assessments/2026-10:freeze", admin, nil, 409),
		post("FreezeMonthGarbage", "/v1/assessments/2026-1x:freeze", admin, nil, 400),
		post("FreezeNotAdministrator", "/v1/assessments/2026-10:freeze", officer, nil, 403),
		post("FreezeUnknownVerb", "/v1/assessments/2026-10:thaw", admin, nil, 405),
	)

	// --- Unicode in bodies, paths and queries
	add("unicode",
		post("InvalidUTF8InJSON", comment, admin, []byte("{\"body\":\"\xff\xfe\xfd\"}"), 400),
		post("OverlongEncodingInJSON", comment, admin, []byte("{\"body\":\"\xc0\xaf\xe0\x80\xaf\"}"), 400),
		post("SurrogateBytesInJSON", comment, admin, []byte("{\"body\":\"\xed\xa0\x80\"}"), 400),
		post("TruncatedMultibyte", comment, admin, []byte("{\"body\":\"\xe6\xb2\"}"), 400),
		post("RawNULInJSONString", comment, admin, []byte("{\"body\":\"a\x00b\"}"), 400),
		post("RawControlInJSONString", comment, admin, []byte("{\"body\":\"a\x07b\"}"), 400),
		post("UTF16Body", "/v1/auth/login", "", []byte("\xff\xfe{\x00}\x00"), 400),
		post("UTF8BOMBody", "/v1/auth/login", "", []byte("\xef\xbb\xbf{\"username\":\"u5\",\"password\":\"xxxxxxxx\"}"), 400),
		post("InvalidUTF8InUsername", "/v1/auth/login", "", []byte("{\"username\":\"\xc3\x28\",\"password\":\"xxxxxxxx\"}"), 400),
		post("NULInLoginUsername", "/v1/auth/login", "", []byte(`{"username":"adm\u0000in","password":"xxxxxxxx"}`), 401),
		post("NULInRefreshToken", "/v1/auth/refresh", "", []byte(`{"refresh_token":"abc\u0000def"}`), 401),
		post("NULInUsername", "/v1/users", admin, user(func(m map[string]any) { m["username"] = "nul\u0000user" }), 422),
		post("InvalidUTF8InDisplayName", "/v1/users", admin, []byte("{\"username\":\"u.utf\",\"display_name\":\"\xe4\xb8\",\"role\":\"inspector\",\"password\":\""+pw+"\"}"), 400),
		get("InvalidUTF8InPath", "/v1/reaches/%FF%FE", ins, 400),
		get("InvalidUTF8InQuery", "/v1/reaches?river=%FF%FE", ins, 400),
		get("NULInQuery", "/v1/reaches?river=a%00b", ins, 400),
		get("NULInAuditObjectID", "/v1/audit?object_id=a%00b", admin, 400),
		get("InvalidUTF8InAuditObjectID", "/v1/audit?object_id=%C0%AF", admin, 400),
		get("FullwidthDigitsInTownship", "/v1/townships/１３０２２７１０１", ins, 400),
		get("ArabicIndicDigitsInMonth", "/v1/assessments/٢٠٢٦-١١", admin, 400),
	)

	// --- Content-Type of JSON bodies
	login := []byte(`{"username":"u6","password":"xxxxxxxx"}`)
	ctCase := func(name, ct string, status int) badRequest {
		return badRequest{name: name, method: "POST", path: "/v1/auth/login", ctype: ct, body: login, status: status}
	}
	add("content-type",
		ctCase("Missing", noCT, 400),
		ctCase("TextPlain", "text/plain", 400),
		ctCase("FormURLEncoded", "application/x-www-form-urlencoded", 400),
		ctCase("XML", "application/xml", 400),
		ctCase("Multipart", "multipart/form-data; boundary=x", 400),
		ctCase("Garbage", ";;;", 400),
		badRequest{name: "ImportAsPlainJSONText", method: "POST", path: ti, token: admin, ctype: "text/plain", body: []byte(township(square)), status: 400},
		badRequest{name: "CaseAsForm", method: "POST", path: "/v1/cases", token: admin, ctype: "application/x-www-form-urlencoded",
			body: []byte("title=x&category=other&severity=low"), status: 400},
	)

	// --- body size limits
	big := js(map[string]string{"username": "u7", "password": strings.Repeat("p", 1<<20)})
	add("limits",
		post("LoginOverOneMiB", "/v1/auth/login", "", big, 413),
		post("UserOverOneMiB", "/v1/users", admin, user(func(m map[string]any) { m["display_name"] = strings.Repeat("x", 1<<20) }), 413),
		post("CommentOverOneMiB", comment, admin, js(map[string]string{"body": strings.Repeat("x", 1<<20)}), 413),
		raw("ImportDeclares65MiB", 413, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/geo+json\r\n"+
			"Content-Length: %d\r\nConnection: close\r\n\r\n{", ti, admin, 65<<20),
		raw("JSONDeclaresTwoMiB", 413, "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
			"Content-Length: %d\r\nConnection: close\r\n\r\n{", admin, 2<<20),
		raw("JSONBodyCutShort", 400, "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"+
			"Content-Length: 500\r\nConnection: close\r\n\r\n{\"title\":\"x\"", admin),
		raw("UploadContentDeclaresTerabyte", 413, "PUT %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/octet-stream\r\n"+
			"Content-Length: %d\r\nConnection: close\r\n\r\n", content, ins, 1<<40),
	)

	add("method",
		badRequest{name: "DeleteUsers", method: "DELETE", path: "/v1/users", token: admin, status: 405},
		badRequest{name: "PutEvidence", method: "PUT", path: "/v1/evidence", token: ins, status: 405},
		badRequest{name: "DeleteEvidence", method: "DELETE", path: "/v1/evidence/" + ev, token: admin, status: 405},
		badRequest{name: "GetLogin", method: "GET", path: "/v1/auth/login", status: 405},
		badRequest{name: "DeleteCase", method: "DELETE", path: "/v1/cases/" + w.caseID, token: admin, status: 405},
		badRequest{name: "PatchHealthz", method: "PATCH", path: "/healthz", status: 405},
		badRequest{name: "GetImport", method: "GET", path: ti, token: admin, status: 405},
		badRequest{name: "PostAuditHead", method: "POST", path: "/v1/audit/head", token: admin, status: 405},
		badRequest{name: "TraceMe", method: "TRACE", path: "/v1/me", token: admin, status: 405},
		badRequest{name: "MadeUpMethod", method: "BREW", path: "/v1/evidence", token: admin, status: 405},
	)

	add("path",
		get("Unknown", "/v1/nope", admin, 404),
		get("OtherVersion", "/v2/evidence", admin, 404),
		get("UnknownSubresource", "/v1/evidence/"+ev+"/exif", admin, 404),
		get("DotDotEncoded", "/v1/%2e%2e/%2e%2e/etc/passwd", admin, 404),
		get("EncodedSlashes", "/v1%2Fusers", admin, 404),
		get("DoubleSlash", "/v1//users", admin, 404),
		get("Root", "/", "", 404),
		get("VeryLongPath", "/v1/"+strings.Repeat("a", 4000), admin, 404),
		get("NULInPath", "/v1/users%00", admin, 404),
		get("BackslashTraversal", "/v1/reaches/..%5C..%5Cwindows", admin, 400),
	)
	return cases
}

// acceptedInput is an input the catalogue says is accepted (flagged,
// cleaned or ignored), with what it must become.
type acceptedInput struct {
	name string
	run  func(t *testing.T)
}

func acceptedInputCases(t *testing.T, w *badWorld) []acceptedInput {
	a := w.a
	upload := func(t *testing.T, photo []byte) api.Evidence {
		t.Helper()
		r := a.upload(w.ins, "", photo, `{"category":"dust_site"}`)
		if r.status != http.StatusCreated {
			t.Fatalf("upload: %d %s", r.status, r.body)
		}
		w.stored++
		var e api.Evidence
		r.json(t, &e)
		return e
	}
	noLocation := func(t *testing.T, e api.Evidence) {
		t.Helper()
		if e.Location != nil || e.Exif.Position != nil || e.LocationSource != "none" || !hasFlag(e, "location_missing") {
			t.Fatalf("absurd EXIF GPS gave location %+v (exif %+v, source %s, flags %v)", e.Location, e.Exif.Position, e.LocationSource, e.Flags)
		}
	}
	base := testPhoto(t, "no-exif.jpg")
	photo := testPhoto(t, "dust-xingcheng.jpg")
	return []acceptedInput{
		// D5: a truncated JPEG whose digest matches is kept and flagged.
		{"JPEGTruncatedMidScan", func(t *testing.T) {
			e := upload(t, photo[:len(photo)*3/5])
			if !hasFlag(e, "decode_incomplete") {
				t.Fatalf("flags %v, want decode_incomplete", e.Flags)
			}
		}},
		// D5 (media.Inspect): a file that ends inside its header is kept,
		// flagged, without dimensions.
		{"JPEGCutInFrameHeader", func(t *testing.T) {
			e := upload(t, jpegCutInSOF(t))
			if !hasFlag(e, "decode_incomplete") || e.Width != nil {
				t.Fatalf("flags %v, width %v: want decode_incomplete and no size", e.Flags, e.Width)
			}
		}},
		{"PNGSignatureOnly", func(t *testing.T) {
			e := upload(t, []byte("\x89PNG\r\n\x1a\n"))
			if !hasFlag(e, "decode_incomplete") || e.Width != nil || e.ContentType != "image/png" {
				t.Fatalf("%s, flags %v, width %v: want image/png, decode_incomplete and no size", e.ContentType, e.Flags, e.Width)
			}
		}},
		// D6: absurd GPS in EXIF never becomes a location.
		{"EXIFLatitude91", func(t *testing.T) {
			noLocation(t, upload(t, withGPSEXIF(t, base, [6]uint32{91, 1, 0, 1, 0, 1}, [6]uint32{118, 1, 18, 1, 0, 1})))
		}},
		{"EXIFZeroOverZero", func(t *testing.T) {
			noLocation(t, upload(t, withGPSEXIF(t, base, [6]uint32{0, 0, 0, 0, 0, 0}, [6]uint32{118, 1, 18, 1, 0, 1})))
		}},
		{"EXIFMinutes60", func(t *testing.T) {
			noLocation(t, upload(t, withGPSEXIF(t, base, [6]uint32{40, 1, 75, 1, 0, 1}, [6]uint32{118, 1, 18, 1, 0, 1})))
		}},
		// E4: control and bidi characters are removed from names.
		{"DisplayNameRTLOverride", func(t *testing.T) {
			r := a.do("POST", "/v1/users", w.admin, map[string]any{"username": "rtl.user", "display_name": "\u202e张三\u200b\u0007",
				"role": "inspector", "password": pw})
			if r.status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			var u api.User
			r.json(t, &u)
			if u.DisplayName != "张三" {
				t.Fatalf("display name %q, want the bidi override and controls removed", u.DisplayName)
			}
		}},
		// RFC 9110: a Range the server does not understand is ignored.
		{"PhotoRangeMalformed", func(t *testing.T) {
			for _, h := range []string{"bytes=abc", "bytes=5-2", "lines=0-10", "bytes=0-1,4-5"} {
				r := a.do("GET", "/v1/evidence/"+w.evidence.Id.String()+"/photo", w.ins, nil, "Range", h)
				if r.status != http.StatusOK || int64(len(r.body)) != w.evidence.Size {
					t.Fatalf("Range %q: %d with %d bytes, want the whole photo", h, r.status, len(r.body))
				}
			}
		}},
	}
}

// jpegCutInSOF is a real photo's first bytes, cut inside its frame header.
func jpegCutInSOF(t *testing.T) []byte {
	b := testPhoto(t, "no-exif.jpg")
	i := bytes.Index(b, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 in no-exif.jpg")
	}
	return bytes.Clone(b[:i+5])
}

// jpegBomb is a real photo whose frame header claims 65500×65500 pixels.
func jpegBomb(t *testing.T) []byte {
	b := bytes.Clone(testPhoto(t, "no-exif.jpg"))
	i := bytes.Index(b, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 in no-exif.jpg")
	}
	binary.BigEndian.PutUint16(b[i+5:], 65500)
	binary.BigEndian.PutUint16(b[i+7:], 65500)
	return b
}

// withGPSEXIF puts an EXIF block (APP1) after the JPEG's SOI whose GPS IFD
// has latitude N and longitude E, each three rationals given as
// numerator, denominator pairs.
func withGPSEXIF(t *testing.T, jpeg []byte, lat, lon [6]uint32) []byte {
	t.Helper()
	be := binary.BigEndian
	var tiff []byte
	u16 := func(v uint16) { tiff = be.AppendUint16(tiff, v) }
	u32 := func(v uint32) { tiff = be.AppendUint32(tiff, v) }
	entry := func(tag, typ uint16, count, value uint32) { u16(tag); u16(typ); u32(count); u32(value) }
	const ifd0, gps = 8, 8 + 2 + 12 + 4
	const data = gps + 2 + 4*12 + 4
	tiff = append(tiff, "MM\x00\x2a"...)
	u32(ifd0)
	u16(1)
	entry(0x8825, 4, 1, gps) // GPSInfo pointer
	u32(0)
	u16(4)
	entry(1, 2, 2, uint32('N')<<24) // GPSLatitudeRef "N\0"
	entry(2, 5, 3, data)            // GPSLatitude
	entry(3, 2, 2, uint32('E')<<24) // GPSLongitudeRef "E\0"
	entry(4, 5, 3, data+24)         // GPSLongitude
	u32(0)
	for _, v := range append(lat[:], lon[:]...) {
		u32(v)
	}
	seg := append([]byte{0xff, 0xe1, 0, 0}, "Exif\x00\x00"...)
	seg = append(seg, tiff...)
	be.PutUint16(seg[2:], uint16(len(seg)-2))
	if len(jpeg) < 2 || jpeg[0] != 0xff || jpeg[1] != 0xd8 {
		t.Fatal("not a JPEG")
	}
	out := append([]byte{0xff, 0xd8}, seg...)
	return append(out, jpeg[2:]...)
}
