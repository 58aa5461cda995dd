// Package store persists fieldwatch's domain in SQL. It has two backends
// behind one concrete type: SQLite for the embedded deployment (one file, no
// server) and PostgreSQL with PostGIS for production. The constructor picks
// the backend; every method behaves the same on both, which the contract
// suite in store/storetest checks.
//
// Queries are written once with '?' placeholders and rebound for
// PostgreSQL. Only what must differ is per dialect: the migrations
// (store/migrations/{sqlite,postgres}, goose format, embedded), error
// classification, the encoding of times and geometries (EWKB into PostGIS
// columns, WKB blobs with bounds columns in SQLite), the spatial filters
// (PostGIS with GiST indexes, or R*Trees; see spatial.go for the one place
// where their answers may differ), and the advisory locks that serialise
// writers where they run in parallel.
//
// Errors: ErrNotFound, ErrConflict and ErrUnavailable classify database
// outcomes and wrap the driver's error as their cause. Input that cannot be
// stored (invalid UTF-8, NUL, unknown role, malformed hash) is rejected
// before any query with an error wrapping fieldwatch.ErrInvalid. So are NaN,
// infinite and out-of-range coordinates: one NaN row would make every
// listing that includes it fail to encode.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/internal/expiring"
)

// Errors returned by Store methods. Each wraps the underlying driver error,
// if any, so logs keep the cause while callers test with errors.Is. They
// carry the domain's codes (ENOTFOUND, ECONFLICT, EUNAVAILABLE) and match
// its generic errors of the same code (fieldwatch.ErrNotFound, …), so the
// domain can test store answers without importing store, and the API
// answers them without knowing store.
var (
	// ErrNotFound: the row asked for does not exist (or a row refers to
	// one that does not).
	ErrNotFound error = fieldwatch.NewSentinel(fieldwatch.ENOTFOUND, "store: not found", fieldwatch.ErrNotFound.Message)
	// ErrConflict: a unique constraint was violated, e.g. a duplicate
	// username, or a write lost a race (a stale version). A driver's
	// error shows the client only the generic message; conflictf adds one
	// fit for the client.
	ErrConflict error = fieldwatch.NewSentinel(fieldwatch.ECONFLICT, "store: conflict", fieldwatch.ErrConflict.Message)
	// ErrUnavailable: the database could not be reached or did not answer
	// in time; the operation may succeed if retried later (HTTP 503).
	ErrUnavailable error = fieldwatch.NewSentinel(fieldwatch.EUNAVAILABLE, "store: unavailable", fieldwatch.ErrUnavailable.Message)
)

// conflictf returns an error matching ErrConflict whose message, fit for
// the client, says what conflicts.
func conflictf(format string, args ...any) error {
	return fieldwatch.Wrap(fieldwatch.ECONFLICT, fmt.Sprintf(format, args...), ErrConflict)
}

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// Pool limits. PostgreSQL's max_connections is shared by every replica, so
// each one takes a bounded share; connections are recycled so that a
// failover or restart is absorbed without restarting the API.
const (
	pgMaxOpenConns    = 25
	pgConnMaxLifetime = 30 * time.Minute
	pgConnMaxIdleTime = 5 * time.Minute
	pgConnectTimeout  = 5 * time.Second

	// sqliteBusyTimeout is how long a writer waits for the single write
	// lock before SQLITE_BUSY. Writes are short, so 10 s only runs out
	// when something is badly wrong.
	sqliteBusyTimeout = 10 * time.Second
)

// Store is a handle to the database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	d       *dialect
	now     func() time.Time
	migrate *goose.Provider

	// evidence caches rows for Cached.EvidenceByID; nil when off
	// (WithEvidenceCache).
	evidence     *expiring.Cache[string, fieldwatch.Evidence]
	evidenceTTL  time.Duration
	evidenceSize int
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock used where a method is not given a time, e.g.
// the creation time of a user that has none. Tests pass a fixed clock. A
// nil clock keeps time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// OpenSQLite opens (creating if needed) the SQLite database at path, and
// its parent directory. The database is configured for concurrent writers:
// WAL, a busy timeout, and write transactions that take the write lock at
// BEGIN, so a transaction never fails halfway when it first writes.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: open sqlite: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", sqliteDSN(abs))
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	// Readers run in parallel under WAL; writers queue on the write lock
	// whatever the pool size, so a modest pool is enough and bounds the
	// page caches held in memory.
	n := max(4, runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	s, err := newStore(db, &sqliteDialect, opts)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	// Opening is lazy in database/sql; connect now so that a bad path or
	// a file system without WAL support fails here, not on first use.
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return nil, errors.Join(fmt.Errorf("store: open sqlite %s: %w", abs, classifySQLite(err)), db.Close())
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, errors.Join(fmt.Errorf("store: open sqlite %s: journal_mode is %q, want wal", abs, mode), db.Close())
	}
	return s, nil
}

// sqliteDSN builds the modernc.org/sqlite connection string for the file at
// abs. The pragmas run on every new connection of the pool:
//   - busy_timeout first, so that the pragmas after it wait instead of
//     failing while another connection writes;
//   - journal_mode=WAL lets readers proceed during a write;
//   - synchronous=NORMAL is durable across application crashes in WAL
//     mode and avoids an fsync per commit (a power cut may lose the last
//     commits, never corrupt the file);
//   - foreign_keys is off by default in SQLite;
//   - _txlock=immediate makes BEGIN take the write lock up front, so a
//     transaction waits in busy_timeout instead of failing with
//     SQLITE_BUSY when it upgrades from reading to writing.
//
// A file: URI with an escaped path keeps '?' or '#' in a directory name
// from being taken for parameters.
func sqliteDSN(abs string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// OpenPostgres prepares a connection pool for the PostgreSQL database at
// url (a postgres:// URL or key=value string). It does not connect: an API
// replica must start, and answer 503, while the database is down. Call
// Ping to check. A URL without connect_timeout gets 5 s.
func OpenPostgres(ctx context.Context, url string, opts ...Option) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectTimeout
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(pgMaxOpenConns)
	db.SetMaxIdleConns(pgMaxOpenConns)
	db.SetConnMaxLifetime(pgConnMaxLifetime)
	db.SetConnMaxIdleTime(pgConnMaxIdleTime)
	s, err := newStore(db, &postgresDialect, opts)
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
}

func newStore(db *sql.DB, d *dialect, opts []Option) (*Store, error) {
	s := &Store{db: db, d: d, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.evidenceTTL > 0 {
		s.evidence = expiring.New[string, fieldwatch.Evidence](s.evidenceSize)
	}
	fsys, err := d.migrationsFS()
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	popts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if d.name == postgresDialect.name {
		// Replicas started together must not apply the same migration
		// twice; an advisory lock on the session serialises them.
		l, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, fmt.Errorf("store: migrations: %w", err)
		}
		popts = append(popts, goose.WithSessionLocker(l))
	}
	p, err := goose.NewProvider(d.goose, db, fsys, popts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	s.migrate = p
	return s, nil
}

// Migrate applies the embedded migrations that the database lacks and
// returns their versions in order. Running it again is a no-op that returns
// no versions.
func (s *Store) Migrate(ctx context.Context) (applied []int64, err error) {
	res, err := s.migrate.Up(ctx)
	for _, r := range res {
		if r.Error == nil {
			applied = append(applied, r.Source.Version)
		}
	}
	if err != nil {
		return applied, fmt.Errorf("store: migrate: %w", s.d.classify(err))
	}
	return applied, nil
}

// Version returns the highest applied migration version, 0 for an empty
// database.
func (s *Store) Version(ctx context.Context) (int64, error) {
	v, err := s.migrate.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: version: %w", s.d.classify(err))
	}
	return v, nil
}

// Ping checks that the database answers. It returns ErrUnavailable when it
// does not, which health checks report as 503.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", s.d.classify(err))
	}
	return nil
}

// PoolSize is how many connections the store opens at most, so that the
// application can keep its bounded stages (uploads committing) below it
// and leave connections for reads.
func (s *Store) PoolSize() int { return s.db.Stats().MaxOpenConnections }

// Backend names the database behind the store: "sqlite" or "postgres".
func (s *Store) Backend() string { return s.d.name }

// Close closes the connection pool. For SQLite it also lets the last
// connection checkpoint the WAL into the main file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// q rebinds a query for the store's dialect.
func (s *Store) q(query string) string { return s.d.rebind(query) }

// fail wraps a database error with the operation and classifies it.
func (s *Store) fail(op string, err error) error {
	return fmt.Errorf("store: %s: %w", op, s.d.classify(err))
}

// readTx runs fn in a read-only transaction with one snapshot for all its
// statements (REPEATABLE READ in PostgreSQL; a deferred read transaction
// in SQLite, which never takes the write lock).
func (s *Store) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a read-only transaction has nothing to lose
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// writeTx runs fn in a transaction and commits it if fn returns nil. In
// SQLite the transaction holds the write lock from BEGIN (_txlock).
func (s *Store) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	return tx.Commit()
}

// ignoreDone drops the error of rolling back a transaction that the
// driver already ended (e.g. after its context was cancelled).
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
