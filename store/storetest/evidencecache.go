package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/internal/testclock"
	"github.com/fieldwatch/fieldwatch/store"
)

// OpenReplicas opens stores (replicas) on one new, empty, unmigrated
// database, one for each list of options and in their order, and closes
// them when t ends.
type OpenReplicas func(t *testing.T, opts ...[]store.Option) []*store.Store

// RunEvidenceCache runs the contract of the evidence cache
// (store.WithEvidenceCache, Store.Cached) on one backend: what a replica
// serves from it, for how long after another replica's change, and that
// its own changes are never served late.
func RunEvidenceCache(t *testing.T, open OpenReplicas) {
	const ttl = 2 * time.Second
	t0 := Clock().Truncate(time.Microsecond)
	// setup returns replica a (its evidence cache on, size entries, on
	// clk), replica b (no cache: another replica's writes) and an
	// uploader.
	setup := func(t *testing.T, size int) (a, b *store.Store, clk *testclock.Clock, u fieldwatch.User) {
		clk = testclock.New(t0)
		r := open(t, []store.Option{store.WithClock(clk.Now), store.WithEvidenceCache(ttl, size)}, []store.Option{store.WithClock(clk.Now)})
		a, b = migrated(t, r[0]), r[1]
		u = mustCreateUser(t, a, fieldwatch.User{Username: "cache-uploader"})
		return a, b, clk, u
	}
	commit := func(t *testing.T, s *store.Store, u fieldwatch.User, seed string) fieldwatch.Evidence {
		t.Helper()
		e := newEvidence(u.ID, seed, t0)
		mustCommit(t, s, &e)
		return e
	}
	cached := func(t *testing.T, s *store.Store, id string) fieldwatch.Evidence {
		t.Helper()
		e, err := s.Cached().EvidenceByID(t.Context(), id)
		if err != nil {
			t.Fatalf("Cached().EvidenceByID(%s): %v", id, err)
		}
		return e
	}
	thumbs := func(e fieldwatch.Evidence) int { return len(e.Thumbnails) }

	// Another replica's change shows on a within the TTL from the start
	// of a's read, and not a moment before it runs out: a serves its
	// cached row until then (the hit), and reads afresh at exactly TTL.
	t.Run("OtherReplicaWithinTTL", func(t *testing.T) {
		a, b, clk, u := setup(t, 0)
		e := commit(t, a, u, "cache-ttl")
		sameEvidence(t, cached(t, a, e.ID), e)
		if err := b.SetThumbnails(t.Context(), e.ID, []int{320}); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Duration{0, time.Second, ttl - time.Microsecond} {
			clk.Set(t0.Add(at))
			if n := thumbs(cached(t, a, e.ID)); n != 0 {
				t.Fatalf("at +%v: %d thumbnails, want the cached row (0)", at, n)
			}
		}
		clk.Set(t0.Add(ttl))
		if n := thumbs(cached(t, a, e.ID)); n != 1 {
			t.Fatalf("at +TTL: %d thumbnails, want the other replica's change (1)", n)
		}
		// The uncached read never waits for the TTL.
		if err := b.SetThumbnails(t.Context(), e.ID, []int{320, 640}); err != nil {
			t.Fatal(err)
		}
		if n := thumbs(mustEvidenceByID(t, a, e.ID)); n != 2 {
			t.Fatalf("Store.EvidenceByID: %d thumbnails, want 2", n)
		}
	})

	// Every local write that changes what EvidenceByID returns is seen by
	// the very next read on the replica that made it, with the clock
	// standing still (the cached row would otherwise be served).
	t.Run("LocalWrites", func(t *testing.T) {
		a, _, _, u := setup(t, 0)
		chief := mustCreateUser(t, a, fieldwatch.User{Username: "cache-chief"})
		next := t0.Add(time.Hour)
		for _, tc := range []struct {
			name  string
			write func(s *store.Store, id string) error
		}{
			{"SetThumbnails", func(s *store.Store, id string) error {
				return s.SetThumbnails(t.Context(), id, fieldwatch.ThumbnailSizes())
			}},
			{"SetThumbnailTries", func(s *store.Store, id string) error {
				return s.SetThumbnailTries(t.Context(), id, fieldwatch.ThumbnailTries{Attempts: 1, NextAt: &next, Error: "cannot decode"})
			}},
			{"SetThumbnailTriesGaveUp", func(s *store.Store, id string) error {
				return s.SetThumbnailTries(t.Context(), id, fieldwatch.ThumbnailTries{Attempts: 5, GaveUp: fieldwatch.ThumbnailFailed})
			}},
			{"SetEvidenceLink", func(s *store.Store, id string) error {
				return s.SetEvidenceLink(t.Context(), id, "130227101", "LH-01")
			}},
			{"SetEvidenceResponsibility", func(s *store.Store, id string) error {
				return s.SetEvidenceResponsibility(t.Context(), id, responsibility(chief.ID, chief.ID))
			}},
			{"RelinkEvidence", func(s *store.Store, id string) error {
				data, _ := json.Marshal(map[string]string{"why": "test"})
				return s.RelinkEvidence(t.Context(), id, responsibility(chief.ID, chief.ID),
					fieldwatch.AuditEvent{At: t0, Action: "evidence.relink", ObjectType: "evidence", ObjectID: id, Data: data})
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := commit(t, a, u, "cache-local-"+tc.name)
				sameEvidence(t, cached(t, a, e.ID), e) // warm
				if err := tc.write(a, e.ID); err != nil {
					t.Fatalf("write: %v", err)
				}
				want := mustEvidenceByID(t, a, e.ID)
				if show(want) == show(e) {
					t.Fatal("the write changed nothing EvidenceByID returns: the case tests nothing")
				}
				sameEvidence(t, cached(t, a, e.ID), want)
			})
		}
	})

	// Writes that leave the row as EvidenceByID returns it need no
	// invalidation: reviews (withdrawal among them) live beside it, and a
	// duplicate upload is a new row pointing at the first.
	t.Run("WritesBeside", func(t *testing.T) {
		a, _, _, u := setup(t, 0)
		admin := mustCreateUser(t, a, fieldwatch.User{Username: "cache-admin", Role: fieldwatch.RoleAdmin})
		e := commit(t, a, u, "cache-beside")
		for _, d := range []fieldwatch.Decision{fieldwatch.DecisionAccepted, fieldwatch.DecisionWithdrawn} {
			if err := a.AddReview(t.Context(), &fieldwatch.Review{EvidenceID: e.ID, ReviewerID: admin.ID, Decision: d, At: t0}); err != nil {
				t.Fatal(err)
			}
		}
		dup := newEvidence(u.ID, "cache-beside", t0.Add(time.Second))
		mustCommit(t, a, &dup)
		if dup.DuplicateOf != e.ID {
			t.Fatalf("DuplicateOf = %q, want %q", dup.DuplicateOf, e.ID)
		}
		sameEvidence(t, mustEvidenceByID(t, a, e.ID), e)
	})

	// Not found is never cached: evidence committed on another replica
	// right after a miss is found at once.
	t.Run("NotFoundNotCached", func(t *testing.T) {
		a, b, _, u := setup(t, 0)
		e := newEvidence(u.ID, "cache-later", t0)
		e.ID = uuid.NewString()
		if _, err := a.Cached().EvidenceByID(t.Context(), e.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("before the upload: %v, want ErrNotFound", err)
		}
		mustCommit(t, b, &e)
		sameEvidence(t, cached(t, a, e.ID), e)
		for _, id := range []string{"", "not-a-uuid"} {
			if _, err := a.Cached().EvidenceByID(t.Context(), id); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("EvidenceByID(%q) = %v, want ErrNotFound", id, err)
			}
		}
	})

	// The cache keeps at most its size: with room for one row, reading a
	// second evicts the first, which then shows another replica's change
	// at once while the second is still served from the cache.
	t.Run("Bound", func(t *testing.T) {
		a, b, _, u := setup(t, 1)
		e1, e2 := commit(t, a, u, "cache-bound-1"), commit(t, a, u, "cache-bound-2")
		cached(t, a, e1.ID)
		cached(t, a, e2.ID)
		for _, e := range []fieldwatch.Evidence{e1, e2} {
			if err := b.SetThumbnails(t.Context(), e.ID, []int{320}); err != nil {
				t.Fatal(err)
			}
		}
		if n := thumbs(cached(t, a, e2.ID)); n != 0 {
			t.Errorf("the row read last: %d thumbnails, want it served from the cache (0)", n)
		}
		if n := thumbs(cached(t, a, e1.ID)); n != 1 {
			t.Errorf("the row evicted: %d thumbnails, want a fresh read (1)", n)
		}
	})

	// Case of the id does not make a second entry or miss an
	// invalidation: the cache keys by the canonical id.
	t.Run("CanonicalID", func(t *testing.T) {
		a, _, _, u := setup(t, 0)
		e := commit(t, a, u, "cache-case")
		cached(t, a, strings.ToUpper(e.ID))
		if err := a.SetThumbnails(t.Context(), e.ID, []int{320}); err != nil {
			t.Fatal(err)
		}
		if n := thumbs(cached(t, a, strings.ToUpper(e.ID))); n != 1 {
			t.Fatalf("after a local write, read by the upper-case id: %d thumbnails, want 1", n)
		}
	})

	// A warm entry never widens what a caller sees: the archive applies
	// the actor's scope on every answer, cached or not.
	t.Run("ScopeOnHit", func(t *testing.T) {
		a, _, clk, u := setup(t, 0)
		e := commit(t, a, u, "cache-scope")
		if err := a.SetEvidenceLink(t.Context(), e.ID, "130227101", ""); err != nil {
			t.Fatal(err)
		}
		ar := fieldwatch.NewArchive(a.Cached(), clk.Now)
		admin := fieldwatch.Actor{UserID: uuid.NewString(), Role: fieldwatch.RoleAdmin}
		mine := fieldwatch.Actor{UserID: uuid.NewString(), Role: fieldwatch.RoleTownshipOfficer, Townships: []string{"130227101"}}
		other := fieldwatch.Actor{UserID: uuid.NewString(), Role: fieldwatch.RoleTownshipOfficer, Townships: []string{"130227102"}}
		for _, a := range []fieldwatch.Actor{admin, mine} { // warm, and a hit
			if _, err := ar.Evidence(t.Context(), a, e.ID); err != nil {
				t.Fatalf("%s: %v", a.Role, err)
			}
		}
		if _, err := ar.Evidence(t.Context(), other, e.ID); !errors.Is(err, fieldwatch.ErrNotFound) {
			t.Fatalf("officer of another township, warm cache: %v, want ErrNotFound", err)
		}
	})

	// Each answer is the caller's own: changing it changes no other.
	t.Run("Copies", func(t *testing.T) {
		a, _, _, u := setup(t, 0)
		e := newEvidence(u.ID, "cache-copies", t0)
		e.Flags = []fieldwatch.Flag{fieldwatch.FlagLocationMissing}
		mustCommit(t, a, &e)
		if err := a.SetThumbnails(t.Context(), e.ID, []int{320}); err != nil {
			t.Fatal(err)
		}
		spoil := func(e fieldwatch.Evidence) {
			e.Thumbnails[0] = 1
			e.Flags = append(e.Flags[:0], fieldwatch.FlagDuplicateOf)
		}
		check := func(what string) {
			t.Helper()
			if again := cached(t, a, e.ID); again.Thumbnails[0] != 320 || len(again.Flags) != len(e.Flags) {
				t.Fatalf("%s reached the cache: %+v", what, again)
			}
		}
		spoil(cached(t, a, e.ID)) // the read that fills the cache
		check("a change to the answer of the read that filled it")
		spoil(cached(t, a, e.ID)) // a hit
		check("a change to an answer from it")
	})
}
