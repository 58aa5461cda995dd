package fieldwatch

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/blob"
)

func TestErrorCodeAndMessage(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		code    Code
		message string
	}{
		{"Nil", nil, "", ""},
		{"Uncoded", errors.New("boom"), EINTERNAL, ""},
		{"Errorf", Errorf(EINVALID, "title is empty"), EINVALID, "title is empty"},
		{"Wrapped", fmt.Errorf("fieldwatch: create case: %w", Errorf(EFORBIDDEN, "only administrators open cases")),
			EFORBIDDEN, "only administrators open cases"},
		{"SentinelKeepsItsMessage", fmt.Errorf("fieldwatch: case outside scope: %w", ErrNotFound), ENOTFOUND, "Not Found"},
		{"WrappedCodedErrorLendsItsMessage", Errorf(EINVALID, "device_location: %w", Errorf(EINVALID, "lat 91")),
			EINVALID, "device_location: lat 91"},
		{"CauseNotShown", Wrap(EUNAVAILABLE, ErrUnavailable.Message, errors.New("dial tcp 10.0.0.5:5432: refused")),
			EUNAVAILABLE, "a storage dependency is unavailable; retry later"},
		{"TransitionError", &TransitionError{State: CaseOpen, Action: ActionVerify}, ECASESTATE, "a case in state open cannot verify"},
		{"EvidenceError", &EvidenceError{Problems: []EvidenceProblem{{Index: 1, Reason: "not found"}}}, EINVALID,
			"evidence_ids/1: not found"},
		// Packages below the domain name their codes.
		{"BlobNotExist", fmt.Errorf("get: %w", blob.ErrNotExist), ENOTFOUND, ""},
		{"BlobUnavailable", fmt.Errorf("get: %w", blob.ErrUnavailable), EUNAVAILABLE, ""},
		{"BlobInvalidRange", blob.ErrInvalidRange, ERANGE, ""},
		{"BlobInvalidKey", blob.ErrInvalidKey, EINTERNAL, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.message)
			}
		})
	}
}

// The generic sentinels match every error of their code; the specific
// ones only themselves.
func TestErrorIs(t *testing.T) {
	invalid := Errorf(EINVALID, "title is empty")
	if !errors.Is(invalid, ErrInvalid) {
		t.Error("an EINVALID error does not match ErrInvalid")
	}
	if errors.Is(invalid, ErrEmptyPhoto) {
		t.Error("an EINVALID error matches ErrEmptyPhoto")
	}
	if !errors.Is(ErrEmptyPhoto, ErrInvalid) {
		t.Error("ErrEmptyPhoto does not match ErrInvalid")
	}
	if errors.Is(invalid, ErrConflict) {
		t.Error("an EINVALID error matches ErrConflict")
	}
	if !errors.Is(ErrPatrolKeyReused, ErrKeyReused) || ErrorCode(ErrPatrolKeyReused) != EKEYREUSED {
		t.Error("ErrPatrolKeyReused is not an ErrKeyReused")
	}
	if !errors.Is(&TransitionError{}, ErrConflict) {
		t.Error("a TransitionError does not match ErrConflict")
	}
	if !errors.Is(blob.ErrNotExist, fs.ErrNotExist) {
		t.Error("blob.ErrNotExist lost fs.ErrNotExist")
	}
	if got := ErrorRetryAfter(fmt.Errorf("login: %w", &Error{Code: ERATELIMITED, RetryAfter: time.Minute})); got != time.Minute {
		t.Errorf("ErrorRetryAfter = %v", got)
	}
}

// Error texts are for logs: a wrapped cause comes first, as "%w: message"
// used to print.
func TestErrorText(t *testing.T) {
	cause := NewSentinel(ECONFLICT, "store: conflict", ErrConflict.Message)
	tests := []struct {
		err  error
		want string
	}{
		{Errorf(EINVALID, "title is empty"), "fieldwatch: invalid: title is empty"},
		{Errorf(ENOTFOUND, "case %s", "c1"), "fieldwatch: not found: case c1"},
		{Wrap(ECONFLICT, "username already taken", cause), "store: conflict: username already taken"},
		{ErrNotFound, "fieldwatch: not found"},
		{fmt.Errorf("fieldwatch: case outside scope: %w", ErrNotFound), "fieldwatch: case outside scope: fieldwatch: not found"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestCodesValid(t *testing.T) {
	seen := map[Code]bool{}
	for _, c := range Codes() {
		if !c.Valid() || seen[c] {
			t.Errorf("code %q invalid or listed twice", c)
		}
		seen[c] = true
	}
	if Code("nope").Valid() {
		t.Error(`"nope" is valid`)
	}
}
