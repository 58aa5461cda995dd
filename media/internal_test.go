package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestClassify(t *testing.T) {
	s3err := func(code string, status int) error {
		return minio.ErrorResponse{Code: code, StatusCode: status, Message: "from the store"}
	}
	refused := &url.Error{Op: "Put", URL: "http://127.0.0.1:1/b/k", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"Nil", nil, nil},
		{"Canceled", context.Canceled, nil},
		{"DeadlineExceeded", context.DeadlineExceeded, ErrUnavailable},
		{"DeadlineInURLError", &url.Error{Op: "Get", URL: "u", Err: context.DeadlineExceeded}, ErrUnavailable},
		{"ConnectionRefused", refused, ErrUnavailable},
		{"ConnectionReset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, ErrUnavailable},
		{"UnexpectedEOF", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), ErrUnavailable},
		{"NoSuchKey", s3err("NoSuchKey", 404), ErrNotExist},
		{"NotFound", s3err("NotFound", 404), ErrNotExist},
		{"NoSuchBucket", s3err("NoSuchBucket", 404), ErrUnavailable},
		{"BadDigest", s3err("BadDigest", 400), ErrChecksumMismatch},
		{"XAmzContentChecksumMismatch", s3err("XAmzContentChecksumMismatch", 400), ErrChecksumMismatch},
		{"InvalidDigest", s3err("InvalidDigest", 400), ErrChecksumMismatch},
		{"InvalidRange", s3err("InvalidRange", 416), ErrInvalidRange},
		{"SlowDown", s3err("SlowDown", 503), ErrUnavailable},
		{"RequestTimeTooSkewed", s3err("RequestTimeTooSkewed", 403), ErrUnavailable},
		{"InternalError", s3err("InternalError", 500), ErrUnavailable},
		{"UnknownBadGateway", s3err("", 502), ErrUnavailable},
		{"TooManyRequests", s3err("Whatever", 429), ErrUnavailable},
		{"AccessDenied", s3err("AccessDenied", 403), ErrUnavailable},
		{"SignatureDoesNotMatch", s3err("SignatureDoesNotMatch", 403), ErrUnavailable},
		{"InvalidArgument", s3err("InvalidArgument", 400), nil},
		{"Other", errors.New("boom"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err); got != tt.want {
				t.Errorf("classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestOpError(t *testing.T) {
	cause := minio.ErrorResponse{Code: "NoSuchKey", Message: "The specified key does not exist."}
	err := opErr("get", "a/b", ErrNotExist, cause)
	if got, want := err.Error(), `media: get "a/b": object does not exist: The specified key does not exist.`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var er minio.ErrorResponse
	if !errors.Is(err, ErrNotExist) || !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &er) {
		t.Errorf("%v does not unwrap to its kind, fs.ErrNotExist and its cause", err)
	}
	err = opErr("put", "k", nil, detailf(ErrSizeMismatch, "reader ended after %d of %d bytes", 3, 5))
	if got, want := err.Error(), `media: put "k": size mismatch: reader ended after 3 of 5 bytes`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, ErrSizeMismatch) {
		t.Errorf("%v is not ErrSizeMismatch", err)
	}
	if !errors.Is(ErrUnsupported, errors.ErrUnsupported) || !errors.Is(ErrInvalidKey, fs.ErrInvalid) {
		t.Errorf("sentinels do not match their standard library counterparts")
	}
}

// TestSeekPutReader checks the two things minio-go's retries depend on:
// a rewind starts the body and its hash afresh, and a failure of the body
// itself makes the rewind fail, which stops the retries.
func TestSeekPutReader(t *testing.T) {
	data := []byte("0123456789abcdef")
	sum := sha256.Sum256(data)
	src := bytes.NewReader(append([]byte("skip"), data...))
	src.Seek(4, io.SeekStart)

	p := &seekPutReader{putReader: newPutReader(t.Context(), src, int64(len(data)), sum[:]), s: src, start: 4}
	if _, err := io.CopyN(io.Discard, p, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Seek(0, io.SeekStart); err != nil {
		t.Fatalf("rewind: %v", err)
	}
	got, err := io.ReadAll(p)
	if err != nil || !bytes.Equal(got, data) || !p.complete() {
		t.Fatalf("after rewind read %q, %v (complete %v)", got, err, p.complete())
	}

	src = bytes.NewReader(data)
	wrong := sha256.Sum256([]byte("other"))
	p = &seekPutReader{putReader: newPutReader(t.Context(), src, int64(len(data)), wrong[:]), s: src}
	got, err = io.ReadAll(p)
	if !errors.Is(err, ErrChecksumMismatch) {
		t.Fatalf("wrong body: %v", err)
	}
	if len(got) == len(data) {
		t.Errorf("the last byte of a wrong body was handed out")
	}
	if _, err := p.Seek(0, io.SeekStart); !errors.Is(err, ErrChecksumMismatch) {
		t.Errorf("rewind after a failure = %v, want the failure", err)
	}
}

func TestValidKeys(t *testing.T) {
	for _, key := range []string{
		"a",
		"2026/11/28/01JDX3Q7ZKQ4M8V2N6R0T5W9YB.jpg",
		"evidence/3f2a-b_c.d.e",
		"x/" + string(bytes.Repeat([]byte("a"), 255)),
	} {
		if err := ValidateKey(key); err != nil {
			t.Errorf("ValidateKey(%q) = %v", key, err)
		}
	}
}
