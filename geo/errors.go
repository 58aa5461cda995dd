package geo

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Callers match them with errors.Is; the
// returned errors wrap them with the offending values.
var (
	// ErrInvalidCoordinate reports a longitude or latitude that is NaN,
	// infinite or outside [-180, 180] × [-90, 90].
	ErrInvalidCoordinate = errors.New("geo: invalid coordinate")

	// ErrSwappedLonLat reports a pair that is only plausible with longitude
	// and latitude exchanged. It wraps ErrInvalidCoordinate, so a caller that
	// only knows ErrInvalidCoordinate still rejects it.
	ErrSwappedLonLat = fmt.Errorf("%w: longitude and latitude look swapped", ErrInvalidCoordinate)

	// ErrUnknownCRS reports a coordinate system name that ParseCRS does not
	// know.
	ErrUnknownCRS = errors.New("geo: unknown coordinate system")

	// ErrEmptyGeometry reports a nil geometry or one without coordinates.
	ErrEmptyGeometry = errors.New("geo: empty geometry")

	// ErrInvalidGeometry reports a geometry whose layout has no X and Y or
	// whose coordinate array is not a whole number of positions.
	ErrInvalidGeometry = errors.New("geo: invalid geometry")

	// ErrInvalidBox reports a box with non-finite, out-of-range or inverted
	// bounds.
	ErrInvalidBox = errors.New("geo: invalid box")
)
