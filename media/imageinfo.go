package media

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// DefaultMaxPixels is the pixel cap Inspect and MakeThumbnail use when
// given none: above a 200 MP phone sensor (16320×12240 ≈ 200 M), far
// below a decompression bomb's 100000×100000. (D1, D2)
const DefaultMaxPixels int64 = 250_000_000

var (
	// ErrTooManyPixels means the image declares more pixels than the cap.
	// It is found from the header alone, before anything the size of the
	// image is allocated (D1). The API answers 422.
	ErrTooManyPixels = errors.New("media: image has too many pixels")

	// ErrCorruptImage means the file has the magic bytes of its format but
	// its header cannot be read as that format (and not because the file
	// ends early; see Inspect). The API answers 422.
	ErrCorruptImage = errors.New("media: corrupt image")
)

// Info is what Inspect learns from an image's header.
type Info struct {
	Format Format
	// Width and Height are the dimensions as stored, before any EXIF
	// orientation (or HEIF irot/imir) is applied. Both are zero only when
	// Truncated is set and the file ends before its dimensions.
	Width, Height int
	// Truncated reports that the image data does not run to its end: a
	// JPEG without its EOI marker, a PNG without IEND, a WebP or HEIF
	// whose RIFF chunk or top-level box runs past the end of the file, or
	// a structure that breaks off before that end. A decoder would show
	// only part of the picture, or none. Such a file is still stored (D5):
	// it is what the phone has, and the hash proves it.
	Truncated bool
}

// Inspect reads the header of an image of format f (as told by Sniff) in
// r, which holds size bytes, and returns its dimensions. It never decodes
// pixels and allocates some 20 KiB whatever the image declares, so it is
// fit for the request path. maxPixels <= 0 means DefaultMaxPixels.
//
// Decoders are called directly (jpeg.DecodeConfig, png.DecodeConfig,
// webp.DecodeConfig), never through image.DecodeConfig, so that no other
// format can be reached by accident (D3). HEIC/HEIF dimensions come from
// the primary item's ispe property, read by a small ISO BMFF walker in
// pure Go with bounded box counts and no cgo (D9).
//
// The rule for damaged files (D5): a file whose header can be read is
// accepted, flagged Truncated when its data does not reach its end
// marker. A file that ends inside its header is accepted too, Truncated
// with zero dimensions (a JPEG cut after its frame header keeps the size
// found there, and the pixel cap): the phone holds the same bytes, and
// rejecting them would lose the evidence and invite endless retries.
// Nothing decodes such a file later: MakeThumbnail refuses it. Only a
// header that is present but is not what its magic bytes promise (a JPEG
// with garbage where its markers should be, an unsupported JPEG variant,
// a PNG whose IHDR fails its checksum, a HEIF without an image size)
// returns an error wrapping ErrCorruptImage. (So a file of JPEG magic and
// random bytes may be either: stored as truncated when the random lengths
// run off its end, refused when they do not. What matters is that it is
// never decoded and is served as image/jpeg with nosniff.)
//
// Other errors: ErrTooManyPixels (Info then holds the declared
// dimensions), ErrUnsupportedFormat for FormatUnknown, and, wrapping it,
// any error reading r other than io.EOF: a disk fault, to be answered
// 500, not 4xx.
func Inspect(r io.ReaderAt, size int64, f Format, maxPixels int64) (Info, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if size < 0 {
		return Info{Format: f}, opErr("inspect", nil, fmt.Errorf("negative size %d", size))
	}
	tr := &trackingReaderAt{r: r}
	info, err := inspect(tr, size, f, maxPixels)
	if tr.err != nil {
		return Info{Format: f}, opErr("inspect", nil, tr.err)
	}
	return info, err
}

func inspect(r io.ReaderAt, size int64, f Format, maxPixels int64) (Info, error) {
	info := Info{Format: f}
	var (
		cfg image.Config
		err error
	)
	switch f {
	case FormatJPEG:
		cfg, err = jpeg.DecodeConfig(bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 4096))
	case FormatPNG:
		cfg, err = png.DecodeConfig(bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 4096))
	case FormatWebP:
		cfg, err = webp.DecodeConfig(bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 4096))
	case FormatHEIC, FormatHEIF:
		cfg.Width, cfg.Height, err = heifSize(r, size)
	default:
		return info, opErr("inspect", ErrUnsupportedFormat, fmt.Errorf("format %v", f))
	}
	if err != nil {
		if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) && imageEnd(r, size, f) != endMissing {
			return info, opErr("inspect", ErrCorruptImage, fmt.Errorf("%v header: %w", f, err))
		}
		info.Truncated = true
		if f != FormatJPEG {
			return info, nil
		}
		// Go's decoder wants the header up to the first scan; a JPEG cut
		// after its frame header still has a size, and a bomb that stops
		// there is still refused.
		if cfg.Width, cfg.Height = jpegFrameSize(r, size); cfg.Width == 0 {
			return info, nil
		}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return info, opErr("inspect", ErrCorruptImage, fmt.Errorf("%v header: size %d×%d", f, cfg.Width, cfg.Height))
	}
	info.Width, info.Height = cfg.Width, cfg.Height
	if err := checkPixels(cfg.Width, cfg.Height, maxPixels); err != nil {
		return info, opErr("inspect", ErrTooManyPixels, err)
	}
	if !info.Truncated {
		info.Truncated = imageEnd(r, size, f) != endFound
	}
	return info, nil
}

// jpegFrameSize returns the size in the first SOFn (frame header) of a
// JPEG, walking its marker segments up to the first scan, or 0, 0.
func jpegFrameSize(r io.ReaderAt, size int64) (width, height int) {
	s := newSeqReader(r, 0, size)
	if s.skip(2) != nil { // SOI
		return 0, 0
	}
	var seg [7]byte // length, precision, height, width
	for {
		b, err := s.ReadByte()
		for err == nil && b == 0xFF {
			b, err = s.ReadByte()
		}
		if err != nil {
			return 0, 0
		}
		switch {
		case b == 0xDA || b == 0xD9 || b == 0x00: // scan, end, or not a marker
			return 0, 0
		case b >= 0xD0 && b <= 0xD7 || b == 0x01:
			continue
		}
		if s.full(seg[:2]) != nil {
			return 0, 0
		}
		n := int64(binary.BigEndian.Uint16(seg[:2]))
		// SOF0 to SOF15, except DHT (C4), JPG (C8) and DAC (CC).
		if b >= 0xC0 && b <= 0xCF && b != 0xC4 && b != 0xC8 && b != 0xCC {
			if n < 7 || s.full(seg[2:7]) != nil {
				return 0, 0
			}
			return int(binary.BigEndian.Uint16(seg[5:7])), int(binary.BigEndian.Uint16(seg[3:5]))
		}
		if n < 2 || s.skip(n-2) != nil {
			return 0, 0
		}
	}
}

// checkPixels returns why width×height exceeds maxPixels, or nil.
func checkPixels(width, height int, maxPixels int64) error {
	if n := int64(width) * int64(height); n > maxPixels {
		return fmt.Errorf("%d×%d is %d pixels, the limit is %d", width, height, n, maxPixels)
	}
	return nil
}

// trackingReaderAt remembers the first error from r other than io.EOF,
// so that a disk fault is told apart from a file that is merely short or
// malformed, however a decoder reports it.
type trackingReaderAt struct {
	r   io.ReaderAt
	err error
}

func (t *trackingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := t.r.ReadAt(p, off)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// readFullAt reads len(p) bytes at off, returning io.ErrUnexpectedEOF when
// the file ends first.
func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// seqReader reads a file front to back through a small buffer, skipping
// long stretches with a seek instead of reading them. pos is the file
// offset of the next byte.
type seqReader struct {
	sr   *io.SectionReader
	br   *bufio.Reader
	base int64 // file offset of the section
	pos  int64
}

func newSeqReader(r io.ReaderAt, off, end int64) *seqReader {
	sr := io.NewSectionReader(r, off, max(end-off, 0))
	return &seqReader{sr: sr, br: bufio.NewReaderSize(sr, 4096), base: off, pos: off}
}

func (s *seqReader) ReadByte() (byte, error) {
	b, err := s.br.ReadByte()
	if err == nil {
		s.pos++
	}
	return b, err
}

// full fills p, or returns io.ErrUnexpectedEOF (or io.EOF if nothing was
// left at all).
func (s *seqReader) full(p []byte) error {
	n, err := io.ReadFull(s.br, p)
	s.pos += int64(n)
	return err
}

// skip moves n bytes forward. It returns io.ErrUnexpectedEOF if that is
// past the end.
func (s *seqReader) skip(n int64) error {
	if n < 0 {
		return errors.New("negative skip")
	}
	if n <= int64(s.br.Buffered()) {
		d, err := s.br.Discard(int(n))
		s.pos += int64(d)
		return err
	}
	end := s.base + s.sr.Size()
	if n > end-s.pos {
		s.pos = end
		s.sr.Seek(0, io.SeekEnd)
		s.br.Reset(s.sr)
		return io.ErrUnexpectedEOF
	}
	s.pos += n
	if _, err := s.sr.Seek(s.pos-s.base, io.SeekStart); err != nil {
		return err
	}
	s.br.Reset(s.sr)
	return nil
}

// endState is what a walk over an image's structure found at its end.
type endState uint8

const (
	endFound   endState = iota // the end marker or declared end is there
	endMissing                 // the file ends first
	endBroken                  // the structure breaks off before the end
)

// imageEnd walks the structure of the image (not its pixels) to tell
// whether it runs to its end. The cost is a few reads for a whole file;
// only a JPEG not ending in FF D9 (a Motion Photo with a video after its
// EOI, or a cut-off file) is read through, and then only by scanning for
// 0xFF bytes.
func imageEnd(r io.ReaderAt, size int64, f Format) endState {
	switch f {
	case FormatJPEG:
		return jpegEnd(r, size)
	case FormatPNG:
		return pngEnd(r, size)
	case FormatWebP:
		var hdr [12]byte
		if readFullAt(r, hdr[:], 0) != nil {
			return endMissing
		}
		if int64(binary.LittleEndian.Uint32(hdr[4:8]))+8 > size {
			return endMissing
		}
		return endFound
	case FormatHEIC, FormatHEIF:
		return bmffEnd(r, size)
	}
	return endBroken
}

// jpegEnd looks for the EOI marker that ends the first (primary) image.
// It follows marker segments by their lengths and, inside entropy-coded
// scans, looks for the next 0xFF not followed by 0x00 or a restart
// marker, which is how a JPEG decoder finds the next marker too. Data
// after the EOI (Motion Photo video, MPF images, vendor trailers) is
// allowed.
func jpegEnd(r io.ReaderAt, size int64) endState {
	var tail [2]byte
	if size >= 4 && readFullAt(r, tail[:], size-2) == nil && tail == [2]byte{0xFF, 0xD9} {
		return endFound
	}
	s := newSeqReader(r, 0, size)
	var soi [2]byte
	if err := s.full(soi[:]); err != nil {
		return endMissing
	}
	if soi != [2]byte{0xFF, 0xD8} {
		return endBroken
	}
	pending := -1 // a marker found inside a scan, still to be handled
	for {
		var m byte
		if pending >= 0 {
			m, pending = byte(pending), -1
		} else {
			b, err := s.ReadByte()
			if err != nil {
				return endMissing
			}
			if b != 0xFF {
				return endBroken
			}
			for b == 0xFF { // fill bytes
				if b, err = s.ReadByte(); err != nil {
					return endMissing
				}
			}
			m = b
		}
		switch {
		case m == 0xD9:
			return endFound
		case m >= 0xD0 && m <= 0xD7, m == 0x01:
			continue // no length
		case m == 0x00, m == 0xD8:
			return endBroken
		}
		var l [2]byte
		if err := s.full(l[:]); err != nil {
			return endMissing
		}
		n := binary.BigEndian.Uint16(l[:])
		if n < 2 {
			return endBroken
		}
		if err := s.skip(int64(n) - 2); err != nil {
			return endMissing
		}
		if m != 0xDA { // not SOS: next marker follows the segment
			continue
		}
		next, err := nextScanMarker(s)
		if err != nil {
			return endMissing
		}
		pending = int(next)
	}
}

// nextScanMarker reads entropy-coded data up to the next marker and
// returns it (without its 0xFF).
func nextScanMarker(s *seqReader) (byte, error) {
	for {
		chunk, err := s.br.ReadSlice(0xFF)
		s.pos += int64(len(chunk))
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return 0, err
		}
		b, err := s.ReadByte()
		for err == nil && b == 0xFF {
			b, err = s.ReadByte()
		}
		if err != nil {
			return 0, err
		}
		if b == 0x00 || b >= 0xD0 && b <= 0xD7 {
			continue // stuffed byte or restart marker: still in the scan
		}
		return b, nil
	}
}

var pngIEND = []byte{0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82}

// pngEnd looks for the IEND chunk, first where it normally is, then by
// walking the chunks by their lengths (skipping their data with seeks).
func pngEnd(r io.ReaderAt, size int64) endState {
	var tail [12]byte
	if size >= int64(len(pngMagic)+len(tail)) && readFullAt(r, tail[:], size-12) == nil && string(tail[:]) == string(pngIEND) {
		return endFound
	}
	s := newSeqReader(r, 0, size)
	if err := s.skip(int64(len(pngMagic))); err != nil {
		return endMissing
	}
	var hdr [8]byte
	for {
		if err := s.full(hdr[:]); err != nil {
			return endMissing
		}
		n := binary.BigEndian.Uint32(hdr[0:4])
		if n > 1<<31-1 {
			return endBroken
		}
		if string(hdr[4:8]) == "IEND" {
			return endFound
		}
		if err := s.skip(int64(n) + 4); err != nil {
			return endMissing
		}
	}
}

// ISO BMFF bounds (D9). Real HEIC files have 3 to 6 top-level boxes,
// about 10 boxes in meta, a few in iprp and one property per distinct
// tile size, codec configuration or colour profile in ipco.
const (
	maxTopBoxes   = 1024
	maxMetaBoxes  = 256
	maxIprpBoxes  = 16
	maxIpcoBoxes  = 4096
	maxIspeStored = 64
)

// bmffBox is an ISO BMFF box: its type and where its header, payload and
// end are in the file. end can lie past the end of the file.
type bmffBox struct {
	typ       string
	off, data int64
	end       int64
}

// errBMFFNoRoom means fewer than 8 bytes are left in the parent box: the
// end of a container (or padding), not an error.
var errBMFFNoRoom = errors.New("no room for a box")

// topLevel, as a parent's end, means the parent is the file itself.
const topLevel = -1

// readBMFFBox reads the header of the box at off inside a parent that ends
// at parentEnd (or is the file: topLevel), in a file of size bytes. A box
// must fit in its parent box. At the top level a box running past the end
// of the file is returned as is: the file was cut short, and the caller
// compares end with size. It returns io.ErrUnexpectedEOF when the file
// ends inside the header and errBMFFNoRoom when the parent has no room
// for another box.
func readBMFFBox(r io.ReaderAt, off, parentEnd, size int64) (bmffBox, error) {
	top := parentEnd == topLevel
	if top {
		parentEnd = size
	}
	if parentEnd-off < 8 {
		return bmffBox{}, errBMFFNoRoom
	}
	var hdr [16]byte
	if err := readFullAt(r, hdr[:8], off); err != nil {
		return bmffBox{}, err
	}
	b := bmffBox{typ: string(hdr[4:8]), off: off, data: off + 8}
	n := int64(binary.BigEndian.Uint32(hdr[0:4]))
	switch n {
	case 0: // to the end of the parent, which for the file is its end
		n = parentEnd - off
	case 1: // 64-bit size follows the type
		if err := readFullAt(r, hdr[8:16], off+8); err != nil {
			return bmffBox{}, err
		}
		u := binary.BigEndian.Uint64(hdr[8:16])
		if u > 1<<62 {
			return bmffBox{}, fmt.Errorf("box %q of size %d", printableBrand(b.typ), u)
		}
		n = int64(u)
		b.data = off + 16
	}
	if n < b.data-off {
		return bmffBox{}, fmt.Errorf("box %q of size %d is smaller than its header", printableBrand(b.typ), n)
	}
	if n > parentEnd-off && !top {
		return bmffBox{}, fmt.Errorf("box %q of size %d overruns its parent", printableBrand(b.typ), n)
	}
	b.end = off + n
	return b, nil
}

// eachBMFFBox calls fn for each child box between start and end (the
// parent's payload, or topLevel for the file), at most limit of them. It stops early when fn
// returns false or an error.
func eachBMFFBox(r io.ReaderAt, start, end, size int64, limit int, fn func(bmffBox) (bool, error)) error {
	off := start
	for i := 0; ; i++ {
		if i == limit {
			return fmt.Errorf("more than %d boxes", limit)
		}
		b, err := readBMFFBox(r, off, end, size)
		if err == errBMFFNoRoom {
			return nil
		}
		if err != nil {
			return err
		}
		more, err := fn(b)
		if err != nil || !more {
			return err
		}
		off = b.end
	}
}

// bmffEnd reports whether every top-level box fits in the file.
func bmffEnd(r io.ReaderAt, size int64) endState {
	state := endFound
	err := eachBMFFBox(r, 0, topLevel, size, maxTopBoxes, func(b bmffBox) (bool, error) {
		if b.end > size {
			state = endMissing
			return false, nil
		}
		return true, nil
	})
	switch {
	case state != endFound:
		return state
	case errors.Is(err, io.ErrUnexpectedEOF):
		return endMissing
	case err != nil:
		return endBroken
	}
	return endFound
}

// heifSize returns the size of the primary image of a HEIF file: the
// ispe (image spatial extents) property that the ipma box associates with
// the item named by pitm. Without pitm or an association it falls back to
// the largest ispe, which for a grid image is the grid's own size. Every
// read is a small ReadAt; nothing is allocated in proportion to what the
// file declares, and box counts are capped. A file that ends before the
// size is found returns io.ErrUnexpectedEOF.
func heifSize(r io.ReaderAt, size int64) (width, height int, err error) {
	var meta bmffBox
	first := true
	err = eachBMFFBox(r, 0, topLevel, size, maxTopBoxes, func(b bmffBox) (bool, error) {
		if first && b.typ != "ftyp" {
			return false, fmt.Errorf("first box is %q, not ftyp", printableBrand(b.typ))
		}
		first = false
		if b.typ == "meta" {
			meta = b
			return false, nil
		}
		if b.end > size {
			return false, io.ErrUnexpectedEOF // meta may have been after the cut
		}
		return true, nil
	})
	if err != nil {
		return 0, 0, err
	}
	if meta.typ == "" {
		return 0, 0, errors.New("no meta box")
	}
	type ispe struct {
		index         int
		width, height uint32
	}
	var (
		primary    uint32
		hasPrimary bool
		ispes      []ispe
		ipmas      []bmffBox
	)
	// meta is a full box: 4 bytes of version and flags before its
	// children. Its children must fit in its declared size; reads past the
	// end of a cut-off file fail with io.ErrUnexpectedEOF.
	walkErr := eachBMFFBox(r, meta.data+4, meta.end, size, maxMetaBoxes, func(b bmffBox) (bool, error) {
		switch b.typ {
		case "pitm":
			var p [8]byte
			if err := readFullAt(r, p[:6], b.data); err != nil {
				return false, err
			}
			primary, hasPrimary = uint32(binary.BigEndian.Uint16(p[4:6])), true
			if p[0] != 0 { // version 1: 32-bit item IDs
				if err := readFullAt(r, p[:8], b.data); err != nil {
					return false, err
				}
				primary = binary.BigEndian.Uint32(p[4:8])
			}
		case "iprp":
			return true, eachBMFFBox(r, b.data, b.end, size, maxIprpBoxes, func(c bmffBox) (bool, error) {
				switch c.typ {
				case "ipco":
					index := 0
					return true, eachBMFFBox(r, c.data, c.end, size, maxIpcoBoxes, func(p bmffBox) (bool, error) {
						index++ // property indices start at 1
						if p.typ != "ispe" || len(ispes) == maxIspeStored {
							return true, nil
						}
						var v [12]byte
						if err := readFullAt(r, v[:], p.data); err != nil {
							return false, err
						}
						ispes = append(ispes, ispe{index, binary.BigEndian.Uint32(v[4:8]), binary.BigEndian.Uint32(v[8:12])})
						return true, nil
					})
				case "ipma":
					if len(ipmas) < 4 {
						ipmas = append(ipmas, c)
					}
				}
				return true, nil
			})
		}
		return true, nil
	})
	if len(ispes) == 0 {
		if walkErr != nil {
			return 0, 0, walkErr
		}
		if meta.end > size {
			return 0, 0, io.ErrUnexpectedEOF
		}
		return 0, 0, errors.New("no ispe property")
	}
	pick := func(p ispe) (int, int, error) {
		if p.width > 1<<30 || p.height > 1<<30 {
			return 0, 0, fmt.Errorf("ispe %d×%d out of range", p.width, p.height)
		}
		return int(p.width), int(p.height), nil
	}
	if hasPrimary {
		for _, ipma := range ipmas {
			indices, err := ipmaProperties(r, ipma, size, primary)
			if err != nil {
				continue
			}
			for _, idx := range indices {
				for _, p := range ispes {
					if p.index == idx {
						return pick(p)
					}
				}
			}
		}
	}
	best := ispes[0]
	for _, p := range ispes[1:] {
		if uint64(p.width)*uint64(p.height) > uint64(best.width)*uint64(best.height) {
			best = p
		}
	}
	return pick(best)
}

// ipmaProperties returns the property indices ipma associates with item,
// reading the box front to back (its entries are variable-length).
func ipmaProperties(r io.ReaderAt, ipma bmffBox, size int64, item uint32) ([]int, error) {
	s := newSeqReader(r, ipma.data, min(ipma.end, size))
	var vf [8]byte
	if err := s.full(vf[:8]); err != nil {
		return nil, err
	}
	version, flags := vf[0], vf[3]
	count := binary.BigEndian.Uint32(vf[4:8])
	var buf [4]byte
	for range count {
		var id uint32
		if version < 1 {
			if err := s.full(buf[:2]); err != nil {
				return nil, err
			}
			id = uint32(binary.BigEndian.Uint16(buf[:2]))
		} else {
			if err := s.full(buf[:4]); err != nil {
				return nil, err
			}
			id = binary.BigEndian.Uint32(buf[:4])
		}
		n, err := s.ReadByte()
		if err != nil {
			return nil, err
		}
		var indices []int
		for range n {
			var idx int
			if flags&1 != 0 {
				if err := s.full(buf[:2]); err != nil {
					return nil, err
				}
				idx = int(binary.BigEndian.Uint16(buf[:2]) & 0x7fff)
			} else {
				b, err := s.ReadByte()
				if err != nil {
					return nil, err
				}
				idx = int(b & 0x7f)
			}
			if id == item {
				indices = append(indices, idx)
			}
		}
		if id == item {
			return indices, nil
		}
	}
	return nil, errors.New("item not in ipma")
}
