package fieldwatch

import (
	"errors"
	"fmt"
	"time"

	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/media"
)

// describe reads what the bytes say (type, size, EXIF) and what the phone
// says (meta), and decides the evidence's location, capture time and
// flags. It rejects only what cannot be evidence: a format we do not
// accept, a decompression bomb, a header that is not what its magic
// promises, or client-supplied fields that break the contract. Doubts
// become flags.
func (in *Intake) describe(meta EvidenceMeta, sp *Spool, uploader string) (Evidence, error) {
	now := in.now().UTC()
	e := Evidence{
		UploaderID: uploader,
		SHA256:     sp.SHA256(),
		Size:       sp.size,
		ReceivedAt: now,
	}
	var err error
	if e.Category, err = ParseCategory(string(meta.Category)); err != nil {
		return Evidence{}, err
	}
	if e.Subcategory, err = CleanText("subcategory", meta.Subcategory, 64, false); err != nil {
		return Evidence{}, err
	}
	if e.Note, err = CleanText("note", meta.Note, 2000, true); err != nil {
		return Evidence{}, err
	}

	format, err := media.Sniff(sp.head)
	if err != nil {
		return Evidence{}, imageError(EUNSUPPORTED, err)
	}
	e.ContentType = format.ContentType()
	e.ObjectKey = ObjectKey(e.SHA256)
	info, err := media.Inspect(sp.f, sp.size, format, in.cfg.MaxPixels)
	switch {
	case errors.Is(err, media.ErrTooManyPixels), errors.Is(err, media.ErrCorruptImage):
		return Evidence{}, imageError(EINVALID, err)
	case err != nil:
		return Evidence{}, err
	}
	e.Width, e.Height = info.Width, info.Height
	x, err := media.ReadEXIF(sp.f, sp.size, format)
	if err != nil {
		return Evidence{}, fmt.Errorf("fieldwatch: reading spooled photo: %w", err)
	}
	e.EXIF = photoEXIF(x, in.cfg.Zone)
	flags := flagSet{}
	if info.Truncated || (x.Found && len(x.Problems) > 0) {
		flags.add(FlagDecodeIncomplete)
	}

	if meta.Device != nil {
		d, err := deviceFix(*meta.Device)
		if err != nil {
			return Evidence{}, err
		}
		e.Device = &d
		if d.Mock {
			flags.add(FlagMockLocation)
		}
	}
	in.locate(&e, flags)
	in.captureTime(&e, x, meta.CapturedAt, flags)
	e.Flags = flags.list()
	return e, nil
}

// locate picks the evidence position: the photo's own GPS when present
// and sane, else the phone's fix converted to WGS-84, else none.
func (in *Intake) locate(e *Evidence, flags flagSet) {
	switch {
	case e.EXIF.Position != nil:
		p := *e.EXIF.Position
		e.Location, e.LocationSource = &p, SourceEXIF
	case e.Device != nil:
		p := e.Device.WGS84
		e.Location, e.LocationSource = &p, SourceDevice
	default:
		e.LocationSource = SourceNone
		flags.add(FlagLocationMissing)
	}
	if e.EXIF.Position == nil {
		flags.add(FlagEXIFMissing)
	}
	if e.EXIF.Position != nil && e.Device != nil {
		d := geo.Distance(*e.EXIF.Position, e.Device.WGS84)
		e.EXIFDeviceDistanceM = &d
		if d > in.cfg.MismatchM {
			flags.add(FlagEXIFDeviceMismatch)
		}
	}
	if e.Location != nil && in.cfg.County != nil && !in.cfg.County.Contains(*e.Location) {
		flags.add(FlagOutsideCounty)
	}
}

// captureTime prefers the photo's own DateTimeOriginal (an EXIF time
// without offset is read in the county's zone), then the phone's claim.
// The server's receive time stays authoritative; capture times only raise
// flags.
func (in *Intake) captureTime(e *Evidence, x media.EXIF, claimed *time.Time, flags flagSet) {
	if t, ok := x.CaptureTimeIn(in.cfg.Zone); ok {
		t = t.UTC()
		e.CapturedAt, e.CaptureTimeSource = &t, SourceEXIF
	} else if claimed != nil {
		t := claimed.UTC()
		e.CapturedAt, e.CaptureTimeSource = &t, SourceDevice
	} else {
		e.CaptureTimeSource = SourceNone
		flags.add(FlagCaptureTimeMissing)
		return
	}
	switch {
	case e.CapturedAt.After(e.ReceivedAt.Add(in.cfg.FutureSkew)):
		flags.add(FlagCaptureTimeFuture)
	case e.CapturedAt.Before(e.ReceivedAt.Add(-in.cfg.StaleWindow)):
		flags.add(FlagCaptureStale)
	}
}

// deviceFix validates a client-supplied position and converts it to
// WGS-84. Unlike EXIF, these numbers come from the client's code: a
// swapped pair or a NaN is a bug to report (422), not a doubt to flag.
func deviceFix(d DeviceInput) (DeviceFix, error) {
	crs := d.CRS
	if crs == "" {
		crs = geo.WGS84
	}
	if err := geo.ValidateChinaLonLat(d.Lon, d.Lat); err != nil {
		return DeviceFix{}, Errorf(EINVALID, "device_location: %w", err)
	}
	wgs, err := geo.ToWGS84(geo.Point{Lon: d.Lon, Lat: d.Lat}, crs)
	if err != nil {
		return DeviceFix{}, Errorf(EINVALID, "device_location: %w", err)
	}
	provider, err := CleanText("device_location.provider", d.Provider, 32, false)
	if err != nil {
		return DeviceFix{}, err
	}
	return DeviceFix{Lon: d.Lon, Lat: d.Lat, CRS: crs, WGS84: wgs, AccuracyM: d.AccuracyM, Provider: provider, Mock: d.Mock}, nil
}

// photoEXIF keeps what fieldwatch uses of the photo's EXIF.
func photoEXIF(x media.EXIF, zone *time.Location) PhotoEXIF {
	p := PhotoEXIF{
		AltitudeM:    x.AltitudeM,
		GPSTime:      x.GPSTime,
		Orientation:  x.Orientation,
		Make:         x.Make,
		Model:        x.Model,
		DirectionDeg: x.ImgDirection,
		Problems:     x.Problems,
	}
	if x.Location != nil {
		pt := geo.Point{Lon: x.Location.Lon, Lat: x.Location.Lat}
		if pt.Validate() == nil {
			p.Position = &pt
		} else {
			p.Problems = append(p.Problems, "location: not a valid coordinate")
		}
	}
	if t, ok := x.CaptureTimeIn(zone); ok {
		t = t.UTC()
		p.TakenAt, p.TakenAtZoned = &t, x.CapturedAtHasZone
	}
	return p
}

// flagSet collects flags once each, in the order raised.
type flagSet map[Flag]int

func (s flagSet) add(f Flag) {
	if _, ok := s[f]; !ok {
		s[f] = len(s)
	}
}

func (s flagSet) list() []Flag {
	out := make([]Flag, len(s))
	for f, i := range s {
		out[i] = f
	}
	return out
}

// imageError is a photo refused by package media, with media's description
// of what is wrong as the client's message.
func imageError(code Code, err error) error {
	msg := "the photo cannot be read"
	var d interface{ Detail() string }
	if errors.As(err, &d) {
		msg = d.Detail()
	}
	return Wrap(code, msg, err)
}
