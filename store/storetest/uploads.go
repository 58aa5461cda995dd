package storetest

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/store"
)

// testUploads needs a store of its own: the total cap counts every
// session.
func testUploads(t *testing.T, s *store.Store) {
	ctx := t.Context()
	a := mustCreateUser(t, s, fieldwatch.User{Username: "uploads.a"})
	b := mustCreateUser(t, s, fieldwatch.User{Username: "uploads.b"})
	sha := strings.Repeat("0f", 32)
	t0 := Clock().Truncate(time.Microsecond)
	lim := func(at time.Time) fieldwatch.UploadLimits { return fieldwatch.OpenUploadLimits(2, 3, at) }
	create := func(t *testing.T, user string, at time.Time, l fieldwatch.UploadLimits) (fieldwatch.Upload, error) {
		t.Helper()
		u := fieldwatch.NewUpload(uuid.NewString(), user, 1234, sha, at)
		return u, s.CreateUpload(ctx, &u, l)
	}
	mustCreate := func(t *testing.T, user string, at time.Time) fieldwatch.Upload {
		t.Helper()
		u, err := create(t, user, at, lim(at))
		if err != nil {
			t.Fatalf("CreateUpload: %v", err)
		}
		return u
	}
	counts := func(t *testing.T, at time.Time, want fieldwatch.UploadCounts) {
		t.Helper()
		got, err := s.CountUploads(ctx, at)
		if err != nil || got != want {
			t.Fatalf("CountUploads(%v) = %+v, %v; want %+v", at, got, err, want)
		}
	}

	var a1, a2 fieldwatch.Upload
	t.Run("Caps", func(t *testing.T) {
		a1, a2 = mustCreate(t, a.ID, t0), mustCreate(t, a.ID, t0)
		if _, err := create(t, a.ID, t0, lim(t0)); !errors.Is(err, fieldwatch.ErrUserUploadLimit) {
			t.Fatalf("third session of a user = %v, want ErrUserUploadLimit", err)
		}
		mustCreate(t, b.ID, t0)
		if _, err := create(t, b.ID, t0, lim(t0)); !errors.Is(err, fieldwatch.ErrUploadLimit) {
			t.Fatalf("fourth session in all = %v, want ErrUploadLimit", err)
		}
		if _, err := create(t, b.ID, t0, fieldwatch.UploadLimits{OpenSince: t0}); err != nil {
			t.Fatalf("CreateUpload without caps: %v", err)
		}
		counts(t, t0, fieldwatch.UploadCounts{Open: 4})
	})

	t.Run("RoundTrip", func(t *testing.T) {
		got, err := s.UploadByID(ctx, a1.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameStruct(t, "Upload", got, a1)
		if _, err := s.UploadByID(ctx, uuid.NewString()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UploadByID(unknown) = %v, want ErrNotFound", err)
		}
	})

	t.Run("CompletedDoesNotCount", func(t *testing.T) {
		done, keep := t0.Add(time.Minute), t0.Add(fieldwatch.UploadReplayRetention)
		if err := s.FinishUpload(ctx, a1.ID, done, keep); err != nil {
			t.Fatal(err)
		}
		// A second completion keeps the first time.
		if err := s.FinishUpload(ctx, a1.ID, done.Add(time.Minute), keep); err != nil {
			t.Fatal(err)
		}
		want := a1
		want.CompletedAt, want.ExpiresAt = &done, keep
		got, err := s.UploadByID(ctx, a1.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameStruct(t, "completed Upload", got, want)
		if err := s.FinishUpload(ctx, uuid.NewString(), done, keep); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FinishUpload(unknown) = %v, want ErrNotFound", err)
		}
		// a has one open, but three are open in all.
		if _, err := create(t, a.ID, done, lim(done)); !errors.Is(err, fieldwatch.ErrUploadLimit) {
			t.Fatalf("session with three open in all = %v, want ErrUploadLimit", err)
		}
		counts(t, done, fieldwatch.UploadCounts{Open: 3, Completed: 1})
	})

	t.Run("URLExpiredDoesNotCount", func(t *testing.T) {
		later := t0.Add(fieldwatch.UploadURLTTL + time.Second)
		mustCreate(t, a.ID, later)
		mustCreate(t, a.ID, later)
		// Within the grace the old ones are still open, only no longer counted.
		counts(t, later, fieldwatch.UploadCounts{Open: 5, Completed: 1})
	})

	t.Run("Expired", func(t *testing.T) {
		deadline := a2.ExpiresAt
		counts(t, deadline, fieldwatch.UploadCounts{Open: 2, Expired: 3, Completed: 1})
		got, err := s.ExpiredUploads(ctx, deadline.Add(time.Microsecond), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("ExpiredUploads = %d sessions, want 3", len(got))
		}
		for _, u := range got {
			if u.CompletedAt != nil || !u.ExpiresAt.Equal(deadline) {
				t.Errorf("expired %+v", u)
			}
			if err := s.DeleteUpload(ctx, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		got, err = s.ExpiredUploads(ctx, t0.Add(fieldwatch.UploadReplayRetention+time.Second), 10)
		if err != nil || len(got) != 3 || got[2].ID != a1.ID {
			t.Fatalf("ExpiredUploads after retention = %d, %v; want the two later sessions, then the completed one", len(got), err)
		}
	})

	// Concurrent creations (two replicas) never pass a cap together.
	t.Run("ConcurrentCap", func(t *testing.T) {
		c := mustCreateUser(t, s, fieldwatch.User{Username: "uploads.c"})
		at := t0.Add(24 * time.Hour)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, capped := 0, 0
		for range 12 {
			wg.Go(func() {
				u := fieldwatch.NewUpload(uuid.NewString(), c.ID, 1234, sha, at)
				err := s.CreateUpload(ctx, &u, fieldwatch.OpenUploadLimits(3, 100, at))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, fieldwatch.ErrUserUploadLimit):
					capped++
				default:
					t.Errorf("CreateUpload: %v", err)
				}
			})
		}
		wg.Wait()
		if ok != 3 || capped != 9 {
			t.Fatalf("%d created, %d capped; want 3 and 9", ok, capped)
		}
	})
}
