package geo

import (
	"fmt"
	"strconv"
)

// A coordParser reads the "coordinates" member of one GeoJSON geometry into
// flat XY coordinates, without the intermediate [][]float64 slices of a
// general JSON decoder (about 40 bytes per position), and stops as soon as
// the vertex budget is spent. The input is already known to be valid JSON
// (encoding/json checked it), so only the shape needs checking here.
//
// depth is the nesting of the coordinates array: 2 for a LineString (an
// array of positions), 3 for a Polygon or MultiLineString, 4 for a
// MultiPolygon. After a successful parse, ends[k] holds the end markers of
// the arrays k+2 levels above the numbers: ends[0] the end offset in flat of
// each array of positions (a ring or line), ends[1] the number of entries
// of ends[0] at the end of each array of those (a polygon), and so on.
type coordParser struct {
	data   []byte
	pos    int
	flat   []float64
	ends   [][]int
	budget int    // positions still allowed
	over   string // what the budget stands for, for the message
}

// errCoordBudget reports that the parser stopped at the vertex budget.
type errCoordBudget struct{ what string }

func (e errCoordBudget) Error() string { return e.what }

// parseCoordinates parses data; on error the parser it returns holds the
// positions read before the error.
func parseCoordinates(data []byte, depth, budget int, over string) (*coordParser, error) {
	c := &coordParser{data: data, ends: make([][]int, depth-1), budget: budget, over: over}
	c.skipSpace()
	if err := c.array(depth, nil); err != nil {
		return c, err
	}
	c.skipSpace()
	if c.pos != len(c.data) {
		return c, fmt.Errorf("coordinates: unexpected data after the array")
	}
	return c, nil
}

// shape names what an array at a depth holds, for messages.
func shape(depth int) string {
	switch depth {
	case 1:
		return "a position (an array of numbers)"
	case 2:
		return "an array of positions"
	case 3:
		return "an array of arrays of positions"
	}
	return "an array of arrays of arrays of positions"
}

func (c *coordParser) skipSpace() {
	for c.pos < len(c.data) {
		switch c.data[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

// array parses one array of the given depth; path holds the indices of the
// enclosing arrays, for messages.
func (c *coordParser) array(depth int, path []int) error {
	if c.pos >= len(c.data) || c.data[c.pos] != '[' {
		return fmt.Errorf("coordinates%s: want %s", pathString(path), shape(depth))
	}
	c.pos++
	if depth == 1 {
		return c.position(path)
	}
	c.skipSpace()
	for i := 0; ; i++ {
		if c.pos < len(c.data) && c.data[c.pos] == ']' {
			c.pos++
			break
		}
		if i > 0 {
			if c.data[c.pos] != ',' {
				return fmt.Errorf("coordinates%s: malformed array", pathString(path))
			}
			c.pos++
			c.skipSpace()
		}
		if err := c.array(depth-1, append(path, i)); err != nil {
			return err
		}
		c.skipSpace()
	}
	k := depth - 2
	marker := len(c.flat)
	if k > 0 {
		marker = len(c.ends[k-1])
	}
	c.ends[k] = append(c.ends[k], marker)
	return nil
}

// position parses the numbers of one position after its '['.
func (c *coordParser) position(path []int) error {
	var xy [2]float64
	n := 0
	for {
		c.skipSpace()
		if c.pos >= len(c.data) {
			return fmt.Errorf("coordinates%s: truncated", pathString(path))
		}
		if c.data[c.pos] == ']' {
			c.pos++
			break
		}
		if n > 0 {
			if c.data[c.pos] != ',' {
				return fmt.Errorf("coordinates%s: malformed position", pathString(path))
			}
			c.pos++
			c.skipSpace()
		}
		start := c.pos
		for c.pos < len(c.data) && isNumberByte(c.data[c.pos]) {
			c.pos++
		}
		if start == c.pos {
			return fmt.Errorf("coordinates%s: position must hold numbers only", pathString(path))
		}
		if n < 2 {
			// A JSON number too large for float64 (1e999) parses as ±Inf
			// with ErrRange; keep the Inf for the range check to report.
			v, err := strconv.ParseFloat(string(c.data[start:c.pos]), 64)
			if err != nil && !isRangeErr(err) {
				return fmt.Errorf("coordinates%s: %q is not a number", pathString(path), c.data[start:c.pos])
			}
			xy[n] = v
		}
		n++
	}
	switch {
	case n == 3:
		return fmt.Errorf("coordinates%s: position has 3 values: 3D (Z) coordinates are not accepted, only longitude, latitude", pathString(path))
	case n != 2:
		return fmt.Errorf("coordinates%s: position has %d values, want 2 (longitude, latitude)", pathString(path), n)
	}
	if c.budget--; c.budget < 0 {
		return errCoordBudget{c.over}
	}
	c.flat = append(c.flat, xy[0], xy[1])
	return nil
}

func isNumberByte(b byte) bool {
	return b >= '0' && b <= '9' || b == '-' || b == '+' || b == '.' || b == 'e' || b == 'E'
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// pathString formats array indices as "[0][3]".
func pathString(path []int) string {
	s := ""
	for _, i := range path {
		s += "[" + strconv.Itoa(i) + "]"
	}
	return s
}
