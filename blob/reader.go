package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// PutReader is what every adapter reads a Put body through. It yields at
// most size bytes, hashes and counts them, and checks the end of the input
// (exact size, declared SHA-256, ctx still live) *before* handing out the
// last byte: a body that is too short, too long or wrong, or whose Put
// was cancelled, never reaches a store in full. (A prehashed one,
// NewPrehashedPutReader, is counted but not hashed: its store checks it.) (A
// store may still commit the part it got: versitygw does, for a PUT over
// TLS without x-amz-checksum-sha256. So s3blob always sends one.)
//
// Any failure is sticky, so a backend that retries gets the same error
// instead of a second, different attempt.
type PutReader struct {
	ctx  context.Context
	r    io.Reader
	size int64
	want []byte // declared SHA-256, or nil

	h       hash.Hash // nil for a prehashed body: want is trusted, the store checks it
	n       int64     // bytes handed out
	sum     []byte    // set once all size bytes were read and checked
	err     error     // sticky
	started bool      // Read was called: some bytes may have reached the store
}

// NewPutReader reads exactly size bytes from r, which must hash to want
// (32 raw bytes) unless want is nil. It stops with an error when ctx is
// done.
func NewPutReader(ctx context.Context, r io.Reader, size int64, want []byte) *PutReader {
	return &PutReader{ctx: ctx, r: r, size: size, want: want, h: sha256.New()}
}

// Read implements io.Reader.
func (p *PutReader) Read(b []byte) (int, error) {
	p.started = true
	if p.err != nil {
		return 0, p.err
	}
	if err := p.ctx.Err(); err != nil {
		p.err = err
		return 0, err
	}
	remain := p.size - p.n
	if remain == 0 {
		if p.sum == nil {
			if err := p.finish(); err != nil {
				p.err = err
				return 0, err
			}
		}
		return 0, io.EOF
	}
	if int64(len(b)) > remain {
		b = b[:remain]
	}
	n, err := p.r.Read(b)
	if n > 0 {
		if p.h != nil {
			p.h.Write(b[:n])
		}
		p.n += int64(n)
	}
	switch {
	case p.n == p.size:
		// Withhold these last bytes unless the whole body checks out and
		// the caller still wants it stored: with a plain Content-Length
		// (no signed chunks, no trailer) the last byte is the commit, so
		// a Put cancelled while it read the rest must not send it.
		if ferr := p.finish(); ferr != nil {
			p.err = ferr
			return 0, ferr
		}
		return n, nil
	case err == io.EOF:
		p.err = detailf(ErrSizeMismatch, "reader ended after %d of %d bytes", p.n, p.size)
		return 0, p.err
	case err != nil:
		p.err = fmt.Errorf("reading body after %d of %d bytes: %w", p.n, p.size, err)
		return 0, p.err
	}
	return n, nil
}

// finish runs once all size bytes are in: the reader must be exhausted and
// the hash must match the declared one.
func (p *PutReader) finish() error {
	if err := p.ctx.Err(); err != nil {
		return err
	}
	var one [1]byte
	n, err := io.ReadFull(p.r, one[:])
	switch {
	case n > 0:
		return detailf(ErrSizeMismatch, "reader holds more than %d bytes", p.size)
	case err != io.EOF:
		return fmt.Errorf("reading body at its end (%d bytes): %w", p.size, err)
	}
	if p.h == nil {
		// Prehashed: the caller's hash stands, and the store checks it.
		p.sum = p.want
		return nil
	}
	sum := p.h.Sum(nil)
	if p.want != nil && !bytes.Equal(sum, p.want) {
		return detailf(ErrChecksumMismatch, "body has SHA-256 %x, declared %x", sum, p.want)
	}
	p.sum = sum
	return nil
}

// NewPrehashedPutReader is NewPutReader for a body the caller has
// already hashed to want (PutOptions.Prehashed): it counts the bytes and
// watches ctx exactly as NewPutReader does, withholding the last byte on
// a short or long body or a done ctx, but does not hash them again. Use it
// only when the store itself verifies want over the body it receives, so
// that the one check that is skipped here still happens there.
func NewPrehashedPutReader(ctx context.Context, r io.Reader, size int64, want []byte) *PutReader {
	return &PutReader{ctx: ctx, r: r, size: size, want: want}
}

// Complete reports whether all bytes were read and verified in the
// current attempt.
func (p *PutReader) Complete() bool { return p.sum != nil }

// Sum returns the SHA-256 of the body once Complete, or nil.
func (p *PutReader) Sum() []byte { return p.sum }

// Err returns the reader's own failure (the body was short, long or
// wrong, could not be read, or ctx ended), or nil. An adapter whose
// upload failed reports this rather than the transport error it caused.
func (p *PutReader) Err() error { return p.err }

// SeekPutReader is a PutReader over an io.ReadSeeker. minio-go retries a
// request only when its body is an io.Seeker, and rewinds it with Seek(0,
// io.SeekStart) before every attempt: so this rewinds the source to where
// it was when Put was called and starts hashing afresh. After a failure of
// our own (short, long or wrong body, context done) Seek returns that
// failure, which stops minio-go's retries at once.
type SeekPutReader struct {
	*PutReader
	s     io.Seeker
	start int64
}

// NewSeekPutReader is NewPutReader over rs, whose body starts at offset
// start (where rs was when Put was called).
func NewSeekPutReader(ctx context.Context, rs io.ReadSeeker, start, size int64, want []byte) *SeekPutReader {
	return &SeekPutReader{PutReader: NewPutReader(ctx, rs, size, want), s: rs, start: start}
}

// NewPrehashedSeekPutReader is NewSeekPutReader over a body the caller has
// already hashed to want: see NewPrehashedPutReader.
func NewPrehashedSeekPutReader(ctx context.Context, rs io.ReadSeeker, start, size int64, want []byte) *SeekPutReader {
	return &SeekPutReader{PutReader: NewPrehashedPutReader(ctx, rs, size, want), s: rs, start: start}
}

// Seek implements io.Seeker for the two calls minio-go makes: rewinding
// to the start and asking for the current position.
func (p *SeekPutReader) Seek(offset int64, whence int) (int64, error) {
	if p.err != nil {
		return 0, p.err
	}
	switch {
	case offset == 0 && whence == io.SeekStart:
		if _, err := p.s.Seek(p.start, io.SeekStart); err != nil {
			p.err = fmt.Errorf("rewinding body: %w", err)
			return 0, p.err
		}
		if p.h != nil {
			p.h.Reset()
		}
		p.n, p.sum = 0, nil
		return 0, nil
	case offset == 0 && whence == io.SeekCurrent:
		return p.n, nil
	}
	return 0, fmt.Errorf("blob: unsupported seek (%d, %d) on a put body", offset, whence)
}

// HashSeeker reads size bytes from rs to learn their SHA-256, checking the
// size as Put would, then seeks back to start.
func HashSeeker(ctx context.Context, rs io.ReadSeeker, start, size int64) ([]byte, error) {
	pr := NewPutReader(ctx, rs, size, nil)
	if _, err := io.Copy(io.Discard, pr); err != nil {
		return nil, err
	}
	if _, err := rs.Seek(start, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewinding body after hashing: %w", err)
	}
	return pr.sum, nil
}

// verifyReader re-checks stored bytes as they are read back: at the end it
// returns ErrChecksumMismatch or ErrSizeMismatch instead of io.EOF when the
// object is not what was put. Evidence can rot on a disk or be replaced
// behind our back; this is where it shows.
type verifyReader struct {
	rc   io.ReadCloser
	key  string
	size int64
	want []byte
	h    hash.Hash
	n    int64
	err  error
}

// NewVerifyReader wraps rc, the body of the object under key, which
// should hold size bytes hashing to want; it returns rc itself when want
// is nil, as there is nothing to check against.
func NewVerifyReader(rc io.ReadCloser, key string, size int64, want []byte) io.ReadCloser {
	if want == nil {
		return rc
	}
	return &verifyReader{rc: rc, key: key, size: size, want: want, h: sha256.New()}
}

func (v *verifyReader) Read(b []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(b)
	v.h.Write(b[:n])
	v.n += int64(n)
	if err == io.EOF {
		switch sum := v.h.Sum(nil); {
		case v.n != v.size:
			err = NewError("get", v.key, nil, detailf(ErrSizeMismatch, "read %d bytes, object has %d", v.n, v.size))
		case !bytes.Equal(sum, v.want):
			err = NewError("get", v.key, nil, detailf(ErrChecksumMismatch, "stored bytes have SHA-256 %x, recorded %x", sum, v.want))
		}
	}
	if err != nil {
		v.err = err
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.rc.Close() }

// ParseHexSHA256 decodes a recorded hash, or returns nil if it is not one.
func ParseHexSHA256(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil
	}
	return b
}
