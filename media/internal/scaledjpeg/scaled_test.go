package scaledjpeg

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// smooth is a deterministic image with texture at every scale: sums of
// a few sinusoids plus a little noise.
func smooth(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(3, 4))
	for y := range h {
		for x := range w {
			fx, fy := float64(x), float64(y)
			for c := range 3 {
				v := 128 + 60*math.Sin(fx/(17+float64(c)*5)+fy/23) + 40*math.Cos(fy/(9+float64(c))-fx/31) + float64(r.IntN(16)) - 8
				img.Pix[img.PixOffset(x, y)+c] = uint8(max(0, min(255, v)))
			}
			img.Pix[img.PixOffset(x, y)+3] = 255
		}
	}
	return img
}

// TestDecodeFullMatchesStd checks the copy at shift 0 against image/jpeg,
// byte for byte.
func TestDecodeFullMatchesStd(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, smooth(203, 157), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	want, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(bytes.NewReader(buf.Bytes()), 0)
	if err != nil {
		t.Fatal(err)
	}
	w, g := want.(*image.YCbCr), got.(*image.YCbCr)
	if w.Rect != g.Rect || !bytes.Equal(w.Y, g.Y) || !bytes.Equal(w.Cb, g.Cb) || !bytes.Equal(w.Cr, g.Cr) {
		t.Error("shift 0 differs from image/jpeg")
	}
}

// TestDecodeScaled compares each scale's planes with the full decode
// averaged over the same cells: sizes round up, and the mean absolute
// difference stays within what dropping the high frequencies costs.
func TestDecodeScaled(t *testing.T) {
	src := smooth(203, 157)
	for _, format := range []struct {
		name string
		data func() []byte
	}{
		{"YCbCr420", func() []byte {
			var buf bytes.Buffer
			jpeg.Encode(&buf, src, &jpeg.Options{Quality: 90})
			return buf.Bytes()
		}},
		{"Gray", func() []byte {
			g := image.NewGray(src.Rect)
			for i := range g.Pix {
				g.Pix[i] = src.Pix[4*i+1]
			}
			var buf bytes.Buffer
			jpeg.Encode(&buf, g, &jpeg.Options{Quality: 90})
			return buf.Bytes()
		}},
	} {
		data := format.data()
		full, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for shift := 1; shift <= 3; shift++ {
			t.Run(format.name+"/"+string(rune('0'+shift)), func(t *testing.T) {
				got, err := Decode(bytes.NewReader(data), shift)
				if err != nil {
					t.Fatal(err)
				}
				m := 1 << shift
				if b := got.Bounds(); b.Dx() != (203+m-1)/m || b.Dy() != (157+m-1)/m {
					t.Fatalf("bounds %v at 1/%d", b, m)
				}
				fullY, gotY, fs, gs := luma(full), luma(got), stride(full), stride(got)
				var sum, count float64
				b := got.Bounds()
				for y := range b.Dy() - 1 { // the last row and column are partly padding
					for x := range b.Dx() - 1 {
						var mean float64
						for dy := range m {
							for dx := range m {
								mean += float64(fullY[(y*m+dy)*fs+x*m+dx])
							}
						}
						mean /= float64(m * m)
						sum += math.Abs(mean - float64(gotY[y*gs+x]))
						count++
					}
				}
				if mad := sum / count; mad > 3 {
					t.Errorf("mean absolute difference from the averaged full decode %.2f, want ≤ 3", mad)
				}
			})
		}
	}
}

func luma(img image.Image) []uint8 {
	switch m := img.(type) {
	case *image.YCbCr:
		return m.Y
	case *image.Gray:
		return m.Pix
	}
	panic("unexpected image type")
}

func stride(img image.Image) int {
	switch m := img.(type) {
	case *image.YCbCr:
		return m.YStride
	case *image.Gray:
		return m.Stride
	}
	panic("unexpected image type")
}

func TestDecodeBadShift(t *testing.T) {
	for _, s := range []int{-1, 4} {
		if _, err := Decode(bytes.NewReader(nil), s); err == nil {
			t.Errorf("shift %d accepted", s)
		}
	}
}

// TestDecodeProgressiveScaled decodes a real photo's bytes (baseline) and
// checks the scaled decode against the full one downsampled, as above,
// on a photo's texture.
func TestDecodePhotoScaled(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "photos", "no-exif.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	full, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(bytes.NewReader(data), 1)
	if err != nil {
		t.Fatal(err)
	}
	fb, gb := full.Bounds(), got.Bounds()
	if gb.Dx() != (fb.Dx()+1)/2 || gb.Dy() != (fb.Dy()+1)/2 {
		t.Fatalf("bounds %v from %v", gb, fb)
	}
	f, g := full.(*image.YCbCr), got.(*image.YCbCr)
	var sum float64
	for y := range gb.Dy() - 1 {
		for x := range gb.Dx() - 1 {
			m := (int(f.Y[2*y*f.YStride+2*x]) + int(f.Y[2*y*f.YStride+2*x+1]) + int(f.Y[(2*y+1)*f.YStride+2*x]) + int(f.Y[(2*y+1)*f.YStride+2*x+1])) / 4
			sum += math.Abs(float64(m) - float64(g.Y[y*g.YStride+x]))
		}
	}
	if mad := sum / float64((gb.Dx()-1)*(gb.Dy()-1)); mad > 3 {
		t.Errorf("mean absolute difference %.2f, want ≤ 3", mad)
	}
}

// TestDecodeScaledLayouts decodes Go's own test images of every layout
// the decoder takes (progressive, subsamplings, CMYK, RGB, restart
// markers) at each scale and compares them, as RGB, with image/jpeg's
// full decode averaged over the same cells.
func TestDecodeScaledLayouts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.jpeg"))
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		full, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		for shift := 0; shift <= 3; shift++ {
			t.Run(filepath.Base(file)+"/"+string(rune('0'+shift)), func(t *testing.T) {
				got, err := Decode(bytes.NewReader(data), shift)
				if err != nil {
					t.Fatal(err)
				}
				m, fb, gb := 1<<shift, full.Bounds(), got.Bounds()
				if gb.Dx() != (fb.Dx()+m-1)/m || gb.Dy() != (fb.Dy()+m-1)/m {
					t.Fatalf("bounds %v from %v at 1/%d", gb, fb, m)
				}
				var sum float64
				for y := range gb.Dy() - 1 {
					for x := range gb.Dx() - 1 {
						var mean [3]float64
						for dy := range m {
							for dx := range m {
								r, g, b, _ := full.At(x*m+dx, y*m+dy).RGBA()
								mean[0] += float64(r >> 8)
								mean[1] += float64(g >> 8)
								mean[2] += float64(b >> 8)
							}
						}
						r, g, b, _ := got.At(gb.Min.X+x, gb.Min.Y+y).RGBA()
						for c, v := range []uint32{r, g, b} {
							sum += math.Abs(mean[c]/float64(m*m) - float64(v>>8))
						}
					}
				}
				mad := sum / float64(3*(gb.Dx()-1)*(gb.Dy()-1))
				// A scaled cell is the block's low frequencies, not the mean
				// of the full decode's pixels, and a subsampled plane loses
				// resolution with the rest: on this small, detailed frame
				// that is 2-7 levels, more where the subsampled planes carry
				// the luminance (an RGB JPEG with G and B at half size). A
				// misplaced block or swapped plane costs tens.
				limit := 7.5
				switch {
				case shift == 0:
					limit = 0
				case strings.Contains(file, ".rgb."):
					limit = 15
				}
				if mad > limit {
					t.Errorf("mean absolute difference %.2f, want ≤ %.0f", mad, limit)
				}
			})
		}
	}
}
