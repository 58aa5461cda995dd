package fieldwatch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/blob/fileblob"
	"github.com/fieldwatch/fieldwatch/internal/testservice"
	"github.com/fieldwatch/fieldwatch/internal/testwait"
	"github.com/fieldwatch/fieldwatch/store"
)

// openStore opens a migrated database of the backend ("sqlite",
// "postgres", or a PostgreSQL URL) with one inspector.
func openStore(t *testing.T, backend string) (*store.Store, string) {
	t.Helper()
	ctx := t.Context()
	var (
		db  *store.Store
		err error
	)
	switch backend {
	case "sqlite":
		db, err = store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "fw.db"))
	case "postgres":
		db, err = store.OpenPostgres(ctx, testservice.PostgresDB(t))
	default:
		db, err = store.OpenPostgres(ctx, backend)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	u := fieldwatch.User{Username: "inspector", Role: fieldwatch.RoleInspector, Active: true}
	if err := db.CreateUser(ctx, &u); err != nil {
		t.Fatal(err)
	}
	return db, u.ID
}

// photo is a small upload: bytes and the meta part as sent.
func photo(t *testing.T, seed string) ([]byte, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "photos", "dust-xingcheng.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, seed...)
	return b, []byte(`{"category":"dust_site"}`)
}

func submit(ctx context.Context, t *testing.T, in *fieldwatch.Intake, userID, key string, body, rawMeta []byte) (fieldwatch.Evidence, error) {
	c, err := in.Claim(ctx, userID, key)
	if err != nil {
		return fieldwatch.Evidence{}, err
	}
	defer c.Release()
	sp, err := in.Receive(ctx, bytes.NewReader(body))
	if err != nil {
		return fieldwatch.Evidence{}, err
	}
	defer sp.Close()
	e, _, err := in.Submit(ctx, c, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}, rawMeta, sp)
	return e, err
}

// TestReconcileDuringCommit is issue 13's second defect: a reconcile pass
// with a short orphan age (fieldwatch check --orphan-age 1s) while an
// upload has stored its photo and not yet committed its row deleted the
// photo, and the upload then answered 201 without it.
func TestReconcileDuringCommit(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := t.Context()
			db, userID := openStore(t, backend)
			photos, err := fileblob.Open(filepath.Join(t.TempDir(), "photos"))
			if err != nil {
				t.Fatal(err)
			}
			atPut, resume := make(chan struct{}), make(chan struct{})
			in, err := fieldwatch.NewIntake(db, photos, fieldwatch.IntakeConfig{
				SpoolDir: t.TempDir(),
				Failpoint: func(name string) {
					if name == "after-object-put" {
						close(atPut)
						<-resume
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			body, meta := photo(t, "reconciled while committing")
			type result struct {
				e   fieldwatch.Evidence
				err error
			}
			done := make(chan result, 1)
			go func() {
				e, err := submit(ctx, t, in, userID, uuid.NewString(), body, meta)
				done <- result{e, err}
			}()
			<-atPut
			// The orphan age has passed for every object, as with
			// fieldwatch check --orphan-age 1ns.
			rec := fieldwatch.NewReconciler(db, photos, fieldwatch.ReconcileConfig{OrphanAge: time.Nanosecond})
			rep, err := rec.Run(ctx)
			if err != nil {
				t.Fatalf("reconcile: %v", err)
			}
			close(resume)
			res := <-done
			if res.err != nil {
				t.Fatalf("upload: %v", res.err)
			}
			if rep.OrphanObjects != 0 {
				t.Errorf("the reconciler deleted %d objects of an upload in flight", rep.OrphanObjects)
			}
			inv, err := fieldwatch.CheckInvariants(ctx, db, photos, fieldwatch.InvariantConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Problems) > 0 {
				t.Fatalf("after a 201: %s", strings.Join(inv.Problems, "; "))
			}
			if res.e.ID == "" {
				t.Fatal("no evidence")
			}
		})
	}
}

// TestRetryAfterDatabaseOutage is issue 13's third defect: an upload
// fails because PostgreSQL restarts, and giving its claim back fails too,
// since the database is still down. The phone's retry with the same key
// must succeed as soon as the database is back, not get 409 for
// --upload-stale-after (5 minutes).
func TestRetryAfterDatabaseOutage(t *testing.T) {
	pg := testservice.StartPostgresProcess(t)
	ctx := t.Context()
	db, userID := openStore(t, pg.URL)
	photos, err := fileblob.Open(filepath.Join(t.TempDir(), "photos"))
	if err != nil {
		t.Fatal(err)
	}
	in, err := fieldwatch.NewIntake(db, photos, fieldwatch.IntakeConfig{SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	body, meta := photo(t, "met an outage")
	key := uuid.NewString()

	c, err := in.Claim(ctx, userID, key)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := in.Receive(ctx, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	pg.Stop() // the database goes away while the photo is being stored
	if _, _, err := in.Submit(ctx, c, fieldwatch.EvidenceMeta{Category: fieldwatch.CategoryDustSite}, meta, sp); err == nil {
		t.Fatal("upload succeeded with the database down")
	}
	sp.Close()
	c.Release() // fails: the database is still down
	pg.Start()  // back after about half a second

	// The phone retries every half second, as after a 503 with
	// Retry-After, until the PostgreSQL process is back: a real process
	// restarting, which nothing in the test can announce.
	var answers []string
	stored := testwait.For(10*time.Second, 500*time.Millisecond, func() bool {
		e, err := submit(ctx, t, in, userID, key, body, meta)
		if err == nil {
			if e.SHA256 != sha(body) {
				t.Fatalf("stored %s", e.SHA256)
			}
			return true
		}
		answers = append(answers, err.Error())
		if !errors.Is(err, fieldwatch.ErrInFlight) && !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("retry: %v", err)
		}
		return false
	})
	if !stored {
		t.Fatalf("the retry is still refused 10 s after the database came back (%d answers, last: %s)", len(answers), answers[len(answers)-1])
	}
	t.Logf("stored after %d refused retries: %v", len(answers), answers)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
