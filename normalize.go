package fieldwatch

import (
	"fmt"
	"math"
	"slices"

	"github.com/fieldwatch/fieldwatch/geo"
)

// Normalize checks e against the domain's rules and returns it in its
// canonical form: flags known, unique and sorted, nil slices made empty,
// and what e's pointers point to copied, so that the result shares no
// memory with e. It leaves e itself untouched.
//
// It checks what the domain decides: a known category, sources and flags;
// a content type and object key; a SHA-256 of 64 lower-case hex digits;
// sizes, measures and coordinates in range; an EXIF orientation of 0–8; a
// device fix in a known CRS; a responsibility record (see
// Responsibility.Validate) whose codes agree with TownshipCode and
// ReachCode, which it then takes from the record. What is about storage
// (ids, text encoding, the range and precision of times, thumbnail sizes)
// is the store's to check.
//
// Returns an error wrapping ErrInvalid.
func (e Evidence) Normalize() (Evidence, error) {
	invalid := func(format string, args ...any) error {
		return Errorf(EINVALID, "evidence: %s", fmt.Sprintf(format, args...))
	}
	if _, err := ParseCategory(string(e.Category)); err != nil {
		return e, fmt.Errorf("evidence: %w", err)
	}
	if e.ContentType == "" || e.ObjectKey == "" {
		return e, invalid("content type and object key are required")
	}
	if !ValidSHA256(e.SHA256) {
		return e, invalid("sha256 must be 64 lower-case hex digits")
	}
	if e.Size < 0 || e.Width < 0 || e.Height < 0 || e.Width > math.MaxInt32 || e.Height > math.MaxInt32 {
		return e, invalid("size, width or height out of range")
	}
	if !e.CaptureTimeSource.Valid() || !e.LocationSource.Valid() {
		return e, invalid("unknown capture time or location source %q, %q", e.CaptureTimeSource, e.LocationSource)
	}
	e.CapturedAt = copyPtr(e.CapturedAt)
	if e.Location != nil {
		if err := e.Location.Validate(); err != nil {
			return e, Errorf(EINVALID, "evidence location: %w", err)
		}
		e.Location = copyPtr(e.Location)
	}
	var err error
	if e.EXIFDeviceDistanceM, err = measure("EXIF-device distance", e.EXIFDeviceDistanceM, true); err != nil {
		return e, err
	}
	if e.EXIF, err = e.EXIF.normalize(); err != nil {
		return e, err
	}
	if e.Device != nil {
		d, err := e.Device.normalize()
		if err != nil {
			return e, err
		}
		e.Device = &d
	}

	flags := make([]Flag, 0, len(e.Flags)+1)
	for _, f := range e.Flags {
		if !f.Valid() {
			return e, invalid("unknown flag %q", f)
		}
		if !slices.Contains(flags, f) {
			flags = append(flags, f)
		}
	}
	slices.Sort(flags)
	e.Flags = flags
	e.Thumbnails = append(make([]int, 0, len(e.Thumbnails)), e.Thumbnails...)
	if e.Responsibility != nil {
		r := *e.Responsibility
		if err := r.Validate(); err != nil {
			return e, err
		}
		if e.TownshipCode != "" && e.TownshipCode != r.TownshipCode || e.ReachCode != "" && e.ReachCode != r.ReachCode {
			return e, invalid("township and reach codes %q, %q differ from the responsibility's %q, %q",
				e.TownshipCode, e.ReachCode, r.TownshipCode, r.ReachCode)
		}
		e.TownshipCode, e.ReachCode = r.TownshipCode, r.ReachCode
		r.Chiefs = append(make([]ChiefRef, 0, len(r.Chiefs)), r.Chiefs...)
		r.Candidates = append(make([]ReachCandidate, 0, len(r.Candidates)), r.Candidates...)
		e.Responsibility = &r
	}
	return e, nil
}

// normalize checks x and returns a copy sharing no memory with it.
func (x PhotoEXIF) normalize() (PhotoEXIF, error) {
	if x.Position != nil {
		if err := x.Position.Validate(); err != nil {
			return x, Errorf(EINVALID, "EXIF position: %w", err)
		}
		x.Position = copyPtr(x.Position)
	}
	var err error
	if x.AltitudeM, err = measure("EXIF altitude", x.AltitudeM, false); err != nil {
		return x, err
	}
	if x.DirectionDeg, err = measure("EXIF direction", x.DirectionDeg, false); err != nil {
		return x, err
	}
	x.GPSTime, x.TakenAt = copyPtr(x.GPSTime), copyPtr(x.TakenAt)
	if x.Orientation < 0 || x.Orientation > 8 {
		return x, Errorf(EINVALID, "EXIF orientation %d outside 0–8", x.Orientation)
	}
	x.Problems = append(make([]string, 0, len(x.Problems)), x.Problems...)
	return x, nil
}

// normalize checks d and returns a copy sharing no memory with it.
func (d DeviceFix) normalize() (DeviceFix, error) {
	if err := geo.ValidateLonLat(d.Lon, d.Lat); err != nil {
		return d, Errorf(EINVALID, "device position: %w", err)
	}
	if c, err := geo.ParseCRS(string(d.CRS)); err != nil || c != d.CRS {
		return d, Errorf(EINVALID, "device CRS %q is not one of wgs84, gcj02, bd09", d.CRS)
	}
	if err := d.WGS84.Validate(); err != nil {
		return d, Errorf(EINVALID, "device WGS-84 position: %w", err)
	}
	var err error
	if d.AccuracyM, err = measure("device accuracy", d.AccuracyM, true); err != nil {
		return d, err
	}
	return d, nil
}

// Validate checks r against the domain's rules: a known zone (or none),
// finite non-negative distances, a non-negative version, chiefs of known
// levels, candidates with a code. Returns an error wrapping ErrInvalid.
func (r Responsibility) Validate() error {
	invalid := func(format string, a ...any) error {
		return Errorf(EINVALID, "responsibility: %s", fmt.Sprintf(format, a...))
	}
	if r.Zone != "" && !r.Zone.Valid() {
		return invalid("unknown zone %q", r.Zone)
	}
	if !finiteNonNegative(r.ReachDistM) {
		return invalid("reach distance is %v", r.ReachDistM)
	}
	if r.Version < 0 {
		return invalid("version %d is negative", r.Version)
	}
	for i, c := range r.Chiefs {
		if !c.Level.Valid() {
			return invalid("chief %d: unknown level %q", i, c.Level)
		}
	}
	for i, c := range r.Candidates {
		if c.Code == "" || !finiteNonNegative(c.DistanceM) {
			return invalid("candidate %d: empty code or distance %v", i, c.DistanceM)
		}
	}
	return nil
}

// ValidSHA256 reports whether s is a SHA-256 as the domain writes it: 64
// lower-case hex digits.
func ValidSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// measure copies a finite (and, if nonNegative, non-negative) measure.
func measure(field string, v *float64, nonNegative bool) (*float64, error) {
	if v == nil {
		return nil, nil
	}
	x := *v
	if math.IsNaN(x) || math.IsInf(x, 0) || (nonNegative && x < 0) {
		return nil, Errorf(EINVALID, "%s is %v", field, x)
	}
	return &x, nil
}

func finiteNonNegative(v float64) bool {
	return v >= 0 && !math.IsInf(v, 1) // NaN fails v >= 0
}

// copyPtr returns a pointer to a copy of *p, or nil.
func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
