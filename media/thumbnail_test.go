package media

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// corners is a 64×32 grey image, stored landscape, with a red block in
// its top-left corner and a green one in its top-right corner. Where the
// two land after turning tells every one of the eight orientations apart.
func corners() *image.NRGBA {
	const w, h, s = 64, 32, 16
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{128, 128, 128, 255}
			switch {
			case x < s && y < s:
				c = color.NRGBA{255, 0, 0, 255}
			case x >= w-s && y < s:
				c = color.NRGBA{0, 255, 0, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

type corner int

const (
	topLeft corner = iota
	topRight
	bottomLeft
	bottomRight
)

// at returns the colour at the centre of a 16×16 block in corner c of img.
func at(img image.Image, c corner) color.RGBA {
	b := img.Bounds()
	x, y := b.Min.X+8, b.Min.Y+8
	if c == topRight || c == bottomRight {
		x = b.Max.X - 9
	}
	if c == bottomLeft || c == bottomRight {
		y = b.Max.Y - 9
	}
	r, g, bl, _ := img.At(x, y).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), 255}
}

// near reports whether two colours are within JPEG's error of each other.
func near(a, b color.RGBA) bool {
	d := func(x, y uint8) int { return max(int(x)-int(y), int(y)-int(x)) }
	return d(a.R, b.R) < 40 && d(a.G, b.G) < 40 && d(a.B, b.B) < 40
}

func decodeThumb(t *testing.T, th Thumbnail) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(th.JPEG))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != th.Width || b.Dy() != th.Height {
		t.Fatalf("thumbnail is %v, says %d×%d", b, th.Width, th.Height)
	}
	return img
}

// TestThumbnailOrientation turns the corners image by each orientation
// and checks where the red (stored top-left) and green (stored top-right)
// blocks are shown, from a PNG (exact source) and a JPEG.
func TestThumbnailOrientation(t *testing.T) {
	red, green := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 255, 0, 255}
	tests := []struct {
		orientation int
		red, green  corner
		portrait    bool
	}{
		{1, topLeft, topRight, false},
		{2, topRight, topLeft, false},       // mirrored left-right
		{3, bottomRight, bottomLeft, false}, // turned 180°
		{4, bottomLeft, bottomRight, false}, // mirrored top-bottom
		{5, topLeft, bottomLeft, true},      // transposed
		{6, topRight, bottomRight, true},    // turned 90° clockwise
		{7, bottomRight, topRight, true},    // transversed
		{8, bottomLeft, topLeft, true},      // turned 90° anticlockwise
		{0, topLeft, topRight, false},       // absent: as stored
		{9, topLeft, topRight, false},       // invalid: as stored
	}
	sources := []struct {
		name   string
		data   []byte
		format Format
	}{
		{"PNG", encodePNG(t, corners()), FormatPNG},
		{"JPEG", encodeJPEG(t, corners()), FormatJPEG},
	}
	for _, src := range sources {
		for _, tt := range tests {
			t.Run(src.name+"/"+string(rune('0'+tt.orientation)), func(t *testing.T) {
				th, err := MakeThumbnail(bytes.NewReader(src.data), src.format, tt.orientation, 1280, 0)
				if err != nil {
					t.Fatal(err)
				}
				wantW, wantH := 64, 32
				if tt.portrait {
					wantW, wantH = 32, 64
				}
				if th.Width != wantW || th.Height != wantH {
					t.Errorf("thumbnail %d×%d, want %d×%d", th.Width, th.Height, wantW, wantH)
				}
				img := decodeThumb(t, th)
				if c := at(img, tt.red); !near(c, red) {
					t.Errorf("corner %d is %v, want red", tt.red, c)
				}
				if c := at(img, tt.green); !near(c, green) {
					t.Errorf("corner %d is %v, want green", tt.green, c)
				}
			})
		}
	}
}

func TestThumbnailPhoto(t *testing.T) {
	tests := []struct {
		file        string
		format      Format
		orientation int
		sides       []int
		want        [][2]int
	}{
		// Stored 3000×2250 landscape, orientation 6: shown portrait.
		{"rotated-dust-baimiaozi.jpg", FormatJPEG, 6, []int{1280, 320}, [][2]int{{960, 1280}, {240, 320}}},
		{"dust-xingcheng.jpg", FormatJPEG, 1, []int{320, 1280}, [][2]int{{320, 240}, {1280, 960}}},
		{"screenshot.png", FormatPNG, 0, []int{320}, [][2]int{{148, 320}}},
		{"no-exif.jpg", FormatJPEG, 0, []int{4000}, [][2]int{{1600, 1200}}}, // never scaled up
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("..", "testdata", "photos", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if tt.orientation > 1 { // the photos with orientation 1 have no tag
				st, _ := f.Stat()
				e, err := ReadEXIF(f, st.Size(), tt.format)
				if err != nil || e.Orientation != tt.orientation {
					t.Fatalf("ReadEXIF orientation = %d, %v; want %d", e.Orientation, err, tt.orientation)
				}
			}
			ts, err := MakeThumbnails(f, tt.format, tt.orientation, tt.sides, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i, th := range ts {
				if got := [2]int{th.Width, th.Height}; got != tt.want[i] {
					t.Errorf("thumbnail %d is %v, want %v", i, got, tt.want[i])
				}
				decodeThumb(t, th)
				if bytes.Contains(th.JPEG, []byte("Exif")) || bytes.Contains(th.JPEG[:4], []byte{0xFF, 0xE1}) {
					t.Errorf("thumbnail %d carries metadata", i)
				}
			}
		})
	}
}

func TestThumbnailWebP(t *testing.T) {
	for name, data := range map[string][]byte{"Lossy": webpLossy, "Lossless": webpLossless, "Alpha": webpAlpha} {
		t.Run(name, func(t *testing.T) {
			th, err := MakeThumbnail(bytes.NewReader(data), FormatWebP, 6, 320, 0)
			if err != nil {
				t.Fatal(err)
			}
			if th.Width != 1 || th.Height != 1 {
				t.Errorf("thumbnail %d×%d", th.Width, th.Height)
			}
			decodeThumb(t, th)
		})
	}
}

// TestThumbnailTransparentOnWhite checks that transparent pixels do not
// turn black in a JPEG, which has no alpha.
func TestThumbnailTransparentOnWhite(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 32, 32)) // all transparent black
	th, err := MakeThumbnail(bytes.NewReader(encodePNG(t, img)), FormatPNG, 1, 16, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c := at(decodeThumb(t, th), topLeft); !near(c, color.RGBA{255, 255, 255, 255}) {
		t.Errorf("transparent pixels are %v, want white", c)
	}
}

func TestBoxResize(t *testing.T) {
	// A 4×4 checkerboard of black and white pixels averages to mid grey
	// in 2×2; a 4×2 left-black right-white image keeps its halves in 2×1.
	checker := image.NewGray(image.Rect(0, 0, 4, 4))
	for i := range checker.Pix {
		if (i/4+i%4)%2 == 0 {
			checker.Pix[i] = 255
		}
	}
	halves := image.NewGray(image.Rect(0, 0, 4, 2))
	for i := range halves.Pix {
		if i%4 >= 2 {
			halves.Pix[i] = 255
		}
	}
	tests := []struct {
		name   string
		img    image.Image
		tw, th int
		want   []uint8 // grey level of each output pixel
	}{
		{"Checkerboard", checker, 2, 2, []uint8{128, 128, 128, 128}},
		{"Halves", halves, 2, 1, []uint8{0, 255}},
		{"Identity", halves, 4, 2, []uint8{0, 0, 255, 255, 0, 0, 255, 255}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := boxResize(tt.img, tt.tw, tt.th)
			for i, want := range tt.want {
				p := got.Pix[4*i : 4*i+4]
				if p[0] != want || p[1] != want || p[2] != want || p[3] != 255 {
					t.Errorf("pixel %d = %v, want grey %d", i, p, want)
				}
			}
		})
	}
}

func TestMakeThumbnailErrors(t *testing.T) {
	smallJPEG := encodeJPEG(t, noise(64, 48))
	tests := []struct {
		name    string
		data    []byte
		format  Format
		sides   []int
		wantErr error
	}{
		{"HEIC", buildHEIF(heifSpec{width: 10, height: 10}), FormatHEIC, []int{320}, ErrThumbnailUnsupported},
		{"HEIF", buildHEIF(heifSpec{width: 10, height: 10}), FormatHEIF, []int{320}, errors.ErrUnsupported},
		{"Unknown", smallJPEG, FormatUnknown, []int{320}, ErrUnsupportedFormat},
		{"PNGBomb", pngHeaderOnly(100000, 100000), FormatPNG, []int{320}, ErrTooManyPixels},
		{"JPEGBomb", jpegHeaderOnly(65535, 65535), FormatJPEG, []int{320}, ErrTooManyPixels},
		{"WebPBomb", webpVP8XOnly(16384, 16384), FormatWebP, []int{320}, ErrTooManyPixels},
		{"Truncated", smallJPEG[:len(smallJPEG)/2], FormatJPEG, []int{320}, ErrCorruptImage},
		{"CutInHeader", smallJPEG[:50], FormatJPEG, []int{320}, ErrCorruptImage},
		{"NotAPNG", smallJPEG, FormatPNG, []int{320}, ErrCorruptImage},
		{"NoSizes", smallJPEG, FormatJPEG, nil, nil},
		{"ZeroSize", smallJPEG, FormatJPEG, []int{320, 0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := MakeThumbnails(bytes.NewReader(tt.data), tt.format, 1, tt.sides, 0)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("MakeThumbnails error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestMakeThumbnailBombHeapFlat checks D1 for thumbnails: the header is
// read and the image refused before its pixels are allocated.
func TestMakeThumbnailBombHeapFlat(t *testing.T) {
	data := pngHeaderOnly(100000, 100000)
	perRun := allocatedBytes(20, func() {
		if _, err := MakeThumbnail(bytes.NewReader(data), FormatPNG, 1, 320, 0); !errors.Is(err, ErrTooManyPixels) {
			t.Fatalf("MakeThumbnail error = %v", err)
		}
	})
	if perRun > 256<<10 {
		t.Errorf("MakeThumbnail allocated %d bytes for a bomb, want < 256 KiB", perRun)
	}
}

// errReader returns some bytes, then a read error.
type errReader struct{ data []byte }

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errDisk
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestMakeThumbnailReadError(t *testing.T) {
	data := encodeJPEG(t, noise(64, 48))
	for _, cut := range []int{10, len(data) / 2} {
		_, err := MakeThumbnail(&errReader{data[:cut]}, FormatJPEG, 1, 320, 0)
		if !errors.Is(err, errDisk) || errors.Is(err, ErrCorruptImage) {
			t.Errorf("cut at %d: error = %v, want the read error alone", cut, err)
		}
	}
}

func BenchmarkMakeThumbnail1280(b *testing.B) {
	data := readPhoto(b, "rotated-dust-baimiaozi.jpg")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MakeThumbnail(bytes.NewReader(data), FormatJPEG, 6, 1280, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMakeThumbnails1280And320(b *testing.B) {
	data := readPhoto(b, "rotated-dust-baimiaozi.jpg")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MakeThumbnails(bytes.NewReader(data), FormatJPEG, 6, []int{1280, 320}, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestThumbnailMatchesReference compares each thumbnail with a reference
// made the slow, plain way: the photo fully decoded by image/jpeg,
// averaged down at full size (boxResize on RGB) and turned. The
// thumbnail is made from a scaled decode, scaled by area in YCbCr and
// JPEG-encoded, so it differs by rounding, filtering and compression,
// but a swapped plane, a shifted or mis-turned picture or a wrong scale
// costs far more than the bound.
func TestThumbnailMatchesReference(t *testing.T) {
	tests := []struct {
		file        string
		orientation int
		sides       []int
	}{
		{"rotated-dust-baimiaozi.jpg", 6, []int{1280, 320}}, // 3000×2250: 1/2 decode
		{"no-exif.jpg", 3, []int{1000, 333}},                // 1600×1200: full decode, ratio 1.6
		{"no-exif.jpg", 8, []int{700}},                      // 1/2 decode, ratio 1.14
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := readPhoto(t, tt.file)
			full, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			ts, err := MakeThumbnails(bytes.NewReader(data), FormatJPEG, tt.orientation, tt.sides, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i, th := range ts {
				b := full.Bounds()
				tw, tht := fitWithin(b.Dx(), b.Dy(), tt.sides[i])
				want := orient(boxResize(full, tw, tht), tt.orientation)
				got := decodeThumb(t, th)
				if got.Bounds().Size() != want.Bounds().Size() {
					t.Fatalf("size %d: %v, want %v", tt.sides[i], got.Bounds().Size(), want.Bounds().Size())
				}
				if p := psnr(got, want); p < 30 {
					t.Errorf("size %d: PSNR %.1f dB against the reference, want ≥ 30", tt.sides[i], p)
				} else {
					t.Logf("size %d: PSNR %.1f dB", tt.sides[i], p)
				}
			}
		})
	}
}

// psnr is the peak signal-to-noise ratio of a against b (same size) over
// their R, G and B values, in dB.
func psnr(a, b image.Image) float64 {
	ab, bb := a.Bounds(), b.Bounds()
	var sum float64
	for y := range ab.Dy() {
		for x := range ab.Dx() {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				sum += d * d
			}
		}
	}
	mse := sum / float64(3*ab.Dx()*ab.Dy())
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

// TestResizeYCbCrFlat checks the plane resizer on exact cases: a flat
// colour stays that colour at every ratio (the weights add up to 1), and
// halves of black and white keep their sides, with the one straddling
// pixel mid grey.
func TestResizeYCbCrFlat(t *testing.T) {
	for _, size := range [][4]int{{7, 5, 3, 2}, {2000, 1500, 1280, 960}, {33, 17, 32, 16}, {9, 9, 9, 9}} {
		m := image.NewYCbCr(image.Rect(0, 0, size[0], size[1]), image.YCbCrSubsampleRatio420)
		for i := range m.Y {
			m.Y[i] = 200
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = 90, 160
		}
		got := resize(m, size[2], size[3]).(*image.YCbCr)
		if got.Rect.Dx() != size[2] || got.Rect.Dy() != size[3] {
			t.Fatalf("%v: resized to %v", size, got.Rect)
		}
		for _, p := range []struct {
			plane []uint8
			want  uint8
		}{{got.Y, 200}, {got.Cb, 90}, {got.Cr, 160}} {
			for i, v := range p.plane {
				if v != p.want {
					t.Fatalf("%v: sample %d is %d, want %d", size, i, v, p.want)
				}
			}
		}
	}
	halves := image.NewYCbCr(image.Rect(0, 0, 6, 2), image.YCbCrSubsampleRatio444)
	for i := range halves.Y {
		if i%6 >= 3 {
			halves.Y[i] = 255
		}
	}
	got := resize(halves, 3, 1).(*image.YCbCr)
	if want := []uint8{0, 128, 255}; !bytes.Equal(got.Y[:3], want) {
		t.Errorf("halves resized to %v, want %v", got.Y[:3], want)
	}
}

// TestDecodeShift checks the scale a JPEG is decoded at: the smallest
// that still holds the largest thumbnail, at most 1/8.
func TestDecodeShift(t *testing.T) {
	tests := []struct{ w, h, tw, th, want int }{
		{4000, 3000, 1280, 960, 1},
		{4000, 3000, 320, 240, 3},
		{4000, 3000, 1000, 750, 2},
		{4000, 3000, 1001, 751, 1},
		{1600, 1200, 1280, 960, 0},
		{2561, 1921, 1280, 960, 1}, // 1281×961 rounded up
		{20000, 100, 320, 2, 3},
		{64, 32, 64, 32, 0},
	}
	for _, tt := range tests {
		if got := decodeShift(tt.w, tt.h, tt.tw, tt.th); got != tt.want {
			t.Errorf("decodeShift(%d, %d, %d, %d) = %d, want %d", tt.w, tt.h, tt.tw, tt.th, got, tt.want)
		}
	}
}
