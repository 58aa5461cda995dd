package fileblob_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/blob/blobtest"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
)

func newDir(t *testing.T, root string) *fileblob.Dir {
	t.Helper()
	d, err := fileblob.Open(root)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestDir(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Bucket { return newDir(t, t.TempDir()) })
}

func TestDirSweepTemp(t *testing.T) {
	root := t.TempDir()
	d := newDir(t, root)
	old := time.Now().Add(-48 * time.Hour)
	for _, name := range []string{"crashed1.part", "crashed2.meta", "fresh.part"} {
		p := filepath.Join(root, ".tmp", name)
		if err := os.WriteFile(p, []byte("half a photo"), 0o600); err != nil {
			t.Fatal(err)
		}
		if name != "fresh.part" {
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if keys := blobtest.ListKeys(t, d, ""); len(keys) != 0 {
		t.Errorf("List shows temp files: %q", keys)
	}

	n, err := d.SweepTemp(t.Context(), time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("SweepTemp(1h) = %d, %v; want 2, nil", n, err)
	}
	if _, err := os.Stat(filepath.Join(root, ".tmp", "fresh.part")); err != nil {
		t.Errorf("SweepTemp removed a fresh file (a Put in progress): %v", err)
	}
	n, err = d.SweepTemp(t.Context(), 0)
	if err != nil || n != 1 {
		t.Fatalf("SweepTemp(0) = %d, %v; want 1, nil", n, err)
	}
}

func TestDirFailedPutLeavesNoTempFile(t *testing.T) {
	root := t.TempDir()
	d := newDir(t, root)
	bad := []struct {
		name string
		r    io.Reader
		size int64
		sum  []byte
	}{
		{"WrongSHA256", bytes.NewReader([]byte("abc")), 3, make([]byte, 32)},
		{"Short", bytes.NewReader([]byte("abc")), 4, nil},
		{"Long", bytes.NewReader([]byte("abcd")), 3, nil},
	}
	for _, tt := range bad {
		if _, err := d.Put(t.Context(), "k/"+tt.name, tt.r, tt.size, blob.PutOptions{SHA256: tt.sum}); err == nil {
			t.Errorf("%s: Put succeeded", tt.name)
		}
	}
	noFiles(t, root, ".tmp", ".meta")
}

// noFiles fails the test if any of the directories under root holds a
// file (empty directories are fine).
func noFiles(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		filepath.WalkDir(filepath.Join(root, dir), func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if !e.IsDir() {
				t.Errorf("%s left behind after failed Puts", p)
			}
			return nil
		})
	}
}

func TestDirKeyEscape(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Links an attacker (or a careless operator) planted inside the root.
	links := map[string]string{
		"evil": outside,                                     // absolute, to a directory
		"up":   filepath.Join("..", filepath.Base(outside)), // relative, climbing out
		"link": secret,                                      // to a file
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Skipf("cannot create symlinks here: %v", err)
		}
	}
	d := newDir(t, root)
	ctx := t.Context()

	for _, key := range []string{"evil/secret", "up/secret", "link"} {
		t.Run(key, func(t *testing.T) {
			if rc, _, err := d.Get(ctx, key); err == nil {
				got, _ := io.ReadAll(rc)
				rc.Close()
				t.Errorf("Get(%q) read %q from outside the root", key, got)
			}
			if obj, err := d.Stat(ctx, key); err == nil {
				t.Errorf("Stat(%q) described a file outside the root: %+v", key, obj)
			}
			if rc, err := d.GetRange(ctx, key, 0, 3); err == nil {
				rc.Close()
				t.Errorf("GetRange(%q) opened a file outside the root", key)
			}
			d.Delete(ctx, key) // may remove the link itself, never its target
			if _, err := os.Stat(secret); err != nil {
				t.Fatalf("Delete(%q) removed a file outside the root: %v", key, err)
			}
		})
	}
	for _, key := range []string{"evil/new", "up/new"} {
		if _, err := d.Put(ctx, key, bytes.NewReader([]byte("x")), 1, blob.PutOptions{}); err == nil {
			t.Errorf("Put(%q) succeeded through a link out of the root", key)
		}
		if _, err := os.Stat(filepath.Join(outside, "new")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Put(%q) wrote outside the root", key)
		}
	}
	if keys := blobtest.ListKeys(t, d, ""); len(keys) != 0 {
		t.Errorf("List followed links: %q", keys)
	}
	noFiles(t, root, ".tmp", ".meta")
}

func TestDirDetectsCorruption(t *testing.T) {
	root := t.TempDir()
	d := newDir(t, root)
	data := blobtest.Bytes(10000, 7)
	obj := blobtest.MustPut(t, d, "photo", data, blob.PutOptions{})
	p := filepath.Join(root, "photo")

	// Rot one byte, keeping size and time: what a failing disk does.
	bad := bytes.Clone(data)
	bad[5000] ^= 1
	if err := os.WriteFile(p, bad, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, obj.ModTime, obj.ModTime); err != nil {
		t.Fatal(err)
	}
	st, err := d.Stat(t.Context(), "photo")
	if err != nil || !bytes.Equal(st.SHA256, obj.SHA256) {
		t.Fatalf("Stat = %+v, %v; want the recorded hash", st, err)
	}
	rc, _, err := d.Get(t.Context(), "photo")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(rc)
	rc.Close()
	if !errors.Is(err, blob.ErrChecksumMismatch) {
		t.Errorf("reading a rotten object: error = %v, want ErrChecksumMismatch", err)
	}

	// A file replaced behind our back (new time): the sidecar no longer
	// describes it, so the hash is unknown rather than wrong.
	later := obj.ModTime.Add(time.Minute)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	st, err = d.Stat(t.Context(), "photo")
	if err != nil || st.SHA256 != nil || st.ContentType != "application/octet-stream" {
		t.Errorf("Stat of a replaced file = %+v, %v; want SHA256 nil and the default content type", st, err)
	}
	if got, _ := blobtest.MustGet(t, d, "photo"); !bytes.Equal(got, bad) {
		t.Errorf("Get of a replaced file returned other bytes")
	}
}

func TestDirPingFailsWithoutDirectory(t *testing.T) {
	root := filepath.Join(t.TempDir(), "photos")
	d := newDir(t, root)
	if err := d.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := d.Ping(t.Context()); !errors.Is(err, blob.ErrUnavailable) {
		t.Errorf("Ping after the directory was removed: %v, want ErrUnavailable", err)
	}
}

func TestNewDirRejectsFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if d, err := fileblob.Open(p); err == nil {
		d.Close()
		t.Errorf("Open on a regular file succeeded")
	}
}

// TestDirPutFileMoves: PutFile on the same file system moves the file (the
// stored object is the very inode written, no copy) and gives it the
// store's permissions.
func TestDirPutFileMoves(t *testing.T) {
	root := t.TempDir()
	d := newDir(t, root)
	data := blobtest.Bytes(4<<10, 1)
	name := filepath.Join(t.TempDir(), "spool.part")
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if _, err := d.PutFile(t.Context(), "a/b", name, int64(len(data)), blob.PutOptions{SHA256: sum[:]}); err != nil {
		t.Fatalf("PutFile: %v", err)
	}
	after, err := os.Stat(filepath.Join(root, "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Errorf("PutFile copied the file instead of moving it")
	}
	if got := after.Mode().Perm(); got != 0o640 {
		t.Errorf("stored file has mode %v, want 0640", got)
	}
	noFiles(t, root, ".tmp")
}

// TestDirPutFileAcrossFileSystems: when the file cannot be renamed into
// the directory (EXDEV), PutFile copies it, checking its hash as Put does,
// and removes it.
func TestDirPutFileAcrossFileSystems(t *testing.T) {
	root := t.TempDir()
	d := newDir(t, root)
	renames := 0
	d.SetRename(func(string, string) error { renames++; return &os.LinkError{Op: "rename", Err: syscall.EXDEV} })
	data := blobtest.Bytes(70<<10, 2)
	sum := sha256.Sum256(data)
	write := func() string {
		name := filepath.Join(t.TempDir(), "spool.part")
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return name
	}

	name := write()
	if _, err := d.PutFile(t.Context(), "x/y", name, int64(len(data)), blob.PutOptions{SHA256: sum[:]}); err != nil {
		t.Fatalf("PutFile: %v", err)
	}
	if renames != 1 {
		t.Errorf("rename tried %d times, want 1", renames)
	}
	if _, err := os.Stat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the copied file was not removed: %v", err)
	}
	got, obj := blobtest.MustGet(t, d, "x/y")
	if !bytes.Equal(got, data) || !bytes.Equal(obj.SHA256, sum[:]) {
		t.Errorf("copied object differs")
	}

	// The copy is a Put: a wrong declared hash is caught.
	wrong := sha256.Sum256([]byte("other"))
	name = write()
	if _, err := d.PutFile(t.Context(), "x/z", name, int64(len(data)), blob.PutOptions{SHA256: wrong[:]}); !errors.Is(err, blob.ErrChecksumMismatch) {
		t.Fatalf("PutFile with a wrong hash across file systems: %v, want ErrChecksumMismatch", err)
	}
	blobtest.MustNotExist(t, d, "x/z")
	noFiles(t, root, ".tmp")
}
