package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// throttle is an io.Reader that passes the bytes of r on at rate bytes per
// second at most, in reads of at most chunk bytes: a phone on a slow
// uplink. The clock starts at the first Read; byte n may not be handed out
// before n/rate seconds after it, so short stalls of the consumer are made
// up for (as TCP would) but the average never exceeds rate. Waiting stops
// with an error when ctx ends.
type throttle struct {
	ctx   context.Context
	r     io.Reader
	rate  float64 // bytes per second, > 0
	chunk int     // largest read, > 0

	now   func() time.Time                                 // time.Now in use; a fake clock in tests
	sleep func(ctx context.Context, d time.Duration) error // sleepCtx in use

	start time.Time
	sent  int64
}

func newThrottle(ctx context.Context, r io.Reader, rate float64, chunk int) *throttle {
	return &throttle{ctx: ctx, r: r, rate: rate, chunk: chunk, now: time.Now, sleep: sleepCtx}
}

func (t *throttle) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if t.start.IsZero() {
		t.start = t.now()
	}
	// The first byte of this read is due when the bytes before it have
	// had their time.
	due := t.start.Add(time.Duration(float64(t.sent) / t.rate * float64(time.Second)))
	if d := due.Sub(t.now()); d > 0 {
		if err := t.sleep(t.ctx, d); err != nil {
			return 0, err
		}
	}
	if len(p) > t.chunk {
		p = p[:t.chunk]
	}
	n, err := t.r.Read(p)
	t.sent += int64(n)
	return n, err
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// streamPhoto is a photo of any size that is never held in memory: a test
// JPEG, then a header naming the run and the photo's sequence number (so
// every photo of every run has distinct bytes), then a shared block of
// random bytes repeated up to size. JPEG decoders stop at the end-of-image
// marker, so it is still the test photo to the server.
type streamPhoto struct {
	base     []byte
	header   [24]byte // run id (16 bytes) and sequence number
	block    []byte   // shared filler, not empty
	size     int64
	category string
	sum      [sha256.Size]byte
}

// newStreamPhoto describes photo seq of the run; its SHA-256 is computed by
// reading it once.
func newStreamPhoto(base basePhoto, run [16]byte, seq uint64, block []byte, size int64) (*streamPhoto, error) {
	if len(block) == 0 {
		return nil, errors.New("stream photo: empty filler block")
	}
	if int64(len(base.data))+24 > size {
		return nil, fmt.Errorf("stream photo: %s (%d bytes) does not fit in %d bytes", base.name, len(base.data), size)
	}
	p := &streamPhoto{base: base.data, block: block, size: size, category: base.category}
	copy(p.header[:16], run[:])
	binary.BigEndian.PutUint64(p.header[16:], seq)
	h := sha256.New()
	if _, err := io.Copy(h, p.reader()); err != nil {
		return nil, err
	}
	h.Sum(p.sum[:0])
	return p, nil
}

// reader returns the photo's bytes from the start.
func (p *streamPhoto) reader() io.Reader {
	rest := p.size - int64(len(p.base)) - int64(len(p.header))
	return io.MultiReader(bytes.NewReader(p.base), bytes.NewReader(p.header[:]), &repeatReader{block: p.block, left: rest})
}

// repeatReader yields block over and over, left bytes in all.
type repeatReader struct {
	block []byte
	off   int
	left  int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.block[r.off:])
		n += c
		r.off = (r.off + c) % len(r.block)
	}
	r.left -= int64(n)
	return n, nil
}
