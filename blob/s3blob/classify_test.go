package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/fieldwatch/fieldwatch/blob"
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
		{"DeadlineExceeded", context.DeadlineExceeded, blob.ErrUnavailable},
		{"DeadlineInURLError", &url.Error{Op: "Get", URL: "u", Err: context.DeadlineExceeded}, blob.ErrUnavailable},
		{"ConnectionRefused", refused, blob.ErrUnavailable},
		{"ConnectionReset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, blob.ErrUnavailable},
		{"UnexpectedEOF", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), blob.ErrUnavailable},
		{"NoSuchKey", s3err("NoSuchKey", 404), blob.ErrNotExist},
		{"NotFound", s3err("NotFound", 404), blob.ErrNotExist},
		{"NoSuchBucket", s3err("NoSuchBucket", 404), blob.ErrUnavailable},
		{"BadDigest", s3err("BadDigest", 400), blob.ErrChecksumMismatch},
		{"XAmzContentChecksumMismatch", s3err("XAmzContentChecksumMismatch", 400), blob.ErrChecksumMismatch},
		{"InvalidDigest", s3err("InvalidDigest", 400), blob.ErrChecksumMismatch},
		{"InvalidRange", s3err("InvalidRange", 416), blob.ErrInvalidRange},
		{"SlowDown", s3err("SlowDown", 503), blob.ErrUnavailable},
		{"RequestTimeTooSkewed", s3err("RequestTimeTooSkewed", 403), blob.ErrUnavailable},
		{"InternalError", s3err("InternalError", 500), blob.ErrUnavailable},
		{"UnknownBadGateway", s3err("", 502), blob.ErrUnavailable},
		{"TooManyRequests", s3err("Whatever", 429), blob.ErrUnavailable},
		{"AccessDenied", s3err("AccessDenied", 403), blob.ErrUnavailable},
		{"SignatureDoesNotMatch", s3err("SignatureDoesNotMatch", 403), blob.ErrUnavailable},
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
