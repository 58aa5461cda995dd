package media

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fieldwatch/fieldwatch/blob"
)

// ftypHead builds the start of an ISO BMFF file: an ftyp box with a major
// brand and compatible brands.
func ftypHead(major string, compat ...string) []byte {
	payload := []byte(major + "\x00\x00\x00\x00" + strings.Join(compat, ""))
	return bmffBoxBytes("ftyp", payload)
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name    string
		head    []byte
		want    Format
		errWhat string // a word the error names, when refused
	}{
		{"JPEGMagicOnly", []byte{0xFF, 0xD8, 0xFF}, FormatJPEG, ""},
		{"JPEGJFIF", []byte("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00"), FormatJPEG, ""},
		{"PNG", pngHeaderOnly(1, 1), FormatPNG, ""},
		{"WebPLossy", webpLossy, FormatWebP, ""},
		{"WebPLossless", webpLossless, FormatWebP, ""},
		{"WebPExtended", webpAlpha, FormatWebP, ""},
		{"HEICiPhone", cat(ftypHead("heic", "mif1", "MiHB", "MiHE", "MiPr", "miaf", "heic", "tmap"), bmffBoxBytes("meta")), FormatHEIC, ""},
		{"HEICMajorHeix", ftypHead("heix", "mif1", "heix"), FormatHEIC, ""},
		{"HEICSequence", ftypHead("hevc", "msf1", "hevc"), FormatHEIC, ""},
		{"HEIFGenericWithHEVC", ftypHead("mif1", "mif1", "heic"), FormatHEIC, ""},
		{"HEIFGeneric", ftypHead("mif1", "mif1", "miaf"), FormatHEIF, ""},
		{"HEIFSequence", ftypHead("msf1", "msf1"), FormatHEIF, ""},

		{"Empty", nil, FormatUnknown, "empty"},
		{"JPEGTwoBytes", []byte{0xFF, 0xD8}, FormatUnknown, "2 bytes"},
		{"PNGShort", pngMagic[:7], FormatUnknown, "unknown magic"},
		{"AVIF", ftypHead("avif", "avif", "mif1", "miaf"), FormatUnknown, "AVIF"},
		{"AVIFBehindMif1", ftypHead("mif1", "mif1", "avif"), FormatUnknown, "AVIF"},
		{"MP4", ftypHead("isom", "isom", "mp41"), FormatUnknown, "isom"},
		{"CanonCR3", ftypHead("crx ", "crx ", "isom"), FormatUnknown, "crx"},
		{"FtypTooShort", cat(be32(8), []byte("ftypheic")), FormatUnknown, "size 8"},
		{"FtypLargeSize", cat(be32(1), []byte("ftypheic"), make([]byte, 8)), FormatUnknown, "size 1"},
		{"RIFFNotWebP", []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00"), FormatUnknown, "RIFF"},
		{"RIFFWebPWithoutImageChunk", []byte("RIFF\x24\x00\x00\x00WEBPEXIF\x10\x00\x00\x00"), FormatUnknown, "RIFF"},
		{"GIF", []byte("GIF89a\x01\x00\x01\x00"), FormatUnknown, "GIF"},
		{"TIFFLittle", []byte("II*\x00\x08\x00\x00\x00"), FormatUnknown, "TIFF"},
		{"TIFFBig", []byte("MM\x00*\x00\x00\x00\x08"), FormatUnknown, "TIFF"},
		{"BMP", []byte("BM\x3a\x00\x00\x00"), FormatUnknown, "BMP"},
		{"PDF", []byte("%PDF-1.7\n"), FormatUnknown, "PDF"},
		{"HTML", []byte("<!DOCTYPE html><img src=x>"), FormatUnknown, "markup"},
		{"ZIP", []byte("PK\x03\x04\x14\x00"), FormatUnknown, "ZIP"},
		{"Random", []byte{0x13, 0x37, 0xC0, 0xDE, 0x00, 0x01, 0x02, 0x03, 0x04}, FormatUnknown, "13 37 c0 de 00 01 02 03"},
		// Polyglots are what their first bytes say (D4).
		{"PDFWithJPEGInside", cat([]byte("%PDF-1.4\n"), jpegHeaderOnly(1, 1)), FormatUnknown, "PDF"},
		{"GIFWithZIPAppended", cat([]byte("GIF89a"), []byte("PK\x03\x04")), FormatUnknown, "GIF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sniff(tt.head)
			if got != tt.want {
				t.Errorf("Sniff = %v, want %v", got, tt.want)
			}
			switch {
			case tt.errWhat == "" && err != nil:
				t.Errorf("Sniff error = %v", err)
			case tt.errWhat != "" && !errors.Is(err, ErrUnsupportedFormat):
				t.Errorf("Sniff error = %v, want ErrUnsupportedFormat", err)
			case tt.errWhat != "" && !strings.Contains(err.Error(), tt.errWhat):
				t.Errorf("Sniff error = %q, want it to name %q", err, tt.errWhat)
			}
		})
	}
}

// TestSniffPolyglot checks D4: a file that is a valid JPEG and also
// carries HTML and a ZIP archive is a JPEG, inspected as one, and served
// as image/jpeg; what else it holds does not matter.
func TestSniffPolyglot(t *testing.T) {
	img := encodeJPEG(t, noise(16, 16))
	html := []byte("<html><script>alert(document.cookie)</script></html>")
	com := cat([]byte{0xFF, 0xFE}, be16(uint16(2+len(html))), html) // a JPEG comment segment
	zipEnd := []byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	polyglot := cat(img[:2], com, img[2:], zipEnd)

	format, err := Sniff(polyglot[:min(len(polyglot), SniffLen)])
	if err != nil || format != FormatJPEG {
		t.Fatalf("Sniff = %v, %v; want jpeg", format, err)
	}
	if ct := format.ContentType(); ct != "image/jpeg" {
		t.Errorf("ContentType = %q", ct)
	}
	info, err := Inspect(bytes.NewReader(polyglot), int64(len(polyglot)), format, 0)
	want := Info{Format: FormatJPEG, Width: 16, Height: 16}
	if err != nil || info != want {
		t.Errorf("Inspect = %+v, %v; want %+v", info, err, want)
	}
}

func TestFormatNames(t *testing.T) {
	tests := []struct {
		f                Format
		name, ctype, ext string
	}{
		{FormatJPEG, "jpeg", "image/jpeg", ".jpg"},
		{FormatPNG, "png", "image/png", ".png"},
		{FormatWebP, "webp", "image/webp", ".webp"},
		{FormatHEIC, "heic", "image/heic", ".heic"},
		{FormatHEIF, "heif", "image/heif", ".heif"},
		{FormatUnknown, "unknown", "application/octet-stream", ""},
		{Format(200), "unknown", "application/octet-stream", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.String(); got != tt.name {
				t.Errorf("String = %q, want %q", got, tt.name)
			}
			if got := tt.f.ContentType(); got != tt.ctype {
				t.Errorf("ContentType = %q, want %q", got, tt.ctype)
			}
			if got := tt.f.Ext(); got != tt.ext {
				t.Errorf("Ext = %q, want %q", got, tt.ext)
			}
			if tt.ext != "" {
				if err := blob.ValidateKey("2026/11/28/01JDX3Q7ZK" + tt.ext); err != nil {
					t.Errorf("a key ending in %q is invalid: %v", tt.ext, err)
				}
			}
		})
	}
}

func ExampleSniff() {
	for _, head := range [][]byte{
		[]byte("\xFF\xD8\xFF\xE1\x10\x00Exif\x00\x00"),
		[]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
		[]byte("\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf"),
		[]byte("GIF89a"),
	} {
		f, err := Sniff(head)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(f.ContentType(), f.Ext())
	}
	// Output:
	// image/jpeg .jpg
	// image/heic .heic
	// media: sniff: unsupported image format: AVIF is not accepted
	// media: sniff: unsupported image format: GIF
}
