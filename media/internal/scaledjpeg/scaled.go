// Copyright 2026 The fieldwatch authors. Use of this source code is
// governed by the BSD-style license in the LICENSE file of this package,
// which is Go's: the rest of this package is a copy of Go's image/jpeg
// decoder.

package scaledjpeg

import "math"

// scaled is a dimension of the full-size image scaled by 1/2^shift,
// rounded up: the last block's partial pixels count as a pixel.
func scaled(n, shift int) int { return (n + 1<<shift - 1) >> shift }

// initScaled fills the tables of the scaled inverse DCT for d.shift.
//
// The JPEG inverse DCT of an 8×8 block is
//
//	f(x, y) = 1/4 Σu Σv C(u) C(v) F(u, v) cos((2x+1)uπ/16) cos((2y+1)vπ/16)
//
// with C(0) = 1/√2 and C(k) = 1 otherwise. Evaluated at the centre of an
// m×m cell (m = 2^shift), x = m·i + (m-1)/2, the angle becomes
// (2i+1)uπ/(2n) for n = 8/m outputs per side; keeping only u, v < n
// drops the frequencies an n-sample grid cannot hold. So each output is
// a separable sum over an n×n corner of the coefficients with the basis
// idctTab[i][u] = C(u) cos((2i+1)uπ/(2n)) / 2 (the 1/4 split between the
// two passes).
func (d *decoder) initScaled() {
	for zig, nat := range unzig {
		d.zigOf[nat] = uint8(zig)
		d.ones[zig] = 1
	}
	n := 8 >> d.shift
	if n > 4 {
		return // the full-size path uses idct
	}
	for i := range n {
		for u := range n {
			c := math.Cos(float64((2*i+1)*u) * math.Pi / float64(2*n))
			if u == 0 {
				c = math.Sqrt2 / 2
			}
			d.idctTab[i][u] = float32(c / 2)
		}
	}
}

// reconstructScaled computes the scaled inverse DCT of initScaled from
// the n×n low-frequency corner of b (natural order, dequantized) and
// writes the n×n level-shifted, clipped pixels to dst.
func (d *decoder) reconstructScaled(b *block, dst []byte, stride int) {
	n := 8 >> d.shift
	if n == 1 { // the DC term alone: the block's mean
		c := (b[0] + 4) >> 3
		dst[0] = clip(float32(c))
		return
	}
	if n == 4 {
		reconstruct4(b, dst, stride)
		return
	}
	var f, tmp [4][4]float32
	for v := range n {
		for u := range n {
			f[v][u] = float32(b[8*v+u])
		}
	}
	t := &d.idctTab
	// Rows: tmp[v][x] = Σu f[v][u]·t[x][u].
	for v := range n {
		for x := range n {
			var s float32
			for u := range n {
				s += f[v][u] * t[x][u]
			}
			tmp[v][x] = s
		}
	}
	// Columns: out[y][x] = Σv t[y][v]·tmp[v][x].
	for y := range n {
		row := dst[y*stride : y*stride+n]
		for x := range n {
			var s float32
			for v := range n {
				s += t[y][v] * tmp[v][x]
			}
			row[x] = clip(s)
		}
	}
}

// clip level-shifts a sample by +128, rounds it and clips it to a byte.
func clip(s float32) uint8 {
	s += 128.5
	switch {
	case s < 0:
		return 0
	case s >= 255:
		return 255
	}
	return uint8(s)
}

// The 4-point basis of initScaled written out: for outputs 0 to 3,
// u = 0 and u = 2 weigh k0 (C(0)/2 and cos(π/4)/2 are both 1/(2√2)) with
// signs + + + + and + - - +; u = 1 and u = 3 weigh k1 = cos(π/8)/2 and
// k3 = cos(3π/8)/2 as k1 k3 -k3 -k1 and k3 -k1 k1 -k3.
const (
	k0 = 0.35355339059327373 // 1/(2√2)
	k1 = 0.46193976625564337 // cos(π/8)/2
	k3 = 0.19134171618254489 // cos(3π/8)/2
)

// reconstruct4 is reconstructScaled for 4×4 outputs (1/2 scale, the
// common case) with the basis unrolled into even and odd halves: 6
// multiplications per 4-point transform instead of 16. A block whose
// kept AC coefficients are all zero (smooth areas, most of a photo's
// chroma) is its DC value.
func reconstruct4(b *block, dst []byte, stride int) {
	if b[1]|b[2]|b[3]|b[8]|b[9]|b[10]|b[11]|b[16]|b[17]|b[18]|b[19]|b[24]|b[25]|b[26]|b[27] == 0 {
		c := clip(float32((b[0] + 4) >> 3))
		for y := range 4 {
			row := dst[y*stride : y*stride+4]
			row[0], row[1], row[2], row[3] = c, c, c, c
		}
		return
	}
	var tmp [4][4]float32 // tmp[v][x]
	for v := range 4 {
		p := 8 * v
		f0, f1, f2, f3 := float32(b[p]), float32(b[p+1]), float32(b[p+2]), float32(b[p+3])
		e0, e1 := k0*(f0+f2), k0*(f0-f2)
		o0, o1 := k1*f1+k3*f3, k3*f1-k1*f3
		tmp[v] = [4]float32{e0 + o0, e1 + o1, e1 - o1, e0 - o0}
	}
	for x := range 4 {
		f0, f1, f2, f3 := tmp[0][x], tmp[1][x], tmp[2][x], tmp[3][x]
		e0, e1 := k0*(f0+f2), k0*(f0-f2)
		o0, o1 := k1*f1+k3*f3, k3*f1-k1*f3
		dst[x] = clip(e0 + o0)
		dst[stride+x] = clip(e1 + o1)
		dst[2*stride+x] = clip(e1 - o1)
		dst[3*stride+x] = clip(e0 - o0)
	}
}
