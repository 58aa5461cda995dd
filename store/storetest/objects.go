package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/store"
)

// testObjectOwnership: an evidence object may be deleted as an orphan only
// when no evidence row and no pending upload attempt names its hash, and
// the check and the delete exclude a concurrent mark.
func testObjectOwnership(t *testing.T, s *store.Store) {
	u := mustCreateUser(t, s, fieldwatch.User{Username: "objects.owner"})
	t0 := Clock()
	orphan := func(t *testing.T, hash string) (called bool, deleted bool, err error) {
		t.Helper()
		deleted, err = s.DeleteOrphanObject(t.Context(), hash, func(context.Context) error {
			called = true
			return nil
		})
		return called, deleted, err
	}

	t.Run("NobodysHashIsDeleted", func(t *testing.T) {
		called, deleted, err := orphan(t, sha("objects nobody"))
		if err != nil || !called || !deleted {
			t.Fatalf("DeleteOrphanObject = called %v, deleted %v, %v; want the object deleted", called, deleted, err)
		}
	})

	t.Run("MarkedHashIsKept", func(t *testing.T) {
		h := sha("objects marked")
		key := uuid.NewString()
		sub := mustClaim(t, s, u.ID, key, t0)
		if err := s.MarkSubmissionObject(t.Context(), u.ID, key, sub.Attempt, h, t0.Add(time.Second)); err != nil {
			t.Fatalf("MarkSubmissionObject: %v", err)
		}
		if got := mustSubmission(t, s, u.ID, key); !got.UpdatedAt.Equal(t0.Add(time.Second)) {
			t.Errorf("the mark did not beat the claim's heart: UpdatedAt %v", got.UpdatedAt)
		}
		if called, deleted, err := orphan(t, h); err != nil || called || deleted {
			t.Fatalf("DeleteOrphanObject of a marked hash = called %v, deleted %v, %v; want it kept", called, deleted, err)
		}
		// Released (the upload failed): the object is nobody's.
		if err := s.ReleaseSubmission(t.Context(), u.ID, key, sub.Attempt); err != nil {
			t.Fatal(err)
		}
		if called, deleted, err := orphan(t, h); err != nil || !called || !deleted {
			t.Fatalf("DeleteOrphanObject after release = called %v, deleted %v, %v; want it deleted", called, deleted, err)
		}
	})

	t.Run("TakeoverDropsTheMark", func(t *testing.T) {
		h := sha("objects takeover")
		key := uuid.NewString()
		old := mustClaim(t, s, u.ID, key, t0)
		if err := s.MarkSubmissionObject(t.Context(), u.ID, key, old.Attempt, h, t0); err != nil {
			t.Fatal(err)
		}
		later := t0.Add(time.Hour)
		if _, claimed, err := s.ClaimSubmission(t.Context(), u.ID, key, later, later.Add(-staleAfter)); err != nil || !claimed {
			t.Fatalf("takeover: %v, %v", claimed, err)
		}
		// The old attempt can no longer mark (nor commit: see Evidence).
		if err := s.MarkSubmissionObject(t.Context(), u.ID, key, old.Attempt, h, later); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MarkSubmissionObject by a taken-over attempt = %v, want ErrNotFound", err)
		}
		if called, _, err := orphan(t, h); err != nil || !called {
			t.Fatalf("DeleteOrphanObject after takeover = called %v, %v; the old attempt's mark should be gone", called, err)
		}
	})

	t.Run("CommittedHashIsKept", func(t *testing.T) {
		e := newEvidence(u.ID, "objects committed", t0)
		mustCommit(t, s, &e)
		if called, deleted, err := orphan(t, e.SHA256); err != nil || called || deleted {
			t.Fatalf("DeleteOrphanObject of a committed hash = called %v, deleted %v, %v; want it kept", called, deleted, err)
		}
	})

	t.Run("StoreErrorIsReturned", func(t *testing.T) {
		boom := errors.New("photo store down")
		deleted, err := s.DeleteOrphanObject(t.Context(), sha("objects boom"), func(context.Context) error { return boom })
		if deleted || !errors.Is(err, boom) {
			t.Fatalf("DeleteOrphanObject = %v, %v; want the store's error", deleted, err)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		key := uuid.NewString()
		sub := mustClaim(t, s, u.ID, key, t0)
		for _, h := range []string{"", "ABC", sha("x")[:63], sha("x") + "0"} {
			if err := s.MarkSubmissionObject(t.Context(), u.ID, key, sub.Attempt, h, t0); !errors.Is(err, fieldwatch.ErrInvalid) {
				t.Errorf("MarkSubmissionObject(%q) = %v, want fieldwatch.ErrInvalid", h, err)
			}
			if _, _, err := orphan(t, h); !errors.Is(err, fieldwatch.ErrInvalid) {
				t.Errorf("DeleteOrphanObject(%q) = %v, want fieldwatch.ErrInvalid", h, err)
			}
		}
		if err := s.MarkSubmissionObject(t.Context(), u.ID, uuid.NewString(), sub.Attempt, sha("x"), t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("MarkSubmissionObject of an unknown key = %v, want ErrNotFound", err)
		}
	})

	// The race of issue 13: the reconciler has found no owner and is
	// deleting when an upload marks the hash. The mark must wait until the
	// delete is done, so that the upload's PUT comes after it.
	t.Run("MarkWaitsForDelete", func(t *testing.T) {
		h := sha("objects race")
		key := uuid.NewString()
		sub := mustClaim(t, s, u.ID, key, t0)
		inside := make(chan struct{})
		marked := make(chan error, 1)
		var deleting sync.Mutex
		deleting.Lock()
		var markedDuringDelete bool
		go func() {
			<-inside
			err := s.MarkSubmissionObject(t.Context(), u.ID, key, sub.Attempt, h, t0)
			if deleting.TryLock() {
				deleting.Unlock()
			} else {
				markedDuringDelete = true
			}
			marked <- err
		}()
		deleted, err := s.DeleteOrphanObject(t.Context(), h, func(context.Context) error {
			close(inside)
			// Give a mark that does not wait the time to finish.
			select {
			case err := <-marked:
				marked <- err
			case <-time.After(300 * time.Millisecond):
			}
			deleting.Unlock()
			return nil
		})
		if err != nil || !deleted {
			t.Fatalf("DeleteOrphanObject = %v, %v", deleted, err)
		}
		if err := <-marked; err != nil {
			t.Fatalf("MarkSubmissionObject: %v", err)
		}
		if markedDuringDelete {
			t.Fatal("an upload marked the hash while the reconciler was deleting its object")
		}
		// Now marked: the next pass keeps it.
		if called, _, err := orphan(t, h); err != nil || called {
			t.Fatalf("DeleteOrphanObject after the mark = called %v, %v; want it kept", called, err)
		}
	})
}
