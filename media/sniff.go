package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Format is an image format fieldwatch accepts, as told by the file's first
// bytes. It is what the original is served as (D4): the Content-Type a
// phone declared is never trusted, and the bytes are never re-encoded.
type Format uint8

// The formats Sniff recognises. FormatUnknown is the zero value and is
// never returned together with a nil error.
const (
	FormatUnknown Format = iota
	FormatJPEG
	FormatPNG
	FormatWebP
	// FormatHEIC is an ISO BMFF image file with an HEVC brand (heic, heix,
	// hevc, hevx, heim, heis): what iPhones and many Android phones write.
	FormatHEIC
	// FormatHEIF is an ISO BMFF image file with only the generic image
	// brands (mif1, msf1), not an HEVC one and not AVIF.
	FormatHEIF
)

// SniffLen is how many leading bytes Sniff wants. Fewer work for JPEG
// (3), PNG (8) and WebP (16); HEIC needs the whole ftyp box, whose list of
// compatible brands decides HEIC, HEIF or AVIF, and real ones are 24 to
// about 40 bytes. 512 also matches http.DetectContentType, so a caller can
// keep one head buffer for both.
const SniffLen = 512

// ErrUnsupportedFormat means the bytes are not a JPEG, PNG, WebP, HEIC or
// HEIF image (judging by their magic bytes): TIFF, BMP, GIF, AVIF, PDF,
// HTML, random bytes, an empty file. The API answers 415.
var ErrUnsupportedFormat = errors.New("media: unsupported image format")

// String returns a short lower-case name: "jpeg", "png", "webp", "heic",
// "heif", or "unknown".
func (f Format) String() string {
	switch f {
	case FormatJPEG:
		return "jpeg"
	case FormatPNG:
		return "png"
	case FormatWebP:
		return "webp"
	case FormatHEIC:
		return "heic"
	case FormatHEIF:
		return "heif"
	}
	return "unknown"
}

// ContentType returns the media type to store and serve the original
// with, or "application/octet-stream" for FormatUnknown.
func (f Format) ContentType() string {
	switch f {
	case FormatJPEG:
		return "image/jpeg"
	case FormatPNG:
		return "image/png"
	case FormatWebP:
		return "image/webp"
	case FormatHEIC:
		return "image/heic"
	case FormatHEIF:
		return "image/heif"
	}
	return "application/octet-stream"
}

// Ext returns the file name extension for the format, with its dot
// (".jpg", ".png", ".webp", ".heic", ".heif"), or "" for FormatUnknown.
// Every extension is a valid key segment tail (see ValidateKey).
func (f Format) Ext() string {
	switch f {
	case FormatJPEG:
		return ".jpg"
	case FormatPNG:
		return ".png"
	case FormatWebP:
		return ".webp"
	case FormatHEIC:
		return ".heic"
	case FormatHEIF:
		return ".heif"
	}
	return ""
}

var (
	jpegMagic = []byte{0xFF, 0xD8, 0xFF}
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
)

// Sniff tells the format of an image from its first bytes (pass at least
// SniffLen of them when the file has that many). It looks at magic bytes
// only, so it is cheap and cannot be fooled into parsing anything: a file
// that starts like a JPEG is a JPEG here whatever else it also is (a
// polyglot), and is stored and served as image/jpeg.
//
// Returns an error wrapping ErrUnsupportedFormat, naming what the bytes
// look like when that is known, for anything else, including an empty
// head.
func Sniff(head []byte) (Format, error) {
	switch {
	case bytes.HasPrefix(head, jpegMagic):
		return FormatJPEG, nil
	case bytes.HasPrefix(head, pngMagic):
		return FormatPNG, nil
	case isWebP(head):
		return FormatWebP, nil
	case len(head) >= 12 && string(head[4:8]) == "ftyp":
		f, why := sniffBMFF(head)
		if f != FormatUnknown {
			return f, nil
		}
		return FormatUnknown, opErr("sniff", ErrUnsupportedFormat, errors.New(why))
	}
	return FormatUnknown, opErr("sniff", ErrUnsupportedFormat, errors.New(describeHead(head)))
}

// isWebP reports a RIFF container of form WEBP whose first chunk is one of
// the three WebP image chunks. Requiring the chunk as well as "WEBP" costs
// nothing and keeps a RIFF that merely claims the form out.
func isWebP(head []byte) bool {
	if len(head) < 16 || string(head[0:4]) != "RIFF" || string(head[8:12]) != "WEBP" {
		return false
	}
	switch string(head[12:16]) {
	case "VP8 ", "VP8L", "VP8X":
		return true
	}
	return false
}

// HEIF brands. The HEVC ones make a file HEIC; mif1/msf1 are the generic
// HEIF image and sequence brands, which AVIF files carry too.
var (
	heicBrands = []string{"heic", "heix", "hevc", "hevx", "heim", "heis"}
	heifBrands = []string{"mif1", "msf1"}
	avifBrands = []string{"avif", "avis"}
)

// sniffBMFF decides on an ISO BMFF file from its ftyp box: the major brand
// first, then the compatible brands when the major brand is a generic
// HEIF one. AVIF is refused: the product accepts HEIC/HEIF only, and an
// AVIF file is also "mif1". It returns why when it refuses.
func sniffBMFF(head []byte) (Format, string) {
	size := int64(binary.BigEndian.Uint32(head[0:4]))
	if size < 16 {
		// size 1 (64-bit size) or 0 (to end of file) is legal ISO BMFF
		// but absurd for an ftyp box; no phone writes it.
		return FormatUnknown, fmt.Sprintf("ISO BMFF ftyp box of size %d", size)
	}
	major := string(head[8:12])
	end := min(size, int64(len(head)))
	var compat []string
	for off := int64(16); off+4 <= end; off += 4 {
		compat = append(compat, string(head[off:off+4]))
	}
	has := func(brands []string) bool {
		for _, b := range compat {
			if contains(brands, b) {
				return true
			}
		}
		return false
	}
	switch {
	case contains(heicBrands, major):
		return FormatHEIC, ""
	case contains(avifBrands, major):
		return FormatUnknown, "AVIF is not accepted"
	case contains(heifBrands, major):
		switch {
		case has(heicBrands):
			return FormatHEIC, ""
		case has(avifBrands):
			return FormatUnknown, "AVIF is not accepted"
		}
		return FormatHEIF, ""
	}
	return FormatUnknown, fmt.Sprintf("ISO BMFF file of brand %q (video or another image format)", printableBrand(major))
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// printableBrand keeps a brand fit for a log line.
func printableBrand(b string) string {
	out := []byte(b)
	for i, c := range out {
		if c < 0x20 || c > 0x7e {
			out[i] = '?'
		}
	}
	return string(out)
}

// describeHead names well-known formats we refuse, so that the log says
// "GIF" rather than a hex dump.
func describeHead(head []byte) string {
	known := []struct{ magic, name string }{
		{"GIF87a", "GIF"},
		{"GIF89a", "GIF"},
		{"II*\x00", "TIFF"},
		{"MM\x00*", "TIFF"},
		{"BM", "BMP"},
		{"%PDF-", "PDF"},
		{"RIFF", "RIFF but not WebP"},
		{"\x00\x00\x01\x00", "ICO"},
		{"\xff\x0a", "JPEG XL"},
		{"\x00\x00\x00\x0cJXL ", "JPEG XL"},
		{"PK\x03\x04", "ZIP"},
		{"<", "text or markup"},
	}
	if len(head) == 0 {
		return "empty"
	}
	for _, k := range known {
		if bytes.HasPrefix(head, []byte(k.magic)) {
			return k.name
		}
	}
	if len(head) < 3 {
		return fmt.Sprintf("only %d bytes", len(head))
	}
	return fmt.Sprintf("unknown magic bytes % x", head[:min(len(head), 8)])
}
