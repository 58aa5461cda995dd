package api

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
)

// A hand-written JSON encoder for evidence, the body of the two most
// frequent reads (GET /v1/evidence/{id} and the list). It writes straight
// from the domain value the bytes that encoding/json writes for
// evidenceOut's result (the generated Evidence type: same members, same
// order, same number, time and string forms, HTML-safe escaping, the
// Encoder's trailing newline), without building that value or reflecting
// over it. TestEvidenceJSONMatchesEncodingJSON holds the two together; a
// change to the schema or to evidenceOut must change both.

// evidenceResponse is GetEvidence's 200 response.
type evidenceResponse struct{ e fieldwatch.Evidence }

// VisitGetEvidenceResponse implements GetEvidenceResponseObject.
func (r evidenceResponse) VisitGetEvidenceResponse(w http.ResponseWriter) error {
	if !encodable(&r.e) {
		return GetEvidence200JSONResponse(evidenceOut(r.e)).VisitGetEvidenceResponse(w)
	}
	b := appendEvidenceJSON(make([]byte, 0, 2048), &r.e)
	return writeJSON(w, append(b, '\n'))
}

// evidencePageResponse is ListEvidence's 200 response in JSON (an
// EvidencePage).
type evidencePageResponse struct {
	items []fieldwatch.Evidence
	next  *string
}

// VisitListEvidenceResponse implements ListEvidenceResponseObject.
func (r evidencePageResponse) VisitListEvidenceResponse(w http.ResponseWriter) error {
	for i := range r.items {
		if !encodable(&r.items[i]) {
			page := EvidencePage{Items: make([]Evidence, 0, len(r.items)), NextCursor: r.next}
			for _, e := range r.items {
				page.Items = append(page.Items, evidenceOut(e))
			}
			return ListEvidence200JSONResponse(page).VisitListEvidenceResponse(w)
		}
	}
	return writeJSON(w, appendEvidencePageJSON(make([]byte, 0, 256+2560*len(r.items)), r.items, r.next))
}

// encodable reports whether e has none of the values encoding/json fails
// on (NaN or infinite numbers, years outside 0–9999), which the store
// never returns. For one that has, the responses take encoding/json's
// path and fail as they always did.
func encodable(e *fieldwatch.Evidence) bool {
	finite := func(fs ...*float64) bool {
		for _, f := range fs {
			if f != nil && (math.IsNaN(*f) || math.IsInf(*f, 0)) {
				return false
			}
		}
		return true
	}
	year := func(ts ...*time.Time) bool {
		for _, t := range ts {
			if t != nil && (t.Year() < 0 || t.Year() > 9999) {
				return false
			}
		}
		return true
	}
	if !year(&e.ReceivedAt, e.CapturedAt, e.EXIF.GPSTime, e.EXIF.TakenAt) ||
		!finite(e.EXIFDeviceDistanceM, e.EXIF.AltitudeM, e.EXIF.DirectionDeg) {
		return false
	}
	for _, p := range []*geo.Point{e.Location, e.EXIF.Position} {
		if p != nil && !finite(&p.Lon, &p.Lat) {
			return false
		}
	}
	if d := e.Device; d != nil && !finite(&d.Lon, &d.Lat, &d.WGS84.Lon, &d.WGS84.Lat, d.AccuracyM) {
		return false
	}
	if r := e.Responsibility; r != nil {
		if !finite(&r.ReachDistM) {
			return false
		}
		for i := range r.Candidates {
			if !finite(&r.Candidates[i].DistanceM) {
				return false
			}
		}
	}
	return true
}

func writeJSON(w http.ResponseWriter, body []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// appendEvidencePageJSON appends an EvidencePage and the newline
// json.Encoder ends with.
func appendEvidencePageJSON(b []byte, items []fieldwatch.Evidence, next *string) []byte {
	b = append(b, `{"items":[`...)
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEvidenceJSON(b, &items[i])
	}
	b = append(b, ']')
	if next != nil {
		b = append(b, `,"next_cursor":`...)
		b = appendJSONString(b, *next)
	}
	return append(b, "}\n"...)
}

// appendEvidenceJSON appends json.Marshal(evidenceOut(*e)).
func appendEvidenceJSON(b []byte, e *fieldwatch.Evidence) []byte {
	b = append(b, `{"capture_time_source":`...)
	b = appendJSONString(b, string(e.CaptureTimeSource))
	if e.CapturedAt != nil {
		b = append(b, `,"captured_at":`...)
		b = appendJSONTime(b, *e.CapturedAt)
	}
	b = append(b, `,"category":`...)
	b = appendJSONString(b, string(e.Category))
	b = append(b, `,"content_type":`...)
	b = appendJSONString(b, e.ContentType)
	if d := e.Device; d != nil {
		b = append(b, `,"device_location":{`...)
		if d.AccuracyM != nil {
			b = append(b, `"accuracy_m":`...)
			b = appendJSONFloat(b, *d.AccuracyM)
			b = append(b, ',')
		}
		b = append(b, `"crs":`...)
		b = appendJSONString(b, string(d.CRS))
		b = append(b, `,"lat":`...)
		b = appendJSONFloat(b, d.Lat)
		b = append(b, `,"lon":`...)
		b = appendJSONFloat(b, d.Lon)
		b = append(b, `,"mock":`...)
		b = strconv.AppendBool(b, d.Mock)
		if d.Provider != "" {
			b = append(b, `,"provider":`...)
			b = appendJSONString(b, d.Provider)
		}
		b = append(b, `,"wgs84":`...)
		b = appendJSONPosition(b, d.WGS84.Lon, d.WGS84.Lat)
		b = append(b, '}')
	}
	if e.DuplicateOf != "" {
		b = append(b, `,"duplicate_of":`...)
		b = appendJSONUUID(b, e.DuplicateOf)
	}
	b = appendEXIFJSON(append(b, `,"exif":`...), &e.EXIF)
	if e.EXIFDeviceDistanceM != nil {
		b = append(b, `,"exif_device_distance_m":`...)
		b = appendJSONFloat(b, *e.EXIFDeviceDistanceM)
	}
	b = append(b, `,"flags":[`...)
	for i, f := range e.Flags {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, string(f))
	}
	b = append(b, ']')
	if e.Width > 0 {
		b = append(b, `,"height":`...)
		b = strconv.AppendInt(b, int64(e.Height), 10)
	}
	b = append(b, `,"id":`...)
	b = appendJSONUUID(b, e.ID)
	if e.Location != nil {
		b = append(b, `,"location":`...)
		b = appendJSONPosition(b, e.Location.Lon, e.Location.Lat)
	}
	b = append(b, `,"location_source":`...)
	b = appendJSONString(b, string(e.LocationSource))
	if e.Note != "" {
		b = append(b, `,"note":`...)
		b = appendJSONString(b, e.Note)
	}
	if e.ReachCode != "" {
		b = append(b, `,"reach_code":`...)
		b = appendJSONString(b, e.ReachCode)
	}
	b = append(b, `,"received_at":`...)
	b = appendJSONTime(b, e.ReceivedAt)
	if r := e.Responsibility; r != nil {
		b = appendResponsibilityJSON(append(b, `,"responsibility":`...), r)
	}
	b = append(b, `,"sha256":`...)
	b = appendJSONString(b, e.SHA256)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, e.Size, 10)
	if e.Subcategory != "" {
		b = append(b, `,"subcategory":`...)
		b = appendJSONString(b, e.Subcategory)
	}
	if e.ThumbnailTries.Error != "" {
		b = append(b, `,"thumbnail_error":`...)
		b = appendJSONString(b, e.ThumbnailTries.Error)
	}
	b = append(b, `,"thumbnail_state":`...)
	b = appendJSONString(b, string(e.ThumbnailState()))
	b = append(b, `,"thumbnails":[`...)
	for i, n := range e.Thumbnails {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	b = append(b, ']')
	if e.TownshipCode != "" {
		b = append(b, `,"township_code":`...)
		b = appendJSONString(b, e.TownshipCode)
	}
	b = append(b, `,"uploader_id":`...)
	b = appendJSONUUID(b, e.UploaderID)
	if e.Width > 0 {
		b = append(b, `,"width":`...)
		b = strconv.AppendInt(b, int64(e.Width), 10)
	}
	return append(b, '}')
}

// appendEXIFJSON appends a PhotoEXIF as evidenceOut fills it in.
func appendEXIFJSON(b []byte, x *fieldwatch.PhotoEXIF) []byte {
	b = append(b, '{')
	if x.AltitudeM != nil {
		b = append(b, `"altitude_m":`...)
		b = append(appendJSONFloat(b, *x.AltitudeM), ',')
	}
	if x.DirectionDeg != nil {
		b = append(b, `"direction_deg":`...)
		b = append(appendJSONFloat(b, *x.DirectionDeg), ',')
	}
	if x.GPSTime != nil {
		b = append(b, `"gps_time":`...)
		b = append(appendJSONTime(b, *x.GPSTime), ',')
	}
	if x.Make != "" {
		b = append(b, `"make":`...)
		b = append(appendJSONString(b, x.Make), ',')
	}
	if x.Model != "" {
		b = append(b, `"model":`...)
		b = append(appendJSONString(b, x.Model), ',')
	}
	if x.Orientation != 0 {
		b = append(b, `"orientation":`...)
		b = append(strconv.AppendInt(b, int64(x.Orientation), 10), ',')
	}
	if x.Position != nil {
		b = append(b, `"position":`...)
		b = append(appendJSONPosition(b, x.Position.Lon, x.Position.Lat), ',')
	}
	b = append(b, `"problems":[`...)
	for i, p := range x.Problems {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, p)
	}
	b = append(b, ']')
	if x.TakenAt != nil {
		b = append(b, `,"taken_at":`...)
		b = appendJSONTime(b, *x.TakenAt)
		b = append(b, `,"taken_at_zoned":`...)
		b = strconv.AppendBool(b, x.TakenAtZoned)
	}
	return append(b, '}')
}

// appendResponsibilityJSON appends responsibilityOut(*r).
func appendResponsibilityJSON(b []byte, r *fieldwatch.Responsibility) []byte {
	b = append(b, `{"candidates":[`...)
	for i, c := range r.Candidates {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"code":`...)
		b = appendJSONString(b, c.Code)
		b = append(b, `,"distance_m":`...)
		b = append(appendJSONFloat(b, c.DistanceM), '}')
	}
	b = append(b, `],"chiefs":[`...)
	for i, c := range r.Chiefs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"level":`...)
		b = appendJSONString(b, string(c.Level))
		b = append(b, `,"name":`...)
		b = appendJSONString(b, c.Name)
		b = append(b, `,"user_id":`...)
		b = append(appendJSONUUID(b, c.UserID), '}')
	}
	b = append(b, `],"method":`...)
	b = appendJSONString(b, r.Method)
	if r.ReachCode != "" {
		b = append(b, `,"reach_code":`...)
		b = appendJSONString(b, r.ReachCode)
		b = append(b, `,"reach_distance_m":`...)
		b = appendJSONFloat(b, r.ReachDistM)
		b = append(b, `,"reach_name":`...)
		b = appendJSONString(b, r.ReachName)
	}
	if r.TownshipCode != "" {
		b = append(b, `,"township_code":`...)
		b = appendJSONString(b, r.TownshipCode)
		b = append(b, `,"township_name":`...)
		b = appendJSONString(b, r.TownshipName)
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, r.Version, 10)
	if r.TownshipCode != "" {
		b = append(b, `,"zone":`...)
		b = appendJSONString(b, string(r.Zone))
	}
	return append(b, '}')
}

func appendJSONPosition(b []byte, lon, lat float64) []byte {
	b = append(b, `{"lat":`...)
	b = appendJSONFloat(b, lat)
	b = append(b, `,"lon":`...)
	b = appendJSONFloat(b, lon)
	return append(b, '}')
}

// appendJSONUUID appends id as the generated types carry it: parsed by
// mustUUID (the zero UUID for one that does not parse), in canonical form.
func appendJSONUUID(b []byte, id string) []byte {
	if canonicalUUID(id) { // what the store returns: already the output
		b = append(b, '"')
		b = append(b, id...)
		return append(b, '"')
	}
	u := mustUUID(id)
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(b, '"')
}

// canonicalUUID reports whether id is a UUID in the canonical form
// (lower-case hex, 8-4-4-4-12), which mustUUID and String leave as it is.
func canonicalUUID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// appendJSONTime appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds as needed). Stored times are UTC, years 1–9999.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONFloat appends f as encoding/json does: the shortest form that
// reads back the same, in exponent form below 1e-6 and from 1e21 on, with
// a two-digit negative exponent shortened to one (1e-07 → 1e-7). f is
// finite (see encodable).
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString appends s quoted as encoding/json does with HTML
// escaping on (json.Encoder's default): printable ASCII and valid UTF-8
// other than U+2028 and U+2029 (names and notes in Chinese) directly,
// anything else through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError && r != '\u2028' && r != '\u2029' {
				i += n
				continue
			}
		}
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil { // a string always marshals
				panic(err)
			}
			return append(b, q...)
		}
		i++
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
