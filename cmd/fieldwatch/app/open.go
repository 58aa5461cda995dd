package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
	"github.com/fieldwatch/fieldwatch/blob/s3blob"
	"github.com/fieldwatch/fieldwatch/store"
)

// UsageError marks a mistake in how the program was called or configured
// (exit status 2).
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// tempMaxAge is how old a leftover spool or temp file must be before the
// start-up sweep removes it: older than any upload still being written by
// another instance sharing the directory.
const tempMaxAge = time.Hour

// OpenMigrated opens the database and applies pending migrations, as every
// command that touches data does first.
func OpenMigrated(ctx context.Context, c Config, opts ...store.Option) (*store.Store, []int64, error) {
	db, err := OpenStore(ctx, c, opts...)
	if err != nil {
		return nil, nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return db, applied, nil
}

// OpenStore picks the database backend from the configured URL.
func OpenStore(ctx context.Context, c Config, opts ...store.Option) (*store.Store, error) {
	if path, ok := SQLitePath(c); ok {
		return store.OpenSQLite(ctx, path, opts...)
	}
	switch {
	case IsPostgresURL(c.DatabaseURL):
		return store.OpenPostgres(ctx, c.DatabaseURL, opts...)
	default:
		// Never echo the URL: it may hold a password.
		return nil, UsageError{errors.New("database URL: want postgres://…, postgresql://… or sqlite:PATH")}
	}
}

// SQLitePath is the embedded database's file, if the configuration names
// one: DATA_DIR/fieldwatch.db without a URL, PATH for sqlite:PATH.
func SQLitePath(c Config) (string, bool) {
	switch u := c.DatabaseURL; {
	case u == "":
		return filepath.Join(c.DataDir, "fieldwatch.db"), true
	case strings.HasPrefix(u, "sqlite:"):
		return strings.TrimPrefix(strings.TrimPrefix(u, "sqlite:"), "//"), true
	}
	return "", false
}

// IsPostgresURL reports whether u names a PostgreSQL database.
func IsPostgresURL(u string) bool {
	return strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://")
}

// OpenPhotos picks the photo store: S3 when an endpoint is configured, else
// the local directory. It also names the choice ("s3" or "local").
func OpenPhotos(ctx context.Context, c Config, log *slog.Logger) (blob.Bucket, string, error) {
	if c.S3Endpoint != "" {
		s3, err := s3blob.Open(ctx, s3blob.Config{
			Endpoint:  c.S3Endpoint,
			Bucket:    c.S3Bucket,
			Region:    c.S3Region,
			AccessKey: c.S3AccessKey,
			SecretKey: c.S3SecretKey,
			UseTLS:    c.S3TLS,
			// Every photo goes up as one streamed PUT from its spool file,
			// carrying its SHA-256: with parts, minio-go would buffer a
			// part per upload in memory.
			PartSize: max(s3blob.DefaultPartSize, c.MaxPhotoBytes),
		})
		if err != nil {
			return nil, "", fmt.Errorf("photo store: %w", err)
		}
		return s3, "s3", nil
	}
	if err := os.MkdirAll(c.PhotoDir, 0o750); err != nil {
		return nil, "", fmt.Errorf("photo store: %w", err)
	}
	dir, err := fileblob.Open(c.PhotoDir)
	if err != nil {
		return nil, "", fmt.Errorf("photo store: %w", err)
	}
	if n, err := dir.SweepTemp(ctx, tempMaxAge); err != nil {
		log.Warn("sweeping photo temp files", slog.String("error", err.Error()))
	} else if n > 0 {
		log.Info("removed leftover photo temp files", slog.Int("count", n))
	}
	return dir, "local", nil
}

// NewLogger writes the configured level and format to w.
func NewLogger(c Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.LogLevel)) // validated in ParseConfig
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// Failpoints reads FIELDWATCH_FAILPOINTS, a comma-separated list of
// upload-path points where the process exits at once (exit status 86), as
// a crash would. It exists for the fault tests; unset, it costs nothing.
func Failpoints(getenv func(string) string, stderr io.Writer) func(string) {
	set := map[string]bool{}
	for _, p := range SplitList(getenv("FIELDWATCH_FAILPOINTS")) {
		set[p] = true
	}
	if len(set) == 0 {
		return nil
	}
	return func(name string) {
		if set[name] {
			fmt.Fprintf(stderr, "fieldwatch: failpoint %s: exiting\n", name)
			os.Exit(86)
		}
	}
}
