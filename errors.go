package fieldwatch

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Code classifies an error by what the caller can do about it. Every
// error a caller may see carries one; the API maps each code to one HTTP
// status and problem type (api/problem.go) and logs see the cause.
type Code string

// Error codes. Their order here is the order of the API's table.
const (
	// EMALFORMED: the request cannot be read at all (not JSON, not the
	// shape the contract gives it).
	EMALFORMED Code = "malformed"
	// EINVALID: well-formed input that breaks a rule.
	EINVALID Code = "invalid"
	// EUNAUTHENTICATED: no usable credentials.
	EUNAUTHENTICATED Code = "unauthenticated"
	// EFORBIDDEN: the actor's role or position does not permit the action.
	EFORBIDDEN Code = "forbidden"
	// ENOTFOUND: the object does not exist or is outside the actor's
	// scope; the two look the same.
	ENOTFOUND Code = "not_found"
	// ETIMEOUT: the request's body did not arrive in time.
	ETIMEOUT Code = "timeout"
	// ECONFLICT: the object's current state does not allow the request,
	// or a change lost a race; re-read and decide again.
	ECONFLICT Code = "conflict"
	// ECASESTATE: a case's state does not allow the action (see
	// TransitionError for the actions it does allow).
	ECASESTATE Code = "case_state"
	// EINFLIGHT: a request with the same Idempotency-Key is still being
	// processed; retry shortly.
	EINFLIGHT Code = "in_flight"
	// EKEYREUSED: an Idempotency-Key was used before for a different
	// request.
	EKEYREUSED Code = "key_reused"
	// EDIGEST: bytes do not hash to the declared SHA-256 (or size).
	EDIGEST Code = "digest_mismatch"
	// ETOOLARGE: the body or photo exceeds a size limit.
	ETOOLARGE Code = "too_large"
	// EUNSUPPORTED: the content is of a type the service does not accept.
	EUNSUPPORTED Code = "unsupported_media"
	// ERANGE: a byte range outside the object.
	ERANGE Code = "bad_range"
	// ERATELIMITED: the caller is sending too much; retry later.
	ERATELIMITED Code = "rate_limited"
	// EUNAVAILABLE: a dependency (database, photo store, disk) cannot
	// serve now but may later; nothing was done, retrying is safe.
	EUNAVAILABLE Code = "unavailable"
	// EINTERNAL: anything else. Its cause is never shown.
	EINTERNAL Code = "internal"
)

// Codes lists every code, in the order above.
func Codes() []Code {
	return []Code{EMALFORMED, EINVALID, EUNAUTHENTICATED, EFORBIDDEN, ENOTFOUND, ETIMEOUT,
		ECONFLICT, ECASESTATE, EINFLIGHT, EKEYREUSED, EDIGEST, ETOOLARGE, EUNSUPPORTED,
		ERANGE, ERATELIMITED, EUNAVAILABLE, EINTERNAL}
}

// Valid reports whether c is one of Codes.
func (c Code) Valid() bool {
	for _, k := range Codes() {
		if c == k {
			return true
		}
	}
	return false
}

// FieldError names one member of a request that broke a rule: Field is a
// JSON Pointer into the request body ("/features/3") or a parameter's
// name, Reason says what is wrong.
type FieldError struct {
	Field  string
	Reason string
}

// Error is an error with a code and a message fit for the client. The
// message is set where the error is made and never carries internals;
// the cause (Err) is for logs only.
type Error struct {
	Code    Code
	Message string
	// Fields lists the offending request members, if known.
	Fields []FieldError
	// RetryAfter is when the client may try again (ERATELIMITED,
	// EUNAVAILABLE, EINFLIGHT); zero leaves it to the API.
	RetryAfter time.Duration
	// Err is the cause, or nil.
	Err error

	// text, when set, is the whole of Error(): sentinels keep their
	// package's name in logs ("store: not found").
	text string
	// generic: errors.Is matches any *Error of the same code.
	generic bool
}

// Error returns the text for logs: "CAUSE: MESSAGE" when the error wraps
// a cause (often a package's sentinel: "store: conflict: username already
// taken"), else "fieldwatch: CODE: MESSAGE".
func (e *Error) Error() string {
	if e.text != "" {
		return e.text
	}
	if e.Err != nil {
		if cause := e.Err.Error(); cause != e.Message {
			if e.Message == "" {
				return cause
			}
			return cause + ": " + e.Message
		}
	}
	s := "fieldwatch: " + strings.ReplaceAll(string(e.Code), "_", " ")
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the generic sentinel of e's code
// (ErrInvalid, ErrNotFound, ErrForbidden, ErrConflict, ErrUnavailable):
// every invalid-input error matches ErrInvalid, whichever package made it.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.generic && t.Code == e.Code
}

// Errorf returns an error of code whose message is the formatted text.
// An argument wrapped with %w stays reachable with errors.Is and As, and
// its text becomes part of the message: wrap only errors whose text is fit
// for the client.
func Errorf(code Code, format string, args ...any) *Error {
	shownArgs := make([]any, len(args))
	for i, a := range args {
		shownArgs[i] = a
		// A wrapped *Error lends its message, not its log text.
		if inner, ok := a.(error); ok && ErrorMessage(inner) != "" {
			shownArgs[i] = shown{inner}
		}
	}
	err := fmt.Errorf(format, shownArgs...)
	e := &Error{Code: code, Message: err.Error()}
	switch err.(type) {
	case interface{ Unwrap() error }, interface{ Unwrap() []error }:
		e.Err = err
	}
	return e
}

// shown is an error as its client message.
type shown struct{ err error }

func (s shown) Error() string { return ErrorMessage(s.err) }
func (s shown) Unwrap() error { return s.err }

// Wrap returns an error of code that shows message and keeps err as its
// cause for the logs.
func Wrap(code Code, message string, err error) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// NewSentinel returns a package's named error of code: its text is the
// error's whole Error(), message is what a client is shown. Packages above
// the domain declare their sentinels with it (store.ErrNotFound), so that
// errors.Is works on the name and ErrorCode on the code.
func NewSentinel(code Code, text, message string) *Error {
	return &Error{Code: code, Message: message, text: text}
}

func genericSentinel(code Code, text, message string) *Error {
	return &Error{Code: code, Message: message, text: text, generic: true}
}

// Generic sentinels: errors.Is(err, ErrInvalid) holds for every error of
// code EINVALID, and so on.
var (
	// ErrInvalid marks input that breaks a domain rule.
	ErrInvalid = genericSentinel(EINVALID, "fieldwatch: invalid", "the request breaks a rule")
	// ErrNotFound marks an object that does not exist or is outside the
	// actor's scope: the two must look the same to the caller, so every
	// not-found error shows this one message.
	ErrNotFound = genericSentinel(ENOTFOUND, "fieldwatch: not found", "Not Found")
	// ErrForbidden marks an action the actor's role or position does not
	// permit, such as verifying one's own rectification.
	ErrForbidden = genericSentinel(EFORBIDDEN, "fieldwatch: forbidden", "Forbidden")
	// ErrConflict marks a request the object's current state does not
	// allow, or a change that lost a race with another; re-read and decide
	// again.
	ErrConflict = genericSentinel(ECONFLICT, "fieldwatch: conflict",
		"the request conflicts with the current state; read it again and retry")
	// ErrUnavailable marks a dependency that cannot serve now but may
	// later.
	ErrUnavailable = genericSentinel(EUNAVAILABLE, "fieldwatch: unavailable",
		"a storage dependency is unavailable; retry later")
)

// coder is an error of a package below the domain (blob, media, geo), which
// cannot import it, stating its code by name.
type coder interface{ ErrorCode() string }

// ErrorCode returns the code of the first error in err's chain that has
// one: an *Error, or an error with an ErrorCode() string method naming a
// valid Code. It returns "" for nil and EINTERNAL for an error without a
// code.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	var c coder
	switch {
	case errors.As(err, &e):
		return e.Code
	case errors.As(err, &c) && Code(c.ErrorCode()).Valid():
		return Code(c.ErrorCode())
	}
	return EINTERNAL
}

// ErrorMessage returns the client's message of the first *Error in err's
// chain, or "" if there is none (the caller says something generic).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// ErrorFields returns the offending request members of the first *Error
// in err's chain that lists any.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// ErrorRetryAfter returns the RetryAfter of the first *Error in err's
// chain, or zero.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
