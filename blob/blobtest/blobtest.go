// Package blobtest is the contract every blob.Bucket must honour, as one
// test suite that each adapter's tests run against a fresh bucket.
//
// It checks what the upload path relies on (docs/reliability.md#c1, #c7, #c9,
// #c11, #f3): bytes come back identical, a body that is short, long, wrong,
// cut off or cancelled leaves nothing visible, and a large object passes
// through without being held in memory.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fieldwatch/fieldwatch/blob"
)

// Run runs the contract suite. open must return an empty store for the
// test it is given, and register any cleanup with t.Cleanup; it is called
// once per subtest.
func Run(t *testing.T, open func(t *testing.T) blob.Bucket) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open) })
	t.Run("Stat", func(t *testing.T) { testStat(t, open) })
	t.Run("GetRange", func(t *testing.T) { testGetRange(t, open) })
	t.Run("NotExist", func(t *testing.T) { testNotExist(t, open) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, open) })
	t.Run("PutFails", func(t *testing.T) { testPutFails(t, open) })
	t.Run("PutFailsKeepsExisting", func(t *testing.T) { testPutFailsKeepsExisting(t, open) })
	t.Run("InvalidKey", func(t *testing.T) { testInvalidKey(t, open) })
	t.Run("List", func(t *testing.T) { testList(t, open) })
	t.Run("Presign", func(t *testing.T) { testPresign(t, open) })
	t.Run("CancelledContext", func(t *testing.T) { testCancelledContext(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
	t.Run("ConcurrentSameKey", func(t *testing.T) { testConcurrentSameKey(t, open) })
	t.Run("Ping", func(t *testing.T) { testPing(t, open) })
	t.Run("Large", func(t *testing.T) { testLarge(t, open) })
	t.Run("PutFile", func(t *testing.T) { testPutFile(t, open) })
}

// FilePutter is the optional capability of a Bucket that can take over a
// finished file instead of copying it (fileblob.Dir.PutFile): the caller
// wrote and hashed the file itself, and vouches for opts.SHA256. The
// contract: a regular file of exactly size bytes ends up under key with
// opts.SHA256 recorded, durably, as a Put would leave it; a file of
// another size fails with ErrSizeMismatch before anything moves; a done
// ctx fails; a failure leaves nothing new under key and what it held
// before intact. name is gone after success, and may or may not be after
// a failure (the caller removes what is left).
type FilePutter interface {
	PutFile(ctx context.Context, key, name string, size int64, opts blob.PutOptions) (blob.Object, error)
}

func testPutFile(t *testing.T, open func(t *testing.T) blob.Bucket) {
	if _, ok := open(t).(FilePutter); !ok {
		t.Skip("the store cannot take over files")
	}
	write := func(t *testing.T, data []byte) string {
		t.Helper()
		name := filepath.Join(t.TempDir(), "spool.part")
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}
	t.Run("RoundTrip", func(t *testing.T) {
		for _, size := range []int64{0, 1, 1000, 1<<20 + 7} {
			t.Run(fmt.Sprint(size), func(t *testing.T) {
				ctx := testCtx(t)
				s := open(t)
				data := Bytes(size, uint64(size)+5)
				name := write(t, data)
				key := fmt.Sprintf("pf/%d", size)
				obj, err := s.(FilePutter).PutFile(ctx, key, name, size, blob.PutOptions{SHA256: hashOf(data), ContentType: "image/jpeg"})
				if err != nil {
					t.Fatalf("PutFile: %v", err)
				}
				if obj.Key != key || obj.Size != size || !bytes.Equal(obj.SHA256, hashOf(data)) {
					t.Errorf("PutFile returned %+v", obj)
				}
				if _, err := os.Stat(name); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("after PutFile the file is still at its name: %v", err)
				}
				got, gobj := MustGet(t, s, key)
				if !bytes.Equal(got, data) {
					t.Fatalf("Get returned %d bytes that differ from the %d put", len(got), len(data))
				}
				checkHash(t, "Get", gobj.SHA256, hashOf(data), true)
				if gobj.ContentType != "image/jpeg" {
					t.Errorf("content type %q", gobj.ContentType)
				}
				st, err := s.Stat(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				checkHash(t, "Stat", st.SHA256, hashOf(data), true)
			})
		}
	})
	t.Run("Replaces", func(t *testing.T) {
		ctx := testCtx(t)
		s := open(t)
		MustPut(t, s, "pf/x", Bytes(500, 1), blob.PutOptions{})
		data := Bytes(700, 2)
		if _, err := s.(FilePutter).PutFile(ctx, "pf/x", write(t, data), 700, blob.PutOptions{SHA256: hashOf(data)}); err != nil {
			t.Fatalf("PutFile: %v", err)
		}
		got, gobj := MustGet(t, s, "pf/x")
		if !bytes.Equal(got, data) {
			t.Errorf("PutFile over an object left %d other bytes", len(got))
		}
		checkHash(t, "Get", gobj.SHA256, hashOf(data), true)
	})
	fails := []struct {
		name    string
		size    int64 // the file holds 1000 bytes
		cancel  bool
		want    error
		stays   bool // the file is refused before it moves
		noHash  bool
		keyless bool
	}{
		{name: "Short", size: 1010, want: blob.ErrSizeMismatch, stays: true},
		{name: "Long", size: 990, want: blob.ErrSizeMismatch, stays: true},
		{name: "Cancelled", size: 1000, cancel: true, want: context.Canceled},
		{name: "NoHash", size: 1000, noHash: true},
		{name: "InvalidKey", size: 1000, keyless: true, want: blob.ErrInvalidKey, stays: true},
	}
	for _, tt := range fails {
		for _, existing := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/existing=%v", tt.name, existing), func(t *testing.T) {
				ctx := testCtx(t)
				s := open(t)
				key := "pf/fail"
				before := Bytes(1000, 9)
				if existing {
					MustPut(t, s, key, before, blob.PutOptions{SHA256: hashOf(before)})
				}
				data := Bytes(1000, 8)
				name := write(t, data)
				putCtx, cancel := context.WithCancel(ctx)
				defer cancel()
				if tt.cancel {
					cancel()
				}
				opts := blob.PutOptions{SHA256: hashOf(data)}
				if tt.noHash {
					opts.SHA256 = nil
				}
				k := key
				if tt.keyless {
					k = "../escape"
				}
				_, err := s.(FilePutter).PutFile(putCtx, k, name, tt.size, opts)
				if err == nil || tt.want != nil && !errors.Is(err, tt.want) {
					t.Fatalf("PutFile error = %v, want %v", err, tt.want)
				}
				if tt.stays {
					if got, err := os.ReadFile(name); err != nil || !bytes.Equal(got, data) {
						t.Errorf("a refused file was moved or changed: %v", err)
					}
				}
				if !existing {
					MustNotExist(t, s, key)
					if keys := ListKeys(t, s, ""); len(keys) != 0 {
						t.Errorf("after a failed PutFile the store lists %q", keys)
					}
					return
				}
				got, obj := MustGet(t, s, key)
				if !bytes.Equal(got, before) || !bytes.Equal(obj.SHA256, hashOf(before)) {
					t.Errorf("a failed PutFile changed the existing object (%d bytes, hash %x)", len(got), obj.SHA256)
				}
			})
		}
	}
}

// testCtx bounds every store call of a test, so that a hung store fails
// the test instead of stalling the run.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func testRoundTrip(t *testing.T, open func(t *testing.T) blob.Bucket) {
	tests := []struct {
		name     string
		size     int
		seekable bool
		declare  bool
		skip     int // bytes before the body in a seekable reader, already read
		// prehashed: declared and PutOptions.Prehashed, as the upload
		// path puts its own spool file.
		prehashed bool
	}{
		{"Empty", 0, true, true, 0, false},
		{"EmptyStream", 0, false, false, 0, false},
		{"OneByte", 1, true, false, 0, false},
		{"SmallDeclared", 1000, true, true, 0, false},
		{"SmallUndeclared", 1000, true, false, 0, false},
		{"SmallStreamDeclared", 1000, false, true, 0, false},
		{"SmallStreamUndeclared", 1000, false, false, 0, false},
		{"SeekableNotAtStart", 1000, true, false, 77, false},
		{"SeekableNotAtStartDeclared", 1000, true, true, 77, false},
		{"OddMiB", 1<<20 + 7, true, true, 0, false},
		{"Prehashed", 1000, true, true, 0, true},
		{"PrehashedStream", 1000, false, true, 0, true},
		{"PrehashedNotAtStart", 1000, true, true, 77, true},
		{"PrehashedOddMiB", 1<<20 + 7, true, true, 0, true},
		{"PrehashedEmpty", 0, true, true, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := open(t)
			data := Bytes(int64(tt.size), uint64(tt.size))
			sum := sha256.Sum256(data)
			opts := blob.PutOptions{ContentType: "image/jpeg", Prehashed: tt.prehashed}
			if tt.declare {
				opts.SHA256 = sum[:]
			}
			br := bytes.NewReader(append(Bytes(int64(tt.skip), 99), data...))
			if _, err := br.Seek(int64(tt.skip), io.SeekStart); err != nil {
				t.Fatal(err)
			}
			var r io.Reader = br
			if !tt.seekable {
				r = OnlyReader(r)
			}
			key := "rt/" + tt.name
			obj, err := s.Put(ctx, key, r, int64(len(data)), opts)
			if err != nil {
				t.Fatalf("Put: %v", err)
			}
			if obj.Key != key || obj.Size != int64(len(data)) || !bytes.Equal(obj.SHA256, sum[:]) {
				t.Errorf("Put returned %+v, want key %q size %d sha %x", obj, key, len(data), sum)
			}
			got, gobj := MustGet(t, s, key)
			if !bytes.Equal(got, data) {
				t.Fatalf("Get returned %d bytes that differ from the %d put", len(got), len(data))
			}
			if gobj.Size != int64(len(data)) || gobj.ContentType != "image/jpeg" {
				t.Errorf("Get object = %+v", gobj)
			}
			checkHash(t, "Get", gobj.SHA256, sum[:], tt.declare)
		})
	}
}

// checkHash checks a hash a store reports: it may not know one, unless
// required, but must never report a wrong one.
func checkHash(t *testing.T, what string, got, want []byte, required bool) {
	t.Helper()
	switch {
	case got == nil && required:
		t.Errorf("%s: SHA256 is nil, want %x (it was declared to Put)", what, want)
	case got != nil && !bytes.Equal(got, want):
		t.Errorf("%s: SHA256 = %x, want %x", what, got, want)
	}
}

func testStat(t *testing.T, open func(t *testing.T) blob.Bucket) {
	tests := []struct {
		name        string
		contentType string
		want        string
	}{
		{"ContentType", "image/heic", "image/heic"},
		{"DefaultContentType", "", "application/octet-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			s := open(t)
			data := Bytes(4321, 1)
			sum := sha256.Sum256(data)
			MustPut(t, s, "stat/x", data, blob.PutOptions{SHA256: sum[:], ContentType: tt.contentType})
			obj, err := s.Stat(ctx, "stat/x")
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if obj.Key != "stat/x" || obj.Size != int64(len(data)) || obj.ContentType != tt.want || obj.ModTime.IsZero() {
				t.Errorf("Stat = %+v, want size %d, content type %q, a mod time", obj, len(data), tt.want)
			}
			checkHash(t, "Stat", obj.SHA256, sum[:], true)
		})
	}
}

func testGetRange(t *testing.T, open func(t *testing.T) blob.Bucket) {
	ctx := testCtx(t)
	s := open(t)
	data := Bytes(1000, 2)
	MustPut(t, s, "range/x", data, blob.PutOptions{})
	tests := []struct {
		name           string
		offset, length int64
		want           []byte // nil: expect ErrInvalidRange
	}{
		{"Start", 0, 10, data[:10]},
		{"Middle", 400, 123, data[400:523]},
		{"End", 990, 10, data[990:]},
		{"LastByte", 999, 1, data[999:]},
		{"Whole", 0, 1000, data},
		{"PastEndIsCut", 995, 100, data[995:]},
		{"HugeLength", 10, 1 << 62, data[10:]},
		{"BeyondEnd", 1000, 1, nil},
		{"FarBeyondEnd", 5000, 10, nil},
		{"NegativeOffset", -1, 10, nil},
		{"ZeroLength", 10, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := s.GetRange(ctx, "range/x", tt.offset, tt.length)
			if tt.want == nil {
				if err == nil {
					rc.Close()
				}
				if !errors.Is(err, blob.ErrInvalidRange) {
					t.Fatalf("GetRange(%d, %d) error = %v, want ErrInvalidRange", tt.offset, tt.length, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetRange(%d, %d): %v", tt.offset, tt.length, err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatalf("reading range: %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("GetRange(%d, %d) returned %d bytes, want %d (or other bytes)", tt.offset, tt.length, len(got), len(tt.want))
			}
		})
	}
}

func testNotExist(t *testing.T, open func(t *testing.T) blob.Bucket) {
	ctx := testCtx(t)
	s := open(t)
	MustPut(t, s, "present/x", []byte("x"), blob.PutOptions{})
	for _, key := range []string{"missing", "present/missing", "present"} {
		t.Run(key, func(t *testing.T) {
			MustNotExist(t, s, key)
			rc, err := s.GetRange(ctx, key, 0, 1)
			if err == nil {
				rc.Close()
			}
			if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, blob.ErrNotExist) {
				t.Errorf("GetRange: error = %v, want ErrNotExist", err)
			}
		})
	}
}

func testDelete(t *testing.T, open func(t *testing.T) blob.Bucket) {
	ctx := testCtx(t)
	s := open(t)
	MustPut(t, s, "del/x", []byte("evidence"), blob.PutOptions{})
	MustPut(t, s, "del/y", []byte("other"), blob.PutOptions{})
	if err := s.Delete(ctx, "del/x"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	MustNotExist(t, s, "del/x")
	if got, _ := MustGet(t, s, "del/y"); string(got) != "other" {
		t.Errorf("a neighbour of the deleted key changed: %q", got)
	}
	for _, key := range []string{"del/x", "never/was"} {
		if err := s.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q) of a missing key: %v, want nil", key, err)
		}
	}
}

// errCut is what a reader returns when its connection is cut.
var errCut = errors.New("blobtest: connection cut")

// putFailure is a Put that must fail: body returns the reader to Put and
// the declared hash for a body of size bytes; cancel cancels Put's
// context.
type putFailure struct {
	name string
	size int64
	body func(size int64, cancel context.CancelFunc) (io.Reader, []byte)
	want error
}

const small, large = 64 << 10, 20 << 20 // large is multipart on S3

// putFailures are the ways a Put fails on the caller's side: a wrong,
// short, long or broken body, or a cancelled context.
func putFailures() []putFailure {
	return []putFailure{
		{"WrongSHA256", small, func(n int64, _ context.CancelFunc) (io.Reader, []byte) {
			return bytes.NewReader(Bytes(n, 1)), hashOf(Bytes(n, 2))
		}, blob.ErrChecksumMismatch},
		{"WrongSHA256Stream", small, func(n int64, _ context.CancelFunc) (io.Reader, []byte) {
			return OnlyReader(bytes.NewReader(Bytes(n, 1))), hashOf(Bytes(n, 2))
		}, blob.ErrChecksumMismatch},
		{"WrongSHA256Large", large, func(n int64, _ context.CancelFunc) (io.Reader, []byte) {
			return NewGenerator(n, 1), HashGenerator(n, 2)
		}, blob.ErrChecksumMismatch},
		{"Short", small, func(n int64, _ context.CancelFunc) (io.Reader, []byte) {
			return bytes.NewReader(Bytes(n-10, 1)), nil
		}, blob.ErrSizeMismatch},
		{"ShortStream", small, func(n int64, _ context.CancelFunc) (io.Reader, []byte) {
			return OnlyReader(bytes.NewReader(Bytes(n-10, 1))), nil
		}, blob.ErrSizeMismatch},
		{"ShortLarge", large, func(n int64, _ context.CancelFunc) (io.Reader, []byte) {
			return NewGenerator(n-1, 1), nil
		}, blob.ErrSizeMismatch},
		{"Long", small, func(n int64, _ context.CancelFunc) (io.Reader, []byte) {
			return bytes.NewReader(Bytes(n+10, 1)), nil
		}, blob.ErrSizeMismatch},
		{"LongStream", small, func(n int64, _ context.CancelFunc) (io.Reader, []byte) {
			return OnlyReader(bytes.NewReader(Bytes(n+1, 1))), nil
		}, blob.ErrSizeMismatch},
		{"LongLarge", large, func(n int64, _ context.CancelFunc) (io.Reader, []byte) {
			return NewGenerator(n+1, 1), nil
		}, blob.ErrSizeMismatch},
		{"CutMidway", small, func(n int64, _ context.CancelFunc) (io.Reader, []byte) {
			return &failAfter{r: bytes.NewReader(Bytes(n, 1)), n: n / 2, err: errCut}, nil
		}, errCut},
		{"CutMidwayLarge", large, func(n int64, _ context.CancelFunc) (io.Reader, []byte) {
			return &failAfter{r: NewGenerator(n, 1), n: n - n/3, err: errCut}, nil
		}, errCut},
		{"CutAtLastByte", small, func(n int64, _ context.CancelFunc) (io.Reader, []byte) {
			return &failAfter{r: bytes.NewReader(Bytes(n, 1)), n: n - 1, err: errCut}, nil
		}, errCut},
		{"CancelledMidway", small, func(n int64, cancel context.CancelFunc) (io.Reader, []byte) {
			return &failAfter{r: bytes.NewReader(Bytes(n, 1)), n: n / 2, then: cancel}, hashOf(Bytes(n, 1))
		}, context.Canceled},
		{"CancelledMidwayLarge", large, func(n int64, cancel context.CancelFunc) (io.Reader, []byte) {
			return &failAfter{r: NewGenerator(n, 1), n: n - n/3, then: cancel}, HashGenerator(n, 1)
		}, context.Canceled},
	}
}

// prehashedCases runs a put failure as is and again with
// PutOptions.Prehashed (when it declares a hash): an adapter that leaves
// the hash to its store must still store nothing. A wrong hash found by
// the store may then be reported as ErrUnavailable (see
// PutOptions.Prehashed).
func prehashedCases(t *testing.T, tt putFailure, run func(t *testing.T, prehashed bool, wantErr func(error) bool)) {
	t.Run(tt.name, func(t *testing.T) {
		run(t, false, func(err error) bool { return errors.Is(err, tt.want) })
	})
	t.Run(tt.name+"/Prehashed", func(t *testing.T) {
		run(t, true, func(err error) bool {
			return errors.Is(err, tt.want) || tt.want == blob.ErrChecksumMismatch && errors.Is(err, blob.ErrUnavailable)
		})
	})
}

func testPutFails(t *testing.T, open func(t *testing.T) blob.Bucket) {
	for _, tt := range putFailures() {
		prehashedCases(t, tt, func(t *testing.T, prehashed bool, wantErr func(error) bool) {
			if tt.size >= large && testing.Short() {
				t.Skip("large body; skipped in -short mode")
			}
			ctx := testCtx(t)
			s := open(t)
			key := "fail/" + tt.name
			putCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			r, sum := tt.body(tt.size, cancel)
			if prehashed && sum == nil {
				t.Skip("Prehashed means nothing without a declared hash")
			}
			_, err := s.Put(putCtx, key, r, tt.size, blob.PutOptions{SHA256: sum, Prehashed: prehashed})
			if !wantErr(err) {
				t.Fatalf("Put error = %v, want %v", err, tt.want)
			}
			MustNotExist(t, s, key)
			if keys := ListKeys(t, s, ""); len(keys) != 0 {
				t.Errorf("after a failed Put the store lists %q", keys)
			}
			// The phone retries with the right body: that must work.
			data := Bytes(1000, 3)
			MustPut(t, s, key, data, blob.PutOptions{SHA256: hashOf(data)})
			if got, _ := MustGet(t, s, key); !bytes.Equal(got, data) {
				t.Errorf("Put after a failed Put stored other bytes")
			}
		})
	}
}

// testPutFailsKeepsExisting: a failed Put leaves what was already under
// its key. Evidence keys are content addressed, so another upload of the
// same bytes may own that object (and a committed row point to it); a
// failed or cancelled attempt must never take it away.
func testPutFailsKeepsExisting(t *testing.T, open func(t *testing.T) blob.Bucket) {
	for _, tt := range putFailures() {
		prehashedCases(t, tt, func(t *testing.T, prehashed bool, wantErr func(error) bool) {
			if tt.size >= large && testing.Short() {
				t.Skip("large body; skipped in -short mode")
			}
			ctx := testCtx(t)
			s := open(t)
			key := "shared/" + tt.name
			want := Bytes(tt.size, 1)
			MustPut(t, s, key, want, blob.PutOptions{SHA256: hashOf(want)})
			putCtx, cancel := context.WithCancel(ctx)
			defer cancel()
			r, sum := tt.body(tt.size, cancel)
			if prehashed && sum == nil {
				t.Skip("Prehashed means nothing without a declared hash")
			}
			if _, err := s.Put(putCtx, key, r, tt.size, blob.PutOptions{SHA256: sum, Prehashed: prehashed}); !wantErr(err) {
				t.Fatalf("Put error = %v, want %v", err, tt.want)
			}
			got, obj := MustGet(t, s, key)
			if !bytes.Equal(got, want) {
				t.Fatalf("after a failed Put the existing object holds %d other bytes", len(got))
			}
			if !bytes.Equal(obj.SHA256, hashOf(want)) {
				t.Errorf("after a failed Put the recorded hash is %x", obj.SHA256)
			}
		})
	}
}

// InvalidKeys are keys every store must refuse.
var InvalidKeys = []struct{ Name, Key string }{
	{"Empty", ""},
	{"Dot", "."},
	{"DotDot", ".."},
	{"ParentEscape", "../outside"},
	{"InnerParent", "a/../../outside"},
	{"DotSegment", "a/./b"},
	{"Absolute", "/etc/passwd"},
	{"TrailingSlash", "a/"},
	{"DoubleSlash", "a//b"},
	{"Backslash", `a\..\b`},
	{"NUL", "a\x00b"},
	{"Space", "a b"},
	{"Colon", "C:x"},
	{"NonASCII", "證據.jpg"},
	{"Hidden", ".hidden"},
	{"TempDir", ".tmp/x"},
	{"MetaDir", ".meta/x"},
	{"TooLong", string(bytes.Repeat([]byte("a/"), 600)) + "a"},
	{"SegmentTooLong", string(bytes.Repeat([]byte("a"), 256))},
}

func testInvalidKey(t *testing.T, open func(t *testing.T) blob.Bucket) {
	ctx := testCtx(t)
	s := open(t)
	for _, tt := range InvalidKeys {
		t.Run(tt.Name, func(t *testing.T) {
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, blob.ErrInvalidKey) || !errors.Is(err, fs.ErrInvalid) {
					t.Errorf("%s(%q) error = %v, want ErrInvalidKey", op, tt.Key, err)
				}
			}
			_, err := s.Put(ctx, tt.Key, bytes.NewReader([]byte("x")), 1, blob.PutOptions{})
			check("Put", err)
			rc, _, err := s.Get(ctx, tt.Key)
			if err == nil {
				rc.Close()
			}
			check("Get", err)
			rc, err = s.GetRange(ctx, tt.Key, 0, 1)
			if err == nil {
				rc.Close()
			}
			check("GetRange", err)
			_, err = s.Stat(ctx, tt.Key)
			check("Stat", err)
			check("Delete", s.Delete(ctx, tt.Key))
			_, err = s.PresignGet(ctx, tt.Key, time.Minute)
			check("PresignGet", err)
			_, err = s.PresignPut(ctx, tt.Key, time.Minute)
			check("PresignPut", err)
			if blob.ValidateKey(tt.Key) == nil {
				t.Errorf("ValidateKey(%q) = nil", tt.Key)
			}
		})
	}
	for _, prefix := range []string{"/", "../", "a//", ".tmp/", `a\`} {
		err := s.List(ctx, prefix, func(blob.Object) error { return nil })
		if !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("List(%q) error = %v, want ErrInvalidKey", prefix, err)
		}
	}
}

func testList(t *testing.T, open func(t *testing.T) blob.Bucket) {
	ctx := testCtx(t)
	s := open(t)
	keys := []string{"a/2", "a/1", "a-c", "a/b/3", "ab", "b/1", "b0"}
	for i, k := range keys {
		MustPut(t, s, k, Bytes(int64(10+i), uint64(i)), blob.PutOptions{})
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a-c", "a/1", "a/2", "a/b/3", "ab", "b/1", "b0"}},
		{"a", []string{"a-c", "a/1", "a/2", "a/b/3", "ab"}},
		{"a/", []string{"a/1", "a/2", "a/b/3"}},
		{"a/b", []string{"a/b/3"}},
		{"a/b/", []string{"a/b/3"}},
		{"a/1", []string{"a/1"}},
		{"b", []string{"b/1", "b0"}},
		{"zzz", nil},
		{"zzz/", nil},
	}
	for _, tt := range tests {
		t.Run("Prefix="+tt.prefix, func(t *testing.T) {
			var got []string
			err := s.List(ctx, tt.prefix, func(o blob.Object) error {
				got = append(got, o.Key)
				want := int64(10 + slices.Index(keys, o.Key))
				if o.Size != want || o.ModTime.IsZero() {
					t.Errorf("List gave %+v, want size %d and a mod time", o, want)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List(%q) = %q, want %q (in this order)", tt.prefix, got, tt.want)
			}
		})
	}
	t.Run("StopEarly", func(t *testing.T) {
		errStop := errors.New("stop")
		n := 0
		err := s.List(ctx, "", func(blob.Object) error { n++; return errStop })
		if err != errStop || n != 1 {
			t.Errorf("List returned %v after %d calls, want fn's own error after 1", err, n)
		}
	})
}

func testPresign(t *testing.T, open func(t *testing.T) blob.Bucket) {
	ctx := testCtx(t)
	s := open(t)
	data := Bytes(3000, 4)
	MustPut(t, s, "p/get", data, blob.PutOptions{})
	getURL, err := s.PresignGet(ctx, "p/get", time.Minute)
	if errors.Is(err, blob.ErrUnsupported) {
		if _, err := s.PresignPut(ctx, "p/put", time.Minute); !errors.Is(err, blob.ErrUnsupported) {
			t.Errorf("PresignGet is unsupported but PresignPut returned %v", err)
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("ErrUnsupported does not match errors.ErrUnsupported")
		}
		return
	}
	if err != nil {
		t.Fatalf("PresignGet: %v", err)
	}
	// Never log the URLs: they are bearer credentials.
	t.Run("Get", func(t *testing.T) {
		got := httpDo(t, http.MethodGet, getURL, nil, http.StatusOK)
		if !bytes.Equal(got, data) {
			t.Errorf("presigned GET returned %d bytes that differ from the %d put", len(got), len(data))
		}
	})
	t.Run("Put", func(t *testing.T) {
		putURL, err := s.PresignPut(ctx, "p/put", time.Minute)
		if err != nil {
			t.Fatalf("PresignPut: %v", err)
		}
		up := Bytes(5000, 5)
		httpDo(t, http.MethodPut, putURL, up, http.StatusOK)
		if got, _ := MustGet(t, s, "p/put"); !bytes.Equal(got, up) {
			t.Errorf("Get after a presigned PUT returned other bytes")
		}
	})
	t.Run("BadTTL", func(t *testing.T) {
		for _, ttl := range []time.Duration{0, -time.Minute, 8 * 24 * time.Hour} {
			if _, err := s.PresignGet(ctx, "p/get", ttl); err == nil {
				t.Errorf("PresignGet with ttl %v succeeded", ttl)
			}
		}
	})
}

func httpDo(t *testing.T, method, url string, body []byte, want int) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("building the %s request failed", method) // the error holds the URL
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s through a presigned URL failed", method)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the %s response: %v", method, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("%s through a presigned URL: status %d, want %d: %.300s", method, resp.StatusCode, want, got)
	}
	return got
}

func testCancelledContext(t *testing.T, open func(t *testing.T) blob.Bucket) {
	s := open(t)
	MustPut(t, s, "c/x", []byte("x"), blob.PutOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Put(ctx, "c/y", bytes.NewReader([]byte("y")), 1, blob.PutOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context: %v", err)
	}
	MustNotExist(t, s, "c/y")
	if _, err := s.Stat(ctx, "c/x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Stat with a cancelled context: %v", err)
	}
	if rc, _, err := s.Get(ctx, "c/x"); !errors.Is(err, context.Canceled) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Get with a cancelled context: %v", err)
	}
}

func testConcurrent(t *testing.T, open func(t *testing.T) blob.Bucket) {
	ctx := testCtx(t)
	s := open(t)
	const n = 24
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			data := Bytes(int64(100_000+i*997), uint64(100+i))
			var r io.Reader = bytes.NewReader(data)
			if i%2 == 0 {
				r = OnlyReader(r)
			}
			key := fmt.Sprintf("conc/%02d", i)
			if _, err := s.Put(ctx, key, r, int64(len(data)), blob.PutOptions{SHA256: hashOf(data)}); err != nil {
				return err
			}
			rc, _, err := s.Get(ctx, key)
			if err != nil {
				return err
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, data) {
				return fmt.Errorf("%s: read back other bytes", key)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if keys := ListKeys(t, s, "conc/"); len(keys) != n {
		t.Errorf("List found %d keys, want %d", len(keys), n)
	}
}

// testConcurrentSameKey: Puts of the same bytes to the same key at once
// (two phones uploading one photo: a content address) leave the object
// with its bytes and its recorded hash.
func testConcurrentSameKey(t *testing.T, open func(t *testing.T) blob.Bucket) {
	ctx := testCtx(t)
	s := open(t)
	data := Bytes(64<<10, 7)
	for round := range 5 {
		key := fmt.Sprintf("same/%d", round)
		var g errgroup.Group
		for range 8 {
			g.Go(func() error {
				_, err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), blob.PutOptions{SHA256: hashOf(data)})
				return err
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		got, obj := MustGet(t, s, key)
		if !bytes.Equal(got, data) {
			t.Fatalf("%s holds other bytes", key)
		}
		if !bytes.Equal(obj.SHA256, hashOf(data)) {
			t.Fatalf("%s: recorded hash %x after concurrent Puts, want %x", key, obj.SHA256, hashOf(data))
		}
	}
}

func testPing(t *testing.T, open func(t *testing.T) blob.Bucket) {
	if err := open(t).Ping(testCtx(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// LargeSize is the size of the large-object test: bigger than any buffer
// a store may hold per upload, so that buffering it whole shows.
const LargeSize = 96 << 20

func testLarge(t *testing.T, open func(t *testing.T) blob.Bucket) {
	if testing.Short() {
		t.Skip("96 MiB upload; skipped in -short mode")
	}
	ctx := testCtx(t)
	s := open(t)
	const seed = 42
	sum := HashGenerator(LargeSize, seed)

	gen := NewGenerator(LargeSize, seed)
	var peak heapPeak
	gen.every(8<<20, peak.sample)
	runtime.GC()
	base := heapInuse()
	start := time.Now()
	obj, err := s.Put(ctx, "large/x", gen, LargeSize, blob.PutOptions{SHA256: sum})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	peak.sample()
	putTime := time.Since(start)
	growth := int64(peak.max) - int64(base)
	t.Logf("put %d MiB in %v; heap in use grew by at most %.1f MiB while uploading", LargeSize>>20, putTime.Round(time.Millisecond), float64(growth)/(1<<20))
	if growth > LargeSize/2 {
		t.Errorf("heap in use grew by %d MiB during a %d MiB upload: the body is being buffered", growth>>20, LargeSize>>20)
	}
	if !bytes.Equal(obj.SHA256, sum) || obj.Size != LargeSize {
		t.Errorf("Put returned %+v", obj)
	}

	rc, gobj, err := s.Get(ctx, "large/x")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		t.Fatalf("reading back after %d bytes: %v", n, err)
	}
	if n != LargeSize || !bytes.Equal(h.Sum(nil), sum) {
		t.Errorf("read back %d bytes with SHA-256 %x, want %d with %x", n, h.Sum(nil), LargeSize, sum)
	}
	checkHash(t, "Get", gobj.SHA256, sum, true)
}

// heapPeak records the largest HeapInuse seen.
type heapPeak struct {
	mu  sync.Mutex
	max uint64
}

func (p *heapPeak) sample() {
	v := heapInuse()
	p.mu.Lock()
	p.max = max(p.max, v)
	p.mu.Unlock()
}

func heapInuse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// MustPut stores data under key or fails the test.
func MustPut(t testing.TB, s blob.Bucket, key string, data []byte, opts blob.PutOptions) blob.Object {
	t.Helper()
	obj, err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return obj
}

// MustGet reads the whole object under key or fails the test.
func MustGet(t testing.TB, s blob.Bucket, key string) ([]byte, blob.Object) {
	t.Helper()
	rc, obj, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return data, obj
}

// MustNotExist fails the test unless Stat and Get report that key does
// not exist, in both the blob and the io/fs vocabulary.
func MustNotExist(t testing.TB, s blob.Bucket, key string) {
	t.Helper()
	_, err := s.Stat(t.Context(), key)
	if !errors.Is(err, blob.ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(%q) error = %v, want ErrNotExist", key, err)
	}
	rc, _, err := s.Get(t.Context(), key)
	if err == nil {
		rc.Close()
	}
	if !errors.Is(err, blob.ErrNotExist) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get(%q) error = %v, want ErrNotExist", key, err)
	}
}

// ListKeys returns the keys List reports under prefix.
func ListKeys(t testing.TB, s blob.Bucket, prefix string) []string {
	t.Helper()
	var keys []string
	if err := s.List(t.Context(), prefix, func(o blob.Object) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return keys
}

// Bytes returns n deterministic pseudo-random bytes for seed.
func Bytes(n int64, seed uint64) []byte {
	b := make([]byte, n)
	io.ReadFull(NewGenerator(n, seed), b)
	return b
}

func hashOf(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// Generator is a reader of n deterministic pseudo-random bytes, for bodies
// too large to hold in memory. It is deliberately not an io.Seeker.
type Generator struct {
	rng    *rand.ChaCha8
	left   int64
	read   int64
	period int64
	next   int64
	hook   func()
}

// NewGenerator returns a Generator of n bytes for seed.
func NewGenerator(n int64, seed uint64) *Generator {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return &Generator{rng: rand.NewChaCha8(s), left: n}
}

// every calls hook after every period bytes read.
func (g *Generator) every(period int64, hook func()) {
	g.period, g.next, g.hook = period, period, hook
}

// Read implements io.Reader.
func (g *Generator) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, _ := g.rng.Read(p)
	g.left -= int64(n)
	g.read += int64(n)
	if g.hook != nil && g.read >= g.next {
		g.next += g.period
		g.hook()
	}
	return n, nil
}

// HashGenerator returns the SHA-256 of NewGenerator(n, seed)'s bytes.
func HashGenerator(n int64, seed uint64) []byte {
	h := sha256.New()
	io.Copy(h, NewGenerator(n, seed))
	return h.Sum(nil)
}

// OnlyReader hides every method of r but Read, as a network body would.
func OnlyReader(r io.Reader) io.Reader { return struct{ io.Reader }{r} }

// failAfter yields n bytes of r, then either fails with err, or calls
// then (once) and carries on, as a reader whose request is cancelled
// midway would.
type failAfter struct {
	r    io.Reader
	n    int64
	err  error
	then func()
	done bool
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		if f.err != nil {
			return 0, f.err
		}
		if !f.done {
			f.done = true
			f.then()
		}
		return f.r.Read(p)
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}
