package blob

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"syscall"
	"testing"
)

func TestOpError(t *testing.T) {
	cause := &fs.PathError{Op: "open", Path: "a/b", Err: syscall.ENOENT}
	err := NewError("get", "a/b", ErrNotExist, cause)
	if got, want := err.Error(), `blob: get "a/b": object does not exist: open a/b: no such file or directory`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var pe *fs.PathError
	var be *Error
	if !errors.Is(err, ErrNotExist) || !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || !errors.As(err, &be) || be.Op != "get" || be.Key != "a/b" {
		t.Errorf("%v does not unwrap to its kind, fs.ErrNotExist and its cause", err)
	}
	err = NewError("put", "k", nil, detailf(ErrSizeMismatch, "reader ended after %d of %d bytes", 3, 5))
	if got, want := err.Error(), `blob: put "k": size mismatch: reader ended after 3 of 5 bytes`; got != want {
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

	p := NewSeekPutReader(t.Context(), src, 4, int64(len(data)), sum[:])
	if _, err := io.CopyN(io.Discard, p, 7); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Seek(0, io.SeekStart); err != nil {
		t.Fatalf("rewind: %v", err)
	}
	got, err := io.ReadAll(p)
	if err != nil || !bytes.Equal(got, data) || !p.Complete() {
		t.Fatalf("after rewind read %q, %v (complete %v)", got, err, p.Complete())
	}

	src = bytes.NewReader(data)
	wrong := sha256.Sum256([]byte("other"))
	p = NewSeekPutReader(t.Context(), src, 0, int64(len(data)), wrong[:])
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
