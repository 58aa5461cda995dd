package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/auth"
	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/store"
)

// Every code has one answer, and the answers are the API's contract.
func TestCodeAnswers(t *testing.T) {
	tests := []struct {
		code   fieldwatch.Code
		status int
		typ    string
		retry  bool
	}{
		{fieldwatch.EMALFORMED, 400, problemValidation, false},
		{fieldwatch.EINVALID, 422, problemValidation, false},
		{fieldwatch.EUNAUTHENTICATED, 401, "", false},
		{fieldwatch.EFORBIDDEN, 403, "", false},
		{fieldwatch.ENOTFOUND, 404, "", false},
		{fieldwatch.ETIMEOUT, 408, "", false},
		{fieldwatch.ECONFLICT, 409, "", false},
		{fieldwatch.ECASESTATE, 409, problemCaseState, false},
		{fieldwatch.EINFLIGHT, 409, "", true},
		{fieldwatch.EKEYREUSED, 422, problemIdempotency, false},
		{fieldwatch.EDIGEST, 422, problemDigest, false},
		{fieldwatch.ETOOLARGE, 413, "", false},
		{fieldwatch.EUNSUPPORTED, 415, "", false},
		{fieldwatch.ERANGE, 416, "", false},
		{fieldwatch.ERATELIMITED, 429, problemRateLimited, true},
		{fieldwatch.EUNAVAILABLE, 503, problemUnavailable, true},
		{fieldwatch.EINTERNAL, 500, problemInternal, false},
	}
	answers := codeAnswers()
	if len(answers) != len(fieldwatch.Codes()) {
		t.Errorf("%d answers for %d codes", len(answers), len(fieldwatch.Codes()))
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			a, ok := answers[tt.code]
			if !ok {
				t.Fatal("no answer")
			}
			if a.status != tt.status || a.typ != tt.typ || a.retry != tt.retry {
				t.Errorf("answer %+v, want status %d type %q retry %v", a, tt.status, tt.typ, tt.retry)
			}
		})
	}
	for _, c := range fieldwatch.Codes() {
		if _, ok := answers[c]; !ok {
			t.Errorf("code %s has no answer", c)
		}
	}
}

// Errors made by each package reach the client with their code's status
// and the message set where they were made; causes stay in the logs.
func TestToProblem(t *testing.T) {
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{idempotent: idempotentOperations(spec)}
	driverConflict := fmt.Errorf("%w: %w", store.ErrConflict, errors.New(`UNIQUE constraint failed: users.username_key`))
	tests := []struct {
		name   string
		err    error
		route  string // "METHOD /path" of the operation
		status int
		detail string
		retry  int
	}{
		{"StoreNotFound", fmt.Errorf("store: case: %w", store.ErrNotFound), "GET /v1/cases/:id", 404, "Not Found", 0},
		{"DomainNotFound", fmt.Errorf("fieldwatch: case outside scope: %w", fieldwatch.ErrNotFound), "GET /v1/cases/:id", 404, "Not Found", 0},
		{"PhotoNotFound", fmt.Errorf("blob: get: %w", blob.ErrNotExist), "GET /v1/evidence/:id/photo", 404, "Not Found", 0},
		{"DriverConflictHidden", driverConflict, "POST /v1/users", 409,
			"the request conflicts with the current state; read it again and retry", 0},
		{"DomainConflict", fieldwatch.Errorf(fieldwatch.ECONFLICT, "2026-10 is already frozen"), "POST /v1/assessments/:month/freeze", 409,
			"2026-10 is already frozen", 0},
		{"Invalid", fieldwatch.Errorf(fieldwatch.EINVALID, "title is empty"), "POST /v1/cases", 422, "title is empty", 0},
		{"WeakPassword", fmt.Errorf("auth: set password: %w", fieldwatch.Wrap(fieldwatch.EINVALID, "must have at least 8 characters", auth.ErrWeakPassword)),
			"POST /v1/users", 422, "must have at least 8 characters", 0},
		{"Unauthenticated", fmt.Errorf("%w: token expired", auth.ErrUnauthenticated), "GET /v1/me", 401,
			"missing, invalid or expired credentials", 0},
		{"LoginLimited", &fieldwatch.Error{Code: fieldwatch.ERATELIMITED, Message: "too many attempts; retry later",
			RetryAfter: 1500 * time.Millisecond, Err: &auth.LimitedError{RetryAfter: 1500 * time.Millisecond}},
			"POST /v1/auth/login", 429, "too many attempts; retry later", 2},
		{"InFlight", fieldwatch.ErrInFlight, "POST /v1/evidence", 409, "an upload with this Idempotency-Key is in progress", retryAfterSeconds},
		{"UnavailableOnUpload", fmt.Errorf("%w: dial tcp: connection refused", store.ErrUnavailable), "POST /v1/evidence", 503,
			"a storage dependency is unavailable; retry later with the same Idempotency-Key", retryAfterSeconds},
		{"UnavailableOnList", fmt.Errorf("%w: dial tcp: connection refused", store.ErrUnavailable), "GET /v1/evidence", 503,
			"a storage dependency is unavailable; retry later", retryAfterSeconds},
		{"PhotoStoreUnavailable", fmt.Errorf("blob: get: %w", blob.ErrUnavailable), "GET /v1/evidence/:id/photo", 503,
			"a storage dependency is unavailable; retry later", retryAfterSeconds},
		{"DeadlineOnList", fmt.Errorf("query: %w", context.DeadlineExceeded), "GET /v1/cases", 503,
			"a storage dependency is unavailable; retry later", retryAfterSeconds},
		{"ServerUploadLimit", fieldwatch.ErrUploadLimit, "POST /v1/evidence", 503,
			"too many uploads in progress; retry later with the same Idempotency-Key", retryAfterSeconds},
		{"UserUploadLimit", fieldwatch.ErrUserUploadLimit, "POST /v1/evidence", 429,
			"too many of your uploads are in progress; retry later", retryAfterSeconds},
		{"TooLarge", &http.MaxBytesError{Limit: 10}, "POST /v1/evidence", 413, "Request Entity Too Large", 0},
		{"NotMultipart", http.ErrNotMultipart, "POST /v1/evidence", 415, "request Content-Type isn't multipart/form-data", 0},
		{"Internal", errors.New("sql: database is closed"), "GET /v1/cases", 500,
			"internal error; quote the request id when reporting it", 0},
		{"InternalNeverShowsMessage", &fieldwatch.Error{Code: fieldwatch.EINTERNAL, Message: "secret"}, "GET /v1/cases", 500,
			"internal error; quote the request id when reporting it", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, path, _ := strings.Cut(tt.route, " ")
			c := echo.New().NewContext(httptest.NewRequest(method, "/", nil), httptest.NewRecorder())
			c.SetPath(path)
			p, retry := s.toProblem(c, tt.err)
			if p.Status != tt.status || p.Detail == nil || *p.Detail != tt.detail || retry != tt.retry {
				detail := "<nil>"
				if p.Detail != nil {
					detail = *p.Detail
				}
				t.Errorf("toProblem(%v) = %d %q retry %d, want %d %q retry %d", tt.err, p.Status, detail, retry,
					tt.status, tt.detail, tt.retry)
			}
		})
	}
}

// Field errors and a case's allowed actions travel with the code.
func TestToProblemExtensions(t *testing.T) {
	c := echo.New().NewContext(httptest.NewRequest("POST", "/", nil), httptest.NewRecorder())
	p, _ := (&Server{}).toProblem(c, &fieldwatch.EvidenceError{Problems: []fieldwatch.EvidenceProblem{{Index: 2, Reason: "not found"}}})
	if p.Status != 422 || p.Fields == nil || len(*p.Fields) != 1 || (*p.Fields)[0].Field != "/evidence_ids/2" {
		t.Errorf("evidence error: %+v", p)
	}
	te := &fieldwatch.TransitionError{State: "open", Action: "verify", Allowed: []fieldwatch.CaseAction{"start"}}
	p, _ = (&Server{}).toProblem(c, te)
	if p.Status != 409 || p.Type != problemCaseState || p.AllowedActions == nil || len(*p.AllowedActions) != 1 {
		t.Errorf("transition error: %+v", p)
	}
	if !errors.Is(te, fieldwatch.ErrConflict) {
		t.Error("a TransitionError no longer matches ErrConflict")
	}
}
