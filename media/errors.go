package media

import "strings"

// sentinel is an error kind that also matches a standard library error, so
// that callers written against errors.ErrUnsupported keep working.
type sentinel struct {
	msg string
	std error
	// code names the domain's error code (fieldwatch.Code, which this
	// package cannot import) of the kind, or "" for an internal error.
	code string
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.std }

// ErrorCode names the domain's error code of the kind, or "" for none.
func (e *sentinel) ErrorCode() string { return e.code }

// opError is the error every function of the package returns. It keeps
// the operation for the log, the kind for errors.Is, and the cause for
// both.
type opError struct {
	op   string
	kind error // one of the package's Err* values, or nil
	err  error // the cause, or nil
}

func (e *opError) Error() string {
	var b strings.Builder
	b.WriteString("media: ")
	b.WriteString(e.op)
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

// Detail describes the error without the operation, which is for logs:
// "unsupported image format: BMP". It is fit for the client.
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
func opErr(op string, kind, err error) error {
	if kind == nil && err == nil {
		return nil
	}
	return &opError{op: op, kind: kind, err: err}
}
