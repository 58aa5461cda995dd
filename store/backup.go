package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fieldwatch/fieldwatch/internal/durable"
)

// BackupTo writes a consistent copy of the database to path, which must
// not exist yet, while the service keeps running on it.
//
// Copying fieldwatch.db with cp while the server runs misses whatever is
// still in the write-ahead log, and the rows it misses are then the ones
// whose photos the reconciler deletes as orphans. SQLite's VACUUM INTO
// instead reads the whole database in one read transaction, so the copy is
// the database as of one instant, WAL included. Under WAL a reader takes no
// lock that writers wait for: uploads continue during the copy, they only
// keep the log from being checkpointed past the reader until it ends. The
// copy is compacted, and fsynced here because SQLite does not sync what
// VACUUM INTO writes.
//
// PostgreSQL is not copied this way: it returns an error wrapping
// errors.ErrUnsupported; use pg_dump or base backups with WAL archiving
// (docs/operations.md).
func (s *Store) BackupTo(ctx context.Context, path string) error {
	if s.d.name != sqliteDialect.name {
		return fmt.Errorf("store: backup: %w for %s: back it up with pg_dump, or base backups and WAL archiving (docs/operations.md)",
			errors.ErrUnsupported, s.d.name)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if _, err := os.Lstat(abs); err == nil {
		return fmt.Errorf("store: backup: %s: %w", abs, fs.ErrExist)
	}
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, abs); err != nil {
		return s.fail("backup", err)
	}
	if err := durable.Sync(abs); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := durable.Sync(filepath.Dir(abs)); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}
