package scaledjpeg

import (
	"bytes"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

// TestEncodeMatchesStd checks that the copy's encoder, with its 4:2:0
// fast path and quantization by multiplication, writes exactly the bytes
// image/jpeg writes, for every kind of input and at edges of every
// parity.
func TestEncodeMatchesStd(t *testing.T) {
	ycc := func(w, h int, r image.YCbCrSubsampleRatio) *image.YCbCr {
		m := image.NewYCbCr(image.Rect(0, 0, w, h), r)
		rnd := rand.New(rand.NewPCG(uint64(w), uint64(h)))
		for _, p := range [][]uint8{m.Y, m.Cb, m.Cr} {
			for i := range p {
				p[i] = uint8(rnd.IntN(40)) + uint8(i%200)
			}
		}
		return m
	}
	rgba := image.NewRGBA(image.Rect(0, 0, 37, 23))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i * 7)
	}
	gray := image.NewGray(image.Rect(0, 0, 19, 11))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 3)
	}
	tests := []struct {
		name string
		img  image.Image
	}{
		{"420/320x240", ycc(320, 240, image.YCbCrSubsampleRatio420)},
		{"420/321x241", ycc(321, 241, image.YCbCrSubsampleRatio420)},
		{"420/17x9", ycc(17, 9, image.YCbCrSubsampleRatio420)},
		{"420/1x1", ycc(1, 1, image.YCbCrSubsampleRatio420)},
		{"420/SubImageEven", ycc(64, 48, image.YCbCrSubsampleRatio420).SubImage(image.Rect(2, 4, 41, 31))},
		{"420/SubImageOdd", ycc(64, 48, image.YCbCrSubsampleRatio420).SubImage(image.Rect(3, 5, 41, 31))},
		{"444", ycc(33, 20, image.YCbCrSubsampleRatio444)},
		{"RGBA", rgba},
		{"Gray", gray},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, q := range []int{1, 50, 80, 100} {
				var want, got bytes.Buffer
				if err := jpeg.Encode(&want, tt.img, &jpeg.Options{Quality: q}); err != nil {
					t.Fatal(err)
				}
				if err := Encode(&got, tt.img, &Options{Quality: q}); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("quality %d: %d bytes differ from image/jpeg's %d", q, got.Len(), want.Len())
				}
			}
		})
	}
}
