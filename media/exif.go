package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/evanoberholster/imagemeta/meta"
	"github.com/evanoberholster/imagemeta/meta/isobmff"
	imjpeg "github.com/evanoberholster/imagemeta/meta/jpeg"
	"github.com/evanoberholster/imagemeta/meta/utils"
)

// EXIF is what ReadEXIF keeps of a photo's EXIF metadata. Every field is
// optional: nil, zero or empty means absent, either because the photo
// does not have it or because its value was malformed, in which case
// Problems says why. A value that is set has passed range checks: the
// location is finite and on Earth (D7), the orientation is 1 to 8, the
// capture time is a real calendar time.
type EXIF struct {
	// Found reports that the file has an EXIF block at all, even one that
	// could not be read.
	Found bool

	// Location is the GPS position, WGS-84 by the EXIF standard (but see
	// MapDatum), with the N/S and E/W references applied. It is nil unless
	// latitude, longitude and both references are present and valid, and
	// the position is not exactly 0,0 (what some cameras write without a
	// fix). (D6)
	Location *LatLon
	// AltitudeM is the GPS altitude in metres, negative below sea level.
	AltitudeM *float64
	// AccuracyM is GPSHPositioningError: the horizontal error in metres.
	AccuracyM *float64
	// MapDatum is GPSMapDatum as written ("WGS-84", rarely anything else),
	// or "".
	MapDatum string
	// GPSTime is GPSDateStamp plus GPSTimeStamp, in UTC. Both must be
	// present.
	GPSTime *time.Time
	// ImgDirection is the compass direction the camera faced, in degrees
	// [0, 360), relative to ImgDirectionRef: "T" (true north), "M"
	// (magnetic north) or "" (not given).
	ImgDirection    *float64
	ImgDirectionRef string

	// CapturedAt is DateTimeOriginal, with SubSecTimeOriginal when that is
	// valid. When CapturedAtHasZone is set it is an instant, in the zone
	// given by OffsetTimeOriginal. When not, it is only the wall-clock
	// reading of the camera, carried in UTC for want of a zone: it is NOT
	// a UTC instant. Use CaptureTimeIn to make it one. (D10: the server's
	// receive time stays authoritative; callers flag times in the future,
	// decades old, or far from GPSTime.)
	CapturedAt        *time.Time
	CapturedAtHasZone bool

	// Orientation is the EXIF orientation, 1 to 8, or 0 if absent. For
	// HEIC/HEIF files the irot/imir properties, not this, say how a
	// decoder shows the image; phones write both, consistently.
	Orientation int

	// Make and Model name the camera, as valid UTF-8 without control
	// characters, at most 64 bytes each.
	Make, Model string

	// Problems lists what was malformed, one "field: reason" line each
	// ("location: GPSLatitude minutes ≥ 60", "orientation: value 9"), for
	// the log and for review flags. The field names are location,
	// altitude, accuracy, gps_time, img_direction, captured_at,
	// orientation, make, model and exif (the block itself).
	Problems []string
}

// LatLon is a position in decimal degrees: latitude north positive,
// longitude east positive.
type LatLon struct {
	Lat, Lon float64
}

// CaptureTimeIn returns CapturedAt as an instant. A capture time with its
// own zone is returned as is; one without is read as a wall-clock time in
// loc (for a county in China, Asia/Shanghai). ok is false when there is
// no capture time.
func (e EXIF) CaptureTimeIn(loc *time.Location) (t time.Time, ok bool) {
	if e.CapturedAt == nil {
		return time.Time{}, false
	}
	c := *e.CapturedAt
	if e.CapturedAtHasZone {
		return c, true
	}
	return time.Date(c.Year(), c.Month(), c.Day(), c.Hour(), c.Minute(), c.Second(), c.Nanosecond(), loc), true
}

// Bounds on what ReadEXIF reads.
const (
	// maxEXIFBlock is the most of an EXIF (TIFF) block that is kept in
	// memory. A JPEG APP1 segment holds at most 65533 bytes; HEIC, PNG and
	// WebP have no such limit, but their blocks are as small. A longer
	// block is cut, and tags whose values lie beyond the cut are reported
	// as out of range.
	maxEXIFBlock = 128 << 10
	// jpegEXIFWindow is how much of a JPEG is scanned for the APP1 EXIF
	// segment, which comes before the image data, nearly always within
	// the first 64 KiB.
	jpegEXIFWindow = 4 << 20
	// maxIFDEntries caps the entries read from one IFD; real ones have
	// about 10 to 70.
	maxIFDEntries = 1024
)

// ReadEXIF reads the EXIF metadata of an image of format f (as told by
// Sniff) in r, which holds size bytes. It is meant for the request path:
// it reads segment, chunk or box headers (skipping what lies between
// them) and one EXIF block, of which it keeps at most 128 KiB, and it
// never fails the upload over the photo's content.
//
// Where the EXIF block is: in a JPEG, the APP1 segment, found by
// imagemeta's marker scanner within the first 4 MiB; in a HEIC/HEIF, the
// Exif item, found by imagemeta's ISO BMFF reader through iinf/iloc
// wherever it lies in the file (it seeks past the image data rather than
// reading it); in a PNG, the eXIf chunk; in a WebP, the EXIF chunk (both
// found by walking chunk headers, since imagemeta's PNG scanner assumes
// big-endian and it has no WebP support). The block itself is decoded by a
// strict reader of the few tags kept here, because imagemeta's decoder
// turns malformed GPS values into plausible numbers (a zero denominator
// becomes 0°, a missing reference becomes north or east, minutes ≥ 60
// pass) where D6 wants them refused and flagged.
//
// No EXIF at all is not an error: Found is false. Malformed EXIF (zero
// denominators, wrong types or counts, minutes ≥ 60, missing references,
// out-of-range values, IFD loops, offsets past the end, huge counts)
// leaves the affected fields absent and adds to Problems (D6, D8). A
// panic in the parsers is recovered and reported the same way, with
// every field dropped. The only errors returned are for a negative size
// and, wrapping it, an error from reading r other than io.EOF: a disk
// fault, to be answered 500.
func ReadEXIF(r io.ReaderAt, size int64, f Format) (e EXIF, err error) {
	if size < 0 {
		return EXIF{}, opErr("read exif", nil, fmt.Errorf("negative size %d", size))
	}
	tr := &trackingReaderAt{r: r}
	defer func() {
		if p := recover(); p != nil {
			// Keep nothing decoded before the panic: only what is known to
			// be sound is ever returned.
			e = EXIF{Found: e.Found, Problems: append(e.Problems, fmt.Sprintf("exif: parser panic: %v", p))}
		}
		if tr.err != nil {
			e, err = EXIF{}, opErr("read exif", nil, tr.err)
		}
	}()
	block, problem := findEXIF(tr, size, f)
	if problem != "" {
		e.addProblem("exif", "%s", problem)
	}
	if block == nil {
		return e, nil
	}
	e.Found = true
	decodeTIFF(block, &e)
	return e, nil
}

// findEXIF returns the TIFF block (from its "II"/"MM" header on) of the
// file, at most maxEXIFBlock bytes of it, or nil if there is none. The
// problem, if any, says why one could not be had, or that it was cut.
func findEXIF(r io.ReaderAt, size int64, f Format) (block []byte, problem string) {
	switch f {
	case FormatJPEG:
		return jpegEXIF(r, size)
	case FormatHEIC, FormatHEIF:
		return heifEXIF(r, size)
	case FormatPNG:
		return pngEXIF(r, size)
	case FormatWebP:
		return webpEXIF(r, size)
	}
	return nil, fmt.Sprintf("format %v has no EXIF reader", f)
}

// readBlock reads up to maxEXIFBlock bytes of an EXIF payload of n bytes
// (0 if unknown) from r, after prefix.
func readBlock(r io.Reader, n int64, prefix []byte) ([]byte, string) {
	want := int64(maxEXIFBlock)
	if n > 0 {
		want = min(n, want)
	}
	buf := make([]byte, len(prefix), len(prefix)+int(want))
	copy(buf, prefix)
	got, err := io.ReadFull(r, buf[len(prefix):cap(buf)])
	buf = buf[:len(prefix)+got]
	switch {
	case n > maxEXIFBlock:
		return buf, fmt.Sprintf("block of %d bytes cut to %d", n, maxEXIFBlock)
	case err != nil && err != io.ErrUnexpectedEOF && err != io.EOF:
		return buf, fmt.Sprintf("reading block: %v", err)
	case n > 0 && int64(got) < n:
		return buf, fmt.Sprintf("block cut short at %d of %d bytes", got, n)
	}
	return buf, ""
}

// errFound stops imagemeta's scanners once the block is in hand.
var errFound = errors.New("exif block found")

func jpegEXIF(r io.ReaderAt, size int64) ([]byte, string) {
	sr := io.NewSectionReader(r, 0, min(size, jpegEXIFWindow))
	var (
		block   []byte
		problem string
	)
	err := imjpeg.ScanJPEGWithReaderAt(sr, sr, func(er io.Reader, h meta.ExifHeader) error {
		// er starts at the TIFF header; h.ExifLength is the rest of the
		// APP1 segment.
		block, problem = readBlock(er, int64(h.ExifLength), nil)
		return errFound
	}, nil)
	switch {
	case block != nil:
		return block, problem
	case err != nil && !errors.Is(err, errFound):
		if size > jpegEXIFWindow {
			return nil, fmt.Sprintf("no EXIF in the first %d bytes: %v", jpegEXIFWindow, err)
		}
		return nil, fmt.Sprintf("scanning JPEG: %v", err)
	}
	return nil, ""
}

// maxBMFFMetadataReads bounds the calls to imagemeta's ReadMetadata, each
// of which reads one top-level box.
const maxBMFFMetadataReads = 64

func heifEXIF(r io.ReaderAt, size int64) ([]byte, string) {
	sr := io.NewSectionReader(r, 0, size)
	var (
		block   []byte
		problem string
	)
	bmr := isobmff.NewReader(sr, func(er io.Reader, h meta.ExifHeader) error {
		// imagemeta has read the 8-byte TIFF header already: put it back.
		var hdr [8]byte
		switch h.ByteOrder {
		case utils.BigEndian:
			copy(hdr[:4], "MM\x00\x2a")
			binary.BigEndian.PutUint32(hdr[4:], h.FirstIfdOffset)
		case utils.LittleEndian:
			copy(hdr[:4], "II\x2a\x00")
			binary.LittleEndian.PutUint32(hdr[4:], h.FirstIfdOffset)
		default:
			problem = "Exif item without a TIFF header"
			return errFound
		}
		// ExifLength counted the 8 header bytes; 0 means unknown.
		block, problem = readBlock(er, max(int64(h.ExifLength)-8, 0), hdr[:])
		return errFound
	}, nil, nil)
	defer bmr.Close()
	if err := bmr.ReadFTYP(); err != nil {
		return nil, fmt.Sprintf("reading ftyp: %v", err)
	}
	var err error
	for range maxBMFFMetadataReads {
		if err = bmr.ReadMetadata(); err != nil || block != nil || problem != "" {
			break
		}
	}
	switch {
	case block != nil || problem != "":
		return block, problem
	case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errFound):
		return nil, fmt.Sprintf("reading HEIF boxes: %v", err)
	}
	return nil, ""
}

func pngEXIF(r io.ReaderAt, size int64) ([]byte, string) {
	s := newSeqReader(r, 0, size)
	if err := s.skip(int64(len(pngMagic))); err != nil {
		return nil, ""
	}
	var hdr [8]byte
	for {
		if err := s.full(hdr[:]); err != nil {
			return nil, "" // end of file: no eXIf
		}
		n := binary.BigEndian.Uint32(hdr[0:4])
		switch string(hdr[4:8]) {
		case "IEND":
			return nil, ""
		case "eXIf":
			return stripEXIFPrefix(readBlock(s.br, int64(n), nil))
		}
		if err := s.skip(int64(n) + 4); err != nil {
			return nil, ""
		}
	}
}

func webpEXIF(r io.ReaderAt, size int64) ([]byte, string) {
	var riff [12]byte
	if err := readFullAt(r, riff[:], 0); err != nil {
		return nil, ""
	}
	end := min(int64(binary.LittleEndian.Uint32(riff[4:8]))+8, size)
	s := newSeqReader(r, 12, end)
	var hdr [8]byte
	for {
		if err := s.full(hdr[:]); err != nil {
			return nil, ""
		}
		n := int64(binary.LittleEndian.Uint32(hdr[4:8]))
		if string(hdr[0:4]) == "EXIF" {
			return stripEXIFPrefix(readBlock(s.br, n, nil))
		}
		if err := s.skip(n + n&1); err != nil { // chunks are padded to even sizes
			return nil, ""
		}
	}
}

// stripEXIFPrefix drops the JPEG-style "Exif\0\0" some writers leave at
// the start of a PNG or WebP EXIF chunk.
func stripEXIFPrefix(b []byte, problem string) ([]byte, string) {
	return bytes.TrimPrefix(b, []byte("Exif\x00\x00")), problem
}

// addProblem records a problem, at most 32 of them.
func (e *EXIF) addProblem(field, format string, args ...any) {
	if len(e.Problems) < 32 {
		e.Problems = append(e.Problems, field+": "+fmt.Sprintf(format, args...))
	}
}

// TIFF field types and their sizes in bytes.
const (
	typeByte      = 1
	typeASCII     = 2
	typeShort     = 3
	typeLong      = 4
	typeRational  = 5
	typeSRational = 10
	typeIFD       = 13
)

var tiffTypeSize = [...]uint64{0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4}

// tiffEntry is one IFD entry with its value bytes, or why they are not to
// be had.
type tiffEntry struct {
	tag, typ uint16
	count    uint32
	val      []byte // nil when bad is set
	bad      string
}

// tiffBlock is an EXIF block: a TIFF header and the IFDs it points to.
type tiffBlock struct {
	b  []byte
	bo binary.ByteOrder
}

// eachEntry calls fn for each entry of the IFD at off. It reads no more
// than maxIFDEntries, and only whole entries inside the block; any value
// must lie inside the block too. It returns a problem or "".
func (t tiffBlock) eachEntry(off uint32, fn func(tiffEntry)) string {
	if off < 8 || uint64(off)+2 > uint64(len(t.b)) {
		return fmt.Sprintf("IFD offset %d outside the %d-byte block", off, len(t.b))
	}
	n := int(t.bo.Uint16(t.b[off:]))
	problem := ""
	if fit := (len(t.b) - int(off) - 2) / 12; n > fit {
		problem = fmt.Sprintf("IFD of %d entries runs past the end of the block", n)
		n = fit
	}
	if n > maxIFDEntries {
		problem = fmt.Sprintf("IFD of %d entries, reading %d", n, maxIFDEntries)
		n = maxIFDEntries
	}
	for i := range n {
		p := t.b[int(off)+2+12*i:][:12]
		e := tiffEntry{tag: t.bo.Uint16(p[0:]), typ: t.bo.Uint16(p[2:]), count: t.bo.Uint32(p[4:])}
		var total uint64
		if int(e.typ) < len(tiffTypeSize) {
			total = tiffTypeSize[e.typ] * uint64(e.count)
		}
		switch {
		case total == 0 && e.count != 0:
			e.bad = fmt.Sprintf("unknown type %d", e.typ)
		case total <= 4:
			e.val = p[8 : 8+total]
		default:
			vo := uint64(t.bo.Uint32(p[8:]))
			if vo+total > uint64(len(t.b)) {
				e.bad = fmt.Sprintf("value of %d bytes at offset %d outside the %d-byte block", total, vo, len(t.b))
			} else {
				e.val = t.b[vo : vo+total]
			}
		}
		fn(e)
	}
	return problem
}

// gpsFields holds the GPS IFD entries of interest until they can be
// checked together.
type gpsFields struct {
	latRef, lat, lonRef, lon, altRef, alt, timeStamp, dateStamp *tiffEntry
	dirRef, dir, hpe, datum                                     *tiffEntry
}

// decodeTIFF fills e from an EXIF block: IFD0, the Exif IFD and the GPS
// IFD, each visited at most once. It never follows the next-IFD link
// (IFD1 holds only the thumbnail), so there is nothing to loop on.
func decodeTIFF(b []byte, e *EXIF) {
	if len(b) < 8 {
		e.addProblem("exif", "block of %d bytes is too short for a TIFF header", len(b))
		return
	}
	t := tiffBlock{b: b}
	switch string(b[0:4]) {
	case "II\x2a\x00":
		t.bo = binary.LittleEndian
	case "MM\x00\x2a":
		t.bo = binary.BigEndian
	default:
		e.addProblem("exif", "bad TIFF header % x", b[0:4])
		return
	}
	ifd0 := t.bo.Uint32(b[4:])
	var exifIFD, gpsIFD uint32
	var dto, oto, sso *tiffEntry // DateTimeOriginal, OffsetTimeOriginal, SubSecTimeOriginal
	var gps gpsFields
	keep := func(e tiffEntry) *tiffEntry { return &e }

	if p := t.eachEntry(ifd0, func(te tiffEntry) {
		switch te.tag {
		case 0x010F:
			e.Make = entryText(te, e, "make")
		case 0x0110:
			e.Model = entryText(te, e, "model")
		case 0x0112:
			e.Orientation = t.orientation(te, e)
		case 0x8769:
			exifIFD = t.pointer(te, e, "Exif IFD")
		case 0x8825:
			gpsIFD = t.pointer(te, e, "GPS IFD")
		}
	}); p != "" {
		e.addProblem("exif", "IFD0: %s", p)
	}
	if exifIFD != 0 {
		if exifIFD == ifd0 {
			e.addProblem("exif", "Exif IFD pointer loops back to IFD0")
		} else if p := t.eachEntry(exifIFD, func(te tiffEntry) {
			switch te.tag {
			case 0x9003:
				dto = keep(te)
			case 0x9011:
				oto = keep(te)
			case 0x9291:
				sso = keep(te)
			}
		}); p != "" {
			e.addProblem("exif", "Exif IFD: %s", p)
		}
	}
	if gpsIFD != 0 {
		if gpsIFD == ifd0 || gpsIFD == exifIFD {
			e.addProblem("exif", "GPS IFD pointer loops back to another IFD")
		} else if p := t.eachEntry(gpsIFD, func(te tiffEntry) {
			switch te.tag {
			case 0x0001:
				gps.latRef = keep(te)
			case 0x0002:
				gps.lat = keep(te)
			case 0x0003:
				gps.lonRef = keep(te)
			case 0x0004:
				gps.lon = keep(te)
			case 0x0005:
				gps.altRef = keep(te)
			case 0x0006:
				gps.alt = keep(te)
			case 0x0007:
				gps.timeStamp = keep(te)
			case 0x0010:
				gps.dirRef = keep(te)
			case 0x0011:
				gps.dir = keep(te)
			case 0x0012:
				gps.datum = keep(te)
			case 0x001D:
				gps.dateStamp = keep(te)
			case 0x001F:
				gps.hpe = keep(te)
			}
		}); p != "" {
			e.addProblem("exif", "GPS IFD: %s", p)
		}
	}
	t.captureTime(dto, oto, sso, e)
	t.gps(&gps, e)
}

// entryText returns a text value made safe for storage (see cleanText).
func entryText(te tiffEntry, e *EXIF, field string) string {
	s, bad := asciiValue(&te)
	if bad != "" {
		e.addProblem(field, "%s", bad)
		return ""
	}
	return cleanText([]byte(s), 64)
}

// asciiValue returns an ASCII entry's text, cut at the first NUL and
// trimmed of spaces. UNDEFINED is accepted too: some writers use it.
func asciiValue(te *tiffEntry) (string, string) {
	if te.typ != typeASCII && te.typ != 7 {
		return "", fmt.Sprintf("type %d, want ASCII", te.typ)
	}
	if te.val == nil {
		if te.count == 0 {
			return "", ""
		}
		return "", te.bad
	}
	v := te.val
	if i := bytes.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(string(v)), ""
}

// cleanText cuts b at the first NUL and returns it as valid UTF-8 without
// control characters, trimmed, at most limit bytes.
func cleanText(b []byte, limit int) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	s := strings.ToValidUTF8(string(b), "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	for len(s) > limit {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// entryUint returns the first value of a BYTE, SHORT or LONG entry.
func (t tiffBlock) entryUint(te tiffEntry) (uint32, string) {
	if te.val == nil {
		return 0, te.bad
	}
	if te.count == 0 {
		return 0, "no value"
	}
	switch te.typ {
	case typeByte:
		return uint32(te.val[0]), ""
	case typeShort:
		return uint32(t.bo.Uint16(te.val)), ""
	case typeLong, typeIFD:
		return t.bo.Uint32(te.val), ""
	}
	return 0, fmt.Sprintf("type %d, want an integer", te.typ)
}

func (t tiffBlock) orientation(te tiffEntry, e *EXIF) int {
	v, bad := t.entryUint(te)
	switch {
	case bad != "":
		e.addProblem("orientation", "%s", bad)
	case te.count != 1:
		e.addProblem("orientation", "count %d, want 1", te.count)
	case v < 1 || v > 8:
		e.addProblem("orientation", "value %d", v)
	default:
		return int(v)
	}
	return 0
}

func (t tiffBlock) pointer(te tiffEntry, e *EXIF, what string) uint32 {
	if te.typ != typeLong && te.typ != typeIFD {
		e.addProblem("exif", "%s pointer of type %d", what, te.typ)
		return 0
	}
	v, bad := t.entryUint(te)
	if bad != "" {
		e.addProblem("exif", "%s pointer: %s", what, bad)
		return 0
	}
	if v == 0 {
		e.addProblem("exif", "%s pointer is 0", what)
	}
	return v
}

// rationals decodes a RATIONAL (or SRATIONAL without negative parts)
// entry of exactly len(dst) values. It returns why not, or "".
func (t tiffBlock) rationals(te *tiffEntry, dst []float64) string {
	if te.typ != typeRational && te.typ != typeSRational {
		return fmt.Sprintf("type %d, want RATIONAL", te.typ)
	}
	if te.count != uint32(len(dst)) {
		return fmt.Sprintf("count %d, want %d", te.count, len(dst))
	}
	if te.val == nil {
		return te.bad
	}
	for i := range dst {
		p := te.val[8*i:]
		var num, den float64
		if te.typ == typeRational {
			num, den = float64(t.bo.Uint32(p)), float64(t.bo.Uint32(p[4:]))
		} else {
			n, d := int32(t.bo.Uint32(p)), int32(t.bo.Uint32(p[4:]))
			if n < 0 || d < 0 {
				return "negative value"
			}
			num, den = float64(n), float64(d)
		}
		if den == 0 {
			return "zero denominator"
		}
		dst[i] = num / den
	}
	return ""
}

// refByte returns the first letter of a GPS reference entry, upper-cased.
func refByte(te *tiffEntry) (byte, string) {
	s, bad := asciiValue(te)
	if bad != "" {
		return 0, bad
	}
	if s == "" {
		return 0, "empty"
	}
	c := s[0]
	if 'a' <= c && c <= 'z' {
		c -= 'a' - 'A'
	}
	return c, ""
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// coordinate decodes GPSLatitude or GPSLongitude (degrees, minutes,
// seconds) with its reference, refusing anything not plainly valid.
func (t tiffBlock) coordinate(val, ref *tiffEntry, name string, pos, neg byte, maxDeg float64) (float64, string) {
	if val == nil {
		return 0, "GPS" + name + " missing"
	}
	var dms [3]float64
	if bad := t.rationals(val, dms[:]); bad != "" {
		return 0, "GPS" + name + " " + bad
	}
	// Minutes must be below 60 (D6). Seconds may be exactly 60: writers
	// that round (exiftool turns 40.3° into 40/1 17/1 60/1) carry into
	// the seconds, and the value is still exact.
	d, m, s := dms[0], dms[1], dms[2]
	switch {
	case m >= 60:
		return 0, fmt.Sprintf("GPS%s minutes %g ≥ 60", name, m)
	case s > 60:
		return 0, fmt.Sprintf("GPS%s seconds %g > 60", name, s)
	}
	deg := d + m/60 + s/3600
	if !finite(deg) || deg > maxDeg {
		return 0, fmt.Sprintf("GPS%s %g° out of range", name, deg)
	}
	if ref == nil {
		return 0, "GPS" + name + "Ref missing"
	}
	c, bad := refByte(ref)
	switch {
	case bad != "":
		return 0, "GPS" + name + "Ref " + bad
	case c == pos:
		return deg, ""
	case c == neg:
		return -deg, ""
	}
	return 0, fmt.Sprintf("GPS%sRef %q", name, c)
}

func (t tiffBlock) gps(g *gpsFields, e *EXIF) {
	if g.lat != nil || g.lon != nil || g.latRef != nil || g.lonRef != nil {
		lat, badLat := t.coordinate(g.lat, g.latRef, "Latitude", 'N', 'S', 90)
		lon, badLon := t.coordinate(g.lon, g.lonRef, "Longitude", 'E', 'W', 180)
		switch {
		case badLat != "" || badLon != "":
			for _, bad := range []string{badLat, badLon} {
				if bad != "" {
					e.addProblem("location", "%s", bad)
				}
			}
		case lat == 0 && lon == 0:
			e.addProblem("location", "0,0 (a placeholder written without a fix)")
		default:
			e.Location = &LatLon{Lat: lat, Lon: lon}
		}
	}
	if g.alt != nil {
		var v [1]float64
		bad := t.rationals(g.alt, v[:])
		below := false
		if bad == "" && g.altRef != nil {
			switch r, rbad := t.entryUint(*g.altRef); {
			case rbad != "":
				bad = "GPSAltitudeRef " + rbad
			case r == 1:
				below = true
			case r != 0:
				bad = fmt.Sprintf("GPSAltitudeRef %d", r)
			}
		}
		switch {
		case bad != "":
			e.addProblem("altitude", "%s", bad)
		case v[0] > 100_000:
			e.addProblem("altitude", "%g m out of range", v[0])
		default:
			a := v[0]
			if below {
				a = -a
			}
			e.AltitudeM = &a
		}
	}
	if g.hpe != nil {
		var v [1]float64
		switch bad := t.rationals(g.hpe, v[:]); {
		case bad != "":
			e.addProblem("accuracy", "%s", bad)
		case v[0] > 1_000_000:
			e.addProblem("accuracy", "%g m out of range", v[0])
		default:
			e.AccuracyM = &v[0]
		}
	}
	if g.datum != nil {
		if s, bad := asciiValue(g.datum); bad == "" {
			e.MapDatum = cleanText([]byte(s), 32)
		}
	}
	if g.dir != nil {
		var v [1]float64
		switch bad := t.rationals(g.dir, v[:]); {
		case bad != "":
			e.addProblem("img_direction", "%s", bad)
		case v[0] > 360:
			e.addProblem("img_direction", "%g° out of range", v[0])
		default:
			d := math.Mod(v[0], 360)
			e.ImgDirection = &d
			if g.dirRef != nil {
				switch c, bad := refByte(g.dirRef); {
				case bad != "":
					e.addProblem("img_direction", "GPSImgDirectionRef %s", bad)
				case c == 'T' || c == 'M':
					e.ImgDirectionRef = string(c)
				default:
					e.addProblem("img_direction", "GPSImgDirectionRef %q", c)
				}
			}
		}
	}
	if g.timeStamp != nil || g.dateStamp != nil {
		if ts, bad := t.gpsTime(g); bad != "" {
			e.addProblem("gps_time", "%s", bad)
		} else {
			e.GPSTime = &ts
		}
	}
}

// gpsTime combines GPSDateStamp ("YYYY:MM:DD") and GPSTimeStamp (three
// rationals: hours, minutes, seconds) into a UTC time.
func (t tiffBlock) gpsTime(g *gpsFields) (time.Time, string) {
	if g.dateStamp == nil {
		return time.Time{}, "GPSDateStamp missing"
	}
	if g.timeStamp == nil {
		return time.Time{}, "GPSTimeStamp missing"
	}
	s, bad := asciiValue(g.dateStamp)
	if bad != "" {
		return time.Time{}, "GPSDateStamp " + bad
	}
	y, mo, d, ok := parseDate(s)
	if !ok {
		return time.Time{}, fmt.Sprintf("GPSDateStamp %q", cleanText([]byte(s), 32))
	}
	var hms [3]float64
	if bad := t.rationals(g.timeStamp, hms[:]); bad != "" {
		return time.Time{}, "GPSTimeStamp " + bad
	}
	if hms[0] >= 24 || hms[1] >= 60 || hms[2] >= 61 {
		return time.Time{}, fmt.Sprintf("GPSTimeStamp %g:%g:%g out of range", hms[0], hms[1], hms[2])
	}
	day := time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC)
	secs := hms[0]*3600 + hms[1]*60 + hms[2]
	return day.Add(time.Duration(math.Round(secs * 1e9))), ""
}

// parseDate parses "YYYY:MM:DD" (or with '-'), checking it is a real
// calendar date.
func parseDate(s string) (y, m, d int, ok bool) {
	if len(s) < 10 || !isDateSep(s[4]) || !isDateSep(s[7]) {
		return 0, 0, 0, false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1 || m < 1 || m > 12 || d < 1 {
		return 0, 0, 0, false
	}
	if time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Day() != d {
		return 0, 0, 0, false // 31 April, 29 February of a common year...
	}
	return y, m, d, true
}

func isDateSep(c byte) bool { return c == ':' || c == '-' }

// digits parses a string of ASCII digits only.
func digits(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// captureTime decodes DateTimeOriginal ("YYYY:MM:DD HH:MM:SS"), with
// SubSecTimeOriginal and OffsetTimeOriginal ("+08:00") when they are
// valid.
func (t tiffBlock) captureTime(dto, oto, sso *tiffEntry, e *EXIF) {
	if dto == nil {
		return
	}
	s, bad := asciiValue(dto)
	if bad != "" {
		e.addProblem("captured_at", "DateTimeOriginal %s", bad)
		return
	}
	if strings.Trim(s, " :0") == "" {
		e.addProblem("captured_at", "DateTimeOriginal is blank")
		return
	}
	y, mo, d, ok := parseDate(s)
	if !ok || len(s) < 19 || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' {
		e.addProblem("captured_at", "DateTimeOriginal %q", cleanText([]byte(s), 32))
		return
	}
	h, ok1 := digits(s[11:13])
	mi, ok2 := digits(s[14:16])
	sec, ok3 := digits(s[17:19])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || sec > 59 {
		e.addProblem("captured_at", "DateTimeOriginal %q", cleanText([]byte(s), 32))
		return
	}
	ns := 0
	if sso != nil {
		if frac, bad := asciiValue(sso); bad == "" && frac != "" {
			if n, ok := digits(frac); ok && len(frac) <= 9 {
				for i := len(frac); i < 9; i++ {
					n *= 10
				}
				ns = n
			} else {
				e.addProblem("captured_at", "SubSecTimeOriginal %q", cleanText([]byte(frac), 16))
			}
		}
	}
	loc := time.UTC
	if oto != nil {
		if z, bad := asciiValue(oto); bad != "" {
			e.addProblem("captured_at", "OffsetTimeOriginal %s", bad)
		} else if strings.Trim(z, " :") != "" {
			if off, ok := parseOffset(z); ok {
				loc = time.FixedZone(z[:6], off)
				e.CapturedAtHasZone = true
			} else {
				e.addProblem("captured_at", "OffsetTimeOriginal %q", cleanText([]byte(z), 16))
			}
		}
	}
	c := time.Date(y, time.Month(mo), d, h, mi, sec, ns, loc)
	e.CapturedAt = &c
}

// parseOffset parses "+HH:MM" or "-HH:MM" within ±14:00, in seconds.
func parseOffset(z string) (int, bool) {
	if len(z) < 6 || (z[0] != '+' && z[0] != '-') || z[3] != ':' {
		return 0, false
	}
	h, ok1 := digits(z[1:3])
	m, ok2 := digits(z[4:6])
	if !ok1 || !ok2 || m > 59 || h*60+m > 14*60 || strings.TrimSpace(z[6:]) != "" {
		return 0, false
	}
	off := (h*60 + m) * 60
	if z[0] == '-' {
		off = -off
	}
	return off, true
}
