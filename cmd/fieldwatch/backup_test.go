package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// runBinary runs the real binary with env and returns what it printed.
func runBinary(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// timedUpload is an upload with when it was sent and when its 201 came.
type timedUpload struct {
	*sent
	sentAt, answeredAt time.Time
}

// A backup taken while uploads keep arriving, restored into a fresh
// directory (docs/reliability.md#h6): every upload answered 201 before the backup
// began is there, byte-identical; an upload sent after the snapshot is
// not; whatever else is there is whole (`fieldwatch check` passes on the
// restored directory: every row has its photo, no photo lacks a row); and
// the restored signing key still verifies tokens issued before.
func TestBackupDuringUploads(t *testing.T) {
	env := faultEnv(t)
	env["FIELDWATCH_ORPHAN_AGE"] = "1h"
	base, _, _ := startBinary(t, env)
	token := e2eLogin(t, env, base)

	const workers, beforeBackup, afterBackup = 8, 40, 20
	var (
		mu        sync.Mutex
		ups       []*timedUpload
		next      atomic.Int64
		stored    atomic.Int64
		stop      = make(chan struct{})
		enough    = make(chan struct{})
		progress  = make(chan struct{}, 1) // told after each stored upload
		enoughOne sync.Once
		wg        sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				u := &timedUpload{sent: smallUpload(t, int(next.Add(1))), sentAt: time.Now()}
				code := u.once(t, base, token)
				if code == http.StatusCreated {
					u.answeredAt = time.Now()
					if stored.Add(1) >= beforeBackup {
						enoughOne.Do(func() { close(enough) })
					}
					select {
					case progress <- struct{}{}:
					default:
					}
				} else {
					t.Errorf("upload %s: %d", u.key, code)
				}
				mu.Lock()
				ups = append(ups, u)
				mu.Unlock()
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		close(stop)
		wg.Wait()
		t.Fatalf("only %d uploads stored in 60s", stored.Load())
	}

	backup := filepath.Join(t.TempDir(), "backup")
	backupStart := time.Now()
	out, err := runBinary(t, env, "backup", backup)
	backupEnd := time.Now()
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("backup while uploading: %v\n%s", err, out)
	}
	t.Logf("backup took %s: %s", backupEnd.Sub(backupStart).Round(time.Millisecond), strings.TrimSpace(out))
	// Uploads go on after the backup: those must not appear in it.
	target := stored.Load() + afterBackup
	timeout := time.After(60 * time.Second)
waitStored:
	for stored.Load() < target {
		select {
		case <-progress:
		case <-timeout:
			break waitStored // the checks below say what is missing
		}
	}
	close(stop)
	wg.Wait()

	var m manifest
	raw, err := os.ReadFile(filepath.Join(backup, backupManifest))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var before, during, after []*timedUpload
	for _, u := range ups {
		switch {
		case u.id == "":
		case u.answeredAt.Before(backupStart):
			before = append(before, u)
		case u.sentAt.After(m.SnapshotAt):
			after = append(after, u)
		default:
			during = append(during, u)
		}
	}
	t.Logf("%d uploads in all: %d answered 201 before the backup began, %d in flight while it ran, %d sent after its snapshot; backup: %d rows, %d photos, %d bytes of photos, database %d bytes",
		len(ups), len(before), len(during), len(after), m.Evidence, m.Photos, m.PhotoBytes, m.DatabaseBytes)
	if len(during) == 0 || len(after) == 0 {
		t.Errorf("the backup met %d uploads in flight and %d after it: the test shows less than it should", len(during), len(after))
	}

	restored := filepath.Join(t.TempDir(), "restored")
	renv := maps.Clone(env)
	renv["FIELDWATCH_DATA_DIR"] = restored
	out, err = runBinary(t, renv, "restore", backup)
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	t.Logf("restore: %s", strings.TrimSpace(out))
	out = checkCLI(t, renv)
	if !strings.Contains(out, "all invariants hold") {
		t.Fatalf("check on the restored directory:\n%s", out)
	}

	// The restored deployment serves; the token from before the backup
	// verifies because the generated signing key came along.
	rbase, _, _ := startBinary(t, renv)
	present := 0
	for _, group := range []struct {
		name  string
		ups   []*timedUpload
		isIn  bool // must be there
		notIn bool // must not be there
	}{{"before", before, true, false}, {"during", during, false, false}, {"after", after, false, true}} {
		for _, u := range group.ups {
			code, sum := photoSHA256(t, rbase, token, u.id)
			switch {
			case code == http.StatusOK && sum != u.sha:
				t.Errorf("%s: evidence %s restored with other bytes", group.name, u.id)
			case code == http.StatusOK && group.notIn:
				t.Errorf("%s: evidence %s, sent after the snapshot, is in the backup", group.name, u.id)
			case code == http.StatusNotFound && group.isIn:
				t.Errorf("%s: evidence %s, answered 201 before the backup began, is missing", group.name, u.id)
			case code != http.StatusOK && code != http.StatusNotFound:
				t.Errorf("%s: evidence %s: photo %d", group.name, u.id, code)
			}
			if code == http.StatusOK {
				present++
			}
		}
	}
	if n := listedCount(t, rbase, token); n != present || n != m.Evidence {
		t.Errorf("restored deployment lists %d evidence; %d uploads found there, the manifest says %d", n, present, m.Evidence)
	}
}

// photoSHA256 fetches an evidence photo and returns the status and the
// SHA-256 of the body.
func photoSHA256(t *testing.T, base, token, id string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/evidence/"+id+"/photo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, res.Body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, hex.EncodeToString(h.Sum(nil))
}

// What backup and restore refuse, and the damage restore finds.
func TestBackupRestoreRefusals(t *testing.T) {
	env := faultEnv(t)
	s := startRun(t, env)
	token := e2eLogin(t, env, s.url)
	for i := range 3 {
		if u := smallUpload(t, i); u.once(t, s.url, token) != http.StatusCreated {
			t.Fatalf("upload: %v", u.answers)
		}
	}
	ctx := context.Background()
	cli := func(env map[string]string, args ...string) (string, error) {
		var out strings.Builder
		err := run(ctx, args, func(k string) string { return env[k] }, nil, &out, io.Discard)
		if err != nil {
			out.WriteString(err.Error())
		}
		return out.String(), err
	}
	// goodBackup is a finished backup of the running deployment.
	goodBackup := func(t *testing.T) string {
		dir := filepath.Join(t.TempDir(), "backup")
		if out, err := cli(env, "backup", dir); err != nil {
			t.Fatalf("backup: %v\n%s", err, out)
		}
		return dir
	}
	damage := func(t *testing.T, name string) {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(name, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	freshTarget := func(t *testing.T) map[string]string {
		e := maps.Clone(env)
		e["FIELDWATCH_DATA_DIR"] = filepath.Join(t.TempDir(), "restored")
		return e
	}

	tests := []struct {
		name     string
		args     func(t *testing.T) (map[string]string, []string)
		wantExit int
		want     string
	}{
		{"BackupIntoNonEmptyDir", func(t *testing.T) (map[string]string, []string) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "keep"), nil, 0o640)
			return env, []string{"backup", dir}
		}, 2, "is not empty"},
		{"BackupWithoutDatabase", func(t *testing.T) (map[string]string, []string) {
			e := maps.Clone(env)
			e["FIELDWATCH_DATA_DIR"] = t.TempDir()
			return e, []string{"backup", filepath.Join(t.TempDir(), "b")}
		}, 1, "no database to back up"},
		{"BackupPostgres", func(t *testing.T) (map[string]string, []string) {
			e := maps.Clone(env)
			e["FIELDWATCH_DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"
			return e, []string{"backup", filepath.Join(t.TempDir(), "b")}
		}, 1, "docs/operations.md"},
		{"BackupNoDir", func(t *testing.T) (map[string]string, []string) {
			return env, []string{"backup"}
		}, 2, "takes one argument"},
		{"RestoreIntoNonEmptyDataDir", func(t *testing.T) (map[string]string, []string) {
			e := freshTarget(t)
			os.MkdirAll(e["FIELDWATCH_DATA_DIR"], 0o750)
			os.WriteFile(filepath.Join(e["FIELDWATCH_DATA_DIR"], "fieldwatch.db"), nil, 0o640)
			return e, []string{"restore", goodBackup(t)}
		}, 2, "is not empty"},
		{"RestoreIntoLiveDataDir", func(t *testing.T) (map[string]string, []string) {
			return env, []string{"restore", goodBackup(t)}
		}, 2, "is not empty"},
		{"RestoreMissingBackup", func(t *testing.T) (map[string]string, []string) {
			return freshTarget(t), []string{"restore", filepath.Join(t.TempDir(), "nothing")}
		}, 2, "no manifest.json"},
		{"RestoreUnfinishedBackup", func(t *testing.T) (map[string]string, []string) {
			dir := goodBackup(t)
			os.Remove(filepath.Join(dir, backupManifest))
			return freshTarget(t), []string{"restore", dir}
		}, 2, "did not finish"},
		{"RestoreCorruptedPhoto", func(t *testing.T) (map[string]string, []string) {
			dir := goodBackup(t)
			photos, _ := filepath.Glob(filepath.Join(dir, backupPhotos, "evidence", "*", "*"))
			if len(photos) != 3 {
				t.Fatalf("backup holds photos %v, want 3", photos)
			}
			damage(t, photos[0])
			return freshTarget(t), []string{"restore", dir}
		}, 1, "checksum mismatch"},
		{"RestoreMissingPhoto", func(t *testing.T) (map[string]string, []string) {
			dir := goodBackup(t)
			photos, _ := filepath.Glob(filepath.Join(dir, backupPhotos, "evidence", "*", "*"))
			os.Remove(photos[0])
			return freshTarget(t), []string{"restore", dir}
		}, 1, "object does not exist"},
		{"RestoreCorruptedDatabase", func(t *testing.T) (map[string]string, []string) {
			dir := goodBackup(t)
			damage(t, filepath.Join(dir, backupDatabase))
			return freshTarget(t), []string{"restore", dir}
		}, 1, "the backup is damaged"},
		{"RestorePostgres", func(t *testing.T) (map[string]string, []string) {
			e := freshTarget(t)
			e["FIELDWATCH_DATABASE_URL"] = "postgres://nobody@127.0.0.1:1/none"
			return e, []string{"restore", goodBackup(t)}
		}, 2, "pg_restore"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, args := tc.args(t)
			out, err := cli(e, args...)
			if got := exitCode(err); err == nil || got != tc.wantExit {
				t.Fatalf("%v: exit %d (err %v), want %d\n%s", args, got, err, tc.wantExit, out)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("%v: output lacks %q:\n%s", args, tc.want, out)
			}
		})
	}
}
