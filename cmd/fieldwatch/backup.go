package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
	"github.com/fieldwatch/fieldwatch/cmd/fieldwatch/app"
	"github.com/fieldwatch/fieldwatch/internal/durable"
	"github.com/fieldwatch/fieldwatch/store"
)

// The layout of a backup directory. The photos are a fileblob.Dir, so that
// every copy is written whole or not at all and carries its hash.
const (
	backupFormat   = 1
	backupManifest = "manifest.json"
	backupDatabase = "fieldwatch.db"
	backupPhotos   = "photos"
	jwtKeysFile    = "jwt-keys"
)

// manifest describes a finished backup. It is written last: a directory
// without one is a backup that did not finish, and restore refuses it.
type manifest struct {
	Format  int    `json:"format"`
	Version string `json:"fieldwatch_version"`
	// StartedAt is taken before the database snapshot: every upload
	// answered 201 before it is in the backup. SnapshotAt is when the
	// snapshot was complete; uploads answered between the two may or may
	// not be in it, whole either way.
	StartedAt      time.Time `json:"started_at"`
	SnapshotAt     time.Time `json:"snapshot_at"`
	FinishedAt     time.Time `json:"finished_at"`
	SchemaVersion  int64     `json:"schema_version"`
	DatabaseSHA256 string    `json:"database_sha256"`
	DatabaseBytes  int64     `json:"database_bytes"`
	Evidence       int       `json:"evidence"`    // rows in the snapshot
	Photos         int       `json:"photos"`      // distinct photo objects copied (rows may share one)
	PhotoBytes     int64     `json:"photo_bytes"` // their total size
	Thumbnails     int       `json:"thumbnails"`
	// ThumbnailsMissing counts previews a row lists that could not be
	// read; restore lets the thumbnail worker make them again.
	ThumbnailsMissing int `json:"thumbnails_missing"`
	// AuditHead is the snapshot's audit chain head, SEQ:HASH; restore
	// verifies that the restored chain reaches it.
	AuditHead string `json:"audit_head"`
	JWTKeys   bool   `json:"jwt_keys"`
	// Problems are rows whose photo could not be copied because the live
	// store lacks it or it fails its hash: violations that `fieldwatch
	// check` reports on the live data too.
	Problems []string `json:"problems,omitempty"`
}

// runBackup copies the embedded deployment to an empty directory while
// `serve` keeps running on it: first a consistent snapshot of the
// database, then the photo of every row in that snapshot.
//
// The order is what makes the copy whole. Photos are content-addressed
// and rows are never deleted, so an object is never deleted while a row
// references it: every row in the snapshot still has its photo when the
// copy reaches it, however long that takes. Photos of rows committed
// after the snapshot are not copied, so the backup holds no orphans.
func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, rest, err := commandConfig("backup", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{fmt.Errorf("backup takes one argument, the directory to write the backup to; got %q", rest)}
	}
	dir := rest[0]
	log := app.NewLogger(c, stderr)
	dbPath, ok := app.SQLitePath(c)
	if !ok {
		if !app.IsPostgresURL(c.DatabaseURL) {
			_, err := app.OpenStore(ctx, c) // the usage error for a malformed URL
			return err
		}
		return errors.New("backup copies the embedded SQLite database; this deployment uses PostgreSQL: " +
			"back up the database with pg_dump (or base backups and WAL archiving), then the bucket, in that order, as docs/operations.md describes")
	}
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("no database to back up: %w", err)
	}
	if err := requireEmptyDir(dir); err != nil {
		return usageError{fmt.Errorf("backup directory: %w", err)}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}

	m := manifest{Format: backupFormat, Version: version(), StartedAt: time.Now().UTC()}
	snapPath := filepath.Join(dir, backupDatabase)
	if err := snapshotDatabase(ctx, c, snapPath); err != nil {
		return err
	}
	m.SnapshotAt = time.Now().UTC()
	log.Info("database snapshot written", slog.String("path", snapPath), slog.Duration("took", m.SnapshotAt.Sub(m.StartedAt)))

	// The snapshot is opened as the store it is, read only by us. It is
	// never migrated here: it records the schema the server had.
	snap, err := store.OpenSQLite(ctx, snapPath)
	if err != nil {
		return fmt.Errorf("open snapshot: %w", err)
	}
	defer snap.Close()
	if m.SchemaVersion, err = snap.Version(ctx); err != nil {
		return err
	}
	seq, hash, _, err := snap.AuditHead(ctx)
	if err != nil {
		return err
	}
	m.AuditHead = formatAnchor(store.AuditAnchor{Seq: seq, Hash: hash})

	photos, _, err := app.OpenPhotos(ctx, c, log)
	if err != nil {
		return err
	}
	out, err := fileblob.Open(filepath.Join(dir, backupPhotos))
	if err != nil {
		return err
	}
	defer out.Close()
	err = forEachEvidence(ctx, snap, func(e fieldwatch.Evidence) error {
		m.Evidence++
		n, err := copyPhoto(ctx, photos, out, e)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			m.Problems = append(m.Problems, fmt.Sprintf("evidence %s: photo %s in the live store: %v", e.ID, e.ObjectKey, err))
			return nil
		}
		if n >= 0 {
			m.Photos++
			m.PhotoBytes += n
		}
		copied, missing := copyThumbnails(ctx, photos, out, e)
		m.Thumbnails += copied
		m.ThumbnailsMissing += missing
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy photos: %w", err)
	}
	if err := snap.Close(); err != nil {
		return err
	}

	m.JWTKeys, err = copyFile(filepath.Join(c.DataDir, jwtKeysFile), filepath.Join(dir, jwtKeysFile), 0o600, "")
	if err != nil {
		return fmt.Errorf("copy the signing key file: %w", err)
	}
	sum, size, err := hashFile(snapPath)
	if err != nil {
		return err
	}
	m.DatabaseSHA256, m.DatabaseBytes = sum, size
	m.FinishedAt = time.Now().UTC()
	if err := writeManifest(dir, m); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup %s: %d evidence rows, %d photos (%d bytes), %d thumbnails, database %d bytes (schema version %d), audit head %s, jwt-keys %v; snapshot after %s, done after %s\n",
		dir, m.Evidence, m.Photos, m.PhotoBytes, m.Thumbnails, m.DatabaseBytes, m.SchemaVersion, m.AuditHead, m.JWTKeys,
		m.SnapshotAt.Sub(m.StartedAt).Round(time.Millisecond), m.FinishedAt.Sub(m.StartedAt).Round(time.Millisecond))
	if len(m.Problems) > 0 {
		fmt.Fprintln(stdout, strings.Join(m.Problems, "\n"))
		return fmt.Errorf("backup written, but %d rows have no intact photo in the live store (run fieldwatch check)", len(m.Problems))
	}
	return nil
}

// snapshotDatabase writes the consistent copy of the live database. The
// live store is opened without migrating: a backup never changes the
// data it copies.
func snapshotDatabase(ctx context.Context, c app.Config, path string) error {
	db, err := app.OpenStore(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.BackupTo(ctx, path); err != nil {
		return err
	}
	if err := os.Chmod(path, 0o640); err != nil { // as the live file: it holds password hashes
		return err
	}
	return db.Close()
}

// runRestore fills an empty data directory from a backup: the database
// (migrated if the backup is older than this binary), the photo of every
// row, verified against the row's SHA-256 as it is written, the previews
// and the signing key file; then it runs the invariant checker and
// verifies that the audit chain reaches the head the backup recorded.
//
// A damaged photo does not stop the restore: every intact row is worth
// having. It is reported, and the restore exits 1.
func runRestore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, rest, err := commandConfig("restore", args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return usageError{fmt.Errorf("restore takes one argument, the backup directory (flags go before it); got %q", rest)}
	}
	src := rest[0]
	log := app.NewLogger(c, stderr)
	m, err := readManifest(src)
	if err != nil {
		return err
	}
	dbPath, ok := app.SQLitePath(c)
	if !ok {
		return usageError{errors.New("restore fills the embedded SQLite deployment; for PostgreSQL use pg_restore as docs/operations.md describes")}
	}
	for _, d := range []string{c.DataDir, c.PhotoDir} {
		if err := requireEmptyDir(d); err != nil {
			return usageError{fmt.Errorf("restore target: %w", err)}
		}
	}
	if _, err := os.Lstat(dbPath); !errors.Is(err, fs.ErrNotExist) {
		return usageError{fmt.Errorf("restore target: %s already exists", dbPath)}
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o750); err != nil {
		return err
	}
	if _, err := copyFile(filepath.Join(src, backupDatabase), dbPath, 0o640, m.DatabaseSHA256); err != nil {
		return fmt.Errorf("restore database: %w", err)
	}
	db, applied, err := app.OpenMigrated(ctx, c)
	if err != nil {
		return err
	}
	defer db.Close()
	photos, _, err := app.OpenPhotos(ctx, c, log)
	if err != nil {
		return err
	}
	if err := requireNoObjects(ctx, photos); err != nil {
		return usageError{fmt.Errorf("restore target: %w", err)}
	}
	in, err := fileblob.Open(filepath.Join(src, backupPhotos))
	if err != nil {
		return err
	}
	defer in.Close()

	var (
		rows, restored, thumbs int
		bytes                  int64
		problems               []string
	)
	err = forEachEvidence(ctx, db, func(e fieldwatch.Evidence) error {
		rows++
		n, err := copyPhoto(ctx, in, photos, e)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			problems = append(problems, fmt.Sprintf("evidence %s: photo %s in the backup: %v", e.ID, e.ObjectKey, err))
		} else if n >= 0 {
			restored++
			bytes += n
		}
		copied, missing := copyThumbnails(ctx, in, photos, e)
		thumbs += copied
		if missing > 0 {
			// The row lists previews the backup lacks: list only what is
			// there, and the thumbnail worker makes the rest again.
			var have []int
			for _, size := range e.Thumbnails {
				if _, err := photos.Stat(ctx, fieldwatch.ThumbnailKey(e.SHA256, size)); err == nil {
					have = append(have, size)
				}
			}
			if err := db.SetThumbnails(ctx, e.ID, have); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("restore photos: %w", err)
	}
	keys, err := copyFile(filepath.Join(src, jwtKeysFile), filepath.Join(c.DataDir, jwtKeysFile), 0o600, "")
	if err != nil {
		return fmt.Errorf("restore the signing key file: %w", err)
	}
	if m.JWTKeys && !keys {
		problems = append(problems, "the backup lists a jwt-keys file but it is missing: tokens issued before the backup will not verify")
	}
	fmt.Fprintf(stdout, "restored %s into %s: schema version %d (migrations applied: %v), %d evidence rows, %d photos (%d bytes), %d thumbnails, jwt-keys %v\n",
		src, c.DataDir, m.SchemaVersion, applied, rows, restored, bytes, thumbs, keys)
	if rows != m.Evidence {
		problems = append(problems, fmt.Sprintf("the database holds %d evidence rows, the manifest says %d", rows, m.Evidence))
	}

	rep, err := fieldwatch.CheckInvariants(ctx, db, photos, fieldwatch.InvariantConfig{OrphanAge: c.OrphanAge})
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	fmt.Fprintf(stdout, "checked %d evidence rows and %d objects\n", rep.Evidence, rep.Objects)
	problems = append(problems, rep.Problems...)
	head, err := parseAnchor(m.AuditHead)
	if err != nil {
		return fmt.Errorf("manifest audit head: %w", err)
	}
	ar, err := db.VerifyAuditAgainst(ctx, &head)
	if err != nil {
		return err
	}
	if ar.FirstBroken != 0 {
		problems = append(problems, fmt.Sprintf("audit trail broken at entry %d: %s", ar.FirstBroken, ar.Reason))
	} else {
		fmt.Fprintf(stdout, "audit trail intact: %d entries, head %s reached\n", ar.Checked, m.AuditHead)
	}
	if len(problems) > 0 {
		fmt.Fprintln(stdout, strings.Join(problems, "\n"))
		return fmt.Errorf("restored with %d problems", len(problems))
	}
	fmt.Fprintln(stdout, "all invariants hold")
	return nil
}

// forEachEvidence calls fn for every evidence row, a page at a time.
func forEachEvidence(ctx context.Context, db *store.Store, fn func(fieldwatch.Evidence) error) error {
	f := fieldwatch.EvidenceFilter{Limit: store.MaxEvidenceLimit}
	for {
		page, err := db.ListEvidence(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < f.Limit {
			return nil
		}
		last := page[len(page)-1]
		t := last.ReceivedAt
		f.AfterTime, f.AfterID = &t, last.ID
	}
}

// copyPhoto copies e's photo from src to dst unless dst has it already
// (rows with the same bytes share one object). The destination's Put
// checks the bytes against the row's SHA-256 and size, so a damaged copy
// is never written. It returns the bytes copied, or -1 if there was
// nothing to copy.
func copyPhoto(ctx context.Context, src, dst blob.Bucket, e fieldwatch.Evidence) (int64, error) {
	sum, err := hex.DecodeString(e.SHA256)
	if err != nil || len(sum) != sha256.Size {
		return 0, fmt.Errorf("row has a malformed sha256 %q", e.SHA256)
	}
	copied, err := copyObject(ctx, src, dst, e.ObjectKey, e.Size, sum, e.ContentType)
	if err != nil || !copied {
		return -1, err
	}
	return e.Size, nil
}

// copyThumbnails copies the previews e lists. They can be made again, so
// one that cannot be read is counted, not an error.
func copyThumbnails(ctx context.Context, src, dst blob.Bucket, e fieldwatch.Evidence) (copied, missing int) {
	for _, size := range e.Thumbnails {
		ok, err := copyObject(ctx, src, dst, fieldwatch.ThumbnailKey(e.SHA256, size), -1, nil, "image/jpeg")
		switch {
		case err != nil:
			missing++
		case ok:
			copied++
		}
	}
	return copied, missing
}

// copyObject copies key from src to dst unless dst has it. size -1 takes
// the source's size; sum, if set, is the SHA-256 the bytes must have.
func copyObject(ctx context.Context, src, dst blob.Bucket, key string, size int64, sum []byte, contentType string) (bool, error) {
	if _, err := dst.Stat(ctx, key); err == nil {
		return false, nil
	} else if !errors.Is(err, blob.ErrNotExist) {
		return false, err
	}
	rc, obj, err := src.Get(ctx, key)
	if err != nil {
		return false, err
	}
	defer rc.Close()
	if size < 0 {
		size = obj.Size
	}
	if _, err := dst.Put(ctx, key, rc, size, blob.PutOptions{SHA256: sum, ContentType: contentType}); err != nil {
		return false, err
	}
	return true, nil
}

// requireEmptyDir accepts a directory that does not exist or is empty.
func requireEmptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(ents) > 0:
		return fmt.Errorf("%s is not empty (it holds %s)", dir, ents[0].Name())
	}
	return nil
}

// errFound stops a listing at its first object.
var errFound = errors.New("found")

// requireNoObjects refuses a photo store that holds anything: a restore
// must not mix its photos with another deployment's.
func requireNoObjects(ctx context.Context, photos blob.Bucket) error {
	var first string
	err := photos.List(ctx, "", func(o blob.Object) error { first = o.Key; return errFound })
	if errors.Is(err, errFound) {
		return fmt.Errorf("the photo store is not empty (it holds %s)", first)
	}
	return err
}

// copyFile copies src to a new file dst (temp file, fsync, rename, fsync
// of the directory). If wantSHA256 is set the bytes must hash to it, or
// nothing is left at dst. A missing src copies nothing and returns false.
func copyFile(src, dst string, perm fs.FileMode, wantSHA256 string) (bool, error) {
	in, err := os.Open(src)
	if errors.Is(err, fs.ErrNotExist) && wantSHA256 == "" {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return false, err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), in); err != nil {
		return false, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); wantSHA256 != "" && got != wantSHA256 {
		return false, fmt.Errorf("%s has sha256 %s, the manifest says %s: the backup is damaged", src, got, wantSHA256)
	}
	if err := tmp.Chmod(perm); err != nil {
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return false, err
	}
	done = true
	return true, durable.Sync(filepath.Dir(dst))
}

// hashFile returns a file's SHA-256 in hex and its size.
func hashFile(name string) (string, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// writeManifest writes the manifest last, durably: its presence is what
// says the backup is complete.
func writeManifest(dir string, m manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+backupManifest+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, backupManifest)); err != nil {
		return err
	}
	return durable.Sync(dir)
}

// readManifest reads a finished backup's manifest.
func readManifest(dir string) (manifest, error) {
	var m manifest
	b, err := os.ReadFile(filepath.Join(dir, backupManifest))
	if errors.Is(err, fs.ErrNotExist) {
		return m, usageError{fmt.Errorf("%s has no %s: not a fieldwatch backup, or one that did not finish", dir, backupManifest)}
	}
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", backupManifest, err)
	}
	if m.Format != backupFormat {
		return m, fmt.Errorf("%s: backup format %d, this fieldwatch reads format %d", backupManifest, m.Format, backupFormat)
	}
	return m, nil
}
