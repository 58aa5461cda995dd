package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Bucket is a place that keeps evidence bytes under server-generated keys.
// Implementations are safe for concurrent use.
//
// Every method validates its key (see ValidateKey) and returns an error
// wrapping ErrInvalidKey before touching the store. Errors wrap one of the
// package's Err* kinds where one applies, and always keep the cause.
type Bucket interface {
	// Put stores exactly size bytes read from r under key and returns what
	// was stored, with Object.SHA256 set to the hash of those bytes.
	//
	// If opts.SHA256 is set (32 raw bytes) the bytes must hash to it, or
	// Put fails with ErrChecksumMismatch (or ErrUnavailable when the
	// caller said opts.Prehashed and the store found the mismatch). A reader that ends early or holds
	// more than size bytes fails with ErrSizeMismatch. On any error nothing
	// is visible under key. When r is also an io.ReadSeeker, a backend may
	// seek it back to where it was when Put was called and read it again
	// (to retry, or to hash it before sending).
	//
	// A Put to an existing key replaces the object atomically. A failed
	// Put never removes or alters what was already under key: keys may be
	// content addressed, so that object may belong to another upload of
	// the same bytes, and a committed row may point to it.
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (Object, error)

	// Get opens the object for reading. When the store knows the object's
	// SHA-256, the reader checks it while reading and returns an error
	// wrapping ErrChecksumMismatch instead of io.EOF if the bytes differ.
	// Returns ErrNotExist if there is no such object.
	Get(ctx context.Context, key string) (io.ReadCloser, Object, error)

	// GetRange opens length bytes starting at offset. A range that runs
	// past the end is cut short at the end, as in HTTP. Returns
	// ErrInvalidRange if offset is negative or not before the end, or
	// length is not positive; ErrNotExist if there is no such object.
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)

	// Stat describes the object, or returns ErrNotExist.
	Stat(ctx context.Context, key string) (Object, error)

	// Delete removes the object. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// List calls fn for every object whose key starts with prefix, in
	// lexicographic key order, filling Key, Size and ModTime (use Stat for
	// the rest). An error from fn stops the listing and is returned as is.
	// The prefix is either empty or a key, optionally with a trailing
	// slash, or the start of one.
	List(ctx context.Context, prefix string, fn func(Object) error) error

	// PresignGet returns a URL that lets its holder GET the object without
	// credentials until ttl has passed. The URL is a bearer credential:
	// never log it. Returns ErrUnsupported if the store cannot do this.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)

	// PresignPut returns a URL that lets its holder PUT bytes under key
	// until ttl has passed. Nothing checks what is uploaded through it and
	// no hash is recorded: read it back with Get and hash it before
	// trusting it. Returns ErrUnsupported if the store cannot do this.
	PresignPut(ctx context.Context, key string, ttl time.Duration) (string, error)

	// Ping reports whether the store is reachable and usable (the bucket
	// exists, the directory is writable). Failures wrap ErrUnavailable.
	Ping(ctx context.Context) error
}

// PutOptions are optional settings for Put.
type PutOptions struct {
	// SHA256 is the hash the bytes must have, 32 raw bytes, or nil.
	SHA256 []byte
	// ContentType is stored with the object; empty means
	// application/octet-stream.
	ContentType string
	// Prehashed says that SHA256 was computed by the caller over these
	// very bytes (a spool file it wrote and hashed itself), so an adapter
	// whose store verifies SHA256 over the body it receives need not hash
	// the bytes a second time: s3blob then leaves the comparison to the
	// store's x-amz-checksum-sha256 check and still refuses a short or
	// long body itself. Put's promise is unchanged (nothing is stored
	// unless it hashes to SHA256), but a mismatch found by the store is
	// reported as ErrUnavailable, since it means the bytes changed after
	// the caller hashed them or on the way, not that the caller declared
	// a wrong hash. Adapters that have nobody else to check (fileblob)
	// hash anyway. Ignored without SHA256.
	Prehashed bool
}

// Object describes a stored object.
type Object struct {
	Key  string
	Size int64
	// SHA256 is the 32-byte hash recorded when the object was put, or nil
	// if the store does not know it. It is what Put verified, not a
	// fresh computation: Get re-checks the bytes as they are read.
	SHA256      []byte
	ContentType string
	ModTime     time.Time
}

// DefaultContentType is what S3 reports for objects stored without one;
// fileblob reports the same so that both adapters look alike.
const DefaultContentType = "application/octet-stream"

// Key limits. S3 allows 1024-byte keys; 255 bytes is the file name limit of
// common file systems.
const (
	maxKeyLen     = 1024
	maxSegmentLen = 255
)

// ValidateKey reports whether key can name an object, returning an error
// wrapping ErrInvalidKey if not.
//
// A key is 1 to 1024 bytes of slash-separated segments. Each segment is 1
// to 255 bytes of ASCII letters, digits, '.', '_' and '-', and does not
// start with '.'. So a key cannot be absolute, climb out with "..", hold
// backslashes, NUL, spaces, colons or non-ASCII, or clash with the names
// fileblob keeps for itself (".tmp", ".meta"). Keys are generated by the
// server, so this is a check against bugs and tampering, not a format for
// users' file names.
func ValidateKey(key string) error {
	if msg := keyProblem(key); msg != "" {
		return NewError("validate key", key, ErrInvalidKey, errors.New(msg))
	}
	return nil
}

func keyProblem(key string) string {
	if key == "" {
		return "empty"
	}
	if len(key) > maxKeyLen {
		return fmt.Sprintf("longer than %d bytes", maxKeyLen)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return "empty segment (leading, trailing or double slash)"
		case len(seg) > maxSegmentLen:
			return fmt.Sprintf("segment longer than %d bytes", maxSegmentLen)
		case seg[0] == '.':
			return "segment starts with '.'"
		}
		for i := 0; i < len(seg); i++ {
			if !keyByte(seg[i]) {
				return fmt.Sprintf("byte %#02x not allowed", seg[i])
			}
		}
	}
	return ""
}

func keyByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '.' || c == '_' || c == '-'
}

// CheckKey is ValidateKey for use inside an adapter's operation op: the
// error names op rather than "validate key".
func CheckKey(op, key string) error {
	if msg := keyProblem(key); msg != "" {
		return NewError(op, key, ErrInvalidKey, errors.New(msg))
	}
	return nil
}

// CheckPrefix validates a List prefix: empty, or a valid key with an
// optional trailing slash. A partial last segment is itself a valid
// segment, so this also admits "2026/11/2".
func CheckPrefix(op, prefix string) error {
	if prefix == "" {
		return nil
	}
	if msg := keyProblem(strings.TrimSuffix(prefix, "/")); msg != "" {
		return NewError(op, prefix, ErrInvalidKey, fmt.Errorf("prefix: %s", msg))
	}
	return nil
}

// CheckPut validates Put's arguments other than the key.
func CheckPut(op, key string, size int64, opts PutOptions) error {
	if size < 0 {
		return NewError(op, key, nil, fmt.Errorf("negative size %d", size))
	}
	if opts.SHA256 != nil && len(opts.SHA256) != 32 {
		return NewError(op, key, nil, fmt.Errorf("PutOptions.SHA256 has %d bytes, want 32", len(opts.SHA256)))
	}
	return nil
}

// CheckRange validates GetRange's offset and length against nothing but
// themselves; the object's size is checked by the adapter.
func CheckRange(op, key string, offset, length int64) error {
	if offset < 0 || length <= 0 {
		return NewError(op, key, ErrInvalidRange, fmt.Errorf("offset %d, length %d", offset, length))
	}
	return nil
}

// ContentTypeOrDefault returns ct, or DefaultContentType if ct is empty.
func ContentTypeOrDefault(ct string) string {
	if ct == "" {
		return DefaultContentType
	}
	return ct
}
