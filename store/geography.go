package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
)

// Versioned geography. Township boundaries and river reaches change
// rarely and as a whole: the county publishes a new set, which is imported
// in full. Each import is a batch whose id is the version of every row it
// inserts; versions grow across both kinds, so a version names one batch.
// A row is in force from EffectiveFrom (inclusive) to EffectiveTo
// (exclusive; nil while current). An import closes every row in force at
// its EffectiveFrom and inserts the new set from then on; rows are never
// rewritten, so a question about a past time gets the answer of that time.
//
// Methods that take a time `at` answer with the rows in force at that
// instant; a zero `at` means the store's clock.

// Kinds of import batch.
const (
	batchTownships = "townships"
	batchReaches   = "reaches"
)

// importLockClass is the first key of the advisory lock that serialises
// imports (the second is 0): the next version is max+1, and closing the
// current set must not interleave with another import.
const importLockClass int32 = 0x66770002

// ReachFilter selects reach versions for Reaches. Nil fields do not filter;
// filters combine with AND.
type ReachFilter struct {
	// At is the instant whose versions are listed; zero means the store's
	// clock.
	At time.Time
	// Township: reaches lying in the township with this code.
	Township *string
	// River: reaches of the river with this name (fieldwatch.Reach.River,
	// exact match).
	River *string
	// ChiefUserID: reaches the user is assigned to as a chief at At.
	ChiefUserID *string
	// BBox: reaches whose bounding box meets the box, edges included.
	// The spatial index narrows the candidates; the exact bounds decide,
	// identically on both backends.
	BBox *geo.Box
}

// importRow is one row of an import: its code and the values of the
// table's columns after version and effective_from.
type importRow struct {
	code string
	args []any
}

// importBatch runs an import in one write transaction: it checks that
// effectiveFrom follows the latest import of the kind, records the batch
// with the next version, closes every row of table still open, inserts
// rows, each prefixed with (version, effective_from), and appends
// "<kind>.import" to the audit trail.
func (s *Store) importBatch(ctx context.Context, kind, table, insert string, rows []importRow, effectiveFrom time.Time) (int64, error) {
	from := s.d.timeArg(effectiveFrom)
	var version int64
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if s.d.hashLock != "" {
			if _, err := tx.ExecContext(ctx, s.q(s.d.hashLock), importLockClass, int32(0)); err != nil {
				return err
			}
		}
		var latest *time.Time
		err := tx.QueryRowContext(ctx, s.q(`SELECT MAX(effective_from) FROM import_batches WHERE kind = ?`), kind).
			Scan(timeScan{null: &latest})
		if err != nil {
			return err
		}
		if latest != nil && !effectiveFrom.After(*latest) {
			return conflictf("effective from %s is not after the latest %s import's %s: history is not rewritten",
				effectiveFrom.Format(time.RFC3339Nano), kind, latest.Format(time.RFC3339Nano))
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) + 1 FROM import_batches`).Scan(&version); err != nil {
			return err
		}
		now := roundTime(s.now())
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO import_batches (id, kind, effective_from, created_at, count) VALUES (?, ?, ?, ?, ?)`),
			version, kind, from, s.d.timeArg(now), len(rows))
		if err != nil {
			return err
		}
		// The latest import is before effectiveFrom, so every open row
		// started before it and closing it leaves a non-empty interval.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE `+table+` SET effective_to = ? WHERE effective_to IS NULL`), from); err != nil {
			return err
		}
		for _, r := range rows {
			if _, err := tx.ExecContext(ctx, s.q(insert), append([]any{version, from}, r.args...)...); err != nil {
				return fmt.Errorf("%s: %w", r.code, err)
			}
		}
		// The batch is the object: its id is the version of every row.
		return s.audit(ctx, tx, now, kind+".import", "import_batch", strconv.FormatInt(version, 10), map[string]any{
			"kind": kind, "version": version, "count": len(rows), "effective_from": effectiveFrom.UTC().Format(time.RFC3339Nano),
		})
	})
	if err != nil {
		return 0, err
	}
	return version, nil
}

// checkImport checks what every import needs: a non-empty set, a set
// time, and codes that are storable and unique.
func checkImport(what string, n int, effectiveFrom time.Time, code func(i int) string) error {
	if n == 0 {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "import %ss: none given (an import is the full set)", what)
	}
	if effectiveFrom.IsZero() {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "import %ss: no effective from time", what)
	}
	if err := checkTime("effective from", effectiveFrom); err != nil {
		return err
	}
	seen := make(map[string]bool, n)
	for i := range n {
		c := code(i)
		if err := checkText(what+" code", c); err != nil {
			return err
		}
		if c == "" {
			return fieldwatch.Errorf(fieldwatch.EINVALID, "import %ss: item %d has no code", what, i)
		}
		if seen[c] {
			return fieldwatch.Errorf(fieldwatch.EINVALID, "import %ss: code %q appears twice", what, c)
		}
		seen[c] = true
	}
	return nil
}

// checkFields runs checkText over named values.
func checkFields(prefix string, fields ...string) error {
	for i := 0; i+1 < len(fields); i += 2 {
		if err := checkText(prefix+fields[i], fields[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// ImportTownships imports the full set of township boundaries in force
// from effectiveFrom, in one write transaction, and returns its version.
// Every township version in force at effectiveFrom is closed then; a code
// absent from ts is thereby removed from effectiveFrom on. The fields
// Version, EffectiveFrom and EffectiveTo of ts are ignored.
//
// Returns an error wrapping fieldwatch.ErrInvalid for an empty set, a zero
// effectiveFrom, a duplicate or empty code, an empty name or kind, an unknown zone, a
// boundary that is not a 2D MultiPolygon (SRID 0 or 4326) of closed rings
// with valid WGS-84 coordinates, or unstorable text; ErrConflict if
// effectiveFrom is not after the latest township import's, since that
// would rewrite history.
func (s *Store) ImportTownships(ctx context.Context, ts []fieldwatch.Township, effectiveFrom time.Time) (version int64, err error) {
	effectiveFrom = roundTime(effectiveFrom)
	if err := checkImport("township", len(ts), effectiveFrom, func(i int) string { return ts[i].Code }); err != nil {
		return 0, err
	}
	rows := make([]importRow, len(ts))
	for i, t := range ts {
		field := "township " + t.Code + " "
		if err := checkFields(field, "name", t.Name, "English name", t.NameEN, "kind", t.Kind); err != nil {
			return 0, err
		}
		if t.Name == "" || t.Kind == "" {
			return 0, fieldwatch.Errorf(fieldwatch.EINVALID, "township %s: name and kind are required", t.Code)
		}
		if !t.Zone.Valid() {
			return 0, fieldwatch.Errorf(fieldwatch.EINVALID, "township %s: unknown zone %q", t.Code, t.Zone)
		}
		if err := checkMultiPolygon(field+"boundary", t.Boundary); err != nil {
			return 0, err
		}
		wkb, err := s.d.geomArg(t.Boundary.Clone().SetSRID(srid))
		if err != nil {
			return 0, err
		}
		b := bounds(t.Boundary)
		rows[i] = importRow{code: t.Code, args: []any{t.Code, t.Name, t.NameEN, t.Kind, string(t.Zone), wkb,
			b.MinLon, b.MinLat, b.MaxLon, b.MaxLat}}
	}
	version, err = s.importBatch(ctx, batchTownships, "townships", `INSERT INTO townships
		(version, effective_from, code, name, name_en, kind, zone, boundary, min_lon, min_lat, max_lon, max_lat)
		VALUES (?, ?, ?, ?, ?, ?, ?, `+s.d.geomParam+`, ?, ?, ?, ?)`, rows, effectiveFrom)
	if err != nil {
		return 0, s.fail("import townships", err)
	}
	return version, nil
}

// ImportReaches imports the full set of river reaches in force from
// effectiveFrom, exactly as ImportTownships does for townships, and
// returns its version. TownshipCode names a township by code; it is not
// checked against the townships, which may be imported later.
//
// Chief assignments are by reach code and outlive a reach's removal:
// SetReachChiefs with no assignments ends them.
//
// Returns an error wrapping fieldwatch.ErrInvalid for an empty set, a zero
// effectiveFrom, a duplicate or empty code, an empty river, name or township code, a line
// that is not a 2D MultiLineString (SRID 0 or 4326) of lines of at least
// two valid WGS-84 positions, or unstorable text; ErrConflict if
// effectiveFrom is not after the latest reach import's.
func (s *Store) ImportReaches(ctx context.Context, rs []fieldwatch.Reach, effectiveFrom time.Time) (version int64, err error) {
	effectiveFrom = roundTime(effectiveFrom)
	if err := checkImport("reach", len(rs), effectiveFrom, func(i int) string { return rs[i].Code }); err != nil {
		return 0, err
	}
	rows := make([]importRow, len(rs))
	for i, r := range rs {
		field := "reach " + r.Code + " "
		if err := checkFields(field, "river", r.River, "English river name", r.RiverEN, "name", r.Name,
			"township code", r.TownshipCode); err != nil {
			return 0, err
		}
		if r.River == "" || r.Name == "" || r.TownshipCode == "" {
			return 0, fieldwatch.Errorf(fieldwatch.EINVALID, "reach %s: river, name and township code are required", r.Code)
		}
		if err := checkMultiLineString(field+"line", r.Line); err != nil {
			return 0, err
		}
		wkb, err := s.d.geomArg(r.Line.Clone().SetSRID(srid))
		if err != nil {
			return 0, err
		}
		b := bounds(r.Line)
		rows[i] = importRow{code: r.Code, args: []any{r.Code, r.River, r.RiverEN, r.Name, r.TownshipCode, wkb,
			b.MinLon, b.MinLat, b.MaxLon, b.MaxLat}}
	}
	version, err = s.importBatch(ctx, batchReaches, "reaches", `INSERT INTO reaches
		(version, effective_from, code, river, river_en, name, township_code, line, min_lon, min_lat, max_lon, max_lat)
		VALUES (?, ?, ?, ?, ?, ?, ?, `+s.d.geomParam+`, ?, ?, ?, ?)`, rows, effectiveFrom)
	if err != nil {
		return 0, s.fail("import reaches", err)
	}
	return version, nil
}

// TownshipsVersion returns the version of the latest township import, 0
// if there was none.
func (s *Store) TownshipsVersion(ctx context.Context) (int64, error) {
	return s.batchVersion(ctx, "townships version", batchTownships)
}

// ReachesVersion returns the version of the latest reach import, 0 if
// there was none.
func (s *Store) ReachesVersion(ctx context.Context) (int64, error) {
	return s.batchVersion(ctx, "reaches version", batchReaches)
}

func (s *Store) batchVersion(ctx context.Context, op, kind string) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(id), 0) FROM import_batches WHERE kind = ?`), kind).Scan(&v)
	if err != nil {
		return 0, s.fail(op, err)
	}
	return v, nil
}

// at returns the instant a method asks about: t, or the store's clock if t
// is zero, in its stored form.
func (s *Store) at(t time.Time) (time.Time, error) {
	if t.IsZero() {
		t = s.now()
	}
	t = roundTime(t)
	return t, checkTime("at", t)
}

// inForce is the condition on a versioned table (alias a) for the rows in
// force at one instant, bound twice.
func inForce(alias string) string {
	return alias + `.effective_from <= ? AND (` + alias + `.effective_to IS NULL OR ` + alias + `.effective_to > ?)`
}

func (s *Store) townshipCols() string {
	return `t.code, t.version, t.name, t.name_en, t.kind, t.zone, ` + s.d.geomCol(`t.boundary`) + `, t.effective_from, t.effective_to`
}

func (s *Store) scanTownship(r rowScanner) (fieldwatch.Township, error) {
	var (
		t    fieldwatch.Township
		zone string
	)
	err := r.Scan(&t.Code, &t.Version, &t.Name, &t.NameEN, &t.Kind, &zone, multiPolygonScan{s.d, &t.Boundary},
		timeScan{t: &t.EffectiveFrom}, timeScan{null: &t.EffectiveTo})
	t.Zone = fieldwatch.Zone(zone)
	return t, err
}

// Townships returns the township versions in force at at, ordered by
// code (bytewise). Boundaries come back with SRID 4326.
func (s *Store) Townships(ctx context.Context, at time.Time) ([]fieldwatch.Township, error) {
	at, err := s.at(at)
	if err != nil {
		return nil, err
	}
	arg := s.d.timeArg(at)
	out := []fieldwatch.Township{}
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.q(`SELECT `+s.townshipCols()+` FROM townships t
			WHERE `+inForce("t")+` ORDER BY t.code`), arg, arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			t, err := s.scanTownship(rows)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.fail("townships", err)
	}
	return out, nil
}

// TownshipByCode returns the version of the township with the given code
// in force at at. Returns ErrNotFound if there is none then (never
// imported, not yet in force, or removed by a later import).
func (s *Store) TownshipByCode(ctx context.Context, code string, at time.Time) (fieldwatch.Township, error) {
	if err := checkText("township code", code); err != nil {
		return fieldwatch.Township{}, err
	}
	at, err := s.at(at)
	if err != nil {
		return fieldwatch.Township{}, err
	}
	arg := s.d.timeArg(at)
	t, err := s.scanTownship(s.db.QueryRowContext(ctx, s.q(`SELECT `+s.townshipCols()+` FROM townships t
		WHERE t.code = ? AND `+inForce("t")), code, arg, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return fieldwatch.Township{}, fmt.Errorf("store: township by code: %w", ErrNotFound)
	}
	if err != nil {
		return fieldwatch.Township{}, s.fail("township by code", err)
	}
	return t, nil
}

func (s *Store) reachCols() string {
	return `r.code, r.version, r.river, r.river_en, r.name, r.township_code, ` + s.d.geomCol(`r.line`) + `, r.effective_from, r.effective_to`
}

func (s *Store) scanReach(row rowScanner) (fieldwatch.Reach, error) {
	var r fieldwatch.Reach
	err := row.Scan(&r.Code, &r.Version, &r.River, &r.RiverEN, &r.Name, &r.TownshipCode, multiLineStringScan{s.d, &r.Line},
		timeScan{t: &r.EffectiveFrom}, timeScan{null: &r.EffectiveTo})
	return r, err
}

// Reaches returns the reach versions in force at f.At that match f,
// ordered by code (bytewise). Lines come back with SRID 4326.
//
// Returns an error wrapping fieldwatch.ErrInvalid for a filter that cannot be
// applied (a ChiefUserID that is not a UUID, an invalid box, unstorable
// text).
func (s *Store) Reaches(ctx context.Context, f ReachFilter) ([]fieldwatch.Reach, error) {
	query, args, err := s.reachesQuery(f)
	if err != nil {
		return nil, err
	}
	out := []fieldwatch.Reach{}
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.q(query), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := s.scanReach(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.fail("reaches", err)
	}
	return out, nil
}

// reachesQuery builds Reaches' query ('?' placeholders) and arguments.
func (s *Store) reachesQuery(f ReachFilter) (string, []any, error) {
	at, err := s.at(f.At)
	if err != nil {
		return "", nil, err
	}
	arg := s.d.timeArg(at)
	where, args := []string{inForce("r")}, []any{arg, arg}
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.Township != nil {
		if err := checkText("township code", *f.Township); err != nil {
			return "", nil, err
		}
		add("r.township_code = ?", *f.Township)
	}
	if f.River != nil {
		if err := checkText("river", *f.River); err != nil {
			return "", nil, err
		}
		add("r.river = ?", *f.River)
	}
	if f.ChiefUserID != nil {
		uid, ok := parseID(*f.ChiefUserID)
		if !ok {
			return "", nil, fieldwatch.Errorf(fieldwatch.EINVALID, "reach filter: chief user id is not a UUID")
		}
		add(`r.code IN (SELECT c.reach_code FROM chief_assignments c WHERE c.user_id = ? AND `+validAt("c")+`)`, uid, arg, arg)
	}
	if f.BBox != nil {
		b := *f.BBox
		if err := b.Validate(); err != nil {
			return "", nil, fieldwatch.Errorf(fieldwatch.EINVALID, "reach filter: bbox: %w", err)
		}
		cond, a := s.d.reachBoxIndex(b)
		add(cond, a...)
		add("r.max_lon >= ? AND r.min_lon <= ? AND r.max_lat >= ? AND r.min_lat <= ?", b.MinLon, b.MaxLon, b.MinLat, b.MaxLat)
	}
	return `SELECT ` + s.reachCols() + ` FROM reaches r WHERE ` + strings.Join(where, " AND ") + ` ORDER BY r.code`, args, nil
}

// ReachByCode returns the version of the reach with the given code in
// force at at. Returns ErrNotFound if there is none then.
func (s *Store) ReachByCode(ctx context.Context, code string, at time.Time) (fieldwatch.Reach, error) {
	if err := checkText("reach code", code); err != nil {
		return fieldwatch.Reach{}, err
	}
	at, err := s.at(at)
	if err != nil {
		return fieldwatch.Reach{}, err
	}
	r, err := s.reachByCode(ctx, s.db, code, at)
	if errors.Is(err, sql.ErrNoRows) {
		return fieldwatch.Reach{}, fmt.Errorf("store: reach by code: %w", ErrNotFound)
	}
	if err != nil {
		return fieldwatch.Reach{}, s.fail("reach by code", err)
	}
	return r, nil
}

func (s *Store) reachByCode(ctx context.Context, q querier, code string, at time.Time) (fieldwatch.Reach, error) {
	arg := s.d.timeArg(at)
	return s.scanReach(q.QueryRowContext(ctx, s.q(`SELECT `+s.reachCols()+` FROM reaches r
		WHERE r.code = ? AND `+inForce("r")), code, arg, arg))
}
