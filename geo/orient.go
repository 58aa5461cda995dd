package geo

import (
	"math"
	"math/big"
)

// Exact geometric predicates.
//
// Point-in-polygon and segment-intersection tests reduce to the sign of
//
//	orient(a, b, c) = (a−c) × (b−c) = (ax−cx)(by−cy) − (ay−cy)(bx−cx)
//
// which is positive when a, b, c turn counter-clockwise, negative when they
// turn clockwise and zero when they are collinear. Evaluated naively in
// float64 the sign is wrong for points within about 1e-16 relative of a
// line, which would make a point on a shared township edge inside both
// townships or neither, depending on the direction in which each polygon
// happens to list the edge. orient uses Shewchuk's static filter (the first
// stage of his adaptive orient2d, "Adaptive Precision Floating-Point
// Arithmetic and Fast Robust Geometric Predicates", 1997): when the float64
// result is larger than its proven error bound its sign is certain;
// otherwise, which happens only for points within a few ulps of the line,
// the determinant is recomputed exactly with math/big. Every float64 is a
// rational number, so the answer is exact for the coordinates as given.

// ccwErrBoundA is Shewchuk's ccwerrboundA, (3 + 16ε)ε with ε = 2⁻⁵³.
const ccwErrBoundA = (3.0 + 16.0*0x1p-53) * 0x1p-53

// tinyProduct guards the filter against underflow, which its error bound
// does not cover: products this small go to the exact path.
const tinyProduct = 1e-250

// orient returns +1, −1 or 0 as a, b, c turn counter-clockwise, clockwise,
// or are collinear, exactly for the float64 inputs. Inputs must be finite.
func orient(ax, ay, bx, by, cx, cy float64) int {
	acx, bcy := ax-cx, by-cy
	acy, bcx := ay-cy, bx-cx
	detLeft, detRight := acx*bcy, acy*bcx
	// A difference of finite floats is zero exactly when they are equal, so
	// a product with a zero factor is exactly zero and needs no filter.
	leftZero := acx == 0 || bcy == 0
	rightZero := acy == 0 || bcx == 0
	switch {
	case leftZero && rightZero:
		return 0
	case leftZero:
		if math.Abs(detRight) > tinyProduct {
			return -sign(detRight)
		}
	case rightZero:
		if math.Abs(detLeft) > tinyProduct {
			return sign(detLeft)
		}
	default:
		det := detLeft - detRight
		detSum := math.Abs(detLeft) + math.Abs(detRight)
		if detSum > tinyProduct && math.Abs(det) >= ccwErrBoundA*detSum {
			return sign(det)
		}
	}
	return orientExact(ax, ay, bx, by, cx, cy)
}

// orientExact evaluates the orientation determinant in rational arithmetic.
// It allocates; orient calls it only when the float64 sign is in doubt.
func orientExact(ax, ay, bx, by, cx, cy float64) int {
	var a, b, c, d, t big.Rat
	a.Sub(ratOf(ax), ratOf(cx))
	b.Sub(ratOf(by), ratOf(cy))
	c.Sub(ratOf(ay), ratOf(cy))
	d.Sub(ratOf(bx), ratOf(cx))
	a.Mul(&a, &b)
	t.Mul(&c, &d)
	return a.Cmp(&t)
}

func ratOf(x float64) *big.Rat {
	return new(big.Rat).SetFloat64(x)
}

func sign(x float64) int {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}
