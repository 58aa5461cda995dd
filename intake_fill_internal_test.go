package fieldwatch

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestFillReader: the copy into the spool gets whole buffers, and the
// body's own error, above all a multipart part cut short
// (io.ErrUnexpectedEOF), reaches Receive unchanged.
func TestFillReader(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	for _, end := range []error{io.EOF, io.ErrUnexpectedEOF, errors.New("reset")} {
		t.Run(end.Error(), func(t *testing.T) {
			src := iotest.HalfReader(io.MultiReader(bytes.NewReader(data), iotest.ErrReader(end)))
			f := fillReader{src}
			p := make([]byte, 4096)
			var got []byte
			var err error
			for err == nil {
				var n int
				n, err = f.Read(p)
				if err == nil && n != len(p) {
					t.Fatalf("read %d bytes with no error, want a full buffer of %d", n, len(p))
				}
				got = append(got, p[:n]...)
			}
			if err != end {
				t.Fatalf("error %v, want %v", err, end)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("got %d bytes, want %d unchanged", len(got), len(data))
			}
		})
	}
}
