// Package s3blob keeps blobs in an S3 bucket (MinIO, versitygw, AWS, ...)
// through minio-go: the blob.Bucket of a deployment with an object store.
// It is the only package that links minio-go, and only cmd/fieldwatch
// imports it.
package s3blob

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/fieldwatch/fieldwatch/blob"
)

// Config configures Open.
type Config struct {
	Endpoint  string // host:port, without scheme
	Bucket    string // created by Open if missing
	Region    string // default us-east-1
	AccessKey string
	SecretKey string
	UseTLS    bool

	// PartSize splits uploads. An object of up to PartSize bytes goes up in
	// a single PUT streamed straight from the reader: no buffer, and the
	// store verifies the whole body against its SHA-256. A larger object
	// goes up in parts of PartSize bytes, each verified by the store, and
	// minio-go holds one part in memory: PartSize bytes per such upload.
	// Default 16 MiB; at least 5 MiB and at most 5 GiB (S3's limits).
	PartSize int64

	// MaxRetries is how many times one request is attempted, the first
	// included, when the store fails in a way worth retrying (5xx,
	// SlowDown, a broken connection). Default 3, which gives a store ~1 s
	// to recover before Put reports blob.ErrUnavailable.
	MaxRetries int

	// Transport carries the HTTP requests; nil means minio-go's default.
	// Set it for private CA roots, or in tests to inject faults.
	Transport http.RoundTripper
}

// DefaultPartSize is Config.PartSize's default: photos (a few MB, a
// 200 MP one ~50 MB at most) mostly go up in one verified PUT without any
// buffer, and a larger upload holds 16 MiB.
const DefaultPartSize = 16 << 20

// S3 limits and defaults.
const (
	minPartSize       = 5 << 20
	maxPartSize       = 5 << 30
	defaultMaxRetries = 3
	defaultRegion     = "us-east-1"
	// maxPresignTTL is SigV4's limit.
	maxPresignTTL = 7 * 24 * time.Hour
)

// blob.Object metadata. metaSHA256 becomes the header x-amz-meta-sha256 and
// holds the hex SHA-256 for Stat; minio-go sends x-amz-checksum-* entries
// as plain headers, which the store verifies against the body.
const (
	metaSHA256     = "sha256"
	checksumSHA256 = "x-amz-checksum-sha256"
)

// Bucket is a blob.Bucket in an S3 bucket (MinIO, versitygw, AWS, ...),
// through minio-go.
//
// Integrity. Put reads the body through a checker that hashes and counts
// it and withholds the last byte unless size and declared SHA-256 match,
// so a wrong body never reaches the store in full. An object of up to
// PartSize bytes goes up in a single PUT that carries its SHA-256 as
// x-amz-checksum-sha256, which the store verifies over the whole body
// (versitygw and MinIO answer BadDigest otherwise); if none was declared,
// Put hashes the body first, reading a seekable reader twice and holding
// a plain one in memory. A larger object goes up in parts of PartSize
// bytes, buffered by minio-go, each carrying its own x-amz-checksum-sha256;
// it is completed only after the checker has seen the last byte. The body
// itself is not signed (UNSIGNED-PAYLOAD, no 64 KiB chunk signatures over
// plain HTTP): the signed checksum header already binds it, and a
// cancelled or failed body never completes its Content-Length because the
// checker withholds the last byte. With PutOptions.Prehashed a single PUT
// is not hashed on our side at all: the store's check of
// x-amz-checksum-sha256 is the one comparison. The hex SHA-256 is stored as
// the user metadata x-amz-meta-sha256, for Stat. After the upload Put
// reads back the object's size, recorded hash and, for single PUTs, the
// store's own full-object SHA-256, and fails if any differs. A failed Put
// never deletes the object under key: it may be another upload's (see
// blob.Bucket.Put); only an unfinished multipart upload of key is aborted.
//
// Memory per Put: none for the body beyond net/http's copy buffer, except
// PartSize bytes for a multipart upload and size bytes for a plain reader
// of at most PartSize bytes without a declared hash. The API declares the
// hash and passes a seekable spool file, so it pays neither for photos.
//
// Retries. minio-go retries a request (5xx, SlowDown, broken connection)
// only when its body is an io.Seeker, rewinding it first. Put hands it a
// seekable body when the caller's reader is an io.ReadSeeker or was read
// into memory, so a single PUT and each part (buffered) are re-sent in full.
//
// Stat knows the SHA-256 of every object Put stored, except one larger than
// PartSize read from a plain reader without a declared hash: its hash is
// known only when the last part has gone, too late for the metadata. Put
// still returns it.
type Bucket struct {
	client   *minio.Client
	core     minio.Core
	bucket   string
	partSize int64
}

var _ blob.Bucket = (*Bucket)(nil)

// Open connects to the store and creates the bucket if it does not exist.
// ctx bounds only this setup.
func Open(ctx context.Context, cfg Config) (*Bucket, error) {
	const op = "open s3"
	switch {
	case cfg.Endpoint == "":
		return nil, blob.NewError(op, "", nil, errors.New("empty endpoint"))
	case strings.Contains(cfg.Endpoint, "/"):
		return nil, blob.NewError(op, "", nil, fmt.Errorf("endpoint %q must be host:port, without scheme or path", cfg.Endpoint))
	case cfg.AccessKey == "" || cfg.SecretKey == "":
		return nil, blob.NewError(op, "", nil, errors.New("access key and secret key are required"))
	}
	if err := s3utils.CheckValidBucketName(cfg.Bucket); err != nil {
		return nil, blob.NewError(op, "", nil, fmt.Errorf("bucket %q: %w", cfg.Bucket, err))
	}
	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < minPartSize || partSize > maxPartSize {
		return nil, blob.NewError(op, "", nil, fmt.Errorf("part size %d outside [%d, %d]", partSize, minPartSize, maxPartSize))
	}
	retries := cfg.MaxRetries
	if retries <= 0 {
		retries = defaultMaxRetries
	}
	region := cfg.Region
	if region == "" {
		// Also spares minio-go a GetBucketLocation round trip per request.
		region = defaultRegion
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:    cfg.UseTLS,
		Region:    region,
		Transport: cfg.Transport,
		// Required by minio-go for any x-amz-checksum-* header.
		TrailingHeaders: true,
		MaxRetries:      retries,
	})
	if err != nil {
		return nil, blob.NewError(op, "", nil, err)
	}
	s := &Bucket{client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket, partSize: partSize}
	if err := s.ensureBucket(ctx, region); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Bucket) ensureBucket(ctx context.Context, region string) error {
	const op = "open s3"
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.err(op, "", err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	if err != nil && minio.ToErrorResponse(err).Code != "BucketAlreadyOwnedByYou" {
		return s.err(op, "", fmt.Errorf("creating bucket %q: %w", s.bucket, err))
	}
	return nil
}

// Put implements blob.Bucket.
func (s *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64, opts blob.PutOptions) (blob.Object, error) {
	const op = "put"
	if err := blob.CheckKey(op, key); err != nil {
		return blob.Object{}, err
	}
	if err := blob.CheckPut(op, key, size, opts); err != nil {
		return blob.Object{}, err
	}
	want := opts.SHA256
	multipart := size > s.partSize
	// The store checks the whole body against x-amz-checksum-sha256 only
	// in a single PUT; a multipart upload's parts are checked one by one,
	// so there the whole-object hash stays ours to compute.
	prehashed := opts.Prehashed && want != nil && !multipart
	if _, seekable := r.(io.ReadSeeker); !seekable && want == nil && !multipart {
		// Without a hash in its headers, a single PUT cut off midway may be
		// committed truncated (versitygw over TLS does). Hold the body, at
		// most PartSize bytes as a multipart upload would, to hash it
		// first; it can then be verified by the store and retried.
		buf, sum, err := readBody(ctx, r, size)
		if err != nil {
			return blob.Object{}, bodyErr(op, key, err)
		}
		r, want = bytes.NewReader(buf), sum
	}
	var pr *blob.PutReader
	var body io.Reader
	if rs, ok := r.(io.ReadSeeker); ok {
		start, err := rs.Seek(0, io.SeekCurrent)
		if err != nil {
			return blob.Object{}, blob.NewError(op, key, nil, fmt.Errorf("finding the body's position: %w", err))
		}
		if want == nil {
			// Hash first so that the store can verify the body and Stat
			// can report the hash.
			if want, err = blob.HashSeeker(ctx, rs, start, size); err != nil {
				return blob.Object{}, bodyErr(op, key, err)
			}
		}
		var sp *blob.SeekPutReader
		if prehashed {
			sp = blob.NewPrehashedSeekPutReader(ctx, rs, start, size, want)
		} else {
			sp = blob.NewSeekPutReader(ctx, rs, start, size, want)
		}
		pr, body = sp.PutReader, sp
	} else if prehashed {
		pr = blob.NewPrehashedPutReader(ctx, r, size, want)
		body = pr
	} else {
		pr = blob.NewPutReader(ctx, r, size, want)
		body = pr
	}
	if size == 0 {
		// minio-go sends no body, so run the checks here: the reader must
		// be empty and the hash that of no bytes. (minio-go would still
		// rewind body, resetting pr, so hand it an empty one.)
		if _, err := io.Copy(io.Discard, pr); err != nil {
			return blob.Object{}, bodyErr(op, key, err)
		}
		body = bytes.NewReader(nil)
	}

	po := minio.PutObjectOptions{
		ContentType:  blob.ContentTypeOrDefault(opts.ContentType),
		PartSize:     uint64(s.partSize),
		UserMetadata: map[string]string{},
		// No streaming signature: over plain HTTP minio-go would hash the
		// body once more and sign every 64 KiB chunk (~1 ms per MiB, and a
		// growing buffer per upload). The body is still verified: a single
		// PUT carries the signed x-amz-checksum-sha256 header, which the
		// store checks over the whole body, and each part of a multipart
		// upload carries its own. A body cut short never completes its
		// Content-Length, as pr withholds the last byte on any failure,
		// cancellation included.
		DisableContentSha256: true,
	}
	if want != nil {
		po.UserMetadata[metaSHA256] = hex.EncodeToString(want)
	}
	if multipart {
		// Per part: minio-go hashes each buffered part and sends it as the
		// part's x-amz-checksum-sha256. The whole-object hash is checked
		// by pr before the last part leaves.
		po.Checksum = minio.ChecksumSHA256
	} else if want != nil {
		po.UserMetadata[checksumSHA256] = base64.StdEncoding.EncodeToString(want)
	}

	_, err := s.client.PutObject(ctx, s.bucket, key, body, size, po)
	if err == nil && !pr.Complete() {
		err = errors.New("store answered before the whole body was sent")
	}
	if err != nil {
		return blob.Object{}, s.putFailed(ctx, key, pr, err)
	}
	return s.checkStored(ctx, key, size, want, pr.Sum(), multipart)
}

// readBody reads exactly size bytes from r into memory, with Put's checks.
func readBody(ctx context.Context, r io.Reader, size int64) ([]byte, []byte, error) {
	pr := blob.NewPutReader(ctx, r, size, nil)
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := buf.ReadFrom(pr); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), pr.Sum(), nil
}

// putFailed turns a failed upload into Put's error and removes what the
// upload may have left.
func (s *Bucket) putFailed(ctx context.Context, key string, pr *blob.PutReader, err error) error {
	const op = "put"
	var kind error
	cause := err
	switch {
	case pr.Err() != nil:
		// Our checker stopped the upload: the body was short, long or
		// wrong, could not be read, or ctx ended. That is the story, not
		// the transport error it caused.
		cause = pr.Err()
		if errors.Is(cause, context.DeadlineExceeded) {
			kind = blob.ErrUnavailable
		}
	case ctx.Err() != nil:
		if !errors.Is(err, ctx.Err()) {
			cause = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		kind = classify(ctx.Err())
	case isNoSuchBucket(err):
		// Nothing can have been stored, and there is nothing to clean.
		return s.err(op, key, err)
	default:
		kind = classify(err)
		switch code := minio.ToErrorResponse(err).Code; {
		case kind == blob.ErrChecksumMismatch:
			// pr verified the body, or the caller hashed it itself
			// (Prehashed), so the store received other bytes than were
			// hashed: corruption on the way, not the caller's fault.
			kind = blob.ErrUnavailable
			cause = fmt.Errorf("body corrupted on the way to the store: %w", err)
		case code == "SignatureDoesNotMatch":
			// Over plain HTTP every body chunk is signed, so this is how
			// corruption on the way shows there.
			cause = fmt.Errorf("body corrupted on the way to the store, or wrong secret key: %w", err)
		}
		if kind == blob.ErrNotExist {
			kind = nil
		}
	}
	// The object is not deleted, even if this request may have stored it
	// (its answer lost): the key may name an object that someone else put
	// and a committed row points to (evidence keys are content
	// addressed), and a complete body that the store verified is the
	// right one anyway. A half-sent body is never committed: blob.PutReader
	// withholds the last byte and the store checks the declared hash.
	// Nor are other unfinished multipart uploads of the key aborted: they
	// may be another upload's of the same bytes. minio-go aborts its own
	// on failure; one it could not abort (its context was done) is left
	// to the bucket's AbortIncompleteMultipartUpload lifecycle rule
	// (docs/operations.md). fieldwatch sets PartSize above the largest
	// photo, so its uploads are single PUTs anyway.
	return blob.NewError(op, key, kind, cause)
}

// checkStored reads back what the store holds under key and fails unless
// it is what was sent. It deletes nothing: what the key holds may be
// another upload's good copy, and a wrong copy under a content address is
// replaced by the next Put of those bytes (and reported by the invariant
// checker meanwhile).
func (s *Bucket) checkStored(ctx context.Context, key string, size int64, want, sum []byte, multipart bool) (blob.Object, error) {
	const op = "put"
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{Checksum: true})
	var problem error
	switch {
	case err != nil:
		problem = fmt.Errorf("reading back: %w", err)
	case oi.Size != size:
		problem = fmt.Errorf("store holds %d bytes, sent %d", oi.Size, size)
	case want != nil && !bytes.Equal(metaHash(oi.UserMetadata), want):
		problem = fmt.Errorf("store recorded SHA-256 %x, sent %x", metaHash(oi.UserMetadata), want)
	case !multipart && oi.ChecksumSHA256 != "" && oi.ChecksumMode != minio.ChecksumCompositeMode.String():
		if got, derr := base64.StdEncoding.DecodeString(oi.ChecksumSHA256); derr == nil && !bytes.Equal(got, sum) {
			problem = fmt.Errorf("store computed SHA-256 %x, sent %x", got, sum)
		}
	}
	if problem != nil {
		kind := blob.ErrUnavailable
		if err != nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			kind = nil // cancelled by the caller
		}
		return blob.Object{}, blob.NewError(op, key, kind, problem)
	}
	obj := s.object(key, oi)
	obj.SHA256 = sum
	return obj, nil
}

// Get implements blob.Bucket.
func (s *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error) {
	const op = "get"
	if err := blob.CheckKey(op, key); err != nil {
		return nil, blob.Object{}, err
	}
	rc, oi, _, err := s.core.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, blob.Object{}, s.err(op, key, err)
	}
	obj := s.object(key, oi)
	return blob.NewVerifyReader(rc, key, obj.Size, obj.SHA256), obj, nil
}

// GetRange implements blob.Bucket.
func (s *Bucket) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	const op = "get range"
	if err := blob.CheckKey(op, key); err != nil {
		return nil, err
	}
	if err := blob.CheckRange(op, key, offset, length); err != nil {
		return nil, err
	}
	var o minio.GetObjectOptions
	end := offset + min(length, math.MaxInt64-offset) - 1
	if err := o.SetRange(offset, end); err != nil {
		return nil, blob.NewError(op, key, blob.ErrInvalidRange, err)
	}
	rc, _, _, err := s.core.GetObject(ctx, s.bucket, key, o)
	if err != nil {
		return nil, s.err(op, key, err)
	}
	return rc, nil
}

// Stat implements blob.Bucket.
func (s *Bucket) Stat(ctx context.Context, key string) (blob.Object, error) {
	const op = "stat"
	if err := blob.CheckKey(op, key); err != nil {
		return blob.Object{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return blob.Object{}, s.err(op, key, err)
	}
	return s.object(key, oi), nil
}

// Delete implements blob.Bucket.
func (s *Bucket) Delete(ctx context.Context, key string) error {
	const op = "delete"
	if err := blob.CheckKey(op, key); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{})
	if err != nil && classify(err) != blob.ErrNotExist {
		return s.err(op, key, err)
	}
	return nil
}

// List implements blob.Bucket.
func (s *Bucket) List(ctx context.Context, prefix string, fn func(blob.Object) error) error {
	const op = "list"
	if err := blob.CheckPrefix(op, prefix); err != nil {
		return err
	}
	// Cancelling stops minio-go's listing goroutine when fn stops early.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for oi := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if oi.Err != nil {
			return s.err(op, prefix, oi.Err)
		}
		if blob.ValidateKey(oi.Key) != nil {
			continue // not written through this package
		}
		if err := fn(blob.Object{Key: oi.Key, Size: oi.Size, ModTime: oi.LastModified}); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return s.err(op, prefix, err)
	}
	return nil
}

// PresignGet implements blob.Bucket. The URL is signed locally; it is not
// checked that the object exists.
func (s *Bucket) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	const op = "presign get"
	if err := checkPresign(op, key, ttl); err != nil {
		return "", err
	}
	u, err := s.client.PresignedGetObject(ctx, s.bucket, key, ttl, nil)
	if err != nil {
		return "", s.err(op, key, err)
	}
	return u.String(), nil
}

// PresignPut implements blob.Bucket.
func (s *Bucket) PresignPut(ctx context.Context, key string, ttl time.Duration) (string, error) {
	const op = "presign put"
	if err := checkPresign(op, key, ttl); err != nil {
		return "", err
	}
	u, err := s.client.PresignedPutObject(ctx, s.bucket, key, ttl)
	if err != nil {
		return "", s.err(op, key, err)
	}
	return u.String(), nil
}

func checkPresign(op, key string, ttl time.Duration) error {
	if err := blob.CheckKey(op, key); err != nil {
		return err
	}
	if ttl < time.Second || ttl > maxPresignTTL {
		return blob.NewError(op, key, nil, fmt.Errorf("ttl %v outside [1s, %v]", ttl, maxPresignTTL))
	}
	return nil
}

// Ping checks that the bucket exists, which needs the store up, our clock
// close enough to its clock, and our credentials accepted.
func (s *Bucket) Ping(ctx context.Context) error {
	const op = "ping"
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.err(op, "", err)
	}
	if !ok {
		return blob.NewError(op, "", blob.ErrUnavailable, fmt.Errorf("bucket %q does not exist", s.bucket))
	}
	return nil
}

// object converts minio-go's description.
func (s *Bucket) object(key string, oi minio.ObjectInfo) blob.Object {
	return blob.Object{
		Key:         key,
		Size:        oi.Size,
		SHA256:      metaHash(oi.UserMetadata),
		ContentType: blob.ContentTypeOrDefault(oi.ContentType),
		ModTime:     oi.LastModified,
	}
}

// metaHash finds x-amz-meta-sha256 in minio-go's user metadata, whose keys
// arrive without the prefix and in whatever case the store chose.
func metaHash(m minio.StringMap) []byte {
	for k, v := range m {
		if strings.EqualFold(strings.TrimPrefix(strings.ToLower(k), "x-amz-meta-"), metaSHA256) {
			return blob.ParseHexSHA256(v)
		}
	}
	return nil
}

// err classifies an error from minio-go.
func (s *Bucket) err(op, key string, err error) error {
	if isNoSuchBucket(err) {
		err = fmt.Errorf("bucket %q does not exist: %w", s.bucket, err)
	}
	return blob.NewError(op, key, classify(err), err)
}

func isNoSuchBucket(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && er.Code == "NoSuchBucket"
}

// bodyErr classifies an error from reading the caller's body, which can
// only be about that body or the caller's ctx.
func bodyErr(op, key string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return blob.NewError(op, key, blob.ErrUnavailable, err)
	}
	return blob.NewError(op, key, nil, err)
}

// classify maps an error from minio-go or the network to one of the
// blob package's kinds, or nil if none applies.
func classify(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// A deadline for a store operation ran out: the store was slow.
		return blob.ErrUnavailable
	case errors.Is(err, context.Canceled):
		return nil // the caller gave up; not the store's fault
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case "NoSuchKey", "NotFound":
			return blob.ErrNotExist
		case "BadDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch", "InvalidDigest":
			return blob.ErrChecksumMismatch
		case "InvalidRange":
			return blob.ErrInvalidRange
		case "NoSuchBucket",
			"SlowDown", "SlowDownRead", "SlowDownWrite", "Throttling", "ThrottlingException",
			"RequestLimitExceeded", "RequestThrottled", "ServiceUnavailable", "InternalError",
			"RequestTimeout", "IncompleteBody", "XMinioServerNotInitialized",
			// Clock skew and rejected credentials: the store is unusable
			// until an operator acts, which is what Ping and 503 report.
			"RequestTimeTooSkewed", "AccessDenied", "InvalidAccessKeyId",
			"SignatureDoesNotMatch", "ExpiredToken":
			return blob.ErrUnavailable
		}
		if er.StatusCode >= 500 || er.StatusCode == http.StatusTooManyRequests || er.StatusCode == http.StatusRequestTimeout {
			return blob.ErrUnavailable
		}
		return nil
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) {
		// Refused, reset, timed out, DNS: the request never got an answer.
		return blob.ErrUnavailable
	}
	return nil
}
