package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/iotest"
)

// chunkedBody hands out its bytes at most max per read, like a socket
// that has received only so much, then fails with err.
type chunkedBody struct {
	data   []byte
	max    int
	err    error
	reads  int
	closed bool
}

func (b *chunkedBody) Read(p []byte) (int, error) {
	b.reads++
	if len(b.data) == 0 {
		return 0, b.err
	}
	n := copy(p[:min(len(p), b.max)], b.data)
	b.data = b.data[n:]
	return n, nil
}

func (b *chunkedBody) Close() error { b.closed = true; return nil }

func TestIdleReaderReadAhead(t *testing.T) {
	data := make([]byte, 200<<10+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	broken := errors.New("connection reset")
	for _, tc := range []struct {
		name      string
		socketMax int // bytes the socket has per read
		readSize  int // what the reader above asks for
		end       error
		maxReads  int // socket reads at most
	}{
		{"FastBodySmallReads", 1 << 20, 4 << 10, io.EOF, len(data)/readAheadSize + 2},
		{"SlowBody", 1000, 4 << 10, io.EOF, len(data)/1000 + 2},
		{"LargeReadsBypass", 1 << 20, 64 << 10, io.EOF, len(data)/(64<<10) + 2},
		{"ErrorAfterData", 1 << 20, 4 << 10, broken, len(data)/readAheadSize + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &chunkedBody{data: bytes.Clone(data), max: tc.socketMax, err: tc.end}
			pool := newChunkPool()
			r := &idleReader{body: body, rc: http.NewResponseController(httptest.NewRecorder()), chunks: pool}
			var got []byte
			p := make([]byte, tc.readSize)
			var err error
			for {
				var n int
				n, err = r.Read(p)
				got = append(got, p[:n]...)
				if r.chunk != nil && r.r == r.w {
					t.Fatal("a drained chunk is still held")
				}
				if err != nil {
					break
				}
			}
			if err != tc.end {
				t.Fatalf("error %v, want %v after the data", err, tc.end)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("got %d bytes, want the %d sent, unchanged", len(got), len(data))
			}
			if body.reads > tc.maxReads {
				t.Errorf("%d socket reads, want at most %d", body.reads, tc.maxReads)
			}
			if _, err := r.Read(p); err != tc.end {
				t.Errorf("read after the end: %v, want %v again", err, tc.end)
			}
			if err := r.Close(); err != nil || !body.closed || r.chunk != nil {
				t.Errorf("close: %v, body closed %v, chunk held %v", err, body.closed, r.chunk != nil)
			}
		})
	}
}

// TestIdleReaderConforms runs the standard reader checks over a body
// that arrives in odd pieces.
func TestIdleReaderConforms(t *testing.T) {
	data := bytes.Repeat([]byte("fieldwatch "), 20000)
	body := &chunkedBody{data: bytes.Clone(data), max: 3001, err: io.EOF}
	r := &idleReader{body: body, rc: http.NewResponseController(httptest.NewRecorder()), chunks: newChunkPool()}
	if err := iotest.TestReader(r, data); err != nil {
		t.Fatal(err)
	}
}
