package s3blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/blob/blobtest"
	"github.com/fieldwatch/fieldwatch/blob/s3blob"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
)

// s3Config returns settings for a fresh bucket on the test S3 server, and
// removes the bucket when the test ends.
func s3Config(t *testing.T) s3blob.Config {
	t.Helper()
	return s3ConfigFor(t, testservice.S3(t))
}

func s3ConfigFor(t *testing.T, env testservice.S3Env) s3blob.Config {
	t.Helper()
	cfg := s3blob.Config{
		Endpoint:  env.Endpoint,
		Bucket:    testservice.Bucket(t),
		Region:    env.Region,
		AccessKey: env.AccessKey,
		SecretKey: env.SecretKey,
		UseTLS:    env.UseTLS,
	}
	t.Cleanup(func() { removeBucket(t, cfg) })
	return cfg
}

func newS3(t *testing.T, cfg s3blob.Config) *s3blob.Bucket {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := s3blob.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.Endpoint, err)
	}
	return s
}

// rawClient talks to the test server directly, around the code under test.
func rawClient(t *testing.T, cfg s3blob.Config) *minio.Client {
	t.Helper()
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:           credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:          cfg.UseTLS,
		Region:          cfg.Region,
		TrailingHeaders: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func removeBucket(t *testing.T, cfg s3blob.Config) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
	defer cancel()
	c := rawClient(t, cfg)
	if ok, err := c.BucketExists(ctx, cfg.Bucket); err != nil || !ok {
		return
	}
	for o := range c.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err == nil {
			c.RemoveObject(ctx, cfg.Bucket, o.Key, minio.RemoveObjectOptions{})
		}
	}
	for u := range c.ListIncompleteUploads(ctx, cfg.Bucket, "", true) {
		if u.Err == nil {
			c.RemoveIncompleteUpload(ctx, cfg.Bucket, u.Key)
		}
	}
	if err := c.RemoveBucket(ctx, cfg.Bucket); err != nil {
		t.Logf("removing test bucket %s: %v", cfg.Bucket, err)
	}
}

func TestS3(t *testing.T) {
	env := testservice.S3(t) // skip (or fail under CI) once, not per case
	blobtest.Run(t, func(t *testing.T) blob.Bucket { return newS3(t, s3ConfigFor(t, env)) })
}

// TestS3Unreachable needs no S3 server: it points at a closed port.
func TestS3Unreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err = s3blob.Open(ctx, s3blob.Config{Endpoint: addr, Bucket: "fwtest-unreachable", AccessKey: "k", SecretKey: "s"})
	elapsed := time.Since(start)
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("Open against a closed port: %v, want ErrUnavailable", err)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("the cause was lost: %v", err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("took %v to give up on a closed port", elapsed)
	}
	t.Logf("gave up after %v: %v", elapsed.Round(time.Millisecond), err)
}

func TestS3BucketAutoCreated(t *testing.T) {
	cfg := s3Config(t)
	raw := rawClient(t, cfg)
	if ok, err := raw.BucketExists(t.Context(), cfg.Bucket); err != nil || ok {
		t.Fatalf("fresh bucket exists = %v, %v", ok, err)
	}
	newS3(t, cfg)
	if ok, err := raw.BucketExists(t.Context(), cfg.Bucket); err != nil || !ok {
		t.Fatalf("after Open bucket exists = %v, %v", ok, err)
	}
	s := newS3(t, cfg) // a second start finds the bucket there
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

func TestS3BucketRemoved(t *testing.T) {
	cfg := s3Config(t)
	s := newS3(t, cfg)
	if err := rawClient(t, cfg).RemoveBucket(t.Context(), cfg.Bucket); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, blob.ErrUnavailable) {
		t.Errorf("Ping without bucket: %v, want ErrUnavailable", err)
	}
	_, err := s.Put(t.Context(), "k", bytes.NewReader([]byte("x")), 1, blob.PutOptions{})
	if !errors.Is(err, blob.ErrUnavailable) || !strings.Contains(err.Error(), cfg.Bucket) {
		t.Errorf("Put without bucket: %v, want ErrUnavailable naming the bucket", err)
	}
}

// TestS3StoreVerifiesChecksum pins down the store behaviour Put relies on:
// a PUT whose x-amz-checksum-sha256 does not match its body is refused.
func TestS3StoreVerifiesChecksum(t *testing.T) {
	cfg := s3Config(t)
	newS3(t, cfg)
	raw := rawClient(t, cfg)
	body := []byte("the photo")
	other := sha256.Sum256([]byte("another photo"))
	_, err := raw.PutObject(t.Context(), cfg.Bucket, "k", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{
		UserMetadata: map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(other[:])},
	})
	if code := minio.ToErrorResponse(err).Code; code != "BadDigest" {
		t.Fatalf("PUT with a wrong x-amz-checksum-sha256: %v (code %q), want BadDigest", err, code)
	}
	if _, err := raw.StatObject(t.Context(), cfg.Bucket, "k", minio.StatObjectOptions{}); minio.ToErrorResponse(err).Code != "NoSuchKey" {
		t.Errorf("the refused object is visible: %v", err)
	}
}

// TestS3RecordsChecksum checks what Put leaves on the store, whatever the
// reader: the hash as x-amz-meta-sha256 and, for a single PUT, the store's
// own full-object SHA-256, computed from the bytes it received.
func TestS3RecordsChecksum(t *testing.T) {
	cfg := s3Config(t)
	s := newS3(t, cfg)
	raw := rawClient(t, cfg)
	data := blobtest.Bytes(100_000, 9)
	sum := sha256.Sum256(data)
	for _, tt := range []struct {
		name string
		r    io.Reader
		opts blob.PutOptions
	}{
		{"SeekableUndeclared", bytes.NewReader(data), blob.PutOptions{}},
		{"PlainUndeclared", blobtest.OnlyReader(bytes.NewReader(data)), blob.PutOptions{}},
		{"PlainDeclared", blobtest.OnlyReader(bytes.NewReader(data)), blob.PutOptions{SHA256: sum[:]}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Put(t.Context(), tt.name, tt.r, int64(len(data)), tt.opts); err != nil {
				t.Fatal(err)
			}
			oi, err := raw.StatObject(t.Context(), cfg.Bucket, tt.name, minio.StatObjectOptions{Checksum: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := oi.UserMetadata["Sha256"]; !strings.EqualFold(got, hexString(sum[:])) {
				t.Errorf("x-amz-meta-sha256 = %q, want %x", got, sum)
			}
			if got := oi.ChecksumSHA256; got != base64.StdEncoding.EncodeToString(sum[:]) || oi.ChecksumMode != "FULL_OBJECT" {
				t.Errorf("store checksum = %q (%s), want the full-object SHA-256", got, oi.ChecksumMode)
			}
			obj, err := s.Stat(t.Context(), tt.name)
			if err != nil || !bytes.Equal(obj.SHA256, sum[:]) {
				t.Errorf("Stat = %+v, %v; want SHA256 %x", obj, err, sum)
			}
		})
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}

// faultTransport passes requests to the real transport, except that the
// first one matching match goes to fault instead, after a part of its body
// was read (a request that dies midway).
type faultTransport struct {
	match    func(*http.Request) bool
	fault    func(*http.Request) (*http.Response, error)
	base     http.RoundTripper
	mu       sync.Mutex
	fired    bool
	attempts atomic.Int32 // matching requests seen
}

func newFaultTransport(match func(*http.Request) bool, fault func(*http.Request) (*http.Response, error)) *faultTransport {
	return &faultTransport{match: match, fault: fault, base: http.DefaultTransport.(*http.Transport).Clone()}
}

func (f *faultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !f.match(req) {
		return f.base.RoundTrip(req)
	}
	f.attempts.Add(1)
	f.mu.Lock()
	first := !f.fired
	f.fired = true
	f.mu.Unlock()
	if !first {
		return f.base.RoundTrip(req)
	}
	return f.fault(req)
}

// putTo matches PUTs of an object's body, or of one of its parts.
func putTo(key string, part bool) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/"+key) && r.URL.Query().Has("partNumber") == part
	}
}

// halfRead reads half the body, as a store does before it dies.
func halfRead(req *http.Request) {
	if req.Body != nil {
		io.CopyN(io.Discard, req.Body, req.ContentLength/2)
		req.Body.Close()
	}
}

func slowDown(req *http.Request) (*http.Response, error) {
	halfRead(req)
	body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`
	return &http.Response{
		StatusCode:    http.StatusServiceUnavailable,
		Status:        "503 Service Unavailable",
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/xml"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

func connReset(req *http.Request) (*http.Response, error) {
	halfRead(req)
	return nil, &net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}
}

// TestS3RetriesWithFullBody is C10 and F3: a store that answers 503
// SlowDown, or drops the connection, halfway through a PUT or a part gets
// the whole body again (from a seekable reader, from the body Put held in
// memory, or from minio-go's part buffer) and ends up with identical bytes.
func TestS3RetriesWithFullBody(t *testing.T) {
	env := testservice.S3(t)
	const partSize = 5 << 20
	tests := []struct {
		name  string
		size  int64
		part  bool
		plain bool // a plain reader and no declared hash: Put holds the body
		fault func(*http.Request) (*http.Response, error)
	}{
		{"SlowDown", 200_000, false, false, slowDown},
		{"ConnectionReset", 200_000, false, false, connReset},
		{"SlowDownPlainReader", 200_000, false, true, slowDown},
		{"SlowDownOnPart", 2*partSize + 1000, true, false, slowDown},
		{"ConnectionResetOnPart", 2*partSize + 1000, true, false, connReset},
		{"ConnectionResetOnPartPlainReader", 2*partSize + 1000, true, true, connReset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := s3ConfigFor(t, env)
			ft := newFaultTransport(putTo("k", tt.part), tt.fault)
			cfg.Transport, cfg.PartSize = ft, partSize
			s := newS3(t, cfg)
			data := blobtest.Bytes(tt.size, 11)
			sum := sha256.Sum256(data)
			var r io.Reader = bytes.NewReader(data)
			opts := blob.PutOptions{SHA256: sum[:]}
			if tt.plain {
				r, opts = blobtest.OnlyReader(r), blob.PutOptions{}
			}
			if _, err := s.Put(t.Context(), "k", r, tt.size, opts); err != nil {
				t.Fatalf("Put: %v", err)
			}
			if n := ft.attempts.Load(); n < 2 {
				t.Fatalf("the fault was not retried (%d attempts)", n)
			}
			if got, _ := blobtest.MustGet(t, s, "k"); !bytes.Equal(got, data) {
				t.Errorf("stored bytes differ from the ones put")
			}
		})
	}
}

// TestS3NoRetryWithoutSeek: a body that cannot be rewound (a plain reader
// with a declared hash, which Put streams) is not retried, and the failure
// leaves nothing behind.
func TestS3NoRetryWithoutSeek(t *testing.T) {
	cfg := s3Config(t)
	ft := newFaultTransport(putTo("k", false), slowDown)
	cfg.Transport = ft
	s := newS3(t, cfg)
	data := blobtest.Bytes(200_000, 12)
	sum := sha256.Sum256(data)
	_, err := s.Put(t.Context(), "k", blobtest.OnlyReader(bytes.NewReader(data)), int64(len(data)), blob.PutOptions{SHA256: sum[:]})
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("Put: %v, want ErrUnavailable", err)
	}
	if n := ft.attempts.Load(); n != 1 {
		t.Errorf("a body that cannot rewind was sent %d times", n)
	}
	blobtest.MustNotExist(t, s, "k")
}

// flipByte corrupts one byte of the request body, as a broken NIC or proxy
// would, and sends it on.
func flipByte(base http.RoundTripper) func(*http.Request) (*http.Response, error) {
	return func(req *http.Request) (*http.Response, error) {
		req.Body = &flipper{ReadCloser: req.Body, at: req.ContentLength / 2}
		return base.RoundTrip(req)
	}
}

type flipper struct {
	io.ReadCloser
	at, n int64
}

func (f *flipper) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if i := f.at - f.n; i >= 0 && i < int64(n) {
		p[i] ^= 0x20
	}
	f.n += int64(n)
	return n, err
}

// TestS3CorruptionInTransit is C8: bytes corrupted between us and the store
// are refused by the store. Put then either reports the store unavailable
// (the phone retries later; not a bad photo) and nothing is stored, or,
// when the store dropped the connection, retried with intact bytes.
func TestS3CorruptionInTransit(t *testing.T) {
	env := testservice.S3(t)
	const partSize = 5 << 20
	for _, tt := range []struct {
		name string
		size int64
		part bool
	}{
		{"SinglePut", 300_000, false},
		{"Part", partSize + 1000, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := s3ConfigFor(t, env)
			base := http.DefaultTransport.(*http.Transport).Clone()
			ft := newFaultTransport(putTo("k", tt.part), flipByte(base))
			cfg.Transport, cfg.PartSize = ft, partSize
			s := newS3(t, cfg)
			data := blobtest.Bytes(tt.size, 13)
			_, err := s.Put(t.Context(), "k", bytes.NewReader(data), tt.size, blob.PutOptions{})
			if err == nil {
				// The store may drop the connection instead of answering,
				// and minio-go then retries with the whole, intact body.
				t.Logf("retried after the corruption (%d attempts)", ft.attempts.Load())
				if got, _ := blobtest.MustGet(t, s, "k"); !bytes.Equal(got, data) {
					t.Fatalf("corrupted bytes were stored")
				}
				return
			}
			if !errors.Is(err, blob.ErrUnavailable) || errors.Is(err, blob.ErrChecksumMismatch) {
				t.Fatalf("Put: %v, want ErrUnavailable and not ErrChecksumMismatch", err)
			}
			t.Logf("store's answer: %v", err)
			blobtest.MustNotExist(t, s, "k")
		})
	}
}

// TestS3ReadBackMismatch: when the store reports another hash than the one
// sent, Put fails, and deletes nothing: what the key holds may be another
// upload's copy.
func TestS3ReadBackMismatch(t *testing.T) {
	cfg := s3Config(t)
	lie := &headerLie{base: http.DefaultTransport.(*http.Transport).Clone()}
	cfg.Transport = lie
	s := newS3(t, cfg)
	lie.on.Store(true)
	_, err := s.Put(t.Context(), "k", bytes.NewReader([]byte("photo")), 5, blob.PutOptions{})
	lie.on.Store(false)
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Fatalf("Put: %v, want ErrUnavailable", err)
	}
	if got, _ := blobtest.MustGet(t, s, "k"); string(got) != "photo" {
		t.Errorf("the store holds %q", got)
	}
}

// TestS3FailedPutKeepsExisting is issue 13's first defect at its root: a
// second Put of the same bytes to the same content address whose
// connection is reset, or whose read-back fails, must not delete the
// object the first Put stored (and a committed row points to).
func TestS3FailedPutKeepsExisting(t *testing.T) {
	const partSize = 5 << 20
	for _, tt := range []struct {
		name  string
		size  int64
		match func(*http.Request) bool
		fault func(base http.RoundTripper) func(*http.Request) (*http.Response, error)
	}{
		{"ResetPUT", 1 << 20, putTo("k", false), func(http.RoundTripper) func(*http.Request) (*http.Response, error) { return connReset }},
		{"ResetPart", 2*partSize + 1, putTo("k", true), func(http.RoundTripper) func(*http.Request) (*http.Response, error) { return connReset }},
		{"ResetReadBack", 1 << 20, func(r *http.Request) bool { return r.Method == http.MethodHead && strings.HasSuffix(r.URL.Path, "/k") },
			func(http.RoundTripper) func(*http.Request) (*http.Response, error) {
				return func(*http.Request) (*http.Response, error) {
					return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := s3Config(t)
			cfg.PartSize, cfg.MaxRetries = partSize, 1
			base := http.DefaultTransport.(*http.Transport).Clone()
			var armed atomic.Bool
			ft := newFaultTransport(func(r *http.Request) bool { return armed.Load() && tt.match(r) }, tt.fault(base))
			cfg.Transport = ft
			s := newS3(t, cfg)
			data := blobtest.Bytes(tt.size, 7)
			sum := sha256.Sum256(data)
			blobtest.MustPut(t, s, "k", data, blob.PutOptions{SHA256: sum[:]})
			armed.Store(true)
			_, err := s.Put(t.Context(), "k", bytes.NewReader(data), tt.size, blob.PutOptions{SHA256: sum[:]})
			armed.Store(false)
			if err == nil {
				t.Fatal("Put through the fault succeeded")
			}
			if got, _ := blobtest.MustGet(t, s, "k"); !bytes.Equal(got, data) {
				t.Fatalf("after the failed Put the store holds %d other bytes", len(got))
			}
		})
	}
}

// headerLie rewrites the recorded hash in HEAD answers while on.
type headerLie struct {
	base http.RoundTripper
	on   atomic.Bool
}

func (h *headerLie) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := h.base.RoundTrip(req)
	if err == nil && req.Method == http.MethodHead && h.on.Load() {
		resp.Header.Set("X-Amz-Meta-Sha256", strings.Repeat("00", 32))
	}
	return resp, err
}

// TestS3StoreDown is F1: while the store refuses connections every call
// reports ErrUnavailable promptly and nothing is stored; once it is back,
// the retried Put succeeds.
func TestS3StoreDown(t *testing.T) {
	cfg := s3Config(t)
	down := &switchable{base: http.DefaultTransport.(*http.Transport).Clone()}
	cfg.Transport = down
	s := newS3(t, cfg)
	data := []byte("photo")
	down.off.Store(true)

	ctx := t.Context()
	start := time.Now()
	_, err := s.Put(ctx, "k", bytes.NewReader(data), int64(len(data)), blob.PutOptions{})
	if !errors.Is(err, blob.ErrUnavailable) {
		t.Errorf("Put: %v, want ErrUnavailable", err)
	}
	if _, err := s.Stat(ctx, "k"); !errors.Is(err, blob.ErrUnavailable) {
		t.Errorf("Stat: %v, want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, blob.ErrUnavailable) {
		t.Errorf("Ping: %v, want ErrUnavailable", err)
	}
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("three calls against a dead store took %v", elapsed)
	}

	down.off.Store(false)
	blobtest.MustNotExist(t, s, "k")
	blobtest.MustPut(t, s, "k", data, blob.PutOptions{})
	if got, _ := blobtest.MustGet(t, s, "k"); !bytes.Equal(got, data) {
		t.Errorf("stored bytes differ")
	}
}

// switchable refuses every connection while off.
type switchable struct {
	base http.RoundTripper
	off  atomic.Bool
}

func (s *switchable) RoundTrip(req *http.Request) (*http.Response, error) {
	if s.off.Load() {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	}
	return s.base.RoundTrip(req)
}

// TestS3Deadline is F2: a store slower than the caller's deadline yields
// ErrUnavailable when the deadline passes, not a hang.
func TestS3Deadline(t *testing.T) {
	cfg := s3Config(t)
	stall := &stallTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	cfg.Transport = stall
	s := newS3(t, cfg)
	stall.on.Store(true)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := s.Put(ctx, "k", bytes.NewReader([]byte("photo")), 5, blob.PutOptions{})
	if !errors.Is(err, blob.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Put: %v, want ErrUnavailable caused by the deadline", err)
	}
	stall.on.Store(false)
	blobtest.MustNotExist(t, s, "k")
}

// stallTransport holds every request until its context ends, while on.
type stallTransport struct {
	base http.RoundTripper
	on   atomic.Bool
}

func (s *stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if s.on.Load() {
		if req.Body != nil {
			req.Body.Close()
		}
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	return s.base.RoundTrip(req)
}
