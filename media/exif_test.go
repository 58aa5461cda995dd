package media

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// tiffTag is an IFD entry for buildTIFF. value is encoded already; if
// offset is set, it is written as the value offset and value is not
// stored (to point outside the block).
type tiffTag struct {
	id, typ uint16
	count   uint32
	value   []byte
	offset  *uint32
}

// byteOrder is what buildTIFF needs of a byte order.
type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// tiffSpec describes an EXIF block: IFD0, and an Exif and a GPS IFD when
// their tags are not nil. The pointers to them are added to IFD0, unless
// overridden.
type tiffSpec struct {
	bo              byteOrder
	ifd0, exif, gps []tiffTag
	gpsPointer      *uint32
	exifPointer     *uint32
	ifd0Count       *uint16 // overrides IFD0's entry count
}

func u32p(v uint32) *uint32 { return &v }
func u16p(v uint16) *uint16 { return &v }

// buildTIFF lays out header, IFD0, Exif IFD, GPS IFD, then the values
// that do not fit in their entries.
func buildTIFF(s tiffSpec) []byte {
	bo := s.bo
	if bo == nil {
		bo = binary.BigEndian
	}
	ifdLen := func(n int) uint32 { return uint32(2 + 12*n + 4) }
	ifd0 := append([]tiffTag(nil), s.ifd0...)
	n0 := len(ifd0)
	if s.exif != nil {
		n0++
	}
	if s.gps != nil {
		n0++
	}
	exifOff := 8 + ifdLen(n0)
	gpsOff := exifOff
	if s.exif != nil {
		gpsOff += ifdLen(len(s.exif))
	}
	dataOff := gpsOff
	if s.gps != nil {
		dataOff += ifdLen(len(s.gps))
	}
	if s.exif != nil {
		p := exifOff
		if s.exifPointer != nil {
			p = *s.exifPointer
		}
		ifd0 = append(ifd0, tiffTag{id: 0x8769, typ: typeLong, count: 1, value: bo.AppendUint32(nil, p)})
	}
	if s.gps != nil {
		p := gpsOff
		if s.gpsPointer != nil {
			p = *s.gpsPointer
		}
		ifd0 = append(ifd0, tiffTag{id: 0x8825, typ: typeLong, count: 1, value: bo.AppendUint32(nil, p)})
	}

	var out, data []byte
	if bo == byteOrder(binary.LittleEndian) {
		out = []byte("II\x2a\x00")
	} else {
		out = []byte("MM\x00\x2a")
	}
	out = bo.AppendUint32(out, 8)
	writeIFD := func(tags []tiffTag, count *uint16) {
		n := uint16(len(tags))
		if count != nil {
			n = *count
		}
		out = bo.AppendUint16(out, n)
		for _, tg := range tags {
			out = bo.AppendUint16(out, tg.id)
			out = bo.AppendUint16(out, tg.typ)
			out = bo.AppendUint32(out, tg.count)
			switch {
			case tg.offset != nil:
				out = bo.AppendUint32(out, *tg.offset)
			case len(tg.value) <= 4:
				v := make([]byte, 4)
				copy(v, tg.value)
				out = append(out, v...)
			default:
				out = bo.AppendUint32(out, dataOff+uint32(len(data)))
				data = append(data, tg.value...)
				if len(data)%2 == 1 {
					data = append(data, 0)
				}
			}
		}
		out = bo.AppendUint32(out, 0) // no next IFD
	}
	writeIFD(ifd0, s.ifd0Count)
	if s.exif != nil {
		writeIFD(s.exif, nil)
	}
	if s.gps != nil {
		writeIFD(s.gps, nil)
	}
	return append(out, data...)
}

// Tag constructors, in a byte order.
type tags struct{ bo byteOrder }

func (tags) ascii(id uint16, s string) tiffTag {
	return tiffTag{id: id, typ: typeASCII, count: uint32(len(s) + 1), value: []byte(s + "\x00")}
}

func (t tags) short(id, v uint16) tiffTag {
	return tiffTag{id: id, typ: typeShort, count: 1, value: t.bo.AppendUint16(nil, v)}
}

func (tags) byte(id uint16, v byte) tiffTag {
	return tiffTag{id: id, typ: typeByte, count: 1, value: []byte{v}}
}

// rat is a RATIONAL entry of the (numerator, denominator) pairs given.
func (t tags) rat(id uint16, nd ...uint32) tiffTag {
	var v []byte
	for _, x := range nd {
		v = t.bo.AppendUint32(v, x)
	}
	return tiffTag{id: id, typ: typeRational, count: uint32(len(nd) / 2), value: v}
}

// srat is an SRATIONAL entry.
func (t tags) srat(id uint16, nd ...int32) tiffTag {
	var v []byte
	for _, x := range nd {
		v = t.bo.AppendUint32(v, uint32(x))
	}
	return tiffTag{id: id, typ: typeSRational, count: uint32(len(nd) / 2), value: v}
}

// GPS tag IDs.
const (
	gpsLatRef  = 0x0001
	gpsLat     = 0x0002
	gpsLonRef  = 0x0003
	gpsLon     = 0x0004
	gpsAltRef  = 0x0005
	gpsAlt     = 0x0006
	gpsTime    = 0x0007
	gpsDirRef  = 0x0010
	gpsDir     = 0x0011
	gpsDatum   = 0x0012
	gpsDate    = 0x001D
	gpsHPosErr = 0x001F
)

// goodGPS is the GPS IFD of river-lh03.jpg: 40°15'12.0528" N,
// 118°16'40.044" E.
func goodGPS(t tags) []tiffTag {
	return []tiffTag{
		t.ascii(gpsLatRef, "N"),
		t.rat(gpsLat, 40, 1, 15, 1, 7533, 625),
		t.ascii(gpsLonRef, "E"),
		t.rat(gpsLon, 118, 1, 16, 1, 10011, 250),
	}
}

// replaceTag returns tags with the entry of id replaced by with, or
// removed when with is nil.
func replaceTag(in []tiffTag, id uint16, with *tiffTag) []tiffTag {
	var out []tiffTag
	for _, tg := range in {
		if tg.id != id {
			out = append(out, tg)
		} else if with != nil {
			out = append(out, *with)
		}
	}
	return out
}

func tagp(t tiffTag) *tiffTag { return &t }

// jpegWithEXIF wraps a TIFF block in an APP1 segment at the start of a
// small real JPEG.
func jpegWithEXIF(tb testing.TB, block []byte) []byte {
	img := encodeJPEG(tb, noise(8, 8))
	app1 := cat([]byte("Exif\x00\x00"), block)
	return cat(img[:2], []byte{0xFF, 0xE1}, be16(uint16(2+len(app1))), app1, img[2:])
}

// pngWithEXIF puts an eXIf chunk right after IHDR of a small real PNG.
func pngWithEXIF(tb testing.TB, block []byte) []byte {
	img := encodePNG(tb, noise(8, 8))
	const afterIHDR = 8 + 25
	return cat(img[:afterIHDR], pngChunk("eXIf", block), img[afterIHDR:])
}

// webpWithEXIF builds an extended WebP: VP8X with the EXIF flag, the 1×1
// lossless image, then the EXIF chunk, where the container spec puts it.
func webpWithEXIF(block []byte) []byte {
	le := binary.LittleEndian
	chunk := func(id string, data []byte) []byte {
		c := cat([]byte(id), le.AppendUint32(nil, uint32(len(data))), data)
		if len(data)%2 == 1 {
			c = append(c, 0)
		}
		return c
	}
	vp8x := chunk("VP8X", []byte{0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	body := cat([]byte("WEBP"), vp8x, webpLossless[12:], chunk("EXIF", block))
	return cat([]byte("RIFF"), le.AppendUint32(nil, uint32(len(body))), body)
}

func TestReadEXIFPhotos(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "photos", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Photos []struct {
			File        string   `json:"file"`
			Lon         *float64 `json:"exif_lon"`
			Lat         *float64 `json:"exif_lat"`
			Orientation *int     `json:"orientation"`
		} `json:"photos"`
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Photos) == 0 {
		t.Fatal("empty manifest")
	}
	for _, p := range manifest.Photos {
		t.Run(p.File, func(t *testing.T) {
			f, err := os.Open(filepath.Join("..", "testdata", "photos", p.File))
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
			e, err := ReadEXIF(f, st.Size(), format)
			if err != nil {
				t.Fatalf("ReadEXIF: %v", err)
			}
			if len(e.Problems) > 0 {
				t.Errorf("Problems = %q", e.Problems)
			}
			if p.Lat == nil {
				if e.Found || e.Location != nil {
					t.Errorf("Found = %v, Location = %v; want no EXIF", e.Found, e.Location)
				}
				return
			}
			if e.Location == nil {
				t.Fatalf("no location, want %v,%v", *p.Lat, *p.Lon)
			}
			if math.Abs(e.Location.Lat-*p.Lat) > 1e-6 || math.Abs(e.Location.Lon-*p.Lon) > 1e-6 {
				t.Errorf("Location = %v, want %v,%v", *e.Location, *p.Lat, *p.Lon)
			}
			// An absent Orientation tag means 1 (as stored).
			want := 1
			if p.Orientation != nil {
				want = *p.Orientation
			}
			if got := max(e.Orientation, 1); got != want {
				t.Errorf("Orientation = %d, want %d", e.Orientation, want)
			}
			if e.CapturedAt == nil || !e.CapturedAtHasZone {
				t.Errorf("CapturedAt = %v (zone %v), want a time with its zone", e.CapturedAt, e.CapturedAtHasZone)
			} else if _, off := e.CapturedAt.Zone(); off != 8*3600 {
				t.Errorf("CapturedAt = %v, want +08:00 (the manifest says capture times are local +08:00)", e.CapturedAt)
			}
		})
	}
}

func TestReadEXIF(t *testing.T) {
	be := tags{binary.BigEndian}
	le := tags{binary.LittleEndian}
	withGPS := func(gps []tiffTag) tiffSpec { return tiffSpec{gps: gps} }
	gpsWith := func(id uint16, with *tiffTag) tiffSpec {
		return withGPS(replaceTag(goodGPS(be), id, with))
	}
	at := func(s string) *time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return &tm
	}
	good := &LatLon{40.253348, 118.27779}

	tests := []struct {
		name    string
		spec    tiffSpec
		check   func(t *testing.T, e EXIF)
		problem string // a substring of one of the Problems, or "" for none
	}{
		{"GoodGPS", withGPS(goodGPS(be)), wantLocation(good), ""},
		{"LittleEndian", tiffSpec{bo: binary.LittleEndian, gps: goodGPS(le)}, wantLocation(good), ""},
		{"SouthWest", withGPS(replaceTag(replaceTag(goodGPS(be), gpsLatRef, tagp(be.ascii(gpsLatRef, "S"))), gpsLonRef, tagp(be.ascii(gpsLonRef, "W")))),
			wantLocation(&LatLon{-40.253348, -118.27779}), ""},
		{"LowerCaseRef", gpsWith(gpsLatRef, tagp(be.ascii(gpsLatRef, "n"))), wantLocation(good), ""},
		{"SecondsSixtyFromRounding", gpsWith(gpsLat, tagp(be.rat(gpsLat, 40, 1, 17, 1, 60, 1))), wantLocation(&LatLon{40.3, 118.27779}), ""},
		{"DecimalMinutes", gpsWith(gpsLat, tagp(be.rat(gpsLat, 40, 1, 152533, 10000, 0, 1))), wantLocation(&LatLon{40.25422167, 118.27779}), ""},
		{"SRationalPositive", gpsWith(gpsLat, tagp(be.srat(gpsLat, 40, 1, 15, 1, 7533, 625))), wantLocation(good), ""},

		// D6: malformed GPS leaves the location unset and says why.
		{"ZeroDenominator", gpsWith(gpsLat, tagp(be.rat(gpsLat, 40, 0, 15, 1, 7533, 625))), wantLocation(nil), "zero denominator"},
		{"AllZeroDenominators", gpsWith(gpsLon, tagp(be.rat(gpsLon, 0, 0, 0, 0, 0, 0))), wantLocation(nil), "zero denominator"},
		{"WrongCount", gpsWith(gpsLat, tagp(be.rat(gpsLat, 40, 1, 15, 1))), wantLocation(nil), "count 2, want 3"},
		{"DecimalDegreesCountOne", gpsWith(gpsLat, tagp(be.rat(gpsLat, 40253348, 1000000))), wantLocation(nil), "count 1, want 3"},
		{"MinutesSixty", gpsWith(gpsLat, tagp(be.rat(gpsLat, 40, 1, 60, 1, 0, 1))), wantLocation(nil), "minutes 60 ≥ 60"},
		{"MinutesNinety", gpsWith(gpsLon, tagp(be.rat(gpsLon, 118, 1, 90, 1, 0, 1))), wantLocation(nil), "minutes 90"},
		{"SecondsOverSixty", gpsWith(gpsLat, tagp(be.rat(gpsLat, 40, 1, 15, 1, 61, 1))), wantLocation(nil), "seconds 61 > 60"},
		{"MissingLatRef", gpsWith(gpsLatRef, nil), wantLocation(nil), "GPSLatitudeRef missing"},
		{"MissingLonRef", gpsWith(gpsLonRef, nil), wantLocation(nil), "GPSLongitudeRef missing"},
		{"EmptyRef", gpsWith(gpsLatRef, tagp(be.ascii(gpsLatRef, ""))), wantLocation(nil), "GPSLatitudeRef empty"},
		{"BadRef", gpsWith(gpsLonRef, tagp(be.ascii(gpsLonRef, "X"))), wantLocation(nil), `GPSLongitudeRef 'X'`},
		{"LatRefOnLongitude", gpsWith(gpsLonRef, tagp(be.ascii(gpsLonRef, "N"))), wantLocation(nil), `GPSLongitudeRef 'N'`},
		{"MissingLongitude", gpsWith(gpsLon, nil), wantLocation(nil), "GPSLongitude missing"},
		{"LatitudeOver90", gpsWith(gpsLat, tagp(be.rat(gpsLat, 91, 1, 0, 1, 0, 1))), wantLocation(nil), "out of range"},
		{"LongitudeOver180", gpsWith(gpsLon, tagp(be.rat(gpsLon, 180, 1, 0, 1, 1, 1))), wantLocation(nil), "out of range"},
		{"HugeNumerator", gpsWith(gpsLat, tagp(be.rat(gpsLat, math.MaxUint32, 1, 0, 1, 0, 1))), wantLocation(nil), "out of range"},
		{"NullIsland", withGPS([]tiffTag{be.ascii(gpsLatRef, "N"), be.rat(gpsLat, 0, 1, 0, 1, 0, 1), be.ascii(gpsLonRef, "E"), be.rat(gpsLon, 0, 1, 0, 1, 0, 1)}), wantLocation(nil), "placeholder"},
		{"NegativeSRational", gpsWith(gpsLat, tagp(be.srat(gpsLat, -40, 1, 15, 1, 0, 1))), wantLocation(nil), "negative"},
		{"ShortType", gpsWith(gpsLat, &tiffTag{id: gpsLat, typ: typeShort, count: 3, value: []byte{0, 40, 0, 15, 0, 12}}), wantLocation(nil), "type 3, want RATIONAL"},
		{"UnknownType", gpsWith(gpsLat, &tiffTag{id: gpsLat, typ: 99, count: 3, value: []byte{1, 2, 3, 4}}), wantLocation(nil), "type 99"},
		{"RefAsNumber", gpsWith(gpsLatRef, tagp(be.byte(gpsLatRef, 'N'))), wantLocation(nil), "type 1, want ASCII"},

		// D8: offsets past the end, huge counts, loops.
		{"ValuePastEnd", gpsWith(gpsLat, &tiffTag{id: gpsLat, typ: typeRational, count: 3, offset: u32p(60000)}), wantLocation(nil), "outside the"},
		{"HugeCount", gpsWith(gpsLat, &tiffTag{id: gpsLat, typ: typeRational, count: math.MaxUint32, offset: u32p(8)}), wantLocation(nil), "count 4294967295"},
		{"HugeASCIICount", tiffSpec{ifd0: []tiffTag{{id: 0x010F, typ: typeASCII, count: math.MaxUint32, offset: u32p(8)}}}, func(t *testing.T, e EXIF) {
			if e.Make != "" {
				t.Errorf("Make = %q", e.Make)
			}
		}, "make: value of 4294967295 bytes"},
		{"GPSPointerPastEnd", tiffSpec{gps: goodGPS(be), gpsPointer: u32p(1 << 30)}, wantLocation(nil), "GPS IFD: IFD offset 1073741824 outside"},
		{"GPSPointerIntoHeader", tiffSpec{gps: goodGPS(be), gpsPointer: u32p(4)}, wantLocation(nil), "IFD offset 4"},
		{"GPSPointerLoopsToIFD0", tiffSpec{gps: goodGPS(be), gpsPointer: u32p(8)}, wantLocation(nil), "loops back"},
		{"ExifPointerLoopsToIFD0", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "2026:11:20 09:00:11")}, exifPointer: u32p(8)}, func(t *testing.T, e EXIF) {
			if e.CapturedAt != nil {
				t.Errorf("CapturedAt = %v", e.CapturedAt)
			}
		}, "loops back to IFD0"},
		{"IFDCountPastEnd", tiffSpec{ifd0: []tiffTag{be.short(0x0112, 6)}, ifd0Count: u16p(0xFFFF)}, func(t *testing.T, e EXIF) {
			if e.Orientation != 6 {
				t.Errorf("Orientation = %d, want the entry that fits to be read", e.Orientation)
			}
		}, "IFD of 65535 entries runs past the end"},

		// Other fields.
		{"Orientation6", tiffSpec{ifd0: []tiffTag{be.short(0x0112, 6)}}, wantOrientation(6), ""},
		{"Orientation8LittleEndian", tiffSpec{bo: binary.LittleEndian, ifd0: []tiffTag{le.short(0x0112, 8)}}, wantOrientation(8), ""},
		{"Orientation0", tiffSpec{ifd0: []tiffTag{be.short(0x0112, 0)}}, wantOrientation(0), "orientation: value 0"},
		{"Orientation9", tiffSpec{ifd0: []tiffTag{be.short(0x0112, 9)}}, wantOrientation(0), "orientation: value 9"},
		{"OrientationASCII", tiffSpec{ifd0: []tiffTag{be.ascii(0x0112, "6")}}, wantOrientation(0), "want an integer"},
		{"MakeModel", tiffSpec{ifd0: []tiffTag{be.ascii(0x010F, "HUAWEI  "), be.ascii(0x0110, "ELS-AN00")}}, func(t *testing.T, e EXIF) {
			if e.Make != "HUAWEI" || e.Model != "ELS-AN00" {
				t.Errorf("Make, Model = %q, %q", e.Make, e.Model)
			}
		}, ""},
		{"MakeControlCharsAndBadUTF8", tiffSpec{ifd0: []tiffTag{be.ascii(0x010F, "Xiao\x1b[31mmi\xff\xfe 小米")}}, func(t *testing.T, e EXIF) {
			if e.Make != "Xiao[31mmi 小米" {
				t.Errorf("Make = %q", e.Make)
			}
		}, ""},
		{"MakeTooLong", tiffSpec{ifd0: []tiffTag{be.ascii(0x010F, strings.Repeat("华", 40))}}, func(t *testing.T, e EXIF) {
			if len(e.Make) > 64 || e.Make != strings.Repeat("华", 21) {
				t.Errorf("Make = %q (%d bytes)", e.Make, len(e.Make))
			}
		}, ""},
		{"CapturedAtWithZone", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "2026:11:20 09:00:11"), be.ascii(0x9011, "+08:00"), be.ascii(0x9291, "25")}},
			wantCaptured(at("2026-11-20T09:00:11.25+08:00"), true), ""},
		{"CapturedAtNoZone", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "2026:11:20 09:00:11")}},
			wantCaptured(at("2026-11-20T09:00:11Z"), false), ""},
		{"CapturedAtBadOffset", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "2026:11:20 09:00:11"), be.ascii(0x9011, "+15:00")}},
			wantCaptured(at("2026-11-20T09:00:11Z"), false), `OffsetTimeOriginal "+15:00"`},
		{"CapturedAtBlankOffset", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "2026:11:20 09:00:11"), be.ascii(0x9011, "   :  ")}},
			wantCaptured(at("2026-11-20T09:00:11Z"), false), ""},
		{"CapturedAtNegativeOffset", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "2026:11:20 09:00:11"), be.ascii(0x9011, "-03:30")}},
			wantCaptured(at("2026-11-20T09:00:11-03:30"), true), ""},
		{"CapturedAtMonth13", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "2026:13:20 09:00:11")}}, wantCaptured(nil, false), "DateTimeOriginal"},
		{"CapturedAtHour25", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "2026:11:20 25:00:11")}}, wantCaptured(nil, false), "DateTimeOriginal"},
		{"CapturedAt29February2025", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "2025:02:29 09:00:11")}}, wantCaptured(nil, false), "DateTimeOriginal"},
		{"CapturedAtBlank", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "    :  :     :  :  ")}}, wantCaptured(nil, false), "blank"},
		{"CapturedAtZeros", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "0000:00:00 00:00:00")}}, wantCaptured(nil, false), "blank"},
		{"CapturedAtShort", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "2026:11:20")}}, wantCaptured(nil, false), "DateTimeOriginal"},
		{"CapturedAtBadSubSec", tiffSpec{exif: []tiffTag{be.ascii(0x9003, "2026:11:20 09:00:11"), be.ascii(0x9291, "12x")}},
			wantCaptured(at("2026-11-20T09:00:11Z"), false), "SubSecTimeOriginal"},
		{"Altitude", withGPS(append(goodGPS(be), be.byte(gpsAltRef, 0), be.rat(gpsAlt, 1235, 10))), wantAltitude(123.5), ""},
		{"AltitudeBelowSeaLevel", withGPS(append(goodGPS(be), be.byte(gpsAltRef, 1), be.rat(gpsAlt, 12, 1))), wantAltitude(-12), ""},
		{"AltitudeNoRef", withGPS(append(goodGPS(be), be.rat(gpsAlt, 12, 1))), wantAltitude(12), ""},
		{"AltitudeBadRef", withGPS(append(goodGPS(be), be.byte(gpsAltRef, 5), be.rat(gpsAlt, 12, 1))), wantAltitude(math.NaN()), "GPSAltitudeRef 5"},
		{"AltitudeZeroDenominator", withGPS(append(goodGPS(be), be.rat(gpsAlt, 12, 0))), wantAltitude(math.NaN()), "altitude: zero denominator"},
		{"GPSTime", withGPS(append(goodGPS(be), be.rat(gpsTime, 1, 1, 6, 1, 1005, 100), be.ascii(gpsDate, "2026:11:20"))), func(t *testing.T, e EXIF) {
			if want := at("2026-11-20T01:06:10.05Z"); e.GPSTime == nil || !e.GPSTime.Equal(*want) || e.GPSTime.Location() != time.UTC {
				t.Errorf("GPSTime = %v, want %v", e.GPSTime, want)
			}
		}, ""},
		{"GPSTimeWithoutDate", withGPS(append(goodGPS(be), be.rat(gpsTime, 1, 1, 6, 1, 10, 1))), wantNoGPSTime, "GPSDateStamp missing"},
		{"GPSTimeHour24", withGPS(append(goodGPS(be), be.rat(gpsTime, 24, 1, 6, 1, 10, 1), be.ascii(gpsDate, "2026:11:20"))), wantNoGPSTime, "out of range"},
		{"GPSDateInvalid", withGPS(append(goodGPS(be), be.rat(gpsTime, 1, 1, 6, 1, 10, 1), be.ascii(gpsDate, "2026:02:30"))), wantNoGPSTime, "GPSDateStamp"},
		{"ImgDirection", withGPS(append(goodGPS(be), be.ascii(gpsDirRef, "T"), be.rat(gpsDir, 9050, 100))), func(t *testing.T, e EXIF) {
			if e.ImgDirection == nil || *e.ImgDirection != 90.5 || e.ImgDirectionRef != "T" {
				t.Errorf("ImgDirection = %v %q", e.ImgDirection, e.ImgDirectionRef)
			}
		}, ""},
		{"ImgDirection360", withGPS(append(goodGPS(be), be.rat(gpsDir, 360, 1))), func(t *testing.T, e EXIF) {
			if e.ImgDirection == nil || *e.ImgDirection != 0 || e.ImgDirectionRef != "" {
				t.Errorf("ImgDirection = %v %q", e.ImgDirection, e.ImgDirectionRef)
			}
		}, ""},
		{"ImgDirectionOutOfRange", withGPS(append(goodGPS(be), be.rat(gpsDir, 370, 1))), func(t *testing.T, e EXIF) {
			if e.ImgDirection != nil {
				t.Errorf("ImgDirection = %v", *e.ImgDirection)
			}
		}, "img_direction"},
		{"AccuracyAndDatum", withGPS(append(goodGPS(be), be.rat(gpsHPosErr, 35, 10), be.ascii(gpsDatum, "WGS-84"))), func(t *testing.T, e EXIF) {
			if e.AccuracyM == nil || *e.AccuracyM != 3.5 || e.MapDatum != "WGS-84" {
				t.Errorf("AccuracyM = %v, MapDatum = %q", e.AccuracyM, e.MapDatum)
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := jpegWithEXIF(t, buildTIFF(tt.spec))
			e, err := ReadEXIF(bytes.NewReader(data), int64(len(data)), FormatJPEG)
			if err != nil {
				t.Fatalf("ReadEXIF error: %v", err)
			}
			if !e.Found {
				t.Error("Found = false")
			}
			tt.check(t, e)
			checkProblems(t, e.Problems, tt.problem)
			checkSane(t, e)
		})
	}
}

// checkProblems wants one problem containing want, or none if want is "".
func checkProblems(t *testing.T, problems []string, want string) {
	t.Helper()
	if want == "" {
		if len(problems) > 0 {
			t.Errorf("Problems = %q, want none", problems)
		}
		return
	}
	for _, p := range problems {
		if strings.Contains(p, want) {
			return
		}
	}
	t.Errorf("Problems = %q, want one containing %q", problems, want)
}

// checkSane checks what ReadEXIF promises of every result (D7).
func checkSane(t *testing.T, e EXIF) {
	t.Helper()
	if l := e.Location; l != nil {
		if !finite(l.Lat) || !finite(l.Lon) || math.Abs(l.Lat) > 90 || math.Abs(l.Lon) > 180 || (l.Lat == 0 && l.Lon == 0) {
			t.Errorf("Location = %v", *l)
		}
	}
	for name, v := range map[string]*float64{"AltitudeM": e.AltitudeM, "AccuracyM": e.AccuracyM, "ImgDirection": e.ImgDirection} {
		if v != nil && !finite(*v) {
			t.Errorf("%s = %v", name, *v)
		}
	}
	if e.ImgDirection != nil && (*e.ImgDirection < 0 || *e.ImgDirection >= 360) {
		t.Errorf("ImgDirection = %v", *e.ImgDirection)
	}
	if e.Orientation < 0 || e.Orientation > 8 {
		t.Errorf("Orientation = %d", e.Orientation)
	}
	if len(e.Make) > 64 || len(e.Model) > 64 {
		t.Errorf("Make, Model of %d, %d bytes", len(e.Make), len(e.Model))
	}
	if e.CapturedAtHasZone && e.CapturedAt == nil {
		t.Error("CapturedAtHasZone without CapturedAt")
	}
	if _, err := json.Marshal(e); err != nil {
		t.Errorf("json.Marshal: %v", err) // NaN or Inf would fail here
	}
}

func wantLocation(want *LatLon) func(*testing.T, EXIF) {
	return func(t *testing.T, e EXIF) {
		t.Helper()
		switch {
		case want == nil && e.Location != nil:
			t.Errorf("Location = %v, want none", *e.Location)
		case want != nil && e.Location == nil:
			t.Errorf("Location = nil, want %v", *want)
		case want != nil && (math.Abs(e.Location.Lat-want.Lat) > 1e-6 || math.Abs(e.Location.Lon-want.Lon) > 1e-6):
			t.Errorf("Location = %v, want %v", *e.Location, *want)
		}
	}
}

func wantOrientation(want int) func(*testing.T, EXIF) {
	return func(t *testing.T, e EXIF) {
		t.Helper()
		if e.Orientation != want {
			t.Errorf("Orientation = %d, want %d", e.Orientation, want)
		}
	}
}

func wantCaptured(want *time.Time, zone bool) func(*testing.T, EXIF) {
	return func(t *testing.T, e EXIF) {
		t.Helper()
		switch {
		case want == nil && e.CapturedAt != nil:
			t.Errorf("CapturedAt = %v, want none", e.CapturedAt)
		case want != nil && (e.CapturedAt == nil || !e.CapturedAt.Equal(*want)):
			t.Errorf("CapturedAt = %v, want %v", e.CapturedAt, want)
		case e.CapturedAtHasZone != zone:
			t.Errorf("CapturedAtHasZone = %v, want %v", e.CapturedAtHasZone, zone)
		}
	}
}

// wantAltitude wants an altitude, or none for NaN.
func wantAltitude(want float64) func(*testing.T, EXIF) {
	return func(t *testing.T, e EXIF) {
		t.Helper()
		switch {
		case math.IsNaN(want) && e.AltitudeM != nil:
			t.Errorf("AltitudeM = %v, want none", *e.AltitudeM)
		case !math.IsNaN(want) && (e.AltitudeM == nil || *e.AltitudeM != want):
			t.Errorf("AltitudeM = %v, want %v", e.AltitudeM, want)
		}
	}
}

func wantNoGPSTime(t *testing.T, e EXIF) {
	t.Helper()
	if e.GPSTime != nil {
		t.Errorf("GPSTime = %v, want none", e.GPSTime)
	}
}

func TestCaptureTimeIn(t *testing.T) {
	shanghai := time.FixedZone("CST", 8*3600)
	wall := time.Date(2026, 11, 20, 9, 0, 11, 0, time.UTC)
	zoned := time.Date(2026, 11, 20, 9, 0, 11, 0, time.FixedZone("+09:00", 9*3600))
	tests := []struct {
		name   string
		e      EXIF
		want   time.Time
		wantOK bool
	}{
		{"None", EXIF{}, time.Time{}, false},
		{"NoZoneTakesLoc", EXIF{CapturedAt: &wall}, time.Date(2026, 11, 20, 9, 0, 11, 0, shanghai), true},
		{"ZoneKept", EXIF{CapturedAt: &zoned, CapturedAtHasZone: true}, zoned, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.e.CaptureTimeIn(shanghai)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("CaptureTimeIn = %v, %v; want %v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestReadEXIFContainers reads the same EXIF block from each format.
func TestReadEXIFContainers(t *testing.T) {
	be, le := tags{binary.BigEndian}, tags{binary.LittleEndian}
	bigEndian := buildTIFF(tiffSpec{ifd0: []tiffTag{be.short(0x0112, 6)}, gps: goodGPS(be)})
	littleEndian := buildTIFF(tiffSpec{bo: binary.LittleEndian, ifd0: []tiffTag{le.short(0x0112, 6)}, gps: goodGPS(le)})
	big := make([]byte, 200<<10) // more than maxEXIFBlock
	copy(big, bigEndian)

	tests := []struct {
		name    string
		data    []byte
		format  Format
		problem string
	}{
		{"JPEG", jpegWithEXIF(t, bigEndian), FormatJPEG, ""},
		{"JPEGAfterXMP", func() []byte {
			img := jpegWithEXIF(t, littleEndian)
			xmp := []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta/>")
			return cat(img[:2], []byte{0xFF, 0xE1}, be16(uint16(2+len(xmp))), xmp, img[2:])
		}(), FormatJPEG, ""},
		{"PNGBigEndian", pngWithEXIF(t, bigEndian), FormatPNG, ""},
		{"PNGLittleEndian", pngWithEXIF(t, littleEndian), FormatPNG, ""},
		{"PNGWithAPP1Prefix", pngWithEXIF(t, cat([]byte("Exif\x00\x00"), littleEndian)), FormatPNG, ""},
		{"PNGBlockOverCap", pngWithEXIF(t, big), FormatPNG, "cut to"},
		{"WebP", webpWithEXIF(littleEndian), FormatWebP, ""},
		{"HEIC", buildHEIF(heifSpec{width: 4032, height: 3024, exif: bigEndian}), FormatHEIC, ""},
		{"HEICLittleEndian", buildHEIF(heifSpec{width: 4032, height: 3024, exif: littleEndian, tiles: true}), FormatHEIC, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if f, err := Sniff(tt.data); err != nil || f != tt.format {
				t.Fatalf("Sniff = %v, %v; want %v", f, err, tt.format)
			}
			e, err := ReadEXIF(bytes.NewReader(tt.data), int64(len(tt.data)), tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if !e.Found {
				t.Fatalf("Found = false (Problems %q)", e.Problems)
			}
			wantLocation(&LatLon{40.253348, 118.27779})(t, e)
			wantOrientation(6)(t, e)
			checkProblems(t, e.Problems, tt.problem)
		})
	}
}

// TestReadEXIFAbsent checks that files without EXIF, and broken ones,
// give no error: just nothing found.
func TestReadEXIFAbsent(t *testing.T) {
	jpegNoEXIF := encodeJPEG(t, noise(8, 8))
	withEXIF := jpegWithEXIF(t, buildTIFF(tiffSpec{gps: goodGPS(tags{binary.BigEndian})}))
	tests := []struct {
		name    string
		data    []byte
		format  Format
		found   bool
		problem string
	}{
		{"JPEG", jpegNoEXIF, FormatJPEG, false, ""},
		{"PNG", encodePNG(t, noise(8, 8)), FormatPNG, false, ""},
		{"WebP", webpLossless, FormatWebP, false, ""},
		{"HEIC", buildHEIF(heifSpec{width: 1, height: 1}), FormatHEIC, false, ""},
		{"Empty", nil, FormatJPEG, false, "scanning JPEG"},
		{"EmptyPNG", nil, FormatPNG, false, ""},
		{"EmptyWebP", nil, FormatWebP, false, ""},
		{"EmptyHEIC", nil, FormatHEIC, false, "ftyp"},
		{"JPEGCutInAPP1", withEXIF[:40], FormatJPEG, false, "scanning JPEG"},
		{"JPEGCutBeforeTIFF", withEXIF[:14], FormatJPEG, false, "scanning JPEG"},
		{"APP1TooShortForTIFF", cat([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x0A}, []byte("Exif\x00\x00MM"), jpegNoEXIF[2:]), FormatJPEG, false, "scanning JPEG"},
		{"NotTIFF", jpegWithEXIF(t, []byte("this is not a TIFF header at all")), FormatJPEG, true, "bad TIFF header"},
		{"TinyBlock", pngWithEXIF(t, []byte("MM\x00")), FormatPNG, true, "too short"},
		{"UnknownFormat", jpegNoEXIF, FormatUnknown, false, "no EXIF reader"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ReadEXIF(bytes.NewReader(tt.data), int64(len(tt.data)), tt.format)
			if err != nil {
				t.Fatalf("ReadEXIF error: %v", err)
			}
			if e.Found != tt.found {
				t.Errorf("Found = %v, want %v", e.Found, tt.found)
			}
			if e.Location != nil {
				t.Errorf("Location = %v", *e.Location)
			}
			checkProblems(t, e.Problems, tt.problem)
		})
	}
}

func TestReadEXIFReadError(t *testing.T) {
	data := jpegWithEXIF(t, buildTIFF(tiffSpec{gps: goodGPS(tags{binary.BigEndian})}))
	for _, format := range []Format{FormatJPEG, FormatPNG, FormatWebP, FormatHEIC} {
		t.Run(format.String(), func(t *testing.T) {
			_, err := ReadEXIF(failingReaderAt{bytes.NewReader(data), 0}, int64(len(data)), format)
			if !errors.Is(err, errDisk) {
				t.Errorf("ReadEXIF error = %v, want the disk error", err)
			}
		})
	}
}

// malformedEXIFSeeds are EXIF blocks for the fuzzer to start from.
func malformedEXIFSeeds() [][]byte {
	be, le := tags{binary.BigEndian}, tags{binary.LittleEndian}
	full := []tiffTag{be.ascii(0x010F, "HUAWEI"), be.ascii(0x0110, "ELS-AN00"), be.short(0x0112, 6)}
	exif := []tiffTag{be.ascii(0x9003, "2026:11:20 09:00:11"), be.ascii(0x9011, "+08:00"), be.ascii(0x9291, "25")}
	gps := append(goodGPS(be), be.byte(gpsAltRef, 0), be.rat(gpsAlt, 1235, 10), be.rat(gpsTime, 1, 1, 6, 1, 10, 1),
		be.ascii(gpsDate, "2026:11:20"), be.ascii(gpsDirRef, "T"), be.rat(gpsDir, 90, 1), be.rat(gpsHPosErr, 5, 1), be.ascii(gpsDatum, "WGS-84"))
	return [][]byte{
		buildTIFF(tiffSpec{ifd0: full, exif: exif, gps: gps}),
		buildTIFF(tiffSpec{bo: binary.LittleEndian, ifd0: []tiffTag{le.short(0x0112, 3)}, gps: goodGPS(le)}),
		buildTIFF(tiffSpec{gps: replaceTag(goodGPS(be), gpsLat, tagp(be.rat(gpsLat, 40, 0, 60, 1, 61, 1)))}),
		buildTIFF(tiffSpec{gps: goodGPS(be), gpsPointer: u32p(8)}),
		buildTIFF(tiffSpec{gps: replaceTag(goodGPS(be), gpsLat, &tiffTag{id: gpsLat, typ: typeRational, count: math.MaxUint32, offset: u32p(8)})}),
		buildTIFF(tiffSpec{ifd0: full, ifd0Count: u16p(0xFFFF)}),
	}
}

// FuzzReadEXIF checks that no input makes ReadEXIF panic (even one it
// would recover from), fail for anything but I/O, or return a value that
// breaks its promises; the input is also decoded as a bare EXIF block.
func FuzzReadEXIF(f *testing.F) {
	for _, name := range []string{"dust-xingcheng.jpg", "rotated-dust-baimiaozi.jpg", "no-exif.jpg", "screenshot.png"} {
		b := readPhoto(f, name)
		f.Add(b[:min(len(b), 64<<10)])
	}
	for _, block := range malformedEXIFSeeds() {
		f.Add(block)
		f.Add(jpegWithEXIF(f, block))
		f.Add(pngWithEXIF(f, block))
		f.Add(webpWithEXIF(block))
		f.Add(buildHEIF(heifSpec{width: 8, height: 8, exif: block}))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var e EXIF
		decodeTIFF(data, &e) // no recover here: a panic fails the test
		checkSane(t, e)

		format, err := Sniff(data)
		if err != nil {
			return
		}
		e, err = ReadEXIF(bytes.NewReader(data), int64(len(data)), format)
		if err != nil {
			t.Fatalf("ReadEXIF error: %v", err)
		}
		for _, p := range e.Problems {
			if strings.Contains(p, "panic") {
				t.Fatalf("recovered a panic: %s", p)
			}
		}
		checkSane(t, e)
	})
}

func BenchmarkReadEXIF(b *testing.B) {
	f, err := os.Open(filepath.Join("..", "testdata", "photos", "rotated-dust-baimiaozi.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b.ReportAllocs()
	for b.Loop() {
		e, err := ReadEXIF(f, st.Size(), FormatJPEG)
		if err != nil || e.Location == nil {
			b.Fatal(e, err)
		}
	}
}

// TestReadEXIFConcurrent runs ReadEXIF from many goroutines at once, as
// the upload path does, so that -race sees imagemeta's pooled readers
// shared between them.
func TestReadEXIFConcurrent(t *testing.T) {
	be := tags{binary.BigEndian}
	block := buildTIFF(tiffSpec{ifd0: []tiffTag{be.short(0x0112, 6)}, gps: goodGPS(be)})
	inputs := []struct {
		data   []byte
		format Format
	}{
		{jpegWithEXIF(t, block), FormatJPEG},
		{buildHEIF(heifSpec{width: 8, height: 8, exif: block}), FormatHEIC},
		{pngWithEXIF(t, block), FormatPNG},
		{webpWithEXIF(block), FormatWebP},
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				in := inputs[(g+i)%len(inputs)]
				e, err := ReadEXIF(bytes.NewReader(in.data), int64(len(in.data)), in.format)
				if err != nil || e.Location == nil || e.Orientation != 6 {
					t.Errorf("%v: %+v, %v", in.format, e, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Example_uploadPath shows the calls the upload handler makes on the
// spooled file, in order, before storing it.
func Example_uploadPath() {
	f, err := os.Open(filepath.Join("..", "testdata", "photos", "rotated-dust-baimiaozi.jpg"))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		panic(err)
	}
	head := make([]byte, SniffLen)
	n, _ := f.ReadAt(head, 0)

	format, err := Sniff(head[:n]) // ErrUnsupportedFormat → 415
	if err != nil {
		panic(err)
	}
	info, err := Inspect(f, st.Size(), format, 0) // ErrTooManyPixels, ErrCorruptImage → 422
	if err != nil {
		panic(err)
	}
	e, err := ReadEXIF(f, st.Size(), format) // errors only on I/O faults
	if err != nil {
		panic(err)
	}
	shanghai := time.FixedZone("CST", 8*3600)
	taken, _ := e.CaptureTimeIn(shanghai)

	fmt.Println(format.ContentType(), info.Width, info.Height, info.Truncated)
	fmt.Printf("%.6f,%.6f orientation %d\n", e.Location.Lat, e.Location.Lon, e.Orientation)
	fmt.Println(taken.Format(time.RFC3339), e.Make, e.Model)
	// Output:
	// image/jpeg 3000 2250 false
	// 40.030000,118.280000 orientation 6
	// 2026-11-20T09:15:11+08:00 HUAWEI ELS-AN00
}
