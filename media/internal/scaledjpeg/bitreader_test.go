package scaledjpeg

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// noisy is an image of uniform noise: at quality 100 its entropy-coded
// data is full of 0xff bytes, each stuffed as 0xff 0x00.
func noisy(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(5, 6))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	return img
}

// chunkReader returns the data in reads of 1, 2, ..., 13 bytes in turn,
// so that stuffed bytes, markers and the bit reader's refills fall on
// every position relative to the decoder's buffer fills.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	c.n = c.n%13 + 1
	k := min(len(p), c.n, len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

// bitReaderInputs are JPEGs that exercise the bit reader: stuffed 0xff
// bytes everywhere, restart markers, progressive scans (bit refinement).
func bitReaderInputs(t testing.TB) map[string][]byte {
	t.Helper()
	in := map[string][]byte{}
	for _, q := range []int{100, 75} {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, noisy(157, 93), &jpeg.Options{Quality: q}); err != nil {
			t.Fatal(err)
		}
		in[fmt.Sprintf("noise-q%d", q)] = buf.Bytes()
	}
	for _, name := range []string{"video-001.restart2.jpeg", "video-001.progressive.jpeg", "video-001.q50.410.jpeg", "video-001.separate.dc.progression.jpeg"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			continue // not every layout is kept
		}
		in[name] = data
	}
	return in
}

// TestDecodeReadersMatchStd decodes through readers that split the
// stream everywhere: at full size the result is image/jpeg's, byte for
// byte, and at each reduced scale it is the same as read in one piece.
func TestDecodeReadersMatchStd(t *testing.T) {
	inputs := bitReaderInputs(t)
	if ff := bytes.Count(inputs["noise-q100"], []byte{0xff, 0x00}); ff < 100 {
		t.Fatalf("only %d stuffed bytes in the noise at quality 100", ff)
	}
	readers := map[string]func([]byte) io.Reader{
		"chunks":  func(b []byte) io.Reader { return &chunkReader{data: b} },
		"onebyte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"half":    func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
	}
	for name, data := range inputs {
		std, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(name, err)
		}
		for shift := range 4 {
			want := image.Image(std)
			if shift > 0 {
				if want, err = Decode(bytes.NewReader(data), shift); err != nil {
					t.Fatal(name, shift, err)
				}
			}
			for rname, r := range readers {
				got, err := Decode(r(data), shift)
				if err != nil {
					t.Errorf("%s at 1/%d via %s: %v", name, 1<<shift, rname, err)
					continue
				}
				if !samePixels(want, got) {
					t.Errorf("%s at 1/%d via %s differs", name, 1<<shift, rname)
				}
			}
		}
	}
}

// samePixels compares two decoded images plane by plane (YCbCr, Gray)
// or pixel by pixel.
func samePixels(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	switch a := a.(type) {
	case *image.YCbCr:
		b, ok := b.(*image.YCbCr)
		return ok && a.SubsampleRatio == b.SubsampleRatio && bytes.Equal(a.Y, b.Y) && bytes.Equal(a.Cb, b.Cb) && bytes.Equal(a.Cr, b.Cr)
	case *image.Gray:
		b, ok := b.(*image.Gray)
		return ok && bytes.Equal(a.Pix, b.Pix)
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}

// TestDecodeTruncated cuts each input at every length: the decoder
// returns an error (never a panic, never part of an image), as
// image/jpeg does.
func TestDecodeTruncated(t *testing.T) {
	for name, data := range bitReaderInputs(t) {
		step := max(1, len(data)/150)
		for n := 0; n < len(data)-2; n += step {
			for shift := range 4 {
				if img, err := Decode(bytes.NewReader(data[:n]), shift); err == nil {
					t.Fatalf("%s cut at %d of %d, 1/%d: %v and no error", name, n, len(data), 1<<shift, img.Bounds())
				}
			}
		}
	}
}

// TestDecodeCorruptMatchesStd flips bytes in the entropy-coded data
// (making bad codes, stray markers and wrong stuffing): at full size the
// decoder fails where image/jpeg fails and otherwise gives its pixels.
func TestDecodeCorruptMatchesStd(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for name, data := range bitReaderInputs(t) {
		for range 200 {
			c := bytes.Clone(data)
			for range 1 + r.IntN(3) {
				i := len(c)/2 + r.IntN(len(c)/2-2)
				c[i] = []byte{0xff, 0x00, byte(r.IntN(256)), 0xd0 + byte(r.IntN(8))}[r.IntN(4)]
			}
			checkAgainstStd(t, name, c)
		}
	}
}

// checkAgainstStd decodes data at every scale (no panic) and, at full
// size, requires image/jpeg's outcome.
func checkAgainstStd(t *testing.T, name string, data []byte) {
	t.Helper()
	want, werr := jpeg.Decode(bytes.NewReader(data))
	got, gerr := Decode(bytes.NewReader(data), 0)
	switch {
	case (werr == nil) != (gerr == nil):
		t.Fatalf("%s: image/jpeg says %v, the copy %v", name, werr, gerr)
	case werr == nil && !samePixels(want, got):
		t.Fatalf("%s: pixels differ from image/jpeg", name)
	}
	for shift := 1; shift < 4; shift++ {
		if _, err := Decode(bytes.NewReader(data), shift); (err == nil) != (gerr == nil) && werr == nil {
			t.Fatalf("%s at 1/%d: %v, at full size %v", name, 1<<shift, err, gerr)
		}
	}
}

// FuzzDecode: no input makes the decoder panic, and at full size it
// agrees with image/jpeg. Run it with a short -fuzzminimizetime (1s):
// with the default minute, minimizing the first new input takes all of
// a short run and nothing else is tried.
func FuzzDecode(f *testing.F) {
	for _, data := range bitReaderInputs(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(data)); err != nil || cfg.Width*cfg.Height > 1<<20 {
			return
		}
		checkAgainstStd(t, "input", data)
	})
}
