package blob

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Errors returned by every Bucket, always wrapped: test with errors.Is.
//
// The API maps them to answers: ErrNotExist → 404, ErrInvalidKey,
// ErrInvalidRange → 4xx, ErrChecksumMismatch and ErrSizeMismatch from Put
// → 4xx (the bytes offered do not match what was declared),
// ErrUnavailable → 503 with Retry-After. Anything else is an internal
// error. ErrChecksumMismatch or ErrSizeMismatch while reading a Get body
// means stored evidence no longer matches its record: alert someone.
var (
	// ErrNotExist means no object is stored under the key. It also
	// satisfies errors.Is(err, fs.ErrNotExist).
	ErrNotExist error = &sentinel{"blob: object does not exist", fs.ErrNotExist, "not_found"}

	// ErrInvalidKey means a key or list prefix is not of the form
	// described by ValidateKey. It also satisfies errors.Is(err, fs.ErrInvalid).
	ErrInvalidKey error = &sentinel{"blob: invalid key", fs.ErrInvalid, ""}

	// ErrUnsupported means the store cannot do this at all (presigned URLs
	// on a local directory). It also satisfies errors.Is(err, errors.ErrUnsupported).
	ErrUnsupported error = &sentinel{"blob: not supported by this store", errors.ErrUnsupported, ""}

	// ErrChecksumMismatch means the bytes read from the caller's reader do
	// not hash to the SHA-256 the caller declared, or that stored bytes no
	// longer hash to the SHA-256 recorded when they were put.
	ErrChecksumMismatch = errors.New("blob: checksum mismatch")

	// ErrSizeMismatch means the caller's reader held fewer or more bytes
	// than the size passed to Put, or a stored object has another size
	// than the one that was put.
	ErrSizeMismatch = errors.New("blob: size mismatch")

	// ErrInvalidRange means GetRange was asked for a range that does not
	// start inside the object, or has a negative offset or non-positive length.
	ErrInvalidRange error = &sentinel{"blob: invalid range", nil, "bad_range"}

	// ErrUnavailable means the store cannot serve the request now but may
	// later: unreachable, timing out, answering 5xx or SlowDown, rejecting
	// our clock or credentials, missing its bucket, out of disk space, or
	// corrupting bytes in transit. Nothing was stored; retrying is safe.
	ErrUnavailable error = &sentinel{"blob: store unavailable", nil, "unavailable"}
)

// sentinel is an error kind that may also match a standard library error,
// so that callers written against io/fs or errors.ErrUnsupported keep
// working.
type sentinel struct {
	msg string
	std error
	// code names the domain's error code (fieldwatch.Code, which this
	// package cannot import) of the kind, or "" for an internal error.
	code string
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.std }

// ErrorCode names the domain's error code of the kind: not_found,
// bad_range, unavailable, or "" for none.
func (e *sentinel) ErrorCode() string { return e.code }

// Error is the error every Bucket method returns. It keeps the operation
// and key for the log, the kind for errors.Is, and the cause for both.
// Adapters build it with NewError.
type Error struct {
	Op   string // "put", "get range", "list", ...
	Key  string // the key or list prefix, or ""
	Kind error  // one of the Err* values above, or nil
	Err  error  // the cause, or nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("blob: ")
	b.WriteString(e.Op)
	if e.Key != "" {
		fmt.Fprintf(&b, " %q", e.Key)
	}
	if e.Kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Kind.Error(), "blob: "))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the kind and the cause, so that errors.Is and errors.As
// see both.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// Detail describes the error without the operation or key, which are
// for logs: "size mismatch: reader ended after 3 of 5 bytes". It is fit
// for the client.
func (e *Error) Detail() string {
	var parts []string
	if e.Kind != nil {
		parts = append(parts, strings.TrimPrefix(e.Kind.Error(), "blob: "))
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

// NewError builds an *Error for operation op on key, of the given kind
// (one of the Err* values, or nil) with its cause. It returns nil when
// both kind and cause are nil.
func NewError(op, key string, kind, cause error) error {
	if kind == nil && cause == nil {
		return nil
	}
	return &Error{Op: op, Key: key, Kind: kind, Err: cause}
}

// detail is a cause that belongs to a kind: "size mismatch: read 3 of 5
// bytes". It lets low-level code say what went wrong without knowing the
// operation or key.
type detail struct {
	kind error
	msg  string
}

func (e *detail) Error() string {
	return strings.TrimPrefix(e.kind.Error(), "blob: ") + ": " + e.msg
}

func (e *detail) Unwrap() error { return e.kind }

func detailf(kind error, format string, args ...any) error {
	return &detail{kind: kind, msg: fmt.Sprintf(format, args...)}
}
