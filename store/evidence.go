package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
)

// Limits of the evidence methods.
const (
	DefaultEvidenceLimit = 50
	MaxEvidenceLimit     = 500

	// MaxNearRadiusM bounds EvidenceFilter.RadiusM. Beyond a county's
	// size the backends' distance measures drift apart (see spatial.go).
	MaxNearRadiusM = 50_000.0

	// MaxScopeCodes bounds each of a Scope's Townships and Reaches.
	MaxScopeCodes = 1000

	// MaxThumbnailSize bounds a thumbnail size in pixels, and
	// maxThumbnailSizes the number of sizes per evidence.
	MaxThumbnailSize  = 16384
	maxThumbnailSizes = 32

	// maxThumbnailSets bounds the distinct thumbnail sets
	// EvidenceNeedingThumbnails looks at; in practice there are a handful.
	maxThumbnailSets = 1000
)

// thumbnailable is the SQL predicate for the evidence the thumbnail
// worker may still make previews of: content types it decodes, not given
// up on. It must stay identical to the predicate of the
// evidence_thumbnails partial index in both migrations (00011), or the
// index is not used.
const thumbnailable = `content_type IN ('image/jpeg', 'image/png', 'image/webp') AND thumbnail_gave_up IS NULL`

// Columns of evidence, read with alias e. details and responsibility are
// read as text: json in PostgreSQL (jsonb before migration 00015; json is
// sent as stored, without jsonb's costly printing), TEXT in SQLite.
const evidenceCols = `e.id, e.uploader_id, e.category, e.subcategory, e.note, e.sha256, e.size,
	e.content_type, e.object_key, e.width, e.height, e.received_at, e.captured_at, e.capture_time_source,
	e.lon, e.lat, e.location_source, e.exif_device_distance_m, e.duplicate_of, e.township_code, e.reach_code,
	e.thumbnails, CAST(e.details AS TEXT), CAST(e.responsibility AS TEXT),
	e.thumbnail_attempts, e.thumbnail_next_at, e.thumbnail_error, e.thumbnail_gave_up`

const evidenceInsertCols = `id, uploader_id, category, subcategory, note, sha256, size,
	content_type, object_key, width, height, received_at, captured_at, capture_time_source,
	lon, lat, location_source, exif_device_distance_m, duplicate_of, township_code, reach_code, thumbnails, details,
	responsibility`

// errClaimLost: CommitEvidence found no pending submission to complete.
var errClaimLost = conflictf("no pending submission for this key (the claim was lost)")

// CommitEvidence stores e as the result of the pending submission
// (e.UploaderID, key), in one write transaction:
//
//   - the submission must be pending and held by this attempt (the
//     token ClaimSubmission returned), else ErrConflict: the claim was
//     lost (released, abandoned by the reconciler, or taken over by a
//     newer attempt, which may have stored it already);
//   - e.ID gets a new UUID v7 if empty, and e.ReceivedAt the store's
//     clock if zero;
//   - e.DuplicateOf is set to the id of the original evidence with the
//     same SHA-256, and FlagDuplicateOf added; with none, both are
//     cleared, whatever the caller set (they are server-owned). The
//     original is the first evidence committed with these bytes, the only
//     one without DuplicateOf, so duplicates never form chains; when
//     ReceivedAt follows commit order, as the server's clock makes it,
//     it is the earliest by (ReceivedAt, ID). Commits of the same bytes
//     are serialised, so concurrent ones still find exactly one original;
//   - e.TownshipCode and e.ReachCode are stored as given, empty as NULL
//     (usually empty: linking sets them later with SetEvidenceLink or
//     SetEvidenceResponsibility); if e.Responsibility is set, it is
//     stored and the codes are taken from it (given codes must match);
//   - the evidence, its flags and its spatial index entry are inserted;
//   - the submission becomes stored with the evidence id, fingerprint and
//     UpdatedAt = e.ReceivedAt.
//
// On success e is completed in place with what was stored: times in UTC to
// the microsecond, flags sorted and unique, nil slices made empty, so that
// it equals what EvidenceByID returns. On error e is unchanged and nothing
// is written.
//
// Returns an error wrapping fieldwatch.ErrInvalid for input that cannot be
// stored (unknown category, source, flag or CRS; a SHA-256 that is not 64
// lower-case hex digits; NaN, infinite or out-of-range coordinates or
// measures; invalid UTF-8 or NUL in text; a fingerprint that is not 32
// bytes); ErrConflict as above or for a taken ID; ErrNotFound if the
// uploader does not exist.
func (s *Store) CommitEvidence(ctx context.Context, e *fieldwatch.Evidence, key, attempt string, fingerprint []byte) error {
	if err := checkIdemKey(key); err != nil {
		return err
	}
	if len(fingerprint) != sha256.Size {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "submission fingerprint must be %d bytes", sha256.Size)
	}
	ne, err := s.normEvidence(*e)
	if err != nil {
		return err
	}
	details, err := json.Marshal(toDetails(ne))
	if err != nil {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "evidence details: %w", err)
	}
	var lon, lat any
	if ne.Location != nil {
		lon, lat = ne.Location.Lon, ne.Location.Lat
	}
	var dist any
	if ne.EXIFDeviceDistanceM != nil {
		dist = *ne.EXIFDeviceDistanceM
	}
	var resp any
	if ne.Responsibility != nil {
		if resp, err = responsibilityJSON(*ne.Responsibility); err != nil {
			return err
		}
	}

	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		var state string
		var held sql.NullString
		err := tx.QueryRowContext(ctx, s.q(`SELECT state, attempt FROM submissions WHERE user_id = ? AND idem_key = ?`),
			ne.UploaderID, key).Scan(&state, &held)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && (state != string(fieldwatch.SubmissionPending) || held.String != attempt)) {
			return errClaimLost
		}
		if err != nil {
			return err
		}

		if err := s.lockHash(ctx, tx, ne.SHA256); err != nil {
			return err
		}
		var dup string
		err = tx.QueryRowContext(ctx, s.q(`SELECT id FROM evidence WHERE sha256 = ? AND duplicate_of IS NULL
			ORDER BY received_at, id LIMIT 1`),
			ne.SHA256).Scan(&dup)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		ne.DuplicateOf = dup
		ne.Flags = slices.DeleteFunc(ne.Flags, func(f fieldwatch.Flag) bool { return f == fieldwatch.FlagDuplicateOf })
		if dup != "" {
			ne.Flags = append(ne.Flags, fieldwatch.FlagDuplicateOf)
			slices.Sort(ne.Flags)
		}
		var dupArg any
		if dup != "" {
			dupArg = dup
		}

		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO evidence (`+evidenceInsertCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			ne.ID, ne.UploaderID, string(ne.Category), ne.Subcategory, ne.Note, ne.SHA256, ne.Size,
			ne.ContentType, ne.ObjectKey, ne.Width, ne.Height, s.d.timeArg(ne.ReceivedAt), s.d.nullTimeArg(ne.CapturedAt),
			string(ne.CaptureTimeSource), lon, lat, string(ne.LocationSource), dist, dupArg,
			nullText(ne.TownshipCode), nullText(ne.ReachCode), thumbnailsText(ne.Thumbnails), string(details), resp)
		if err != nil {
			return err
		}
		for _, f := range ne.Flags {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO evidence_flags (evidence_id, flag) VALUES (?, ?)`), ne.ID, string(f)); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE submissions SET state = 'stored', evidence_id = ?, fingerprint = ?, updated_at = ?
			WHERE user_id = ? AND idem_key = ? AND state = 'pending' AND attempt = ?`),
			ne.ID, fingerprint, s.d.timeArg(ne.ReceivedAt), ne.UploaderID, key, attempt)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return errClaimLost // taken over and stored meanwhile
		}
		return s.audit(ctx, tx, ne.ReceivedAt, "evidence.upload", "evidence", ne.ID, uploadAudit(ne))
	})
	if err != nil {
		return s.fail("commit evidence", err)
	}
	*e = ne
	return nil
}

// uploadAudit is what the audit trail records of stored evidence: enough
// to recognise the photo and who answers for it, never its object key.
func uploadAudit(e fieldwatch.Evidence) any {
	return struct {
		UploaderID   string `json:"uploader_id"`
		SHA256       string `json:"sha256"`
		Size         int64  `json:"size"`
		ContentType  string `json:"content_type"`
		Category     string `json:"category"`
		Subcategory  string `json:"subcategory,omitempty"`
		TownshipCode string `json:"township_code,omitempty"`
		ReachCode    string `json:"reach_code,omitempty"`
		DuplicateOf  string `json:"duplicate_of,omitempty"`
	}{e.UploaderID, e.SHA256, e.Size, e.ContentType, string(e.Category), e.Subcategory,
		e.TownshipCode, e.ReachCode, e.DuplicateOf}
}

// hashLockClass is the first key of CommitEvidence's advisory lock, so
// that its locks cannot meet other users of two-key advisory locks.
const hashLockClass int32 = 0x66770001

// sha256LockKey is the second key: 32 bits of the (already uniform) hash.
// Two different hashes sharing a key only wait for each other.
func sha256LockKey(hexSHA string) int32 {
	b, _ := hex.DecodeString(hexSHA[:8]) // validated: 64 hex digits
	return int32(binary.BigEndian.Uint32(b))
}

// normEvidence validates e and returns it in its stored form. The
// domain's rules are e.Normalize's; what is checked here is about storage:
// ids, text a column can hold, the range and precision of times, and
// thumbnail sizes. It leaves e itself, and what its pointers point to,
// untouched.
func (s *Store) normEvidence(e fieldwatch.Evidence) (fieldwatch.Evidence, error) {
	invalid := func(format string, args ...any) error {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "evidence: %s", fmt.Sprintf(format, args...))
	}
	e, err := e.Normalize()
	if err != nil {
		return e, err
	}
	if e.ID == "" {
		id, err := newID()
		if err != nil {
			return e, err
		}
		e.ID = id
	} else if id, ok := parseID(e.ID); ok {
		e.ID = id
	} else {
		return e, invalid("id is not a UUID")
	}
	uid, ok := parseID(e.UploaderID)
	if !ok {
		return e, invalid("uploader id is not a UUID")
	}
	e.UploaderID = uid
	if err := checkFields("", "subcategory", e.Subcategory, "note", e.Note, "content type", e.ContentType,
		"object key", e.ObjectKey, "EXIF make", e.EXIF.Make, "EXIF model", e.EXIF.Model,
		"township code", e.TownshipCode, "reach code", e.ReachCode); err != nil {
		return e, err
	}
	for _, p := range e.EXIF.Problems {
		if err := checkText("EXIF problem", p); err != nil {
			return e, err
		}
	}
	if e.Device != nil {
		if err := checkText("device provider", e.Device.Provider); err != nil {
			return e, err
		}
	}

	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = s.now()
	}
	e.ReceivedAt = roundTime(e.ReceivedAt)
	if err := checkTime("received at", e.ReceivedAt); err != nil {
		return e, err
	}
	if e.CapturedAt, err = normTimePtr("captured at", e.CapturedAt); err != nil {
		return e, err
	}
	if e.EXIF.GPSTime, err = normTimePtr("EXIF GPS time", e.EXIF.GPSTime); err != nil {
		return e, err
	}
	if e.EXIF.TakenAt, err = normTimePtr("EXIF taken at", e.EXIF.TakenAt); err != nil {
		return e, err
	}
	if e.Thumbnails, err = normThumbnails(e.Thumbnails); err != nil {
		return e, err
	}
	if e.Responsibility != nil {
		r, err := normResponsibility(*e.Responsibility)
		if err != nil {
			return e, err
		}
		e.Responsibility = &r
	}
	return e, nil
}

// normThumbnails validates sizes and returns them ascending without
// duplicates, never nil.
func normThumbnails(sizes []int) ([]int, error) {
	if len(sizes) > maxThumbnailSizes {
		return nil, fieldwatch.Errorf(fieldwatch.EINVALID, "more than %d thumbnail sizes", maxThumbnailSizes)
	}
	out := make([]int, 0, len(sizes))
	for _, n := range sizes {
		if n < 1 || n > MaxThumbnailSize {
			return nil, fieldwatch.Errorf(fieldwatch.EINVALID, "thumbnail size %d outside 1–%d", n, MaxThumbnailSize)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// thumbnailsText is the canonical stored form of normalised sizes, e.g.
// "[320,1280]": equal sets have equal text.
func thumbnailsText(sizes []int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range sizes {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(n))
	}
	b.WriteByte(']')
	return b.String()
}

// The details column: PhotoEXIF and DeviceFix as JSON. The field names are
// the stored format, independent of the Go names, so renaming a Go field
// cannot silently drop stored data.
type (
	detailsDoc struct {
		EXIF   exifDoc    `json:"exif"`
		Device *deviceDoc `json:"device,omitempty"`
	}
	pointDoc struct {
		Lon float64 `json:"lon"`
		Lat float64 `json:"lat"`
	}
	exifDoc struct {
		Position     *pointDoc  `json:"position,omitempty"`
		AltitudeM    *float64   `json:"altitude_m,omitempty"`
		GPSTime      *time.Time `json:"gps_time,omitempty"`
		TakenAt      *time.Time `json:"taken_at,omitempty"`
		TakenAtZoned bool       `json:"taken_at_zoned,omitempty"`
		Orientation  int        `json:"orientation,omitempty"`
		Make         string     `json:"make,omitempty"`
		Model        string     `json:"model,omitempty"`
		DirectionDeg *float64   `json:"direction_deg,omitempty"`
		Problems     []string   `json:"problems,omitempty"`
	}
	deviceDoc struct {
		Lon       float64  `json:"lon"`
		Lat       float64  `json:"lat"`
		CRS       string   `json:"crs"`
		WGS84     pointDoc `json:"wgs84"`
		AccuracyM *float64 `json:"accuracy_m,omitempty"`
		Provider  string   `json:"provider,omitempty"`
		Mock      bool     `json:"mock,omitempty"`
	}
)

func toDetails(e fieldwatch.Evidence) detailsDoc {
	x := e.EXIF
	d := detailsDoc{EXIF: exifDoc{
		AltitudeM: x.AltitudeM, GPSTime: x.GPSTime, TakenAt: x.TakenAt, TakenAtZoned: x.TakenAtZoned,
		Orientation: x.Orientation, Make: x.Make, Model: x.Model, DirectionDeg: x.DirectionDeg, Problems: x.Problems,
	}}
	if x.Position != nil {
		d.EXIF.Position = &pointDoc{Lon: x.Position.Lon, Lat: x.Position.Lat}
	}
	if v := e.Device; v != nil {
		d.Device = &deviceDoc{Lon: v.Lon, Lat: v.Lat, CRS: string(v.CRS), WGS84: pointDoc{Lon: v.WGS84.Lon, Lat: v.WGS84.Lat},
			AccuracyM: v.AccuracyM, Provider: v.Provider, Mock: v.Mock}
	}
	return d
}

// fromDetails reads the details column into e. Most documents take the
// hand-written decoder; the rest, encoding/json, with the same result.
func fromDetails(raw string, e *fieldwatch.Evidence) error {
	d, ok := decodeDetails(raw)
	if !ok {
		d = detailsDoc{}
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return fmt.Errorf("store: bad stored evidence details: %w", err)
		}
	}
	setDetails(d, e)
	return nil
}

// setDetails sets the fields of e that the details document holds.
func setDetails(d detailsDoc, e *fieldwatch.Evidence) {
	x := d.EXIF
	// d is the caller's to discard: convert its times in place.
	utc := func(t *time.Time) *time.Time {
		if t != nil {
			*t = t.UTC()
		}
		return t
	}
	e.EXIF = fieldwatch.PhotoEXIF{
		AltitudeM: x.AltitudeM, GPSTime: utc(x.GPSTime), TakenAt: utc(x.TakenAt), TakenAtZoned: x.TakenAtZoned,
		Orientation: x.Orientation, Make: x.Make, Model: x.Model, DirectionDeg: x.DirectionDeg, Problems: x.Problems,
	}
	if e.EXIF.Problems == nil {
		e.EXIF.Problems = []string{}
	}
	if x.Position != nil {
		e.EXIF.Position = &geo.Point{Lon: x.Position.Lon, Lat: x.Position.Lat}
	}
	if v := d.Device; v != nil {
		e.Device = &fieldwatch.DeviceFix{Lon: v.Lon, Lat: v.Lat, CRS: geo.CRS(v.CRS), WGS84: geo.Point{Lon: v.WGS84.Lon, Lat: v.WGS84.Lat},
			AccuracyM: v.AccuracyM, Provider: v.Provider, Mock: v.Mock}
	}
}

// scanEvidence reads evidenceCols, then any extra columns into extra.
func scanEvidence(r rowScanner, extra ...any) (fieldwatch.Evidence, error) {
	var row evidenceRow
	row.bind(extra...)
	return row.scan(r)
}

// evidenceRow holds the scan targets of evidenceCols. A query reading many
// rows binds one and scans every row into it: the targets and the list of
// them, which database/sql needs as pointers in interfaces, are allocated
// once per query instead of once per row (about twenty allocations a row).
type evidenceRow struct {
	e                  fieldwatch.Evidence
	category, cts, ls  string
	lon, lat, dist     sql.NullFloat64
	dup, town, reach   sql.NullString
	thumbnails, detail string
	thumbGaveUp        sql.NullString
	resp               sql.NullString
	dest               []any
}

// bind sets the targets, followed by extra.
func (w *evidenceRow) bind(extra ...any) {
	e := &w.e
	w.dest = append([]any{&e.ID, &e.UploaderID, &w.category, &e.Subcategory, &e.Note, &e.SHA256, &e.Size,
		&e.ContentType, &e.ObjectKey, &e.Width, &e.Height, timeScan{t: &e.ReceivedAt}, timeScan{null: &e.CapturedAt}, &w.cts,
		&w.lon, &w.lat, &w.ls, &w.dist, &w.dup, &w.town, &w.reach, &w.thumbnails, &w.detail, &w.resp,
		&e.ThumbnailTries.Attempts, timeScan{null: &e.ThumbnailTries.NextAt}, &e.ThumbnailTries.Error, &w.thumbGaveUp}, extra...)
}

// scan reads the next row into a new Evidence; nothing it returns
// shares memory with w or with other rows.
func (w *evidenceRow) scan(r rowScanner) (fieldwatch.Evidence, error) {
	w.e = fieldwatch.Evidence{}
	if err := r.Scan(w.dest...); err != nil {
		return fieldwatch.Evidence{}, err
	}
	return w.finish()
}

// finish turns the scanned columns into the Evidence.
func (w *evidenceRow) finish() (fieldwatch.Evidence, error) {
	e := w.e
	e.Category = fieldwatch.Category(w.category)
	e.CaptureTimeSource = fieldwatch.Source(w.cts)
	e.LocationSource = fieldwatch.Source(w.ls)
	if w.lon.Valid && w.lat.Valid {
		e.Location = &geo.Point{Lon: w.lon.Float64, Lat: w.lat.Float64}
	}
	if w.dist.Valid {
		d := w.dist.Float64
		e.EXIFDeviceDistanceM = &d
	}
	e.DuplicateOf = w.dup.String
	e.TownshipCode, e.ReachCode = w.town.String, w.reach.String
	var ok bool
	if e.Thumbnails, ok = decodeThumbnails(w.thumbnails); !ok {
		e.Thumbnails = nil
		if err := json.Unmarshal([]byte(w.thumbnails), &e.Thumbnails); err != nil {
			return fieldwatch.Evidence{}, fmt.Errorf("store: bad stored thumbnails %q: %w", w.thumbnails, err)
		}
	}
	if e.Thumbnails == nil {
		e.Thumbnails = []int{}
	}
	e.ThumbnailTries.GaveUp = fieldwatch.ThumbnailState(w.thumbGaveUp.String)
	if err := fromDetails(w.detail, &e); err != nil {
		return fieldwatch.Evidence{}, err
	}
	if w.resp.Valid {
		var err error
		if e.Responsibility, err = fromResponsibilityJSON(w.resp.String); err != nil {
			return fieldwatch.Evidence{}, err
		}
	}
	e.Flags = []fieldwatch.Flag{}
	return e, nil
}

// flagsCol is the column that follows evidenceCols in every evidence
// query: the row's flags aggregated into one comma-separated text (flag
// names have no commas), NULL for none. Fetching them with the row keeps
// a read to one statement and one round trip.
func (s *Store) flagsCol() string {
	return `(SELECT ` + s.d.joinText("f.flag") + ` FROM evidence_flags f WHERE f.evidence_id = e.id)`
}

// scanEvidenceFlags scans a row of evidenceCols followed by flagsCol.
func scanEvidenceFlags(r rowScanner) (fieldwatch.Evidence, error) {
	var flags sql.NullString
	e, err := scanEvidence(r, &flags)
	if err != nil {
		return e, err
	}
	e.Flags = parseFlags(flags.String)
	return e, nil
}

// parseFlags reads flagsCol's text into flags in name order, never nil.
func parseFlags(joined string) []fieldwatch.Flag {
	if joined == "" {
		return []fieldwatch.Flag{}
	}
	flags := make([]fieldwatch.Flag, 0, strings.Count(joined, ",")+1)
	for f := range strings.SplitSeq(joined, ",") {
		flags = append(flags, fieldwatch.Flag(f))
	}
	slices.Sort(flags)
	return flags
}

// queryEvidence runs a query selecting evidenceCols and flagsCol: one
// statement, so one snapshot without a transaction. limit is the most
// rows the query returns (its LIMIT), to size the result once.
func (s *Store) queryEvidence(ctx context.Context, q querier, limit int, query string, args ...any) ([]fieldwatch.Evidence, error) {
	rows, err := q.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]fieldwatch.Evidence, 0, limit)
	var (
		row   evidenceRow
		flags sql.NullString
	)
	row.bind(&flags)
	for rows.Next() {
		e, err := row.scan(rows)
		if err != nil {
			return nil, err
		}
		e.Flags = parseFlags(flags.String)
		out = append(out, e)
	}
	return out, rows.Err()
}

// marks returns n comma-separated placeholders.
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// EvidenceByID returns the evidence with the given id and its flags.
// Returns ErrNotFound if there is none (also for an id that is not a UUID,
// without a query).
func (s *Store) EvidenceByID(ctx context.Context, id string) (fieldwatch.Evidence, error) {
	return s.ScopedEvidenceByID(ctx, id, nil)
}

// ScopedEvidenceByID is EvidenceByID for a caller with a limited view: it
// returns ErrNotFound, exactly as for an unknown id, when the evidence
// lies outside scope (see EvidenceFilter.Scope; nil sees everything).
func (s *Store) ScopedEvidenceByID(ctx context.Context, id string, scope *fieldwatch.Scope) (fieldwatch.Evidence, error) {
	cid, ok := parseID(id)
	if !ok {
		return fieldwatch.Evidence{}, fmt.Errorf("store: evidence by id: %w", ErrNotFound)
	}
	where, args := []string{"e.id = ?"}, []any{cid}
	if scope != nil {
		cond, sargs, err := scopeCond(scope)
		if err != nil {
			return fieldwatch.Evidence{}, err
		}
		where, args = append(where, cond), append(args, sargs...)
	}
	// One statement with the flags aggregated: one snapshot and one round
	// trip for the API's most frequent read.
	e, err := scanEvidenceFlags(s.db.QueryRowContext(ctx, s.q(`SELECT `+evidenceCols+`, `+s.flagsCol()+`
		FROM evidence e WHERE `+strings.Join(where, " AND ")), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return fieldwatch.Evidence{}, fmt.Errorf("store: evidence by id: %w", ErrNotFound)
	}
	if err != nil {
		return fieldwatch.Evidence{}, s.fail("evidence by id", err)
	}
	return e, nil
}

// ListEvidence returns evidence matching f, newest first (ReceivedAt
// descending, then ID descending), with its flags. Filters combine with
// AND:
//
//   - Category, UploaderID, Flag: equality (a flag among the evidence's);
//   - From, To: From ≤ ReceivedAt < To;
//   - BBox: the location lies in the box, edges included;
//   - Near with RadiusM: the location lies within RadiusM metres, which
//     must be positive and at most MaxNearRadiusM (RadiusM is ignored
//     without Near; see spatial.go for the backends' measures);
//   - Scope, if not nil: uploaded by Scope.UserID, or linked to one of
//     Scope.Townships or Scope.Reaches (a scope with none sees nothing);
//   - AfterTime, AfterID: keyset, rows strictly after (AfterTime,
//     AfterID) in the listing order; AfterID needs AfterTime, and
//     AfterTime alone means ReceivedAt < AfterTime.
//
// Evidence without a location never matches BBox or Near. Limit 0 means
// DefaultEvidenceLimit; other values are clamped to 1..MaxEvidenceLimit.
// Returns an error wrapping fieldwatch.ErrInvalid for a filter that cannot be
// applied (unknown category or flag, malformed ids, invalid box, point or
// radius, unstorable text).
func (s *Store) ListEvidence(ctx context.Context, f fieldwatch.EvidenceFilter) ([]fieldwatch.Evidence, error) {
	query, args, err := s.listEvidenceQuery(f)
	if err != nil {
		return nil, err
	}
	// One statement, flags included: consistent without a transaction.
	limit := clampLimit(f.Limit, DefaultEvidenceLimit, MaxEvidenceLimit)
	var list []fieldwatch.Evidence
	if s.d.name == "postgres" {
		list, err = s.queryEvidencePgx(ctx, limit, query, args...)
	} else {
		list, err = s.queryEvidence(ctx, s.db, limit, query, args...)
	}
	if err != nil {
		return nil, s.fail("list evidence", err)
	}
	return list, nil
}

// listEvidenceQuery builds ListEvidence's query ('?' placeholders) and its
// arguments.
//
// The page is chosen first by an inner query that reads only id and
// received_at (and what the filters test), then joined back to its rows
// for the full columns and flags. The database then sorts narrow tuples
// and reads and sends the wide columns (details and responsibility)
// for the page's rows only, not for every
// row in a box before the sort; PostgreSQL's generic plan for a bbox,
// which prepared statements end up with, sorts all of them.
func (s *Store) listEvidenceQuery(f fieldwatch.EvidenceFilter) (string, []any, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	invalid := func(format string, a ...any) error {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "evidence filter: %s", fmt.Sprintf(format, a...))
	}
	if f.Category != nil {
		if _, err := fieldwatch.ParseCategory(string(*f.Category)); err != nil {
			return "", nil, err
		}
		add("e.category = ?", string(*f.Category))
	}
	if f.UploaderID != nil {
		uid, ok := parseID(*f.UploaderID)
		if !ok {
			return "", nil, invalid("uploader id is not a UUID")
		}
		add("e.uploader_id = ?", uid)
	}
	if f.ReviewState != nil {
		// The latest review decides; "pending" means none yet.
		latest := `(SELECT r.decision FROM evidence_reviews r WHERE r.evidence_id = e.id ORDER BY r.at DESC, r.id DESC LIMIT 1)`
		switch st := *f.ReviewState; {
		case st == fieldwatch.ReviewPending:
			add("NOT EXISTS (SELECT 1 FROM evidence_reviews r WHERE r.evidence_id = e.id)")
		case fieldwatch.Decision(st).Valid():
			add(latest+" = ?", st)
		default:
			return "", nil, invalid("unknown review state %q", st)
		}
	}
	if f.Township != nil {
		if err := checkText("township", *f.Township); err != nil {
			return "", nil, err
		}
		add("e.township_code = ?", *f.Township)
	}
	if f.Reach != nil {
		if err := checkText("reach", *f.Reach); err != nil {
			return "", nil, err
		}
		add("e.reach_code = ?", *f.Reach)
	}
	if f.Flag != nil {
		if !f.Flag.Valid() {
			return "", nil, invalid("unknown flag %q", *f.Flag)
		}
		add("EXISTS (SELECT 1 FROM evidence_flags f WHERE f.evidence_id = e.id AND f.flag = ?)", string(*f.Flag))
	}
	if f.From != nil {
		if err := checkTime("from", *f.From); err != nil {
			return "", nil, err
		}
		add("e.received_at >= ?", s.d.timeArg(*f.From))
	}
	if f.To != nil {
		if err := checkTime("to", *f.To); err != nil {
			return "", nil, err
		}
		add("e.received_at < ?", s.d.timeArg(*f.To))
	}
	box := func(b geo.Box) {
		cond, a := s.d.boxIndex(b)
		add(cond, a...)
		add("e.lon BETWEEN ? AND ? AND e.lat BETWEEN ? AND ?", b.MinLon, b.MaxLon, b.MinLat, b.MaxLat)
	}
	if f.BBox != nil {
		if err := f.BBox.Validate(); err != nil {
			return "", nil, fieldwatch.Errorf(fieldwatch.EINVALID, "evidence filter: bbox: %w", err)
		}
		box(*f.BBox)
	}
	if f.Near != nil {
		if err := f.Near.Validate(); err != nil {
			return "", nil, fieldwatch.Errorf(fieldwatch.EINVALID, "evidence filter: near: %w", err)
		}
		if !(f.RadiusM > 0 && f.RadiusM <= MaxNearRadiusM) {
			return "", nil, invalid("radius %v m outside (0, %v]", f.RadiusM, MaxNearRadiusM)
		}
		box(nearBox(*f.Near, f.RadiusM))
		cond, a := s.d.within(*f.Near, f.RadiusM)
		add(cond, a...)
	}
	if f.Scope != nil {
		cond, a, err := scopeCond(f.Scope)
		if err != nil {
			return "", nil, err
		}
		add(cond, a...)
	}
	switch {
	case f.AfterTime != nil && f.AfterID != "":
		if err := checkTime("after time", *f.AfterTime); err != nil {
			return "", nil, err
		}
		id, ok := parseID(f.AfterID)
		if !ok {
			return "", nil, invalid("after id is not a UUID")
		}
		add("(e.received_at, e.id) < (?, ?)", s.d.timeArg(*f.AfterTime), id)
	case f.AfterTime != nil:
		if err := checkTime("after time", *f.AfterTime); err != nil {
			return "", nil, err
		}
		add("e.received_at < ?", s.d.timeArg(*f.AfterTime))
	case f.AfterID != "":
		return "", nil, invalid("after id without after time")
	}

	page := `SELECT e.id, e.received_at FROM evidence e`
	if len(where) > 0 {
		page += ` WHERE ` + strings.Join(where, " AND ")
	}
	page += ` ORDER BY e.received_at DESC, e.id DESC LIMIT ?`
	args = append(args, clampLimit(f.Limit, DefaultEvidenceLimit, MaxEvidenceLimit))
	query := `SELECT ` + evidenceCols + `, ` + s.flagsCol() + `
	FROM (` + page + `) p JOIN evidence e ON e.id = p.id
	ORDER BY p.received_at DESC, p.id DESC`
	return query, args, nil
}

// scopeCond is the condition for what sc may see: own uploads, or
// evidence linked to one of its townships or reaches. A UserID that is
// not a UUID owns nothing.
func scopeCond(sc *fieldwatch.Scope) (string, []any, error) {
	return visibleTo("evidence", "e.uploader_id = ?", sc.UserID,
		codeSet{"e.township_code", sc.Townships}, codeSet{"e.reach_code", sc.Reaches})
}

// codeSet is a column and the township or reach codes a scope grants in it.
type codeSet struct {
	col   string
	codes []string
}

// visibleTo is the condition "owned by userID, or in one of the code sets"
// that scopes what a non-administrator sees. owner is a condition with one
// placeholder for the user id; a userID that is not a UUID owns nothing,
// and an empty scope sees nothing.
func visibleTo(what, owner, userID string, sets ...codeSet) (string, []any, error) {
	var (
		terms []string
		args  []any
	)
	if uid, ok := parseID(userID); ok {
		terms = append(terms, owner)
		args = append(args, uid)
	}
	for _, set := range sets {
		if len(set.codes) > MaxScopeCodes {
			return "", nil, fieldwatch.Errorf(fieldwatch.EINVALID, "%s scope: more than %d codes", what, MaxScopeCodes)
		}
		codes, err := normCodes(set.codes)
		if err != nil {
			return "", nil, err
		}
		if len(codes) == 0 {
			continue
		}
		terms = append(terms, set.col+" IN ("+marks(len(codes))+")")
		for _, c := range codes {
			args = append(args, c)
		}
	}
	if len(terms) == 0 {
		return "1 = 0", nil, nil
	}
	return "(" + strings.Join(terms, " OR ") + ")", args, nil
}

// normCodes validates township or reach codes and returns them sorted
// without duplicates.
func normCodes(codes []string) ([]string, error) {
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		if err := checkText("code", c); err != nil {
			return nil, err
		}
		if c == "" {
			return nil, fieldwatch.Errorf(fieldwatch.EINVALID, "empty township or reach code")
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// EvidenceSHA256Exists reports whether any evidence has the given SHA-256
// (64 lower-case hex digits, else an error wrapping fieldwatch.ErrInvalid).
func (s *Store) EvidenceSHA256Exists(ctx context.Context, sha string) (bool, error) {
	if !fieldwatch.ValidSHA256(sha) {
		return false, fieldwatch.Errorf(fieldwatch.EINVALID, "sha256 must be 64 lower-case hex digits")
	}
	var exists bool
	err := s.db.QueryRowContext(ctx, s.q(`SELECT EXISTS (SELECT 1 FROM evidence WHERE sha256 = ?)`), sha).Scan(&exists)
	if err != nil {
		return false, s.fail("evidence sha256 exists", err)
	}
	return exists, nil
}

// SetEvidenceLink records the township and reach an evidence's location
// belongs to (Evidence.TownshipCode and ReachCode); an empty code clears
// it. Linking is derived data, not an edit of the evidence. It clears
// Evidence.Responsibility, which no longer explains the codes (see
// SetEvidenceResponsibility). Returns ErrNotFound if there is no such
// evidence.
func (s *Store) SetEvidenceLink(ctx context.Context, id, township, reach string) error {
	if err := checkText("township code", township); err != nil {
		return err
	}
	if err := checkText("reach code", reach); err != nil {
		return err
	}
	return s.updateEvidence(ctx, "set evidence link", id, `township_code = ?, reach_code = ?, responsibility = NULL`,
		nullText(township), nullText(reach))
}

// nullText binds "" as NULL, for optional codes.
func nullText(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// SetThumbnails records the thumbnail sizes made for an evidence,
// replacing the previous set, and clears its ThumbnailTries: the worker
// succeeded. Returns ErrNotFound if there is no such evidence, and an
// error wrapping fieldwatch.ErrInvalid for a size outside
// 1..MaxThumbnailSize.
func (s *Store) SetThumbnails(ctx context.Context, id string, sizes []int) error {
	sizes, err := normThumbnails(sizes)
	if err != nil {
		return err
	}
	return s.updateEvidence(ctx, "set thumbnails", id,
		`thumbnails = ?, thumbnail_attempts = 0, thumbnail_next_at = NULL, thumbnail_error = '', thumbnail_gave_up = NULL`,
		thumbnailsText(sizes))
}

// maxThumbnailError bounds the reason stored with a failed preview.
const maxThumbnailError = 500

// SetThumbnailTries records the thumbnail worker's failed attempts on an
// evidence. Returns ErrNotFound if there is no such evidence, and an
// error wrapping fieldwatch.ErrInvalid for negative attempts, a GaveUp other
// than "", failed or unsupported, or an Error that is not valid text or
// longer than 500 bytes.
func (s *Store) SetThumbnailTries(ctx context.Context, id string, tr fieldwatch.ThumbnailTries) error {
	if tr.Attempts < 0 {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "thumbnail attempts %d", tr.Attempts)
	}
	var gaveUp any
	switch tr.GaveUp {
	case "":
	case fieldwatch.ThumbnailFailed, fieldwatch.ThumbnailUnsupported:
		gaveUp = string(tr.GaveUp)
	default:
		return fieldwatch.Errorf(fieldwatch.EINVALID, "thumbnails cannot end %q", tr.GaveUp)
	}
	if len(tr.Error) > maxThumbnailError {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "thumbnail error longer than %d bytes", maxThumbnailError)
	}
	if err := checkText("thumbnail error", tr.Error); err != nil {
		return err
	}
	if tr.NextAt != nil {
		if err := checkTime("thumbnail next attempt", *tr.NextAt); err != nil {
			return err
		}
	}
	return s.updateEvidence(ctx, "set thumbnail tries", id,
		`thumbnail_attempts = ?, thumbnail_next_at = ?, thumbnail_error = ?, thumbnail_gave_up = ?`,
		tr.Attempts, s.d.nullTimeArg(tr.NextAt), tr.Error, gaveUp)
}

// updateEvidence sets columns (a constant, never input) of one evidence.
func (s *Store) updateEvidence(ctx context.Context, op, id, set string, args ...any) error {
	cid, ok := parseID(id)
	if !ok {
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE evidence SET `+set+` WHERE id = ?`), append(args, cid)...)
	s.forgetEvidence(cid)
	if err != nil {
		return s.fail(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.fail(op, err)
	} else if n == 0 {
		return fmt.Errorf("store: %s: %w", op, ErrNotFound)
	}
	return nil
}

// EvidenceNeedingThumbnails returns evidence of the content types the
// thumbnail worker decodes (image/jpeg, image/png, image/webp) that lacks
// at least one of sizes, is not given up on (ThumbnailTries.GaveUp) and
// is due at now (no NextAt, or NextAt not after now): fewest failed
// attempts first, so that photos that keep failing never crowd out new
// ones, then oldest first (ReceivedAt, then ID). No sizes means nothing
// is needed. limit 0 means DefaultEvidenceLimit; other values are
// clamped to 1..MaxEvidenceLimit.
//
// It reads the few distinct thumbnail sets in use by a loose index scan,
// then lists the rows of the incomplete sets through the same index, so
// that rows already done cost nothing however many there are.
func (s *Store) EvidenceNeedingThumbnails(ctx context.Context, sizes []int, now time.Time, limit int) ([]fieldwatch.Evidence, error) {
	sizes, err := normThumbnails(sizes)
	if err != nil {
		return nil, err
	}
	if err := checkTime("now", now); err != nil {
		return nil, err
	}
	if len(sizes) == 0 {
		return []fieldwatch.Evidence{}, nil
	}
	var list []fieldwatch.Evidence
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.q(`WITH RECURSIVE t(v) AS (
				SELECT MIN(thumbnails) FROM evidence WHERE `+thumbnailable+`
				UNION ALL
				SELECT (SELECT MIN(thumbnails) FROM evidence WHERE `+thumbnailable+` AND thumbnails > t.v)
				FROM t WHERE t.v IS NOT NULL
			)
			SELECT v FROM t WHERE v IS NOT NULL LIMIT ?`), maxThumbnailSets)
		if err != nil {
			return err
		}
		defer rows.Close()
		var lacking []any
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				return err
			}
			var have []int
			if err := json.Unmarshal([]byte(v), &have); err != nil {
				return fmt.Errorf("store: bad stored thumbnails %q: %w", v, err)
			}
			for _, n := range sizes {
				if !slices.Contains(have, n) {
					lacking = append(lacking, v)
					break
				}
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(lacking) == 0 {
			list = []fieldwatch.Evidence{}
			return nil
		}
		list, err = s.queryEvidence(ctx, tx, clampLimit(limit, DefaultEvidenceLimit, MaxEvidenceLimit), `SELECT `+evidenceCols+`, `+s.flagsCol()+` FROM evidence e
			WHERE `+thumbnailable+` AND e.thumbnails IN (`+marks(len(lacking))+`)
				AND (e.thumbnail_next_at IS NULL OR e.thumbnail_next_at <= ?)
			ORDER BY e.thumbnail_attempts, e.received_at, e.id LIMIT ?`,
			append(lacking, s.d.timeArg(now), clampLimit(limit, DefaultEvidenceLimit, MaxEvidenceLimit))...)
		return err
	})
	if err != nil {
		return nil, s.fail("evidence needing thumbnails", err)
	}
	return list, nil
}
