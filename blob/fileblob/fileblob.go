// Package fileblob keeps blobs in a local directory: the blob.Bucket of
// the embedded deployment, and the layout of a backup's photos.
package fileblob

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fieldwatch/fieldwatch/blob"
)

// Dir is a blob.Bucket in a local directory, the embedded deployment's
// default (e.g. ./data/photos). Its layout under the root:
//
//	<key>         the object's bytes, a plain file an operator can open
//	.meta/<key>   a sidecar: the SHA-256 and content type recorded by Put
//	.tmp/         files being written; SweepTemp removes what a crash left
//
// Put writes into .tmp, hashing and counting as it goes, checks size and
// declared SHA-256, fsyncs the file, writes the sidecar, renames the file
// to its key (the commit point) and fsyncs the directories on the way, so
// that after a crash a key holds either nothing or all of its bytes.
// PutFile does the same with a file the caller already wrote and hashed,
// moving it into .tmp instead of copying it there.
//
// The sidecar is a cache, not a source of truth, and is never trusted
// blindly: it records the size and modification time the file had when it
// was put, and Stat and Get use it only while the file still has both. So a
// sidecar that is missing, torn by a crash, stale (the file was replaced)
// or dropped by a copy that did not keep times costs only knowledge: Stat
// then reports SHA256 nil and the default content type. It is therefore
// not fsynced. Extended attributes would be cheaper but are not portable.
//
// Every path goes through an os.Root, so neither a key nor a symbolic link
// planted inside the directory can reach outside it; keys are also
// validated (blob.ValidateKey). Unlike S3, a key cannot both be an object
// and a directory of other keys ("a" and "a/b"). Directories are never
// removed, so that Delete cannot race a Put into the same directory.
type Dir struct {
	root *os.Root
	// path is the directory's absolute path, for PutFile's one rename
	// from outside the root into .tmp (os.Root cannot reach outside).
	path string
	// rename is os.Rename; tests make it fail as across file systems.
	rename func(oldpath, newpath string) error
	// commits serialises the two renames that commit a Put (sidecar,
	// then file) per key stripe. Two Puts of the same key (content
	// addressed: the same bytes) that interleaved them would leave the
	// file of one and the sidecar of the other, and the object's hash
	// unknown from then on.
	commits [commitStripes]sync.Mutex
}

// commitStripes is how many locks share out the keys; Puts of different
// keys rarely wait for each other.
const commitStripes = 64

// commitLock is the lock of key's stripe.
func (d *Dir) commitLock(key string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(key))
	return &d.commits[h.Sum32()%commitStripes]
}

var _ blob.Bucket = (*Dir)(nil)

const (
	tmpDir   = ".tmp"
	metaDir  = ".meta"
	filePerm = 0o640
	dirPerm  = 0o750
	// maxSidecar bounds what Stat reads from a sidecar; real ones are ~200 bytes.
	maxSidecar = 4096
)

// Open opens (creating if needed) the directory at path as a Dir.
// Call Close when done with it.
func Open(path string) (*Dir, error) {
	if path == "" {
		return nil, blob.NewError("open dir", "", nil, errors.New("empty path"))
	}
	if err := os.MkdirAll(path, dirPerm); err != nil {
		return nil, blob.NewError("open dir", "", nil, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, blob.NewError("open dir", "", nil, err)
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, blob.NewError("open dir", "", nil, err)
	}
	for _, d := range []string{tmpDir, metaDir} {
		if err := root.MkdirAll(d, dirPerm); err != nil {
			root.Close()
			return nil, blob.NewError("open dir", "", nil, err)
		}
	}
	return &Dir{root: root, path: abs, rename: os.Rename}, nil
}

// Close releases the directory handle. The Dir must not be used after.
func (d *Dir) Close() error { return d.root.Close() }

// sidecar is what .meta/<key> holds.
type sidecar struct {
	SHA256      string `json:"sha256"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	MTimeNS     int64  `json:"mtime_ns"`
}

// Put implements blob.Bucket.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader, size int64, opts blob.PutOptions) (blob.Object, error) {
	const op = "put"
	if err := blob.CheckKey(op, key); err != nil {
		return blob.Object{}, err
	}
	if err := blob.CheckPut(op, key, size, opts); err != nil {
		return blob.Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return blob.Object{}, blob.NewError(op, key, nil, err)
	}

	tmp, f, err := d.createTemp(".part")
	if err != nil {
		return blob.Object{}, putFSErr(op, key, err)
	}
	// A failure removes only this Put's temp file. The key and its
	// sidecar may describe another upload's object (evidence keys are
	// content addressed); a sidecar written for a rename that then failed
	// describes no file and readSidecar ignores it.
	committed := false
	defer func() {
		if f != nil {
			f.Close()
		}
		if !committed {
			d.root.Remove(tmp)
		}
	}()

	pr := blob.NewPutReader(ctx, r, size, opts.SHA256)
	if _, err := io.Copy(f, pr); err != nil {
		return blob.Object{}, putFSErr(op, key, err)
	}
	if err := f.Sync(); err != nil {
		return blob.Object{}, putFSErr(op, key, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return blob.Object{}, putFSErr(op, key, err)
	}
	obj, renamed, err := d.commit(ctx, key, tmp, size, pr.Sum(), opts.ContentType)
	committed = renamed
	return obj, err
}

// commit renames tmp, a complete and fsynced file of size bytes hashing
// to sum, to key, with its sidecar, and fsyncs the directories. renamed
// says whether tmp is gone (renamed to key; after an error, with its
// durability unknown); if not, tmp is the caller's to remove.
func (d *Dir) commit(ctx context.Context, key, tmp string, size int64, sum []byte, contentType string) (obj blob.Object, renamed bool, err error) {
	const op = "put"
	// Read the time back rather than take time.Now: it is what the file
	// system stores, at its own resolution, and what Stat will compare.
	fi, err := d.root.Stat(tmp)
	if err != nil {
		return blob.Object{}, false, putFSErr(op, key, err)
	}
	if fi.Size() != size {
		return blob.Object{}, false, blob.NewError(op, key, blob.ErrSizeMismatch, fmt.Errorf("file has %d bytes, want %d", fi.Size(), size))
	}
	meta := sidecar{
		SHA256:      hex.EncodeToString(sum),
		ContentType: blob.ContentTypeOrDefault(contentType),
		Size:        fi.Size(),
		MTimeNS:     fi.ModTime().UnixNano(),
	}
	parent := path.Dir(key)
	if parent != "." {
		if err := d.root.MkdirAll(parent, dirPerm); err != nil {
			return blob.Object{}, false, putFSErr(op, key, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return blob.Object{}, false, blob.NewError(op, key, nil, err)
	}
	// Sidecar first, then the commit: a crash in between leaves a sidecar
	// that describes no file, which readSidecar ignores. If the rename
	// fails, the sidecar of what the key already held is put back: a
	// failed Put must not take away another upload's recorded hash.
	lock := d.commitLock(key)
	lock.Lock()
	previous, _ := d.root.ReadFile(path.Join(metaDir, key))
	if err := d.writeSidecar(key, meta); err != nil {
		lock.Unlock()
		return blob.Object{}, false, putFSErr(op, key, err)
	}
	if err := d.root.Rename(tmp, key); err != nil {
		if previous != nil {
			d.restoreSidecar(key, previous)
		}
		lock.Unlock()
		return blob.Object{}, false, putFSErr(op, key, err)
	}
	lock.Unlock()
	obj = blob.Object{Key: key, Size: size, SHA256: sum, ContentType: meta.ContentType, ModTime: fi.ModTime()}
	if err := d.syncDirChain(parent); err != nil {
		// Durability unknown: fail rather than answer success for bytes a
		// crash could lose. The file stays: it holds the right bytes, and
		// may be what a committed row points to.
		return blob.Object{}, true, putFSErr(op, key, err)
	}
	return obj, true, nil
}

// PutFile stores the file at name under key by moving it there rather
// than copying its bytes: the capability a caller that has already
// written and hashed the bytes to a file of its own (the upload path's
// spool) uses to save a copy and a second hash. The caller vouches for
// opts.SHA256 (required), which is recorded unread, as there is nobody
// else here to check it; Get still checks the bytes against it. The file
// must be a regular file of exactly size bytes, or PutFile fails with
// ErrSizeMismatch before moving it. Durability is Put's: the file is
// fsynced before it is renamed, the directories after.
//
// When name is on another file system than the directory (EXDEV),
// PutFile falls back to Put from the file, which copies and hashes it.
// On success name is gone; on failure it may be gone or not, and the
// caller removes whatever is left. Nothing is left under key either way
// unless the Put succeeded, and what the key held before stays on failure.
func (d *Dir) PutFile(ctx context.Context, key, name string, size int64, opts blob.PutOptions) (blob.Object, error) {
	const op = "put"
	if err := blob.CheckKey(op, key); err != nil {
		return blob.Object{}, err
	}
	if err := blob.CheckPut(op, key, size, opts); err != nil {
		return blob.Object{}, err
	}
	if opts.SHA256 == nil {
		return blob.Object{}, blob.NewError(op, key, nil, errors.New("PutFile needs the file's SHA-256"))
	}
	if err := ctx.Err(); err != nil {
		return blob.Object{}, blob.NewError(op, key, nil, err)
	}
	f, err := os.Open(name)
	if err != nil {
		return blob.Object{}, putFSErr(op, key, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return blob.Object{}, putFSErr(op, key, err)
	case !fi.Mode().IsRegular():
		return blob.Object{}, blob.NewError(op, key, nil, fmt.Errorf("%s is not a regular file", name))
	case fi.Size() != size:
		return blob.Object{}, blob.NewError(op, key, blob.ErrSizeMismatch, fmt.Errorf("file has %d bytes, want %d", fi.Size(), size))
	}
	// The bytes must be on disk before any rename makes them the key's.
	if err := f.Sync(); err != nil {
		return blob.Object{}, putFSErr(op, key, err)
	}
	if err := f.Chmod(filePerm); err != nil {
		return blob.Object{}, putFSErr(op, key, err)
	}
	tmp := path.Join(tmpDir, randomName()+".part")
	err = d.rename(name, filepath.Join(d.path, filepath.FromSlash(tmp)))
	if errors.Is(err, syscall.EXDEV) {
		// Another file system: copy (and hash) after all, then remove
		// name as a move would have.
		obj, err := d.Put(ctx, key, f, size, opts)
		if err == nil {
			os.Remove(name)
		}
		return obj, err
	}
	if err != nil {
		return blob.Object{}, putFSErr(op, key, err)
	}
	// Renamed by path, so make sure it landed in this Dir's .tmp (not in
	// a directory swapped in under the same path since Open).
	if landed, err := d.root.Stat(tmp); err != nil || !os.SameFile(fi, landed) {
		os.Remove(filepath.Join(d.path, filepath.FromSlash(tmp)))
		return blob.Object{}, blob.NewError(op, key, nil, fmt.Errorf("the file moved into .tmp is not there (%v)", err))
	}
	obj, renamed, err := d.commit(ctx, key, tmp, size, opts.SHA256, opts.ContentType)
	if !renamed {
		d.root.Remove(tmp)
	}
	return obj, err
}

// writeSidecar writes meta to .meta/<key> through a temp file, so that a
// reader sees the old sidecar or the new one, never half of one.
func (d *Dir) writeSidecar(key string, meta sidecar) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	return d.replaceSidecar(key, b)
}

// restoreSidecar puts back a sidecar's earlier bytes. It is best effort:
// a sidecar that fails to come back costs only the recorded hash.
func (d *Dir) restoreSidecar(key string, b []byte) { _ = d.replaceSidecar(key, b) }

// replaceSidecar atomically replaces .meta/<key> with b.
func (d *Dir) replaceSidecar(key string, b []byte) error {
	tmp, f, err := d.createTemp(".meta")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	dst := path.Join(metaDir, key)
	if err == nil {
		err = d.root.MkdirAll(path.Dir(dst), dirPerm)
	}
	if err == nil {
		err = d.root.Rename(tmp, dst)
	}
	if err != nil {
		d.root.Remove(tmp)
	}
	return err
}

// readSidecar returns the recorded hash and content type if the sidecar
// still describes the file fi, or nil and "" if it does not.
func (d *Dir) readSidecar(key string, fi fs.FileInfo) ([]byte, string) {
	f, err := d.root.Open(path.Join(metaDir, key))
	if err != nil {
		return nil, ""
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSidecar))
	if err != nil {
		return nil, ""
	}
	var m sidecar
	if json.Unmarshal(b, &m) != nil || m.Size != fi.Size() || m.MTimeNS != fi.ModTime().UnixNano() {
		return nil, ""
	}
	sum := blob.ParseHexSHA256(m.SHA256)
	if sum == nil {
		return nil, ""
	}
	return sum, m.ContentType
}

// object describes the regular file fi stored under key.
func (d *Dir) object(key string, fi fs.FileInfo) blob.Object {
	sum, ct := d.readSidecar(key, fi)
	return blob.Object{Key: key, Size: fi.Size(), SHA256: sum, ContentType: blob.ContentTypeOrDefault(ct), ModTime: fi.ModTime()}
}

// open opens the object's file, refusing anything but a regular file.
func (d *Dir) open(ctx context.Context, op, key string) (*os.File, fs.FileInfo, error) {
	if err := blob.CheckKey(op, key); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, blob.NewError(op, key, nil, err)
	}
	f, err := d.root.Open(key)
	if err != nil {
		return nil, nil, readFSErr(op, key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, readFSErr(op, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, blob.NewError(op, key, blob.ErrNotExist, errors.New("not a regular file"))
	}
	return f, fi, nil
}

// Get implements blob.Bucket.
func (d *Dir) Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error) {
	f, fi, err := d.open(ctx, "get", key)
	if err != nil {
		return nil, blob.Object{}, err
	}
	obj := d.object(key, fi)
	return blob.NewVerifyReader(f, key, fi.Size(), obj.SHA256), obj, nil
}

// GetRange implements blob.Bucket.
func (d *Dir) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	const op = "get range"
	if err := blob.CheckKey(op, key); err != nil {
		return nil, err
	}
	if err := blob.CheckRange(op, key, offset, length); err != nil {
		return nil, err
	}
	f, fi, err := d.open(ctx, op, key)
	if err != nil {
		return nil, err
	}
	if offset >= fi.Size() {
		f.Close()
		return nil, blob.NewError(op, key, blob.ErrInvalidRange, fmt.Errorf("offset %d, object has %d bytes", offset, fi.Size()))
	}
	n := min(length, fi.Size()-offset)
	return readCloser{io.NewSectionReader(f, offset, n), f}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Stat implements blob.Bucket.
func (d *Dir) Stat(ctx context.Context, key string) (blob.Object, error) {
	const op = "stat"
	if err := blob.CheckKey(op, key); err != nil {
		return blob.Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return blob.Object{}, blob.NewError(op, key, nil, err)
	}
	fi, err := d.root.Stat(key)
	if err != nil {
		return blob.Object{}, readFSErr(op, key, err)
	}
	if !fi.Mode().IsRegular() {
		return blob.Object{}, blob.NewError(op, key, blob.ErrNotExist, errors.New("not a regular file"))
	}
	return d.object(key, fi), nil
}

// Delete implements blob.Bucket.
func (d *Dir) Delete(ctx context.Context, key string) error {
	const op = "delete"
	if err := blob.CheckKey(op, key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return blob.NewError(op, key, nil, err)
	}
	fi, err := d.root.Lstat(key)
	switch {
	case isNotExist(err):
		return nil
	case err != nil:
		return blob.NewError(op, key, nil, err)
	case fi.IsDir():
		return nil // a directory of other keys, not an object
	}
	if err := d.root.Remove(key); err != nil && !isNotExist(err) {
		return blob.NewError(op, key, nil, err)
	}
	if err := d.root.Remove(path.Join(metaDir, key)); err != nil && !isNotExist(err) {
		return blob.NewError(op, key, nil, err)
	}
	if err := d.syncDir(path.Dir(key)); err != nil {
		return blob.NewError(op, key, nil, err)
	}
	return nil
}

// callbackError carries an error from List's fn through the walk, so that
// List can return it unwrapped.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// List implements blob.Bucket. Files that are not regular (symbolic links,
// devices) and names that are not valid keys are skipped: they were not
// written by Put.
func (d *Dir) List(ctx context.Context, prefix string, fn func(blob.Object) error) error {
	const op = "list"
	if err := blob.CheckPrefix(op, prefix); err != nil {
		return err
	}
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
	}
	err := d.walk(ctx, start, prefix, fn)
	var cb callbackError
	if errors.As(err, &cb) {
		return cb.err
	}
	if err != nil {
		return readFSErr(op, prefix, err)
	}
	return nil
}

// walk visits dir in S3's order: lexicographic by full key. Sorting each
// directory's entries by name, with "/" appended to directories, gives
// exactly that order.
func (d *Dir) walk(ctx context.Context, dir, prefix string, fn func(blob.Object) error) error {
	f, err := d.root.Open(dir)
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			return nil
		}
		return err
	}
	sortName := func(e fs.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return cmp.Compare(sortName(a), sortName(b)) })
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := e.Name()
		if dir != "." {
			key = dir + "/" + key
		}
		if blob.ValidateKey(key) != nil {
			continue // .tmp, .meta, and anything else Put did not write
		}
		switch {
		case e.IsDir():
			sub := key + "/"
			if strings.HasPrefix(sub, prefix) || strings.HasPrefix(prefix, sub) {
				if err := d.walk(ctx, key, prefix, fn); err != nil {
					return err
				}
			}
		case e.Type().IsRegular() && strings.HasPrefix(key, prefix):
			fi, err := e.Info()
			if isNotExist(err) {
				continue // deleted while we listed
			}
			if err != nil {
				return err
			}
			if err := fn(blob.Object{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
				return callbackError{err}
			}
		}
	}
	return nil
}

// PresignGet returns blob.ErrUnsupported: a directory has no URLs.
func (d *Dir) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := blob.CheckKey("presign get", key); err != nil {
		return "", err
	}
	return "", blob.NewError("presign get", key, blob.ErrUnsupported, nil)
}

// PresignPut returns blob.ErrUnsupported: a directory has no URLs.
func (d *Dir) PresignPut(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := blob.CheckKey("presign put", key); err != nil {
		return "", err
	}
	return "", blob.NewError("presign put", key, blob.ErrUnsupported, nil)
}

// Ping creates and removes a file in the directory, which proves it exists
// and is writable.
func (d *Dir) Ping(ctx context.Context) error {
	const op = "ping"
	if err := ctx.Err(); err != nil {
		return blob.NewError(op, "", nil, err)
	}
	name, f, err := d.createTemp(".ping")
	if err != nil {
		return blob.NewError(op, "", blob.ErrUnavailable, err)
	}
	err = f.Close()
	if rerr := d.root.Remove(name); err == nil {
		err = rerr
	}
	if err != nil {
		return blob.NewError(op, "", blob.ErrUnavailable, err)
	}
	return nil
}

// SweepTemp removes files in .tmp not modified for olderThan, and returns
// how many it removed. Run it at start, before serving: a file being
// written is modified with every write, so any olderThan longer than the
// longest pause in a Put is safe even while Puts run; 0 removes everything
// and is safe only when no Put is in progress.
func (d *Dir) SweepTemp(ctx context.Context, olderThan time.Duration) (int, error) {
	const op = "sweep temp"
	f, err := d.root.Open(tmpDir)
	if err != nil {
		return 0, blob.NewError(op, "", nil, err)
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return 0, blob.NewError(op, "", nil, err)
	}
	cutoff := time.Now().Add(-olderThan)
	n := 0
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return n, blob.NewError(op, "", nil, err)
		}
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if isNotExist(err) {
			continue
		}
		if err != nil {
			return n, blob.NewError(op, "", nil, err)
		}
		if !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := d.root.Remove(path.Join(tmpDir, e.Name())); err != nil && !isNotExist(err) {
			return n, blob.NewError(op, "", nil, err)
		}
		n++
	}
	return n, nil
}

// createTemp creates a new, empty file in .tmp.
func (d *Dir) createTemp(suffix string) (string, *os.File, error) {
	for range 3 {
		name := path.Join(tmpDir, randomName()+suffix)
		f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return name, f, err
	}
	return "", nil, errors.New("could not create a unique temporary file")
}

func randomName() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// syncDirChain fsyncs dir and every directory above it up to the root.
// Put's MkdirAll may have created any of them, or a concurrent Put may
// have created one and not yet synced it; syncing the chain covers both.
func (d *Dir) syncDirChain(dir string) error {
	for {
		if err := d.syncDir(dir); err != nil {
			return err
		}
		if dir == "." {
			return nil
		}
		dir = path.Dir(dir)
	}
}

// syncDir fsyncs one directory so that a rename or removal in it survives
// a crash.
func (d *Dir) syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be fsynced there; NTFS journals renames
	}
	f, err := d.root.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// readFSErr classifies a file system error from a read-only operation.
func readFSErr(op, key string, err error) error {
	switch {
	case isNotExist(err):
		return blob.NewError(op, key, blob.ErrNotExist, err)
	case errors.Is(err, syscall.ENOSPC):
		return blob.NewError(op, key, blob.ErrUnavailable, err)
	}
	return blob.NewError(op, key, nil, err)
}

// putFSErr classifies an error from Put, where "not exist" means
// something went wrong with the directory, not that an object is missing.
func putFSErr(op, key string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return blob.NewError(op, key, blob.ErrUnavailable, err)
	}
	return blob.NewError(op, key, nil, err)
}
