package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkb"
	"github.com/twpayne/go-geom/encoding/wkb"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fieldwatch/fieldwatch/geo"
)

// dialect is everything that differs between the two backends. Queries are
// written once with '?' placeholders; the dialect rebinds them, encodes
// times, and translates driver errors into the package's sentinels.
type dialect struct {
	name       string // value of Store.Backend
	goose      goose.Dialect
	migrations string // directory of the embedded migrations FS
	positional bool   // rebind '?' to '$n'
	// textTime stores times as fixed-width RFC 3339 text in UTC. SQLite has
	// no time type, and a fixed width keeps text comparison equal to time
	// order, which `expires_at < ?` relies on.
	textTime bool
	classify func(error) error

	// boxIndex returns a condition on evidence (alias e) that uses the
	// spatial index to keep rows whose point may lie in b: a superset,
	// because both indexes hold single-precision boxes. Callers add the
	// exact test on e.lon and e.lat.
	boxIndex func(b geo.Box) (cond string, args []any)
	// within returns a condition on evidence (alias e) that holds when
	// its point lies within r metres of c (see nearWithin for how the
	// backends measure).
	within func(c geo.Point, r float64) (cond string, args []any)
	// hashLock, when set, takes a transaction-scoped lock on a pair of
	// int4 keys. CommitEvidence holds it per SHA-256 so that two commits
	// of the same bytes cannot both miss each other; imports and chief
	// assignments hold it per kind and per reach (see geography.go).
	// SQLite needs none: its write transactions are serialised.
	hashLock string

	// Geometry (townships, reaches): geomParam is the SQL that turns a
	// bound geometry parameter into the column's value, geomCol the SQL
	// that reads a geometry column back as bytes, and encodeGeom and
	// decodeGeom convert between those bytes and go-geom. PostGIS gets
	// EWKB with SRID 4326; SQLite stores plain WKB in a BLOB.
	geomParam  string
	geomCol    func(col string) string
	encodeGeom func(g geom.T) ([]byte, error)
	decodeGeom func(b []byte) (geom.T, error)
	// reachBoxIndex returns a condition on reaches (alias r) that uses the
	// spatial index to keep rows whose bounding box may meet b: a
	// superset, as for boxIndex. Callers add the exact test on the bounds
	// columns.
	reachBoxIndex func(b geo.Box) (cond string, args []any)
	// joinText aggregates a text column into one comma-separated value.
	joinText func(col string) string
}

var (
	sqliteDialect = dialect{
		name:       "sqlite",
		goose:      goose.DialectSQLite3,
		migrations: "migrations/sqlite",
		textTime:   true,
		classify:   classifySQLite,
		boxIndex:   sqliteBoxIndex,
		within:     sqliteWithin,

		geomParam:     `?`,
		geomCol:       func(col string) string { return col },
		encodeGeom:    func(g geom.T) ([]byte, error) { return wkb.Marshal(g, wkb.NDR) },
		decodeGeom:    func(b []byte) (geom.T, error) { return wkb.Unmarshal(b) },
		reachBoxIndex: sqliteReachBoxIndex,
		joinText:      func(col string) string { return `group_concat(` + col + `, ',')` },
	}
	postgresDialect = dialect{
		name:       "postgres",
		goose:      goose.DialectPostgres,
		migrations: "migrations/postgres",
		positional: true,
		classify:   classifyPostgres,
		boxIndex:   postgresBoxIndex,
		within:     postgresWithin,
		hashLock:   `SELECT pg_advisory_xact_lock(?, ?)`,

		geomParam:     `ST_GeomFromEWKB(?)`,
		geomCol:       func(col string) string { return `ST_AsEWKB(` + col + `)` },
		encodeGeom:    func(g geom.T) ([]byte, error) { return ewkb.Marshal(g, ewkb.NDR) },
		decodeGeom:    ewkb.Unmarshal,
		reachBoxIndex: postgresReachBoxIndex,
		joinText:      func(col string) string { return `string_agg(` + col + `, ',')` },
	}
)

// migrationsFS returns the dialect's migration files rooted so that goose
// sees 00001_init.sql at the top.
func (d *dialect) migrationsFS() (fs.FS, error) {
	return fs.Sub(migrationFiles, d.migrations)
}

// rebind rewrites '?' placeholders to '$1', '$2', … for PostgreSQL. Question
// marks inside quoted literals and identifiers are left alone so that a
// literal '?' in a query cannot shift the numbering.
func (d *dialect) rebind(query string) string {
	if !d.positional || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// timeLayout is the SQLite text form: always UTC, always six fractional
// digits, so that lexical and chronological order agree.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// precision is what both backends keep: PostgreSQL timestamptz stores
// microseconds, and SQLite stores what we give it, so we give it the same.
const precision = time.Microsecond

// timeArg converts t to the value bound for a time column.
func (d *dialect) timeArg(t time.Time) any {
	t = t.UTC().Truncate(precision)
	if d.textTime {
		return t.Format(timeLayout)
	}
	return t
}

// nullTimeArg is timeArg for nullable columns.
func (d *dialect) nullTimeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.timeArg(*t)
}

// roundTime returns t as it will read back from the database.
func roundTime(t time.Time) time.Time {
	return t.UTC().Truncate(precision)
}

// timeScan reads a time column from either backend into a UTC time. A NULL
// leaves the target untouched (nil for a **time.Time).
type timeScan struct {
	t    *time.Time  // for NOT NULL columns
	null **time.Time // for nullable columns
}

// Scan implements sql.Scanner.
func (s timeScan) Scan(src any) error {
	var t time.Time
	switch v := src.(type) {
	case nil:
		if s.null != nil {
			*s.null = nil
			return nil
		}
		return errors.New("store: NULL in a NOT NULL time column")
	case time.Time:
		t = v
	case string:
		p, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fmt.Errorf("store: bad stored time %q: %w", v, err)
		}
		t = p
	case []byte:
		p, err := time.Parse(time.RFC3339Nano, string(v))
		if err != nil {
			return fmt.Errorf("store: bad stored time %q: %w", v, err)
		}
		t = p
	default:
		return fmt.Errorf("store: cannot scan %T into a time", src)
	}
	t = t.UTC()
	if s.null != nil {
		*s.null = &t
		return nil
	}
	*s.t = t
	return nil
}

// unavailable marks err as ErrUnavailable while keeping it as the cause.
func unavailable(err error) error { return fmt.Errorf("%w: %w", ErrUnavailable, err) }

// classifyCommon recognises failures to reach the database that look the
// same in both drivers: deadlines (the pool could not hand out a connection
// or the server did not answer in time), broken connections, and network
// errors. A cancelled context is not among them: the caller went away, the
// database did nothing wrong.
func classifyCommon(err error) (error, bool) {
	if errors.Is(err, context.Canceled) {
		return err, true
	}
	if errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return unavailable(err), true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return unavailable(err), true
	}
	return err, false
}

// classified reports whether err already carries one of the sentinels, so
// that classifying twice (inner helper, then the method) wraps once.
func classified(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound)
}

// classifyPostgres maps pgx errors to the package's sentinels.
func classifyPostgres(err error) error {
	if err == nil || classified(err) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %w", ErrConflict, err)
		case pe.Code == "23503": // foreign_key_violation: the referenced row is missing
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"), // insufficient resources, e.g. too_many_connections
			pe.Code == "57P01",               // admin_shutdown
			pe.Code == "57P02",               // crash_shutdown
			pe.Code == "57P03",               // cannot_connect_now (starting up, recovering)
			pe.Code == "57014",               // query_canceled: statement_timeout on an overloaded server
			pe.Code == "25006":               // read_only_sql_transaction: a failover left us on a standby
			return unavailable(err)
		}
		return err
	}
	if out, ok := classifyCommon(err); ok {
		return out
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.Timeout(err) {
		return unavailable(err)
	}
	return err
}

// classifySQLite maps modernc.org/sqlite errors to the package's sentinels.
func classifySQLite(err error) error {
	if err == nil || classified(err) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch code := se.Code(); code {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		default:
			// The primary code is the low byte of an extended code.
			switch code & 0xff {
			case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, // busy_timeout ran out
				sqlite3.SQLITE_CANTOPEN, // file vanished or permissions changed
				sqlite3.SQLITE_FULL:     // disk full: retry later, not a client error
				return unavailable(err)
			}
		}
		return err
	}
	if out, ok := classifyCommon(err); ok {
		return out
	}
	return err
}
