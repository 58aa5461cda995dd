package media

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Tiny WebP files (1×1), as published for feature detection: lossy
// (VP8), lossless (VP8L), and extended with alpha (VP8X + ALPH + VP8).
var (
	webpLossy    = mustBase64("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA")
	webpLossless = mustBase64("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	webpAlpha    = mustBase64("UklGRkoAAABXRUJQVlA4WAoAAAAQAAAAAAAAAAAAQUxQSAwAAAARBxAR/Q9ERP8DAABWUDggGAAAABQBAJ0BKgEAAQAAAP4AAA3AAP7mtQAAAA==")
)

func mustBase64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// bmffBoxBytes builds an ISO BMFF box.
func bmffBoxBytes(typ string, payload ...[]byte) []byte {
	p := cat(payload...)
	return cat(be32(uint32(8+len(p))), []byte(typ), p)
}

// fullBoxBytes builds an ISO BMFF full box (version and flags first).
func fullBoxBytes(typ string, version byte, flags uint32, payload ...[]byte) []byte {
	vf := be32(flags)
	vf[0] = version
	return bmffBoxBytes(typ, append(vf, cat(payload...)...))
}

// heifSpec describes a hand-made HEIF file.
type heifSpec struct {
	major  string
	compat []string
	// tiles adds a 512×512 ispe before the primary's, as a grid image
	// has for its tiles, so that picking the first ispe would be wrong.
	tiles         bool
	width, height uint32
	noPitm        bool
	exif          []byte // TIFF block for an Exif item, or nil
	mdatShortBy   int    // declare mdat this many bytes longer than it is
}

// buildHEIF writes ftyp, meta (hdlr, pitm, iinf, iloc, iprp with ipco and
// ipma) and mdat, the layout iPhones use. Item 1 is the image, item 2 the
// Exif item, whose data (a 4-byte TIFF header offset, then the TIFF
// block) is at the start of mdat.
func buildHEIF(s heifSpec) []byte {
	if s.major == "" {
		s.major, s.compat = "heic", []string{"mif1", "heic"}
	}
	ftyp := cat([]byte(s.major), be32(0))
	for _, c := range s.compat {
		ftyp = append(ftyp, c...)
	}
	ftypBox := bmffBoxBytes("ftyp", ftyp)

	var exifItem []byte
	if s.exif != nil {
		exifItem = cat(be32(0), s.exif)
	}
	imageData := bytes.Repeat([]byte{0xAB}, 64) // stands for HEVC data

	infe := func(id uint16, typ string) []byte {
		return fullBoxBytes("infe", 2, 0, be16(id), be16(0), []byte(typ), []byte("\x00"))
	}
	entries := [][]byte{infe(1, "hvc1")}
	if exifItem != nil {
		entries = append(entries, infe(2, "Exif"))
	}
	iinf := fullBoxBytes("iinf", 0, 0, be16(uint16(len(entries))), cat(entries...))

	// iloc version 0, offset_size 4, length_size 4, base_offset_size 0.
	iloc := func(mdatData uint32) []byte {
		items := [][]byte{}
		off := mdatData
		if exifItem != nil {
			items = append(items, cat(be16(2), be16(0), be16(1), be32(off), be32(uint32(len(exifItem)))))
			off += uint32(len(exifItem))
		}
		items = append(items, cat(be16(1), be16(0), be16(1), be32(off), be32(uint32(len(imageData)))))
		return fullBoxBytes("iloc", 0, 0, []byte{0x44, 0x00}, be16(uint16(len(items))), cat(items...))
	}

	ispe := func(w, h uint32) []byte { return fullBoxBytes("ispe", 0, 0, be32(w), be32(h)) }
	var props [][]byte
	primaryIndex := byte(1)
	if s.tiles {
		props = append(props, ispe(512, 512))
		primaryIndex = 2
	}
	props = append(props, ispe(s.width, s.height), bmffBoxBytes("pixi", []byte{0, 0, 0, 0, 3, 8, 8, 8}))
	ipco := bmffBoxBytes("ipco", cat(props...))
	ipma := fullBoxBytes("ipma", 0, 0, be32(1), be16(1), []byte{2, 0x80 | primaryIndex, byte(len(props))})
	iprp := bmffBoxBytes("iprp", ipco, ipma)

	hdlr := fullBoxBytes("hdlr", 0, 0, be32(0), []byte("pict"), make([]byte, 12), []byte("\x00"))
	metaFor := func(mdatData uint32) []byte {
		children := [][]byte{hdlr}
		if !s.noPitm {
			children = append(children, fullBoxBytes("pitm", 0, 0, be16(1)))
		}
		children = append(children, iinf, iloc(mdatData), iprp)
		return fullBoxBytes("meta", 0, 0, cat(children...))
	}
	meta := metaFor(0)
	mdatData := uint32(len(ftypBox) + len(meta) + 8)
	meta = metaFor(mdatData)
	mdatPayload := cat(exifItem, imageData)
	mdat := cat(be32(uint32(8+len(mdatPayload)+s.mdatShortBy)), []byte("mdat"), mdatPayload)
	return cat(ftypBox, meta, mdat)
}

// pngChunk builds a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	crc := crc32.ChecksumIEEE(cat([]byte(typ), data))
	return cat(be32(uint32(len(data))), []byte(typ), data, be32(crc))
}

// pngHeaderOnly is a PNG signature and an IHDR declaring w×h RGB, and
// nothing else: what a decompression bomb needs to declare its size.
func pngHeaderOnly(w, h uint32) []byte {
	ihdr := cat(be32(w), be32(h), []byte{8, 2, 0, 0, 0})
	return cat(pngMagic, pngChunk("IHDR", ihdr))
}

// jpegHeaderOnly is SOI, a baseline SOF0 declaring w×h with three
// components, the header of a scan (SOS, where a decoder knows the
// header is complete) and EOI, with no image data.
func jpegHeaderOnly(w, h uint16) []byte {
	sof := cat([]byte{8}, be16(h), be16(w), []byte{3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1})
	sos := []byte{3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0}
	return cat([]byte{0xFF, 0xD8, 0xFF, 0xC0}, be16(uint16(2+len(sof))), sof,
		[]byte{0xFF, 0xDA}, be16(uint16(2+len(sos))), sos, []byte{0xFF, 0xD9})
}

// webpVP8XOnly is a RIFF WEBP with a VP8X chunk declaring a w×h canvas.
func webpVP8XOnly(w, h uint32) []byte {
	vp8x := []byte{0, 0, 0, 0,
		byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16),
		byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	chunk := cat([]byte("VP8X"), binary.LittleEndian.AppendUint32(nil, 10), vp8x)
	return cat([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(chunk))), []byte("WEBP"), chunk)
}

// encodeJPEG and encodePNG make small real images.
func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// noise is a w×h image of seeded random pixels, which compresses badly,
// so that cutting its encoding in half cuts the image data.
func noise(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.Uint32())
	}
	return img
}

func readPhoto(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "photos", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInspect(t *testing.T) {
	smallJPEG := encodeJPEG(t, noise(64, 48))
	smallPNG := encodePNG(t, noise(64, 48))
	motionPhoto := cat(smallJPEG, []byte("\x00\x00\x00\x18ftypmp42"), bytes.Repeat([]byte{7}, 1000))
	badCRC := bytes.Clone(smallPNG)
	badCRC[8+8+13] ^= 0xFF // first byte of IHDR's CRC

	tests := []struct {
		name      string
		data      []byte
		format    Format
		maxPixels int64
		want      Info
		wantErr   error
	}{
		{"JPEG", smallJPEG, FormatJPEG, 0, Info{Format: FormatJPEG, Width: 64, Height: 48}, nil},
		{"PNG", smallPNG, FormatPNG, 0, Info{Format: FormatPNG, Width: 64, Height: 48}, nil},
		{"WebPLossy", webpLossy, FormatWebP, 0, Info{Format: FormatWebP, Width: 1, Height: 1}, nil},
		{"WebPLossless", webpLossless, FormatWebP, 0, Info{Format: FormatWebP, Width: 1, Height: 1}, nil},
		{"WebPAlpha", webpAlpha, FormatWebP, 0, Info{Format: FormatWebP, Width: 1, Height: 1}, nil},
		{"HEIC", buildHEIF(heifSpec{width: 4032, height: 3024}), FormatHEIC, 0, Info{Format: FormatHEIC, Width: 4032, Height: 3024}, nil},
		{"HEICGridPrimary", buildHEIF(heifSpec{width: 4032, height: 3024, tiles: true}), FormatHEIC, 0, Info{Format: FormatHEIC, Width: 4032, Height: 3024}, nil},
		{"HEICNoPitmLargest", buildHEIF(heifSpec{width: 3024, height: 4032, tiles: true, noPitm: true}), FormatHEIC, 0, Info{Format: FormatHEIC, Width: 3024, Height: 4032}, nil},
		{"HEIFGeneric", buildHEIF(heifSpec{major: "mif1", compat: []string{"mif1"}, width: 100, height: 50}), FormatHEIF, 0, Info{Format: FormatHEIF, Width: 100, Height: 50}, nil},

		// D5: cut-off files are stored and flagged.
		{"JPEGCutInData", smallJPEG[:len(smallJPEG)*6/10], FormatJPEG, 0, Info{Format: FormatJPEG, Width: 64, Height: 48, Truncated: true}, nil},
		{"JPEGCutInHeader", smallJPEG[:100], FormatJPEG, 0, Info{Format: FormatJPEG, Truncated: true}, nil},
		{"JPEGCutAfterFrameHeader", cutAfterSOF(t, smallJPEG), FormatJPEG, 0, Info{Format: FormatJPEG, Width: 64, Height: 48, Truncated: true}, nil},
		{"JPEGBombCutBeforeScan", cutAfterSOF(t, jpegHeaderOnly(65535, 65535)), FormatJPEG, 0, Info{Format: FormatJPEG, Width: 65535, Height: 65535, Truncated: true}, ErrTooManyPixels},
		{"JPEGMagicOnly", []byte{0xFF, 0xD8, 0xFF}, FormatJPEG, 0, Info{Format: FormatJPEG, Truncated: true}, nil},
		{"JPEGMotionPhoto", motionPhoto, FormatJPEG, 0, Info{Format: FormatJPEG, Width: 64, Height: 48}, nil},
		{"PNGCutInData", smallPNG[:len(smallPNG)/2], FormatPNG, 0, Info{Format: FormatPNG, Width: 64, Height: 48, Truncated: true}, nil},
		{"PNGWithoutIEND", pngHeaderOnly(10, 10), FormatPNG, 0, Info{Format: FormatPNG, Width: 10, Height: 10, Truncated: true}, nil},
		{"WebPCut", webpLossless[:len(webpLossless)-4], FormatWebP, 0, Info{Format: FormatWebP, Width: 1, Height: 1, Truncated: true}, nil},
		{"WebPCutInHeader", webpLossy[:20], FormatWebP, 0, Info{Format: FormatWebP, Truncated: true}, nil},
		{"HEICMdatCut", buildHEIF(heifSpec{width: 40, height: 30, mdatShortBy: 100}), FormatHEIC, 0, Info{Format: FormatHEIC, Width: 40, Height: 30, Truncated: true}, nil},
		{"HEICCutInMeta", buildHEIF(heifSpec{width: 40, height: 30})[:60], FormatHEIC, 0, Info{Format: FormatHEIC, Truncated: true}, nil},

		// D1: refused from the header.
		{"PNGBomb", pngHeaderOnly(100000, 100000), FormatPNG, 0, Info{Format: FormatPNG, Width: 100000, Height: 100000, Truncated: false}, ErrTooManyPixels},
		{"JPEGBomb", jpegHeaderOnly(65535, 65535), FormatJPEG, 0, Info{Format: FormatJPEG, Width: 65535, Height: 65535}, ErrTooManyPixels},
		{"WebPBomb", webpVP8XOnly(16384, 16384), FormatWebP, 0, Info{Format: FormatWebP, Width: 16384, Height: 16384}, ErrTooManyPixels},
		{"HEICBomb", buildHEIF(heifSpec{width: 100000, height: 100000}), FormatHEIC, 0, Info{Format: FormatHEIC, Width: 100000, Height: 100000}, ErrTooManyPixels},
		{"OwnCap", smallJPEG, FormatJPEG, 64*48 - 1, Info{Format: FormatJPEG, Width: 64, Height: 48}, ErrTooManyPixels},
		{"AtCap", smallJPEG, FormatJPEG, 64 * 48, Info{Format: FormatJPEG, Width: 64, Height: 48}, nil},
		{"200MP", jpegHeaderOnly(16320, 12240), FormatJPEG, 0, Info{Format: FormatJPEG, Width: 16320, Height: 12240}, nil},

		// Magic bytes, then not that format.
		{"JPEGGarbage", cat([]byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x02}, []byte("<html>not a jpeg</html>")), FormatJPEG, 0, Info{Format: FormatJPEG}, ErrCorruptImage},
		{"PNGBadIHDRCRC", badCRC, FormatPNG, 0, Info{Format: FormatPNG}, ErrCorruptImage},
		{"PNGZeroWidth", cat(pngHeaderOnly(0, 10), pngChunk("IEND", nil)), FormatPNG, 0, Info{Format: FormatPNG}, ErrCorruptImage},
		{"HEICWithoutISPE", cat(bmffBoxBytes("ftyp", []byte("heic\x00\x00\x00\x00mif1")), fullBoxBytes("meta", 0, 0, fullBoxBytes("pitm", 0, 0, be16(1)))), FormatHEIC, 0, Info{Format: FormatHEIC}, ErrCorruptImage},
		{"HEICNotFtypFirst", cat(bmffBoxBytes("free"), bmffBoxBytes("ftyp", []byte("heic\x00\x00\x00\x00"))), FormatHEIC, 0, Info{Format: FormatHEIC}, ErrCorruptImage},
		{"HEICBoxOverrunsParent", cat(bmffBoxBytes("ftyp", []byte("heic\x00\x00\x00\x00")), fullBoxBytes("meta", 0, 0, be32(1000), []byte("iprp"))), FormatHEIC, 0, Info{Format: FormatHEIC}, ErrCorruptImage},
		{"Unknown", smallJPEG, FormatUnknown, 0, Info{Format: FormatUnknown}, ErrUnsupportedFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Inspect(bytes.NewReader(tt.data), int64(len(tt.data)), tt.format, tt.maxPixels)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("Inspect error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Inspect = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestInspectPhotos(t *testing.T) {
	tests := []struct {
		file          string
		width, height int
	}{
		{"dust-xingcheng.jpg", 3000, 2250},
		{"rotated-dust-baimiaozi.jpg", 3000, 2250}, // stored landscape, shown portrait
		{"no-exif.jpg", 1600, 1200},
		{"screenshot.png", 1080, 2340},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("..", "testdata", "photos", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			head := make([]byte, SniffLen)
			n, _ := f.ReadAt(head, 0)
			format, err := Sniff(head[:n])
			if err != nil {
				t.Fatal(err)
			}
			info, err := Inspect(f, st.Size(), format, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := Info{Format: format, Width: tt.width, Height: tt.height}
			if info != want {
				t.Errorf("Inspect = %+v, want %+v", info, want)
			}
		})
	}
}

// cutAfterSOF returns a JPEG cut right after its frame header (SOF0),
// before the scan Go's decoder wants to see.
func cutAfterSOF(t *testing.T, data []byte) []byte {
	t.Helper()
	i := bytes.Index(data, []byte{0xFF, 0xC0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	return data[:i+2+int(binary.BigEndian.Uint16(data[i+2:]))]
}

// failingReaderAt fails every read past off with a disk error.
type failingReaderAt struct {
	r   io.ReaderAt
	off int64
}

var errDisk = errors.New("input/output error")

func (f failingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, errDisk
	}
	return f.r.ReadAt(p, off)
}

func TestInspectReadError(t *testing.T) {
	data := encodeJPEG(t, noise(64, 48))
	_, err := Inspect(failingReaderAt{bytes.NewReader(data), 10}, int64(len(data)), FormatJPEG, 0)
	if !errors.Is(err, errDisk) {
		t.Fatalf("Inspect error = %v, want the disk error", err)
	}
	if errors.Is(err, ErrCorruptImage) {
		t.Errorf("a disk error must not read as a corrupt image (422): %v", err)
	}
}

// TestInspectBombHeapFlat checks D1: a tiny file declaring 100000×100000
// (or the JPEG maximum, 65535×65535) is refused with a few kilobytes of
// allocation, not the 40 GB its pixels would need.
func TestInspectBombHeapFlat(t *testing.T) {
	bombs := []struct {
		name   string
		data   []byte
		format Format
	}{
		{"PNG", pngHeaderOnly(100000, 100000), FormatPNG},
		{"JPEG", jpegHeaderOnly(65535, 65535), FormatJPEG},
		{"WebP", webpVP8XOnly(16384, 16384), FormatWebP},
		{"HEIC", buildHEIF(heifSpec{width: 100000, height: 100000}), FormatHEIC},
	}
	for _, b := range bombs {
		t.Run(b.name, func(t *testing.T) {
			run := func() {
				_, err := Inspect(bytes.NewReader(b.data), int64(len(b.data)), b.format, 0)
				if !errors.Is(err, ErrTooManyPixels) {
					t.Fatalf("Inspect error = %v, want ErrTooManyPixels", err)
				}
			}
			perRun := allocatedBytes(100, run)
			if perRun > 128<<10 {
				t.Errorf("Inspect allocated %d bytes per run for a bomb, want < 128 KiB", perRun)
			}
			t.Logf("%d bytes, %.0f allocations per run", perRun, testing.AllocsPerRun(100, run))
		})
	}
}

// allocatedBytes returns the bytes fn allocates per call, averaged over
// n calls.
func allocatedBytes(n int, fn func()) uint64 {
	fn() // warm up once-only allocations
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range n {
		fn()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(n)
}

func TestImageEnd(t *testing.T) {
	smallJPEG := encodeJPEG(t, noise(32, 32))
	progressive := multiScanJPEG(t)
	tests := []struct {
		name   string
		data   []byte
		format Format
		want   endState
	}{
		{"JPEG", smallJPEG, FormatJPEG, endFound},
		{"JPEGTrailer", cat(smallJPEG, []byte("SEFT trailer")), FormatJPEG, endFound},
		{"JPEGCut", smallJPEG[:len(smallJPEG)-10], FormatJPEG, endMissing},
		{"JPEGProgressiveTrailer", cat(progressive, []byte{1, 2, 3}), FormatJPEG, endFound},
		{"JPEGNoSOI", cat([]byte{0xFF, 0xD9}, smallJPEG[2:], []byte{0}), FormatJPEG, endBroken},
		{"PNGTrailer", cat(encodePNG(t, noise(8, 8)), []byte("appended")), FormatPNG, endFound},
		{"HEIC", buildHEIF(heifSpec{width: 1, height: 1}), FormatHEIC, endFound},
		{"HEICTopBoxSizeZero", cat(bmffBoxBytes("ftyp", []byte("heic\x00\x00\x00\x00")), be32(0), []byte("mdat"), []byte("data to the end")), FormatHEIC, endFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := imageEnd(bytes.NewReader(tt.data), int64(len(tt.data)), tt.format); got != tt.want {
				t.Errorf("imageEnd = %v, want %v", got, tt.want)
			}
		})
	}
}

// multiScanJPEG returns a JPEG shaped like a progressive one: two scans
// with a restart marker and a DHT segment between them, which the end
// walk must follow. (Go cannot encode progressive JPEGs; only the marker
// structure matters here, not whether a decoder accepts the scans.)
func multiScanJPEG(t *testing.T) []byte {
	t.Helper()
	base := encodeJPEG(t, noise(16, 16))
	sos := bytes.Index(base, []byte{0xFF, 0xDA})
	if sos < 0 {
		t.Fatal("no SOS")
	}
	header, scan := base[:sos], base[sos:len(base)-2]
	extra := cat([]byte{0xFF, 0xC4}, be16(4), []byte{0, 0})
	return cat(header, scan, []byte{0xFF, 0xD0}, extra, scan, []byte{0xFF, 0xD9})
}

func (s endState) String() string {
	switch s {
	case endFound:
		return "endFound"
	case endMissing:
		return "endMissing"
	case endBroken:
		return "endBroken"
	}
	return "endState?"
}

// FuzzSniffInspect checks that no input makes Sniff, Inspect or, for small
// images, MakeThumbnail panic, and that their results keep their
// promises.
func FuzzSniffInspect(f *testing.F) {
	for _, name := range []string{"dust-xingcheng.jpg", "no-exif.jpg", "screenshot.png"} {
		b := readPhoto(f, name)
		f.Add(b[:min(len(b), 64<<10)])
	}
	f.Add(encodeJPEG(f, noise(8, 8)))
	f.Add(encodePNG(f, noise(8, 8)))
	f.Add(webpLossy)
	f.Add(webpLossless)
	f.Add(webpAlpha)
	f.Add(webpVP8XOnly(100, 100))
	f.Add(pngHeaderOnly(100000, 100000))
	f.Add(jpegHeaderOnly(65535, 65535))
	f.Add(buildHEIF(heifSpec{width: 4032, height: 3024, tiles: true}))
	f.Add(buildHEIF(heifSpec{major: "mif1", compat: []string{"mif1", "avif"}, width: 1, height: 1}))
	f.Fuzz(func(t *testing.T, data []byte) {
		format, err := Sniff(data)
		if err != nil {
			if !errors.Is(err, ErrUnsupportedFormat) || format != FormatUnknown {
				t.Fatalf("Sniff = %v, %v", format, err)
			}
			return
		}
		const maxPixels = 1 << 16
		info, err := Inspect(bytes.NewReader(data), int64(len(data)), format, maxPixels)
		switch {
		case err == nil:
			if (info.Width == 0 || info.Height == 0) && !info.Truncated {
				t.Fatalf("Inspect = %+v: no size but not truncated", info)
			}
		case errors.Is(err, ErrTooManyPixels):
			if int64(info.Width)*int64(info.Height) <= maxPixels {
				t.Fatalf("Inspect = %+v, %v: within the cap", info, err)
			}
			return
		case errors.Is(err, ErrCorruptImage):
			return
		default:
			t.Fatalf("Inspect error %v", err)
		}
		if info.Width == 0 || format == FormatHEIC || format == FormatHEIF {
			return
		}
		th, err := MakeThumbnail(bytes.NewReader(data), format, int(data[len(data)-1]%10), 16, maxPixels)
		if err == nil && (th.Width > 16 || th.Height > 16 || th.Width < 1 || th.Height < 1) {
			t.Fatalf("thumbnail %d×%d", th.Width, th.Height)
		}
		if err != nil && !errors.Is(err, ErrCorruptImage) && !errors.Is(err, ErrTooManyPixels) {
			t.Fatalf("MakeThumbnail error %v", err)
		}
	})
}

func BenchmarkInspect(b *testing.B) {
	f, err := os.Open(filepath.Join("..", "testdata", "photos", "rotated-dust-baimiaozi.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Inspect(f, st.Size(), FormatJPEG, 0); err != nil {
			b.Fatal(err)
		}
	}
}
