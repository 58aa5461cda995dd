package geo

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidImport reports a GeoJSON import (townships or reaches) that
// cannot be accepted. The error returned by ParseTownships and
// ParseReaches is an *ImportError wrapping it, listing every problem.
var ErrInvalidImport = errors.New("geo: invalid import")

// An ImportProblem is one reason why an import is rejected.
type ImportProblem struct {
	// Feature is the index of the feature in the collection's "features"
	// array, from 0, or -1 for a problem with the document as a whole.
	Feature int

	// Code is the feature's code property when it could be read, else "".
	Code string

	// Reason says what is wrong, precisely enough to find and fix it, for
	// example "ring 0 is not closed: first position [118.2, 40.1] differs
	// from last [118.3, 40.1]". Ring and position numbers count from 0 in
	// the order of the feature's coordinates.
	Reason string
}

// String formats p as "feature 3 (130227104): reason".
func (p ImportProblem) String() string {
	switch {
	case p.Feature < 0:
		return p.Reason
	case p.Code != "":
		return fmt.Sprintf("feature %d (%s): %s", p.Feature, p.Code, p.Reason)
	}
	return fmt.Sprintf("feature %d: %s", p.Feature, p.Reason)
}

// An ImportError lists the problems that make an import invalid. It wraps
// ErrInvalidImport; errors.As gives access to the problems, for example to
// list them in a 422 response.
type ImportError struct {
	// Problems in document order: for each feature, property problems
	// first, then at most one geometry problem (validation of a geometry
	// stops at its first problem, since later checks depend on earlier
	// ones).
	Problems []ImportProblem

	// Truncated is true when validation stopped at ImportLimits.MaxProblems
	// and later features were not examined.
	Truncated bool
}

// maxProblemsInMessage is how many problems Error spells out.
const maxProblemsInMessage = 3

// Error summarises the first few problems.
func (e *ImportError) Error() string {
	return summarise(ErrInvalidImport, e.Problems, e.Truncated)
}

// summarise formats an invalid-input error as its sentinel's message and
// the first few problems: "geo: invalid …: 5 problems: a; b; c; and 2 more".
func summarise[P fmt.Stringer](sentinel error, problems []P, truncated bool) string {
	var b strings.Builder
	b.WriteString(sentinel.Error())
	n := len(problems)
	switch {
	case n == 1:
		b.WriteString(": ")
	case truncated:
		fmt.Fprintf(&b, ": %d problems or more: ", n)
	default:
		fmt.Fprintf(&b, ": %d problems: ", n)
	}
	for i, p := range problems[:min(n, maxProblemsInMessage)] {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	if n > maxProblemsInMessage {
		fmt.Fprintf(&b, "; and %d more", n-maxProblemsInMessage)
	}
	return b.String()
}

// Unwrap returns ErrInvalidImport.
func (e *ImportError) Unwrap() error { return ErrInvalidImport }
