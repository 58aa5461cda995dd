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

	"github.com/fieldwatch/fieldwatch/media/internal/scaledjpeg"
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
// path: it decodes the whole image, a JPEG at the smallest scale of its
// DCT (1/2, 1/4 or 1/8) that still holds the largest thumbnail. The
// header is read first and an image with more than maxPixels pixels
// (<= 0 means DefaultMaxPixels) is refused with ErrTooManyPixels before
// anything its size is allocated (D1). Peak memory is that of the
// decoded image, width×height×B bytes with B about 1.5 for a baseline
// phone JPEG (YCbCr 4:2:0; a quarter of that decoded at 1/2 scale), 3
// for 4:4:4, 7.5 for a progressive JPEG (the decoder keeps every DCT
// coefficient as an int32, whatever the scale), 4 for an 8-bit PNG or
// WebP with alpha, 8 for a 16-bit PNG; plus the largest thumbnail twice
// (4 bytes per thumbnail pixel) and up to 4 MiB of header. A worker pool
// that budgets 8 bytes per pixel of the Info from Inspect is safe for
// every format. Time, for a 12 MP phone JPEG and the sizes 1280 and 320
// (BenchmarkThumbnails12MP), is about 80-100 ms of CPU on one core of
// the shared 2-core test machine (median 85), less than half of what
// image/jpeg's full decode alone takes (~210 ms): 45 ms decoding at 1/2 scale (about two
// thirds of it entropy decoding, which no scale avoids), 18-20 ms
// scaling, 15 ms encoding.
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
		decodeConfig = jpeg.DecodeConfig // decode is set once the size is known
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
	// A JPEG is decoded at the smallest scale (1/2, 1/4, 1/8) that still
	// holds the largest thumbnail: its inverse DCT then computes a
	// quarter of the pixels or fewer, and no full-size image is held.
	shift := 0
	if f == FormatJPEG {
		tw, th := fitWithin(cfg.Width, cfg.Height, slices.Max(maxSides))
		shift = decodeShift(cfg.Width, cfg.Height, tw, th)
		decode = func(r io.Reader) (image.Image, error) { return scaledjpeg.Decode(r, shift) }
	}
	img, err := decode(io.MultiReader(bytes.NewReader(head.buf.Bytes()), tr))
	switch {
	case tr.err != nil:
		return nil, opErr(op, nil, tr.err)
	case err != nil:
		return nil, opErr(op, ErrCorruptImage, fmt.Errorf("decoding %v: %w", f, err))
	}
	b := img.Bounds()
	if shift > 0 {
		// Only the scaled size is seen: it must be the header's, scaled
		// (the same bytes of the same SOF give both).
		if b.Dx() != scaledSide(cfg.Width, shift) || b.Dy() != scaledSide(cfg.Height, shift) {
			return nil, opErr(op, ErrCorruptImage, fmt.Errorf("decoded %v at 1/%d from a %d×%d header", b, 1<<shift, cfg.Width, cfg.Height))
		}
	} else if int64(b.Dx())*int64(b.Dy()) > maxPixels { // the header lied
		return nil, opErr(op, ErrTooManyPixels, checkPixels(b.Dx(), b.Dy(), maxPixels))
	}
	fullW, fullH := b.Dx(), b.Dy()
	if shift > 0 {
		fullW, fullH = cfg.Width, cfg.Height
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
	var prev image.Image // the last thumbnail made, before orientation
	for _, i := range order {
		// Sizes are the full image's, whatever scale it was decoded at.
		tw, th := fitWithin(fullW, fullH, maxSides[i])
		var small image.Image
		if pb := bounds(prev); prev != nil && pb.Dx() >= 2*tw && pb.Dy() >= 2*th {
			small = resize(prev, tw, th)
		} else {
			small = resize(img, tw, th)
		}
		prev = small
		shown := orient(small, orientation)
		var buf bytes.Buffer
		if err := scaledjpeg.Encode(&buf, shown, &scaledjpeg.Options{Quality: ThumbnailQuality}); err != nil {
			return nil, opErr(op, nil, fmt.Errorf("encoding: %w", err))
		}
		sb := shown.Bounds()
		out[i] = Thumbnail{JPEG: buf.Bytes(), Width: sb.Dx(), Height: sb.Dy()}
	}
	return out, nil
}

func bounds(img image.Image) image.Rectangle {
	if img == nil {
		return image.Rectangle{}
	}
	return img.Bounds()
}

// decodeShift is the largest scale-down 2^shift (shift at most 3, the
// most a JPEG's DCT gives) at which a w×h image still has at least
// tw×th pixels: a thumbnail is then always made by shrinking, never by
// enlarging.
func decodeShift(w, h, tw, th int) int {
	shift := 0
	for shift < 3 && scaledSide(w, shift+1) >= tw && scaledSide(h, shift+1) >= th {
		shift++
	}
	return shift
}

// scaledSide is a side of n pixels scaled by 1/2^shift, rounded up as
// scaledjpeg rounds it.
func scaledSide(n, shift int) int { return (n + 1<<shift - 1) >> shift }

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

// resize scales img to tw×th (each at most the source's). A YCbCr image,
// what JPEG and lossy WebP decode to, is scaled plane by plane to a
// 4:2:0 YCbCr thumbnail, the layout the JPEG encoder writes, so no pixel
// is converted to RGB and back; any other image, or chroma too coarse
// for a 4:2:0 thumbnail (4:1:1), goes through boxResize.
func resize(img image.Image, tw, th int) image.Image {
	if m, ok := img.(*image.YCbCr); ok {
		if t := resizeYCbCr(m, tw, th); t != nil {
			return t
		}
	}
	return boxResize(img, tw, th)
}

// resizeYCbCr is resize for m, or nil when m's chroma planes are smaller
// than a 4:2:0 thumbnail's. Averaging Y, Cb and Cr separately is
// averaging R, G and B: the conversion between them is affine.
func resizeYCbCr(m *image.YCbCr, tw, th int) *image.YCbCr {
	r := m.Rect
	var hs, vs int // chroma subsampling shifts
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422:
		hs = 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio440:
		vs = 1
	default:
		return nil
	}
	// The chroma samples that the luma rectangle touches (COffset's
	// rounding: x>>hs).
	cx0, cy0 := r.Min.X>>hs, r.Min.Y>>vs
	cw, ch := (r.Max.X-1)>>hs-cx0+1, (r.Max.Y-1)>>vs-cy0+1
	dst := image.NewYCbCr(image.Rect(0, 0, tw, th), image.YCbCrSubsampleRatio420)
	tcw, tch := (tw+1)/2, (th+1)/2
	if cw < tcw || ch < tch {
		return nil
	}
	var s resizeScratch
	yo, co := m.YOffset(r.Min.X, r.Min.Y), m.COffset(r.Min.X, r.Min.Y)
	s.plane(m.Y[yo:], r.Dx(), r.Dy(), m.YStride, dst.Y, tw, th, dst.YStride)
	s.plane(m.Cb[co:], cw, ch, m.CStride, dst.Cb, tcw, tch, dst.CStride)
	s.plane(m.Cr[co:], cw, ch, m.CStride, dst.Cr, tcw, tch, dst.CStride)
	return dst
}

// resizeScratch holds the buffers of one plane resize, reused for the
// next plane of the same image.
type resizeScratch struct {
	xmap       []areaStep
	acc0, acc1 []float32
}

// areaStep says where one source pixel goes along one axis: all of it
// into output pixel i with weight a, or split between i (a) and i+1
// (b), the weights being the fraction of the output pixel it covers.
// last says that output pixel i ends within (or at the end of) this
// source pixel: no later source pixel adds to it.
type areaStep struct {
	i    int32
	last bool
	a, b float32
}

// areaSteps maps n source pixels onto m ≤ n output pixels by area: the
// output pixel i covers source [i·n/m, (i+1)·n/m), so a source pixel
// falls into one output pixel or straddles two, and each output pixel's
// weights add up to 1.
func areaSteps(steps []areaStep, n, m int) []areaStep {
	steps = slices.Grow(steps[:0], n)[:n]
	inv := 1 / float32(n)
	for j := range n {
		// In units of 1/(n·m) of the image: source j covers [j·m,
		// (j+1)·m), output i covers [i·n, (i+1)·n).
		i := j * m / n
		end := (i + 1) * n
		if (j+1)*m <= end {
			steps[j] = areaStep{i: int32(i), a: float32(m) * inv, last: (j+1)*m == end}
		} else {
			steps[j] = areaStep{i: int32(i), a: float32(end-j*m) * inv, b: float32((j+1)*m-end) * inv, last: true}
		}
	}
	return steps
}

// plane scales the sw×sh plane src (rows stride bytes apart) to the
// dw×dh plane dst by area averaging (each at most the source's). It is
// separable: along a source row, the weighted sum of the pixels that
// fall into one output column is kept in a register until its last
// pixel, then added to the one or two rows of output sums the source row
// falls in; an output row is written once no later source row reaches
// it. (Adding each pixel to an array of column sums instead makes every
// pixel wait for the previous one's store: twice as slow.) Unlike
// boxResize it weighs source pixels that straddle two output pixels, so
// ratios under 2 (a 1/2-scale decode to the largest thumbnail) do not
// alias.
func (s *resizeScratch) plane(src []uint8, sw, sh, sstride int, dst []uint8, dw, dh, dstride int) {
	s.xmap = areaSteps(s.xmap, sw, dw)
	ymap := areaSteps(nil, sh, dh)
	s.acc0 = slices.Grow(s.acc0[:0], dw)[:dw]
	s.acc1 = slices.Grow(s.acc1[:0], dw)[:dw]
	cur, next := s.acc0, s.acc1
	clear(cur)
	clear(next)
	curY := 0
	for y := range sh {
		st := ymap[y]
		if int(st.i) != curY {
			writeRow(dst[curY*dstride:curY*dstride+dw], cur)
			cur, next = next, cur
			clear(next)
			curY = int(st.i)
		}
		srow, xmap := src[y*sstride:y*sstride+sw], s.xmap[:sw]
		var acc float32
		if st.b == 0 {
			for x, p := range srow {
				xs := xmap[x]
				v := float32(p)
				acc += v * xs.a
				if xs.last {
					cur[xs.i] += acc * st.a
					acc = v * xs.b
				}
			}
			continue
		}
		for x, p := range srow {
			xs := xmap[x]
			v := float32(p)
			acc += v * xs.a
			if xs.last {
				cur[xs.i] += acc * st.a
				next[xs.i] += acc * st.b
				acc = v * xs.b
			}
		}
	}
	writeRow(dst[curY*dstride:curY*dstride+dw], cur)
}

// writeRow rounds a row of averages to bytes.
func writeRow(dst []uint8, sums []float32) {
	for x := range dst {
		dst[x] = uint8(min(sums[x]+0.5, 255))
	}
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

// orient returns img (an *image.RGBA or *image.YCbCr from resize) turned
// upright for an EXIF orientation (TIFF/EXIF 2.3, tag 0x0112). For each
// displayed pixel (dx, dy) it picks the stored pixel (sx, sy) of a W×H
// source:
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
// Orientations 5 to 8 swap width and height. Any other value returns img.
// A YCbCr image's chroma planes turn with its luma plane.
func orient(img image.Image, o int) image.Image {
	if o < 2 || o > 8 {
		return img
	}
	switch m := img.(type) {
	case *image.RGBA:
		pix, dw, dh, stride := orientPlane(m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Rect.Dx(), m.Rect.Dy(), m.Stride, 4, o)
		return &image.RGBA{Pix: pix, Stride: stride, Rect: image.Rect(0, 0, dw, dh)}
	case *image.YCbCr: // 4:4:4 or 4:2:0, as resize makes them, at (0, 0)
		w, h := m.Rect.Dx(), m.Rect.Dy()
		cw, ch := w, h
		if m.SubsampleRatio == image.YCbCrSubsampleRatio420 {
			cw, ch = (w+1)/2, (h+1)/2
		}
		y, dw, dh, ys := orientPlane(m.Y, w, h, m.YStride, 1, o)
		cb, _, _, cs := orientPlane(m.Cb, cw, ch, m.CStride, 1, o)
		cr, _, _, _ := orientPlane(m.Cr, cw, ch, m.CStride, 1, o)
		return &image.YCbCr{Y: y, Cb: cb, Cr: cr, YStride: ys, CStride: cs, SubsampleRatio: m.SubsampleRatio, Rect: image.Rect(0, 0, dw, dh)}
	}
	panic(fmt.Sprintf("media: orient of %T", img))
}

// orientPlane turns a w×h plane of bpp-byte pixels (row stride bytes)
// by orientation o (2 to 8, see orient), returning the new plane, its
// size and its stride. Each mapping of orient is linear in (dx, dy), so
// the source offset advances by a fixed step along a displayed row and
// another along a column.
func orientPlane(src []uint8, w, h, stride, bpp, o int) (dst []uint8, dw, dh, dstride int) {
	// sx = ax + bx·dx + cx·dy, sy = ay + by·dx + cy·dy.
	var ax, bx, cx, ay, by, cy int
	switch o {
	case 2:
		ax, bx, cy = w-1, -1, 1
	case 3:
		ax, bx, ay, cy = w-1, -1, h-1, -1
	case 4:
		bx, ay, cy = 1, h-1, -1
	case 5:
		cx, by = 1, 1
	case 6:
		cx, ay, by = 1, h-1, -1
	case 7:
		ax, cx, ay, by = w-1, -1, h-1, -1
	case 8:
		ax, cx, by = w-1, -1, 1
	default:
		ax, bx, cy = 0, 1, 1
	}
	dw, dh = w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dstride = dw * bpp
	dst = make([]uint8, dstride*dh)
	stepX, stepY := by*stride+bx*bpp, cy*stride+cx*bpp
	base := ay*stride + ax*bpp
	for dy := range dh {
		si, d := base+dy*stepY, dst[dy*dstride:(dy+1)*dstride]
		if bpp == 1 {
			for dx := range d {
				d[dx] = src[si]
				si += stepX
			}
			continue
		}
		for di := 0; di < len(d); di += bpp {
			copy(d[di:di+bpp], src[si:si+bpp])
			si += stepX
		}
	}
	return dst, dw, dh, dstride
}
