package media

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"slices"

	"golang.org/x/image/webp"
)

// ErrThumbnailUnsupported means no thumbnail is made for this format:
// HEIC/HEIF, whose HEVC image data would need a cgo decoder, which is not
// to be run in process on untrusted input (D9). Those photos are shown as
// originals (or as a placeholder) until a separate, sandboxed converter
// exists. It also satisfies errors.Is(err, errors.ErrUnsupported).
var ErrThumbnailUnsupported error = &sentinel{"media: no thumbnails for this format", errors.ErrUnsupported, ""}

// ThumbnailQuality is the JPEG quality of thumbnails: small files with no
// visible blocking at preview sizes.
const ThumbnailQuality = 80

// maxHeaderBytes bounds what is kept in memory while reading an image's
// header before decoding it; a JPEG's header (everything before its first
// frame, EXIF and colour profile included) is rarely over 100 KiB.
const maxHeaderBytes = 4 << 20

// Thumbnail is a JPEG preview of a photo, turned upright.
type Thumbnail struct {
	// JPEG is the encoded thumbnail: baseline JPEG at ThumbnailQuality,
	// with no metadata at all (no EXIF, so no GPS; orientation is already
	// applied to the pixels).
	JPEG []byte
	// Width and Height are the thumbnail's dimensions as displayed.
	Width, Height int
}

// MakeThumbnail is MakeThumbnails for a single size.
func MakeThumbnail(r io.Reader, f Format, orientation, maxSide int, maxPixels int64) (Thumbnail, error) {
	ts, err := MakeThumbnails(r, f, orientation, []int{maxSide}, maxPixels)
	if err != nil {
		return Thumbnail{}, err
	}
	return ts[0], nil
}

// MakeThumbnails decodes the image of format f read from r once and
// returns one thumbnail per entry of maxSides, in the same order: the
// image turned upright by its EXIF orientation (1 to 8; anything else
// means 1, as stored), scaled down so that its longer side is at most
// maxSide (never scaled up), by averaging the source pixels that fall
// into each thumbnail pixel. Transparent pixels are put on white.
//
// It is a pure function for a background worker, not for the request
// path: it fully decodes the image. The header is read first and an
// image with more than maxPixels pixels (<= 0 means DefaultMaxPixels) is
// refused with ErrTooManyPixels before anything its size is allocated
// (D1). Peak memory is that of the decoded image, width×height×B bytes
// with B about 1.5 for a baseline phone JPEG (YCbCr 4:2:0), 3 for 4:4:4,
// 7.5 for a progressive JPEG (Go's decoder keeps every DCT coefficient as
// an int32), 4 for an 8-bit PNG or WebP with alpha, 8 for a 16-bit PNG;
// plus the largest thumbnail twice (4 bytes per thumbnail pixel) and up
// to 4 MiB of header. A worker pool that budgets 8 bytes per pixel of the
// Info from Inspect is safe for every format. Time is mostly decoding:
// about 0.3 s for a 6.75 MP JPEG on one core.
//
// Errors: ErrThumbnailUnsupported for HEIC/HEIF, ErrUnsupportedFormat for
// FormatUnknown, ErrTooManyPixels, ErrCorruptImage for an image that
// cannot be decoded (including a truncated one: Go's decoders do not
// return part of an image), and, wrapping it, any error reading r.
func MakeThumbnails(r io.Reader, f Format, orientation int, maxSides []int, maxPixels int64) ([]Thumbnail, error) {
	const op = "thumbnail"
	if len(maxSides) == 0 {
		return nil, opErr(op, nil, errors.New("no sizes asked for"))
	}
	for _, s := range maxSides {
		if s <= 0 {
			return nil, opErr(op, nil, fmt.Errorf("size %d", s))
		}
	}
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	var (
		decodeConfig func(io.Reader) (image.Config, error)
		decode       func(io.Reader) (image.Image, error)
	)
	switch f {
	case FormatJPEG:
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	case FormatPNG:
		decodeConfig, decode = png.DecodeConfig, png.Decode
	case FormatWebP:
		decodeConfig, decode = webp.DecodeConfig, webp.Decode
	case FormatHEIC, FormatHEIF:
		return nil, opErr(op, ErrThumbnailUnsupported, fmt.Errorf("format %v", f))
	default:
		return nil, opErr(op, ErrUnsupportedFormat, fmt.Errorf("format %v", f))
	}

	// Read the header through a recorder, then decode from the recorded
	// bytes followed by the rest of r: r need not be seekable (a Store's
	// Get body will do).
	tr := &trackingReader{r: r}
	head := &cappedBuffer{limit: maxHeaderBytes}
	cfg, err := decodeConfig(io.TeeReader(tr, head))
	switch {
	case tr.err != nil:
		return nil, opErr(op, nil, tr.err)
	case errors.Is(err, errHeaderTooLong):
		return nil, opErr(op, ErrCorruptImage, err)
	case err != nil:
		return nil, opErr(op, ErrCorruptImage, fmt.Errorf("%v header: %w", f, err))
	case cfg.Width <= 0 || cfg.Height <= 0:
		return nil, opErr(op, ErrCorruptImage, fmt.Errorf("%v header: size %d×%d", f, cfg.Width, cfg.Height))
	}
	if err := checkPixels(cfg.Width, cfg.Height, maxPixels); err != nil {
		return nil, opErr(op, ErrTooManyPixels, err)
	}
	img, err := decode(io.MultiReader(bytes.NewReader(head.buf.Bytes()), tr))
	switch {
	case tr.err != nil:
		return nil, opErr(op, nil, tr.err)
	case err != nil:
		return nil, opErr(op, ErrCorruptImage, fmt.Errorf("decoding %v: %w", f, err))
	}
	b := img.Bounds()
	if int64(b.Dx())*int64(b.Dy()) > maxPixels { // the header lied
		return nil, opErr(op, ErrTooManyPixels, checkPixels(b.Dx(), b.Dy(), maxPixels))
	}

	// Largest first: a smaller thumbnail is averaged from a larger one
	// when that is at least twice its size, which looks the same and
	// saves a pass over the full image.
	order := make([]int, len(maxSides))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return maxSides[b] - maxSides[a] })
	out := make([]Thumbnail, len(maxSides))
	var prev *image.RGBA // the last thumbnail made, before orientation
	for _, i := range order {
		tw, th := fitWithin(b.Dx(), b.Dy(), maxSides[i])
		var small *image.RGBA
		if prev != nil && prev.Rect.Dx() >= 2*tw && prev.Rect.Dy() >= 2*th {
			small = boxResize(prev, tw, th)
		} else {
			small = boxResize(img, tw, th)
		}
		prev = small
		shown := orient(small, orientation)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, shown, &jpeg.Options{Quality: ThumbnailQuality}); err != nil {
			return nil, opErr(op, nil, fmt.Errorf("encoding: %w", err))
		}
		out[i] = Thumbnail{JPEG: buf.Bytes(), Width: shown.Rect.Dx(), Height: shown.Rect.Dy()}
	}
	return out, nil
}

// errHeaderTooLong means a decoder read more than maxHeaderBytes before
// it found the image's dimensions.
var errHeaderTooLong = fmt.Errorf("header longer than %d bytes", maxHeaderBytes)

// cappedBuffer records what passes through it, up to limit bytes.
type cappedBuffer struct {
	buf   bytes.Buffer
	limit int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > c.limit {
		return 0, errHeaderTooLong
	}
	return c.buf.Write(p)
}

// trackingReader remembers the first error from r other than io.EOF,
// telling a failing source apart from a bad image.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && t.err == nil {
		t.err = err
	}
	return n, err
}

// fitWithin returns w×h scaled so that its longer side is at most side,
// keeping the aspect ratio, never scaling up, and never below 1 pixel.
func fitWithin(w, h, side int) (int, int) {
	if w <= side && h <= side {
		return w, h
	}
	if w >= h {
		return side, max(1, int(math.Round(float64(h)*float64(side)/float64(w))))
	}
	return max(1, int(math.Round(float64(w)*float64(side)/float64(h)))), side
}

// boxResize scales img to tw×th (each at most the source's) by area
// averaging: every source pixel is added to the one thumbnail pixel it
// falls in, and each thumbnail pixel is the mean of its sums. For the
// large ratios of thumbnails this is sharper and cheaper than a bilinear
// filter and has no aliasing; it reads the source once, row by row.
func boxResize(img image.Image, tw, th int) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, tw, th))
	xmap := make([]int32, w) // source column → thumbnail column
	cols := make([]uint64, tw)
	for x := range w {
		dx := int32(int64(x) * int64(tw) / int64(w))
		xmap[x] = dx
		cols[dx]++
	}
	sums := make([]uint64, 3*tw)
	row := make([]uint8, 3*w)
	read := rowReader(img)
	flush := func(dy int, rows uint64) {
		p := dst.Pix[dy*dst.Stride:]
		for dx := range tw {
			n := cols[dx] * rows
			for c := range 3 {
				p[4*dx+c] = uint8((sums[3*dx+c] + n/2) / n)
				sums[3*dx+c] = 0
			}
			p[4*dx+3] = 0xff
		}
	}
	curDy, rows := 0, uint64(0)
	for y := range h {
		dy := int(int64(y) * int64(th) / int64(h))
		if dy != curDy {
			flush(curDy, rows)
			curDy, rows = dy, 0
		}
		read(b.Min.Y+y, row)
		for x, dx := range xmap {
			s := sums[3*dx : 3*dx+3]
			s[0] += uint64(row[3*x])
			s[1] += uint64(row[3*x+1])
			s[2] += uint64(row[3*x+2])
		}
		rows++
	}
	flush(curDy, rows)
	return dst
}

// rowReader returns a function that fills dst with the RGB bytes of row y
// of img (absolute y), transparent pixels put on white. The common
// decoder outputs have fast paths; anything else goes through At.
func rowReader(img image.Image) func(y int, dst []uint8) {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.YCbCr:
		// The chroma column of x is x>>hs in every subsampling Go decodes
		// (COffset divides x by 1, 2 or 4); taking it per row rather than
		// calling COffset per pixel halves the time of a resize.
		hs := 0
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422:
			hs = 1
		case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
			hs = 2
		}
		return func(y int, dst []uint8) {
			yrow := m.Y[m.YOffset(b.Min.X, y):]
			c0 := m.COffset(b.Min.X, y) - b.Min.X>>hs
			for x := b.Min.X; x < b.Max.X; x++ {
				i, ci := x-b.Min.X, c0+x>>hs
				dst[3*i], dst[3*i+1], dst[3*i+2] = color.YCbCrToRGB(yrow[i], m.Cb[ci], m.Cr[ci])
			}
		}
	case *image.NYCbCrA:
		return func(y int, dst []uint8) {
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				a := m.A[m.AOffset(x, y)]
				i := 3 * (x - b.Min.X)
				dst[i], dst[i+1], dst[i+2] = overWhite(r, a), overWhite(g, a), overWhite(bl, a)
			}
		}
	case *image.Gray:
		return func(y int, dst []uint8) {
			p := m.Pix[m.PixOffset(b.Min.X, y):]
			for x := range b.Dx() {
				dst[3*x], dst[3*x+1], dst[3*x+2] = p[x], p[x], p[x]
			}
		}
	case *image.NRGBA:
		return func(y int, dst []uint8) {
			p := m.Pix[m.PixOffset(b.Min.X, y):]
			for x := range b.Dx() {
				a := p[4*x+3]
				dst[3*x], dst[3*x+1], dst[3*x+2] = overWhite(p[4*x], a), overWhite(p[4*x+1], a), overWhite(p[4*x+2], a)
			}
		}
	case *image.RGBA: // premultiplied: white shows through by 255-a
		return func(y int, dst []uint8) {
			p := m.Pix[m.PixOffset(b.Min.X, y):]
			for x := range b.Dx() {
				k := 255 - p[4*x+3]
				dst[3*x], dst[3*x+1], dst[3*x+2] = p[4*x]+k, p[4*x+1]+k, p[4*x+2]+k
			}
		}
	case *image.Paletted:
		var pal [256][3]uint8
		for i, c := range m.Palette {
			if i == len(pal) {
				break
			}
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			pal[i] = [3]uint8{overWhite(n.R, n.A), overWhite(n.G, n.A), overWhite(n.B, n.A)}
		}
		return func(y int, dst []uint8) {
			p := m.Pix[m.PixOffset(b.Min.X, y):]
			for x := range b.Dx() {
				c := pal[p[x]]
				dst[3*x], dst[3*x+1], dst[3*x+2] = c[0], c[1], c[2]
			}
		}
	case *image.CMYK:
		return func(y int, dst []uint8) {
			p := m.Pix[m.PixOffset(b.Min.X, y):]
			for x := range b.Dx() {
				dst[3*x], dst[3*x+1], dst[3*x+2] = color.CMYKToRGB(p[4*x], p[4*x+1], p[4*x+2], p[4*x+3])
			}
		}
	}
	return func(y int, dst []uint8) {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA() // premultiplied, 16 bits
			k := 0xffff - a
			i := 3 * (x - b.Min.X)
			dst[i], dst[i+1], dst[i+2] = uint8((r+k)>>8), uint8((g+k)>>8), uint8((bl+k)>>8)
		}
	}
}

// overWhite composites a non-premultiplied channel value with alpha a
// over white.
func overWhite(c, a uint8) uint8 {
	return uint8((uint32(c)*uint32(a) + 255*uint32(255-a) + 127) / 255)
}

// orient returns src turned upright for an EXIF orientation (TIFF/EXIF
// 2.3, tag 0x0112). For each displayed pixel (dx, dy) it picks the stored
// pixel (sx, sy) of a W×H source:
//
//	1: as stored                 sx = dx,      sy = dy
//	2: mirrored left-right       sx = W-1-dx,  sy = dy
//	3: turned 180°               sx = W-1-dx,  sy = H-1-dy
//	4: mirrored top-bottom       sx = dx,      sy = H-1-dy
//	5: transposed                sx = dy,      sy = dx
//	6: turned 90° clockwise      sx = dy,      sy = H-1-dx
//	7: transversed               sx = W-1-dy,  sy = H-1-dx
//	8: turned 90° anticlockwise  sx = W-1-dy,  sy = dx
//
// Orientations 5 to 8 swap width and height. Any other value returns src.
func orient(src *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return src
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for dy := range dh {
		for dx := range dw {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-dx, dy
			case 3:
				sx, sy = w-1-dx, h-1-dy
			case 4:
				sx, sy = dx, h-1-dy
			case 5:
				sx, sy = dy, dx
			case 6:
				sx, sy = dy, h-1-dx
			case 7:
				sx, sy = w-1-dy, h-1-dx
			case 8:
				sx, sy = w-1-dy, dx
			}
			si, di := src.PixOffset(sx, sy), dst.PixOffset(dx, dy)
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}
