package media

import (
	"bytes"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
	"image"
	"image/jpeg"
	"time"

	"github.com/fieldwatch/fieldwatch/media/internal/scaledjpeg"
	"testing"
)

// photo12MP returns a deterministic 4000×3000 (12 MP) baseline JPEG at
// quality 90, YCbCr 4:2:0 as phones write them: the 3000×2250 test photo
// tiled with mirrored copies, so its texture is a real photo's density
// (about 3 MB, like a phone's 12 MP photo), not a smooth upscale.
func photo12MP(tb testing.TB) []byte {
	tb.Helper()
	src, err := jpeg.Decode(bytes.NewReader(readPhoto(tb, "dust-xingcheng.jpg")))
	if err != nil {
		tb.Fatal(err)
	}
	sb := src.Bounds()
	const w, h = 4000, 3000
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	read := rowReader(src)
	row := make([]uint8, 3*sb.Dx())
	for y := range h {
		sy, flipY := y%sb.Dy(), (y/sb.Dy())%2 == 1
		if flipY {
			sy = sb.Dy() - 1 - sy
		}
		read(sb.Min.Y+sy, row)
		p := dst.Pix[y*dst.Stride:]
		for x := range w {
			sx := x % sb.Dx()
			if (x/sb.Dx())%2 == 1 {
				sx = sb.Dx() - 1 - sx
			}
			copy(p[4*x:4*x+3], row[3*sx:3*sx+3])
			p[4*x+3] = 0xff
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: 90}); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkThumbnails12MP is the cost the target is stated in:
// every size the system makes (320 and 1280) of a 12 MP phone JPEG,
// turned (orientation 6), decoding included. ≤ 125 ms per op is 8 photos
// per second per core.
func BenchmarkThumbnails12MP(b *testing.B) {
	data := photo12MP(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cpu := cpuTimer(b)
	for b.Loop() {
		if _, err := MakeThumbnails(bytes.NewReader(data), FormatJPEG, 6, []int{1280, 320}, 0); err != nil {
			b.Fatal(err)
		}
	}
	cpu()
}

// cpuTimer starts counting the process's CPU time (user + system, every
// thread: GC included) and returns a function that reports it per
// operation as cpu-ms/op, which on a shared machine says more than the
// wall time of ns/op.
func cpuTimer(b *testing.B) func() {
	b.Helper()
	start := testservice.ProcessCPU(b)
	return func() {
		b.ReportMetric(float64(testservice.ProcessCPU(b)-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkStdDecode12MP is image/jpeg's full decode alone, for
// comparison.
func BenchmarkStdDecode12MP(b *testing.B) {
	data := photo12MP(b)
	cpu := cpuTimer(b)
	for b.Loop() {
		if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	cpu()
}

func BenchmarkStdResize12MP(b *testing.B) {
	img, err := jpeg.Decode(bytes.NewReader(photo12MP(b)))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		small := boxResize(img, 1280, 960)
		boxResize(small, 320, 240)
	}
}

func BenchmarkScaledDecode12MP(b *testing.B) {
	data := photo12MP(b)
	cpu := cpuTimer(b)
	for b.Loop() {
		if _, err := scaledjpeg.Decode(bytes.NewReader(data), 1); err != nil {
			b.Fatal(err)
		}
	}
	cpu()
}

// BenchmarkEncode1280 is the JPEG encoding of a 1280×960 4:2:0
// thumbnail, by image/jpeg and by the copy in scaledjpeg (same bytes).
func BenchmarkEncode1280(b *testing.B) {
	img, err := jpeg.Decode(bytes.NewReader(readPhoto(b, "dust-xingcheng.jpg")))
	if err != nil {
		b.Fatal(err)
	}
	small := resize(img, 1280, 960)
	for _, enc := range []struct {
		name   string
		encode func(*bytes.Buffer) error
	}{
		{"std", func(w *bytes.Buffer) error { return jpeg.Encode(w, small, &jpeg.Options{Quality: ThumbnailQuality}) }},
		{"copy", func(w *bytes.Buffer) error {
			return scaledjpeg.Encode(w, small, &scaledjpeg.Options{Quality: ThumbnailQuality})
		}},
	} {
		b.Run(enc.name, func(b *testing.B) {
			cpu := cpuTimer(b)
			for b.Loop() {
				var buf bytes.Buffer
				if err := enc.encode(&buf); err != nil {
					b.Fatal(err)
				}
			}
			cpu()
		})
	}
}

func BenchmarkResizePlanes12MP(b *testing.B) {
	img, err := scaledjpeg.Decode(bytes.NewReader(photo12MP(b)), 1)
	if err != nil {
		b.Fatal(err)
	}
	cpu := cpuTimer(b)
	for b.Loop() {
		resize(resize(img, 1280, 960), 320, 240)
	}
	cpu()
}
