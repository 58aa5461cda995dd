package media

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Errors returned by every Store, always wrapped: test with errors.Is.
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
	ErrNotExist error = &sentinel{"media: object does not exist", fs.ErrNotExist, "not_found"}

	// ErrInvalidKey means a key or list prefix is not of the form
	// described by ValidateKey. It also satisfies errors.Is(err, fs.ErrInvalid).
	ErrInvalidKey error = &sentinel{"media: invalid key", fs.ErrInvalid, ""}

	// ErrUnsupported means the store cannot do this at all (presigned URLs
	// on a local directory). It also satisfies errors.Is(err, errors.ErrUnsupported).
	ErrUnsupported error = &sentinel{"media: not supported by this store", errors.ErrUnsupported, ""}

	// ErrChecksumMismatch means the bytes read from the caller's reader do
	// not hash to the SHA-256 the caller declared, or that stored bytes no
	// longer hash to the SHA-256 recorded when they were put.
	ErrChecksumMismatch = errors.New("media: checksum mismatch")

	// ErrSizeMismatch means the caller's reader held fewer or more bytes
	// than the size passed to Put, or a stored object has another size
	// than the one that was put.
	ErrSizeMismatch = errors.New("media: size mismatch")

	// ErrInvalidRange means GetRange was asked for a range that does not
	// start inside the object, or has a negative offset or non-positive length.
	ErrInvalidRange error = &sentinel{"media: invalid range", nil, "bad_range"}

	// ErrUnavailable means the store cannot serve the request now but may
	// later: unreachable, timing out, answering 5xx or SlowDown, rejecting
	// our clock or credentials, missing its bucket, out of disk space, or
	// corrupting bytes in transit. Nothing was stored; retrying is safe.
	ErrUnavailable error = &sentinel{"media: store unavailable", nil, "unavailable"}
)

// sentinel is an error kind that may also match a standard library error,
// so that callers written against io/fs or errors.ErrUnsupported keep
// working.
type sentinel struct {
	msg string
	std error
	// code names the domain's error code (inspect.Code, which this
	// package cannot import) of the kind, or "" for an internal error.
	code string
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.std }

// ErrorCode names the domain's error code of the kind: not_found,
// bad_range, unavailable, or "" for none.
func (e *sentinel) ErrorCode() string { return e.code }

// opError is the error every Store method returns. It keeps the operation
// and key for the log, the kind for errors.Is, and the cause for both.
type opError struct {
	op   string
	key  string
	kind error // one of the Err* values above, or nil
	err  error // the cause, or nil
}

func (e *opError) Error() string {
	var b strings.Builder
	b.WriteString("media: ")
	b.WriteString(e.op)
	if e.key != "" {
		fmt.Fprintf(&b, " %q", e.key)
	}
	if e.kind != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.kind.Error(), "media: "))
	}
	if e.err != nil {
		b.WriteString(": ")
		b.WriteString(e.err.Error())
	}
	return b.String()
}

func (e *opError) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.kind != nil {
		errs = append(errs, e.kind)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// Detail describes the error without the operation or key, which are
// for logs: "unsupported image format: BMP". It is fit for the client.
func (e *opError) Detail() string {
	var parts []string
	if e.kind != nil {
		parts = append(parts, strings.TrimPrefix(e.kind.Error(), "media: "))
	}
	if e.err != nil {
		parts = append(parts, e.err.Error())
	}
	return strings.Join(parts, ": ")
}

// opErr builds an opError. It returns nil when both kind and err are nil.
func opErr(op, key string, kind, err error) error {
	if kind == nil && err == nil {
		return nil
	}
	return &opError{op: op, key: key, kind: kind, err: err}
}

// detail is a cause that belongs to a kind: "size mismatch: read 3 of 5
// bytes". It lets low-level code say what went wrong without knowing the
// operation or key.
type detail struct {
	kind error
	msg  string
}

func (e *detail) Error() string {
	return strings.TrimPrefix(e.kind.Error(), "media: ") + ": " + e.msg
}

func (e *detail) Unwrap() error { return e.kind }

func detailf(kind error, format string, args ...any) error {
	return &detail{kind: kind, msg: fmt.Sprintf(format, args...)}
}
