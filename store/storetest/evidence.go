package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/store"
)

// staleAfter is the heartbeat timeout the submission tests assume.
const staleAfter = 5 * time.Minute

// sha returns a distinct valid SHA-256 hex string per seed.
func sha(seed string) string {
	h := sha256.Sum256([]byte("evidence " + seed))
	return hex.EncodeToString(h[:])
}

// newEvidence returns a minimal valid evidence uploaded by uploader.
func newEvidence(uploader, seed string, received time.Time) fieldwatch.Evidence {
	h := sha(seed)
	return fieldwatch.Evidence{
		UploaderID:        uploader,
		Category:          fieldwatch.CategoryOther,
		SHA256:            h,
		Size:              2_345_678,
		ContentType:       "image/jpeg",
		ObjectKey:         "evidence/" + h[:2] + "/" + h,
		Width:             4000,
		Height:            3000,
		ReceivedAt:        received,
		CaptureTimeSource: fieldwatch.SourceNone,
		LocationSource:    fieldwatch.SourceNone,
	}
}

func mustClaim(t *testing.T, s *store.Store, userID, key string, now time.Time) fieldwatch.Submission {
	t.Helper()
	sub, claimed, err := s.ClaimSubmission(t.Context(), userID, key, now, now.Add(-staleAfter))
	if err != nil || !claimed {
		t.Fatalf("ClaimSubmission(%s) = %+v, %v, %v; want a claim", key, sub, claimed, err)
	}
	return sub
}

// mustCommit claims a new key for e's uploader and commits e under it; it
// returns the key.
func mustCommit(t *testing.T, s *store.Store, e *fieldwatch.Evidence) string {
	t.Helper()
	key := uuid.NewString()
	sub := mustClaim(t, s, e.UploaderID, key, Clock())
	if err := s.CommitEvidence(t.Context(), e, key, sub.Attempt, hash("fp "+key)); err != nil {
		t.Fatalf("CommitEvidence: %v", err)
	}
	return key
}

func mustEvidenceByID(t *testing.T, s *store.Store, id string) fieldwatch.Evidence {
	t.Helper()
	e, err := s.EvidenceByID(t.Context(), id)
	if err != nil {
		t.Fatalf("EvidenceByID(%s): %v", id, err)
	}
	return e
}

func mustSubmission(t *testing.T, s *store.Store, userID, key string) fieldwatch.Submission {
	t.Helper()
	sub, err := s.SubmissionByKey(t.Context(), userID, key)
	if err != nil {
		t.Fatalf("SubmissionByKey(%s): %v", key, err)
	}
	return sub
}

// sameStruct compares field by field so that a failure names the field.
func sameStruct[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		if g, w := gv.Field(i).Interface(), wv.Field(i).Interface(); !reflect.DeepEqual(g, w) {
			t.Errorf("%s.%s = %s, want %s", what, gv.Type().Field(i).Name, show(g), show(w))
		}
	}
}

// show prints pointers by what they point to.
func show(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		return fmt.Sprintf("&%+v", rv.Elem().Interface())
	}
	return fmt.Sprintf("%#v", v)
}

// sameEvidence compares two evidence field by field; all times must be
// UTC.
func sameEvidence(t *testing.T, got, want fieldwatch.Evidence) {
	t.Helper()
	times := []*time.Time{&got.ReceivedAt, got.CapturedAt, got.EXIF.GPSTime, got.EXIF.TakenAt}
	for _, tm := range times {
		if tm != nil && tm.Location() != time.UTC {
			t.Errorf("time %v is in %v, want UTC", tm, tm.Location())
		}
	}
	sameStruct(t, "Evidence", got, want)
	if !reflect.DeepEqual(got.EXIF, want.EXIF) {
		sameStruct(t, "EXIF", got.EXIF, want.EXIF)
	}
	if got.Device != nil && want.Device != nil {
		sameStruct(t, "Device", *got.Device, *want.Device)
	}
}

func testSubmissions(t *testing.T, s *store.Store) {
	u := mustCreateUser(t, s, fieldwatch.User{Username: "sub.owner"})
	other := mustCreateUser(t, s, fieldwatch.User{Username: "sub.other"})
	t0 := Clock()
	claim := func(t *testing.T, userID, key string, now, staleBefore time.Time) (fieldwatch.Submission, bool) {
		t.Helper()
		sub, claimed, err := s.ClaimSubmission(t.Context(), userID, key, now, staleBefore)
		if err != nil {
			t.Fatalf("ClaimSubmission: %v", err)
		}
		return sub, claimed
	}
	pending := func(userID, key, attempt string, created, updated time.Time) fieldwatch.Submission {
		return fieldwatch.Submission{UserID: userID, Key: key, State: fieldwatch.SubmissionPending, CreatedAt: created, UpdatedAt: updated, Attempt: attempt}
	}

	t.Run("ClaimThenInFlight", func(t *testing.T) {
		key := uuid.NewString()
		sub, claimed := claim(t, u.ID, key, t0, t0.Add(-staleAfter))
		if !claimed {
			t.Fatal("first claim not claimed")
		}
		if sub.Attempt == "" {
			t.Fatal("a claim without an attempt token")
		}
		want := pending(u.ID, key, sub.Attempt, t0, t0)
		sameStruct(t, "Submission", sub, want)
		sameStruct(t, "SubmissionByKey", mustSubmission(t, s, u.ID, key), want)
		// The same key a minute later, while the first is in flight.
		later := t0.Add(time.Minute)
		sub, claimed = claim(t, u.ID, key, later, later.Add(-staleAfter))
		if claimed {
			t.Fatal("second claim of an in-flight submission claimed it")
		}
		sameStruct(t, "in-flight Submission", sub, want)
	})

	t.Run("KeysArePerUser", func(t *testing.T) {
		key := uuid.NewString()
		mustClaim(t, s, u.ID, key, t0)
		sub, claimed := claim(t, other.ID, key, t0, t0.Add(-staleAfter))
		if !claimed || sub.UserID != other.ID {
			t.Fatalf("other user's claim of the same key = %+v, %v", sub, claimed)
		}
	})

	t.Run("StaleTakeover", func(t *testing.T) {
		key := uuid.NewString()
		first := mustClaim(t, s, u.ID, key, t0)
		at := t0.Add(10 * time.Minute)
		sub, claimed := claim(t, u.ID, key, at, at.Add(-staleAfter))
		if !claimed {
			t.Fatal("stale submission not taken over")
		}
		if sub.Attempt == "" || sub.Attempt == first.Attempt {
			t.Fatalf("takeover kept attempt %q (first %q), want a new one", sub.Attempt, first.Attempt)
		}
		want := pending(u.ID, key, sub.Attempt, t0, at)
		sameStruct(t, "taken over", sub, want)
		sameStruct(t, "SubmissionByKey", mustSubmission(t, s, u.ID, key), want)
		// The new owner's claim is fresh: a minute later it is in flight.
		at2 := at.Add(time.Minute)
		if _, claimed := claim(t, u.ID, key, at2, at2.Add(-staleAfter)); claimed {
			t.Fatal("fresh takeover taken over again")
		}
	})

	t.Run("UpdatedAtEqualToStaleBeforeIsInFlight", func(t *testing.T) {
		key := uuid.NewString()
		mustClaim(t, s, u.ID, key, t0)
		if _, claimed := claim(t, u.ID, key, t0.Add(staleAfter), t0); claimed {
			t.Fatal("a submission updated exactly at staleBefore was taken over")
		}
		if _, claimed := claim(t, u.ID, key, t0.Add(staleAfter), t0.Add(time.Microsecond)); !claimed {
			t.Fatal("a submission updated 1µs before staleBefore was not taken over")
		}
	})

	race := func(t *testing.T, key string, at func(i int) time.Time, staleBefore time.Time) {
		t.Helper()
		const n = 16
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
			errs []error
		)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				sub, claimed, err := s.ClaimSubmission(t.Context(), u.ID, key, at(i), staleBefore)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				if sub.State != fieldwatch.SubmissionPending || sub.Key != key {
					errs = append(errs, fmt.Errorf("claim returned %+v", sub))
				}
				if claimed {
					wins++
				}
			})
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 || wins != 1 {
			t.Fatalf("%d of %d concurrent claims won (errors: %v), want exactly 1", wins, n, errs)
		}
	}
	t.Run("ConcurrentClaimsOneWins", func(t *testing.T) {
		race(t, uuid.NewString(), func(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }, t0.Add(-staleAfter))
	})
	t.Run("ConcurrentTakeoversOneWins", func(t *testing.T) {
		key := uuid.NewString()
		mustClaim(t, s, u.ID, key, t0)
		at := t0.Add(time.Hour)
		race(t, key, func(i int) time.Time { return at.Add(time.Duration(i) * time.Millisecond) }, at.Add(-staleAfter))
	})

	t.Run("Heartbeat", func(t *testing.T) {
		key := uuid.NewString()
		sub := mustClaim(t, s, u.ID, key, t0)
		beat := t0.Add(4 * time.Minute)
		if err := s.HeartbeatSubmission(t.Context(), u.ID, key, sub.Attempt, beat); err != nil {
			t.Fatalf("HeartbeatSubmission: %v", err)
		}
		sameStruct(t, "after heartbeat", mustSubmission(t, s, u.ID, key), pending(u.ID, key, sub.Attempt, t0, beat))
		// Another attempt's token beats nothing.
		if err := s.HeartbeatSubmission(t.Context(), u.ID, key, uuid.NewString(), beat.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("HeartbeatSubmission with another attempt = %v, want ErrNotFound", err)
		}
		// Stale by the claim time, alive by the heartbeat.
		at := t0.Add(6 * time.Minute)
		if _, claimed := claim(t, u.ID, key, at, at.Add(-staleAfter)); claimed {
			t.Fatal("a submission with a recent heartbeat was taken over")
		}
		if err := s.ReleaseSubmission(t.Context(), u.ID, key, sub.Attempt); err != nil {
			t.Fatal(err)
		}
		for name, call := range map[string]func() error{
			"Released":    func() error { return s.HeartbeatSubmission(t.Context(), u.ID, key, sub.Attempt, at) },
			"UnknownKey":  func() error { return s.HeartbeatSubmission(t.Context(), u.ID, uuid.NewString(), sub.Attempt, at) },
			"OtherUser":   func() error { return s.HeartbeatSubmission(t.Context(), other.ID, key, sub.Attempt, at) },
			"UserNotUUID": func() error { return s.HeartbeatSubmission(t.Context(), "nobody", key, sub.Attempt, at) },
		} {
			if err := call(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: HeartbeatSubmission = %v, want ErrNotFound", name, err)
			}
		}
	})

	// One statement beats for every claim a process holds: more than one
	// chunk's worth, each named by its attempt; claims no longer held are
	// skipped and counted out, and a beaten claim is alive to a takeover
	// and to the reconciler.
	t.Run("HeartbeatMany", func(t *testing.T) {
		const n = 260 // more than one statement's worth
		var held []fieldwatch.SubmissionAttempt
		for range n {
			key := uuid.NewString()
			sub := mustClaim(t, s, u.ID, key, t0)
			held = append(held, fieldwatch.SubmissionAttempt{UserID: u.ID, Key: key, Attempt: sub.Attempt})
		}
		released := mustClaim(t, s, u.ID, uuid.NewString(), t0)
		if err := s.ReleaseSubmission(t.Context(), u.ID, released.Key, released.Attempt); err != nil {
			t.Fatal(err)
		}
		takenOver := mustClaim(t, s, u.ID, uuid.NewString(), t0)
		at := t0.Add(time.Hour)
		newer, claimed := claim(t, u.ID, takenOver.Key, at, at.Add(-staleAfter))
		if !claimed {
			t.Fatal("takeover failed")
		}
		claims := append(slices.Clone(held),
			fieldwatch.SubmissionAttempt{UserID: u.ID, Key: released.Key, Attempt: released.Attempt},
			fieldwatch.SubmissionAttempt{UserID: u.ID, Key: takenOver.Key, Attempt: takenOver.Attempt},
			fieldwatch.SubmissionAttempt{UserID: u.ID, Key: held[0].Key, Attempt: uuid.NewString()},
			fieldwatch.SubmissionAttempt{UserID: other.ID, Key: held[1].Key, Attempt: held[1].Attempt},
			fieldwatch.SubmissionAttempt{UserID: "nobody", Key: held[2].Key, Attempt: held[2].Attempt},
			fieldwatch.SubmissionAttempt{UserID: u.ID, Key: uuid.NewString(), Attempt: held[3].Attempt},
		)
		beat := t0.Add(4 * time.Minute)
		got, err := s.HeartbeatSubmissions(t.Context(), claims, beat)
		if err != nil {
			t.Fatalf("HeartbeatSubmissions: %v", err)
		}
		if got != n {
			t.Errorf("HeartbeatSubmissions updated %d, want %d", got, n)
		}
		for _, c := range held {
			sameStruct(t, "after heartbeat", mustSubmission(t, s, u.ID, c.Key), pending(u.ID, c.Key, c.Attempt, t0, beat))
		}
		if _, err := s.SubmissionByKey(t.Context(), u.ID, released.Key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("released submission after heartbeat: %v, want ErrNotFound", err)
		}
		sameStruct(t, "taken over, after the old attempt's heartbeat", mustSubmission(t, s, u.ID, takenOver.Key),
			pending(u.ID, takenOver.Key, newer.Attempt, t0, at))
		// Alive: stale by the claim time, not by the heartbeat.
		now := t0.Add(6 * time.Minute)
		if _, claimed := claim(t, u.ID, held[n-1].Key, now, now.Add(-staleAfter)); claimed {
			t.Error("a submission with a recent batched heartbeat was taken over")
		}
		cutoff := t0.Add(time.Minute)
		stale, err := s.StaleSubmissions(t.Context(), cutoff, store.MaxSubmissionLimit)
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range stale {
			if slices.ContainsFunc(held, func(c fieldwatch.SubmissionAttempt) bool { return c.Key == sub.Key }) {
				t.Fatalf("reconciler lists %s as stale after its heartbeat", sub.Key)
			}
		}
		if err := s.ReleaseStaleSubmission(t.Context(), u.ID, held[0].Key, held[0].Attempt, cutoff); err != nil {
			t.Fatal(err)
		}
		if got := mustSubmission(t, s, u.ID, held[0].Key); got.Attempt != held[0].Attempt {
			t.Fatalf("the reconciler released a claim beaten in a batch: %+v", got)
		}
		if got, err := s.HeartbeatSubmissions(t.Context(), nil, beat); err != nil || got != 0 {
			t.Errorf("HeartbeatSubmissions of no claims = %d, %v; want 0, nil", got, err)
		}
		for _, c := range append(held, fieldwatch.SubmissionAttempt{UserID: u.ID, Key: takenOver.Key, Attempt: newer.Attempt}) {
			if err := s.ReleaseSubmission(t.Context(), u.ID, c.Key, c.Attempt); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("Release", func(t *testing.T) {
		key := uuid.NewString()
		held := mustClaim(t, s, u.ID, key, t0)
		// Another attempt's release leaves the claim alone.
		if err := s.ReleaseSubmission(t.Context(), u.ID, key, uuid.NewString()); err != nil {
			t.Fatalf("ReleaseSubmission of another attempt: %v", err)
		}
		if got := mustSubmission(t, s, u.ID, key); got.Attempt != held.Attempt {
			t.Fatalf("another attempt's release changed the claim: %+v", got)
		}
		if err := s.ReleaseSubmission(t.Context(), u.ID, key, held.Attempt); err != nil {
			t.Fatalf("ReleaseSubmission: %v", err)
		}
		if _, err := s.SubmissionByKey(t.Context(), u.ID, key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("released submission: %v, want ErrNotFound", err)
		}
		for _, uid := range []string{u.ID, uuid.NewString(), "not-a-uuid"} {
			if err := s.ReleaseSubmission(t.Context(), uid, key, held.Attempt); err != nil {
				t.Errorf("ReleaseSubmission of a missing submission = %v, want nil", err)
			}
		}
		// The retry claims afresh.
		at := t0.Add(time.Second)
		sub, claimed := claim(t, u.ID, key, at, at.Add(-staleAfter))
		if !claimed {
			t.Fatal("claim after release failed")
		}
		sameStruct(t, "reclaimed", sub, pending(u.ID, key, sub.Attempt, at, at))
	})

	// The reconciler lists a claim as stale; before it releases it, the
	// request's heartbeat arrives: the claim is alive and must stay.
	t.Run("ReleaseStaleAfterLateHeartbeat", func(t *testing.T) {
		key := uuid.NewString()
		held := mustClaim(t, s, u.ID, key, t0)
		cutoff := t0.Add(time.Hour)
		if err := s.HeartbeatSubmission(t.Context(), u.ID, key, held.Attempt, cutoff.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.ReleaseStaleSubmission(t.Context(), u.ID, key, held.Attempt, cutoff); err != nil {
			t.Fatalf("ReleaseStaleSubmission: %v", err)
		}
		if got := mustSubmission(t, s, u.ID, key); got.Attempt != held.Attempt {
			t.Fatalf("a claim that beat after it was listed was released: %+v", got)
		}
		if err := s.ReleaseStaleSubmission(t.Context(), u.ID, key, held.Attempt, cutoff.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SubmissionByKey(t.Context(), u.ID, key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a stale claim was kept: %v", err)
		}
	})

	t.Run("Stale", func(t *testing.T) {
		// Times long before anything else in the shared store, so that
		// these are the only stale rows at the cut-off.
		base := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		cutoff := base.Add(30 * 24 * time.Hour)
		k1, k2, k3, k4, k5 := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
		s2 := mustClaim(t, s, u.ID, k2, base.Add(2*time.Hour))
		s1 := mustClaim(t, s, other.ID, k1, base.Add(time.Hour))
		mustClaim(t, s, u.ID, k3, cutoff) // not before the cut-off
		s4 := mustClaim(t, s, u.ID, k4, base)
		if err := s.HeartbeatSubmission(t.Context(), u.ID, k4, s4.Attempt, cutoff.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		// A stored submission is never stale, however old.
		s5 := mustClaim(t, s, u.ID, k5, base)
		e := newEvidence(u.ID, "stale stored", base)
		if err := s.CommitEvidence(t.Context(), &e, k5, s5.Attempt, hash("stale stored")); err != nil {
			t.Fatalf("CommitEvidence: %v", err)
		}
		want := []fieldwatch.Submission{
			pending(other.ID, k1, s1.Attempt, base.Add(time.Hour), base.Add(time.Hour)),
			pending(u.ID, k2, s2.Attempt, base.Add(2*time.Hour), base.Add(2*time.Hour)),
		}
		for _, tc := range []struct {
			name  string
			limit int
			want  []fieldwatch.Submission
		}{{"All", 0, want}, {"Limit1", 1, want[:1]}, {"NegativeLimit", -3, want[:1]}, {"HugeLimit", 1 << 30, want}} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.StaleSubmissions(t.Context(), cutoff, tc.limit)
				if err != nil {
					t.Fatalf("StaleSubmissions: %v", err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("StaleSubmissions = %+v\nwant %+v", got, tc.want)
				}
			})
		}
		got, err := s.StaleSubmissions(t.Context(), base, 10)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("StaleSubmissions before everything = %v, %v; want an empty slice", got, err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		for name, call := range map[string]func() error{
			"SubmissionByKeyUnknown": func() error { _, err := s.SubmissionByKey(t.Context(), u.ID, uuid.NewString()); return err },
			"SubmissionByKeyBadUser": func() error { _, err := s.SubmissionByKey(t.Context(), "x'; --", "k"); return err },
			"ClaimUnknownUser": func() error {
				_, _, err := s.ClaimSubmission(t.Context(), uuid.NewString(), "k", t0, t0)
				return err
			},
			"ClaimBadUser": func() error { _, _, err := s.ClaimSubmission(t.Context(), "nobody", "k", t0, t0); return err },
		} {
			if err := call(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s = %v, want ErrNotFound", name, err)
			}
		}
	})

	t.Run("InvalidKey", func(t *testing.T) {
		for _, key := range []string{"", "k\x00", "\xff\xfe", strings.Repeat("k", 256)} {
			for name, call := range map[string]func() error{
				"Claim":     func() error { _, _, err := s.ClaimSubmission(t.Context(), u.ID, key, t0, t0); return err },
				"Heartbeat": func() error { return s.HeartbeatSubmission(t.Context(), u.ID, key, "a", t0) },
				"Release":   func() error { return s.ReleaseSubmission(t.Context(), u.ID, key, "a") },
				"Mark": func() error {
					return s.MarkSubmissionObject(t.Context(), u.ID, key, "a", sha("x"), t0)
				},
				"ByKey": func() error { _, err := s.SubmissionByKey(t.Context(), u.ID, key); return err },
				"Commit": func() error {
					e := newEvidence(u.ID, "invalid key", t0)
					return s.CommitEvidence(t.Context(), &e, key, "a", hash("x"))
				},
			} {
				if err := call(); !errors.Is(err, fieldwatch.ErrInvalid) {
					t.Errorf("%s(%q) = %v, want fieldwatch.ErrInvalid", name, key, err)
				}
			}
		}
		if _, _, err := s.ClaimSubmission(t.Context(), u.ID, "k", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), t0); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Errorf("ClaimSubmission at year 10000 = %v, want fieldwatch.ErrInvalid", err)
		}
	})
}

func testEvidence(t *testing.T, s *store.Store) {
	u := mustCreateUser(t, s, fieldwatch.User{Username: "ev.owner"})
	other := mustCreateUser(t, s, fieldwatch.User{Username: "ev.other"})
	shanghai := time.FixedZone("CST", 8*3600)

	t.Run("CommitRoundTrip", func(t *testing.T) {
		received := time.Date(2025, 6, 2, 9, 30, 15, 123_456_789, time.UTC)
		captured := time.Date(2025, 6, 2, 17, 29, 58, 0, shanghai)
		gpsTime := time.Date(2025, 6, 2, 9, 29, 57, 500_000_000, time.UTC)
		takenAt := time.Date(2025, 6, 2, 17, 29, 58, 0, shanghai)
		e := fieldwatch.Evidence{
			UploaderID:        u.ID,
			Category:          fieldwatch.CategoryRiverSection,
			Subcategory:       "排污口",
			Note:              "滹沱河南岸 outfall,\n第二行 \"quoted\" 𠮷",
			SHA256:            sha("round trip"),
			Size:              5_123_456,
			ContentType:       "image/jpeg",
			ObjectKey:         "evidence/ab/" + sha("round trip"),
			Width:             4032,
			Height:            3024,
			ReceivedAt:        received,
			CapturedAt:        &captured,
			CaptureTimeSource: fieldwatch.SourceEXIF,
			Location:          &geo.Point{Lon: 118.330123456789, Lat: 40.200987654321},
			LocationSource:    fieldwatch.SourceEXIF,
			EXIF: fieldwatch.PhotoEXIF{
				Position:     &geo.Point{Lon: 118.330123456789, Lat: 40.200987654321},
				AltitudeM:    ptr(52.5),
				GPSTime:      &gpsTime,
				TakenAt:      &takenAt,
				TakenAtZoned: true,
				Orientation:  6,
				Make:         "HUAWEI",
				Model:        "ALN-AL00 (华为)",
				DirectionDeg: ptr(271.25),
				Problems:     []string{"GPSAltitudeRef missing", "偏移量异常"},
			},
			Device: &fieldwatch.DeviceFix{
				Lon: 118.336201, Lat: 40.201299, CRS: geo.GCJ02,
				WGS84:     geo.Point{Lon: 118.33003, Lat: 40.20092},
				AccuracyM: ptr(8.5), Provider: "fused", Mock: true,
			},
			EXIFDeviceDistanceM: ptr(12.75),
			TownshipCode:        "130102003",
			ReachCode:           "R-滹沱河-03",
			Flags:               []fieldwatch.Flag{fieldwatch.FlagMockLocation, fieldwatch.FlagEXIFDeviceMismatch, fieldwatch.FlagMockLocation},
			DuplicateOf:         uuid.NewString(), // server-owned: cleared
		}
		orig := e
		key := uuid.NewString()
		claimedAt := Clock()
		held := mustClaim(t, s, u.ID, key, claimedAt)
		fp := hash("round trip fingerprint")
		if err := s.CommitEvidence(t.Context(), &e, key, held.Attempt, fp); err != nil {
			t.Fatalf("CommitEvidence: %v", err)
		}
		if _, err := uuid.Parse(e.ID); err != nil {
			t.Fatalf("ID %q is not a UUID", e.ID)
		}
		if v := uuid.MustParse(e.ID).Version(); v != 7 {
			t.Errorf("ID version %d, want 7", v)
		}
		capturedUTC := time.Date(2025, 6, 2, 9, 29, 58, 0, time.UTC)
		takenUTC := capturedUTC
		want := orig
		want.ID = e.ID
		want.ReceivedAt = time.Date(2025, 6, 2, 9, 30, 15, 123_456_000, time.UTC)
		want.CapturedAt = &capturedUTC
		want.EXIF.TakenAt = &takenUTC
		want.Flags = []fieldwatch.Flag{fieldwatch.FlagEXIFDeviceMismatch, fieldwatch.FlagMockLocation}
		want.DuplicateOf = ""
		want.Thumbnails = []int{}
		sameEvidence(t, e, want)
		sameEvidence(t, mustEvidenceByID(t, s, e.ID), want)
		if orig.CapturedAt.Location() != shanghai {
			t.Error("CommitEvidence changed the caller's CapturedAt")
		}

		sub := mustSubmission(t, s, u.ID, key)
		sameStruct(t, "stored Submission", sub, fieldwatch.Submission{UserID: u.ID, Key: key, State: fieldwatch.SubmissionStored,
			Fingerprint: fp, EvidenceID: e.ID, CreatedAt: claimedAt, UpdatedAt: want.ReceivedAt, Attempt: held.Attempt})

		t.Run("Replay", func(t *testing.T) {
			at := Clock().Add(72 * time.Hour)
			got, claimed, err := s.ClaimSubmission(t.Context(), u.ID, key, at, at) // even "stale"
			if err != nil || claimed {
				t.Fatalf("ClaimSubmission of a stored submission = %v, %v; want claimed=false", claimed, err)
			}
			sameStruct(t, "replayed Submission", got, sub)
		})
		t.Run("StoredIsNotPending", func(t *testing.T) {
			if err := s.HeartbeatSubmission(t.Context(), u.ID, key, held.Attempt, Clock()); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("HeartbeatSubmission of a stored submission = %v, want ErrNotFound", err)
			}
			if err := s.ReleaseSubmission(t.Context(), u.ID, key, held.Attempt); err != nil {
				t.Errorf("ReleaseSubmission of a stored submission = %v, want nil", err)
			}
			sameStruct(t, "Submission after release", mustSubmission(t, s, u.ID, key), sub)
			again := newEvidence(u.ID, "second commit", Clock())
			if err := s.CommitEvidence(t.Context(), &again, key, held.Attempt, fp); !errors.Is(err, store.ErrConflict) {
				t.Errorf("second CommitEvidence under a stored key = %v, want ErrConflict", err)
			}
			sameStruct(t, "Submission after second commit", mustSubmission(t, s, u.ID, key), sub)
		})
	})

	t.Run("CommitMinimal", func(t *testing.T) {
		e := newEvidence(u.ID, "minimal", time.Time{}) // ReceivedAt from the clock
		mustCommit(t, s, &e)
		want := newEvidence(u.ID, "minimal", Clock().Truncate(time.Microsecond))
		want.ID = e.ID
		want.Flags = []fieldwatch.Flag{}
		want.Thumbnails = []int{}
		want.EXIF.Problems = []string{}
		sameEvidence(t, e, want)
		sameEvidence(t, mustEvidenceByID(t, s, e.ID), want)
	})

	t.Run("CommitGivenIDIsCanonicalised", func(t *testing.T) {
		id := uuid.New()
		e := newEvidence(u.ID, "given id", Clock())
		e.ID = strings.ToUpper(id.String())
		mustCommit(t, s, &e)
		if e.ID != id.String() {
			t.Fatalf("ID = %q, want %q", e.ID, id)
		}
		mustEvidenceByID(t, s, strings.ToUpper(id.String()))
	})

	conflict := func(t *testing.T, e fieldwatch.Evidence, key, attempt string) {
		t.Helper()
		before := e
		if err := s.CommitEvidence(t.Context(), &e, key, attempt, hash("conflict")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CommitEvidence = %v, want ErrConflict", err)
		}
		if !reflect.DeepEqual(e, before) {
			t.Errorf("failed CommitEvidence changed its argument: %+v", e)
		}
		if e.ID != "" {
			if _, err := s.EvidenceByID(t.Context(), e.ID); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("evidence of a failed commit is visible: %v", err)
			}
		}
		if ok, err := s.EvidenceSHA256Exists(t.Context(), e.SHA256); err != nil || ok {
			t.Errorf("EvidenceSHA256Exists after a failed commit = %v, %v", ok, err)
		}
	}
	t.Run("CommitWithoutClaim", func(t *testing.T) {
		e := newEvidence(u.ID, "no claim", Clock())
		e.ID = uuid.NewString()
		conflict(t, e, uuid.NewString(), uuid.NewString())
	})
	t.Run("CommitAfterRelease", func(t *testing.T) {
		key := uuid.NewString()
		held := mustClaim(t, s, u.ID, key, Clock())
		if err := s.ReleaseSubmission(t.Context(), u.ID, key, held.Attempt); err != nil {
			t.Fatal(err)
		}
		e := newEvidence(u.ID, "after release", Clock())
		e.ID = uuid.NewString()
		conflict(t, e, key, held.Attempt)
	})
	t.Run("CommitAfterTakeover", func(t *testing.T) {
		key := uuid.NewString()
		old := mustClaim(t, s, u.ID, key, Clock())
		later := Clock().Add(time.Hour)
		if _, claimed, err := s.ClaimSubmission(t.Context(), u.ID, key, later, later.Add(-staleAfter)); err != nil || !claimed {
			t.Fatalf("takeover: %v, %v", claimed, err)
		}
		e := newEvidence(u.ID, "after takeover", Clock())
		e.ID = uuid.NewString()
		conflict(t, e, key, old.Attempt)
		if got := mustSubmission(t, s, u.ID, key); got.State != fieldwatch.SubmissionPending {
			t.Fatalf("the old attempt's commit changed the new claim: %+v", got)
		}
	})
	t.Run("CommitOtherUsersClaim", func(t *testing.T) {
		key := uuid.NewString()
		held := mustClaim(t, s, other.ID, key, Clock())
		e := newEvidence(u.ID, "other's claim", Clock())
		conflict(t, e, key, held.Attempt)
		if sub := mustSubmission(t, s, other.ID, key); sub.State != fieldwatch.SubmissionPending {
			t.Errorf("other user's submission is %s", sub.State)
		}
	})
	t.Run("CommitTakenIDRollsBack", func(t *testing.T) {
		first := newEvidence(u.ID, "taken id 1", Clock())
		mustCommit(t, s, &first)
		key := uuid.NewString()
		held := mustClaim(t, s, u.ID, key, Clock())
		e := newEvidence(u.ID, "taken id 2", Clock())
		e.ID = first.ID
		if err := s.CommitEvidence(t.Context(), &e, key, held.Attempt, hash("taken")); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("CommitEvidence with a taken ID = %v, want ErrConflict", err)
		}
		if sub := mustSubmission(t, s, u.ID, key); sub.State != fieldwatch.SubmissionPending || sub.EvidenceID != "" {
			t.Fatalf("submission after a failed commit = %+v, want pending", sub)
		}
		sameEvidence(t, mustEvidenceByID(t, s, first.ID), first)
	})

	t.Run("DuplicateOf", func(t *testing.T) {
		h := "duplicate bytes"
		t1 := Clock().Add(time.Hour)
		orig := newEvidence(u.ID, h, t1)
		orig.Flags = []fieldwatch.Flag{fieldwatch.FlagDuplicateOf} // server-owned: dropped
		orig.DuplicateOf = uuid.NewString()
		mustCommit(t, s, &orig)
		if orig.DuplicateOf != "" || orig.HasFlag(fieldwatch.FlagDuplicateOf) {
			t.Fatalf("first evidence marked as a duplicate: %q %v", orig.DuplicateOf, orig.Flags)
		}
		// Another inspector sends the same bytes, then the first reuses them.
		for i, uploader := range []string{other.ID, u.ID} {
			dup := newEvidence(uploader, h, t1.Add(time.Duration(i+1)*time.Minute))
			dup.Flags = []fieldwatch.Flag{fieldwatch.FlagOutsideCounty, fieldwatch.FlagDuplicateOf}
			mustCommit(t, s, &dup)
			want := []fieldwatch.Flag{fieldwatch.FlagDuplicateOf, fieldwatch.FlagOutsideCounty}
			if dup.DuplicateOf != orig.ID || !reflect.DeepEqual(dup.Flags, want) {
				t.Errorf("duplicate %d: DuplicateOf %q, flags %v; want %q, %v", i, dup.DuplicateOf, dup.Flags, orig.ID, want)
			}
			sameEvidence(t, mustEvidenceByID(t, s, dup.ID), dup)
		}
		sameEvidence(t, mustEvidenceByID(t, s, orig.ID), orig)

		for _, tc := range []struct {
			sha  string
			want bool
		}{{sha(h), true}, {sha("never stored"), false}} {
			if ok, err := s.EvidenceSHA256Exists(t.Context(), tc.sha); err != nil || ok != tc.want {
				t.Errorf("EvidenceSHA256Exists(%s) = %v, %v; want %v", tc.sha, ok, err, tc.want)
			}
		}
		for _, bad := range []string{"", "abc", strings.ToUpper(sha(h)), strings.Repeat("g", 64), sha(h) + "0"} {
			if _, err := s.EvidenceSHA256Exists(t.Context(), bad); !errors.Is(err, fieldwatch.ErrInvalid) {
				t.Errorf("EvidenceSHA256Exists(%q) = %v, want fieldwatch.ErrInvalid", bad, err)
			}
		}
	})

	t.Run("ConcurrentDuplicatesOneOriginal", func(t *testing.T) {
		const n = 8
		keys := make([]string, n)
		attempts := make([]string, n)
		for i := range keys {
			keys[i] = uuid.NewString()
			attempts[i] = mustClaim(t, s, u.ID, keys[i], Clock()).Attempt
		}
		got := make([]fieldwatch.Evidence, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				// The same receive time: no order to go by but the commits'.
				got[i] = newEvidence(u.ID, "concurrent duplicate", Clock().Add(2*time.Hour))
				errs[i] = s.CommitEvidence(t.Context(), &got[i], keys[i], attempts[i], hash(keys[i]))
			})
		}
		close(start)
		wg.Wait()
		var originals []string
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("commit %d: %v", i, errs[i])
			}
			if got[i].DuplicateOf == "" {
				originals = append(originals, got[i].ID)
			}
		}
		if len(originals) != 1 {
			t.Fatalf("%d originals among %d concurrent commits of the same bytes, want 1", len(originals), n)
		}
		for i := range n {
			if got[i].ID != originals[0] && (got[i].DuplicateOf != originals[0] || !got[i].HasFlag(fieldwatch.FlagDuplicateOf)) {
				t.Errorf("commit %d: DuplicateOf %q, flags %v; want %q", i, got[i].DuplicateOf, got[i].Flags, originals[0])
			}
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		nan, inf := math.NaN(), math.Inf(1)
		key := uuid.NewString()
		held := mustClaim(t, s, u.ID, key, Clock())
		tests := []struct {
			name   string
			mutate func(e *fieldwatch.Evidence)
		}{
			{"LocationLonNaN", func(e *fieldwatch.Evidence) { e.Location = &geo.Point{Lon: nan, Lat: 40} }},
			{"LocationLatNaN", func(e *fieldwatch.Evidence) { e.Location = &geo.Point{Lon: 118, Lat: nan} }},
			{"LocationBothNaN", func(e *fieldwatch.Evidence) { e.Location = &geo.Point{Lon: nan, Lat: nan} }},
			{"LocationLonInf", func(e *fieldwatch.Evidence) { e.Location = &geo.Point{Lon: inf, Lat: 40} }},
			{"LocationLatNegInf", func(e *fieldwatch.Evidence) { e.Location = &geo.Point{Lon: 118, Lat: -inf} }},
			{"LocationLatAbove90", func(e *fieldwatch.Evidence) { e.Location = &geo.Point{Lon: 118, Lat: 90.000001} }},
			{"LocationLonBelow180", func(e *fieldwatch.Evidence) { e.Location = &geo.Point{Lon: -180.5, Lat: 40} }},
			{"LocationSwappedOutOfRange", func(e *fieldwatch.Evidence) { e.Location = &geo.Point{Lon: 40.2, Lat: 118.33} }},
			{"EXIFPositionNaN", func(e *fieldwatch.Evidence) { e.EXIF.Position = &geo.Point{Lon: nan, Lat: 40} }},
			{"EXIFAltitudeInf", func(e *fieldwatch.Evidence) { e.EXIF.AltitudeM = ptr(inf) }},
			{"EXIFDirectionNaN", func(e *fieldwatch.Evidence) { e.EXIF.DirectionDeg = ptr(nan) }},
			{"EXIFOrientation9", func(e *fieldwatch.Evidence) { e.EXIF.Orientation = 9 }},
			{"EXIFTakenAtYear10000", func(e *fieldwatch.Evidence) { e.EXIF.TakenAt = ptr(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)) }},
			{"EXIFMakeNUL", func(e *fieldwatch.Evidence) { e.EXIF.Make = "HUA\x00WEI" }},
			{"EXIFProblemInvalidUTF8", func(e *fieldwatch.Evidence) { e.EXIF.Problems = []string{"ok", "\xff"} }},
			{"DeviceLonNaN", func(e *fieldwatch.Evidence) {
				e.Device = &fieldwatch.DeviceFix{Lon: nan, Lat: 40, CRS: geo.WGS84, WGS84: geo.Point{Lon: 118, Lat: 40}}
			}},
			{"DeviceWGS84Inf", func(e *fieldwatch.Evidence) {
				e.Device = &fieldwatch.DeviceFix{Lon: 118, Lat: 40, CRS: geo.WGS84, WGS84: geo.Point{Lon: 118, Lat: inf}}
			}},
			{"DeviceUnknownCRS", func(e *fieldwatch.Evidence) {
				e.Device = &fieldwatch.DeviceFix{Lon: 118, Lat: 40, CRS: "bd09mc", WGS84: geo.Point{Lon: 118, Lat: 40}}
			}},
			{"DeviceAccuracyNegative", func(e *fieldwatch.Evidence) {
				e.Device = &fieldwatch.DeviceFix{Lon: 118, Lat: 40, CRS: geo.WGS84, WGS84: geo.Point{Lon: 118, Lat: 40}, AccuracyM: ptr(-1.0)}
			}},
			{"DeviceProviderNUL", func(e *fieldwatch.Evidence) {
				e.Device = &fieldwatch.DeviceFix{Lon: 118, Lat: 40, CRS: geo.WGS84, WGS84: geo.Point{Lon: 118, Lat: 40}, Provider: "\x00"}
			}},
			{"DistanceNaN", func(e *fieldwatch.Evidence) { e.EXIFDeviceDistanceM = ptr(nan) }},
			{"DistanceNegative", func(e *fieldwatch.Evidence) { e.EXIFDeviceDistanceM = ptr(-0.5) }},
			{"NoteInvalidUTF8", func(e *fieldwatch.Evidence) { e.Note = "河道\xc3\x28" }},
			{"NoteNUL", func(e *fieldwatch.Evidence) { e.Note = "note\x00" }},
			{"SubcategorySurrogate", func(e *fieldwatch.Evidence) { e.Subcategory = "\xed\xa0\x80" }},
			{"TownshipCodeNUL", func(e *fieldwatch.Evidence) { e.TownshipCode = "1301\x00" }},
			{"ReachCodeInvalidUTF8", func(e *fieldwatch.Evidence) { e.ReachCode = "R\xff" }},
			{"UnknownCategory", func(e *fieldwatch.Evidence) { e.Category = "graffiti" }},
			{"EmptyCategory", func(e *fieldwatch.Evidence) { e.Category = "" }},
			{"SHA256Uppercase", func(e *fieldwatch.Evidence) { e.SHA256 = strings.ToUpper(e.SHA256) }},
			{"SHA256Short", func(e *fieldwatch.Evidence) { e.SHA256 = e.SHA256[:63] }},
			{"SHA256NotHex", func(e *fieldwatch.Evidence) { e.SHA256 = strings.Repeat("z", 64) }},
			{"UnknownFlag", func(e *fieldwatch.Evidence) { e.Flags = []fieldwatch.Flag{fieldwatch.FlagMockLocation, "looks_fake"} }},
			{"UnknownLocationSource", func(e *fieldwatch.Evidence) { e.LocationSource = "gps" }},
			{"EmptyCaptureTimeSource", func(e *fieldwatch.Evidence) { e.CaptureTimeSource = "" }},
			{"NegativeSize", func(e *fieldwatch.Evidence) { e.Size = -1 }},
			{"NegativeWidth", func(e *fieldwatch.Evidence) { e.Width = -1 }},
			{"EmptyObjectKey", func(e *fieldwatch.Evidence) { e.ObjectKey = "" }},
			{"EmptyContentType", func(e *fieldwatch.Evidence) { e.ContentType = "" }},
			{"IDNotUUID", func(e *fieldwatch.Evidence) { e.ID = "evidence-1" }},
			{"UploaderNotUUID", func(e *fieldwatch.Evidence) { e.UploaderID = "u1" }},
			{"ReceivedAtYear10000", func(e *fieldwatch.Evidence) { e.ReceivedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
			{"CapturedAtYear0", func(e *fieldwatch.Evidence) { e.CapturedAt = ptr(time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC)) }},
			{"ThumbnailSizeZero", func(e *fieldwatch.Evidence) { e.Thumbnails = []int{0} }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e := newEvidence(u.ID, "invalid "+tc.name, Clock())
				tc.mutate(&e)
				before := e
				err := s.CommitEvidence(t.Context(), &e, key, held.Attempt, hash("invalid"))
				if !errors.Is(err, fieldwatch.ErrInvalid) {
					t.Fatalf("CommitEvidence = %v, want an error wrapping fieldwatch.ErrInvalid", err)
				}
				if errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrConflict) {
					t.Fatalf("invalid input classified as a database outcome: %v", err)
				}
				if !reflect.DeepEqual(e, before) && !strings.Contains(tc.name, "NaN") {
					t.Errorf("failed CommitEvidence changed its argument")
				}
			})
		}
		t.Run("ShortFingerprint", func(t *testing.T) {
			e := newEvidence(u.ID, "short fingerprint", Clock())
			if err := s.CommitEvidence(t.Context(), &e, key, held.Attempt, hash("x")[:16]); !errors.Is(err, fieldwatch.ErrInvalid) {
				t.Fatalf("CommitEvidence = %v, want fieldwatch.ErrInvalid", err)
			}
		})
		if sub := mustSubmission(t, s, u.ID, key); sub.State != fieldwatch.SubmissionPending {
			t.Fatalf("submission after rejected commits = %+v, want pending", sub)
		}
		if ok, err := s.EvidenceSHA256Exists(t.Context(), sha("invalid NoteNUL")); err != nil || ok {
			t.Fatalf("rejected evidence stored: %v, %v", ok, err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		unknown := uuid.NewString()
		e := newEvidence(u.ID, "not found", Clock())
		mustCommit(t, s, &e)
		for name, call := range map[string]func() error{
			"EvidenceByIDUnknown":    func() error { _, err := s.EvidenceByID(t.Context(), unknown); return err },
			"EvidenceByIDNotUUID":    func() error { _, err := s.EvidenceByID(t.Context(), "1 OR 1=1"); return err },
			"EvidenceByIDEmpty":      func() error { _, err := s.EvidenceByID(t.Context(), ""); return err },
			"SetThumbnailsUnknown":   func() error { return s.SetThumbnails(t.Context(), unknown, []int{320}) },
			"SetThumbnailsNotUUID":   func() error { return s.SetThumbnails(t.Context(), "x", []int{320}) },
			"SetEvidenceLinkUnknown": func() error { return s.SetEvidenceLink(t.Context(), unknown, "130102001", "") },
			"ScopedOutOfScope": func() error {
				_, err := s.ScopedEvidenceByID(t.Context(), e.ID, &fieldwatch.Scope{UserID: other.ID})
				return err
			},
		} {
			if err := call(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s = %v, want ErrNotFound", name, err)
			}
		}
	})

	t.Run("SetThumbnails", func(t *testing.T) {
		e := newEvidence(u.ID, "thumbnails", Clock())
		mustCommit(t, s, &e)
		if err := s.SetThumbnails(t.Context(), e.ID, []int{1280, 320, 1280}); err != nil {
			t.Fatalf("SetThumbnails: %v", err)
		}
		e.Thumbnails = []int{320, 1280}
		sameEvidence(t, mustEvidenceByID(t, s, e.ID), e)
		for _, bad := range [][]int{{0}, {-320}, {store.MaxThumbnailSize + 1}, make([]int, 33)} {
			if err := s.SetThumbnails(t.Context(), e.ID, bad); !errors.Is(err, fieldwatch.ErrInvalid) {
				t.Errorf("SetThumbnails(%v) = %v, want fieldwatch.ErrInvalid", bad, err)
			}
		}
		if err := s.SetThumbnails(t.Context(), e.ID, nil); err != nil {
			t.Fatalf("SetThumbnails(nil): %v", err)
		}
		e.Thumbnails = []int{}
		sameEvidence(t, mustEvidenceByID(t, s, e.ID), e)
	})

	t.Run("SetEvidenceLink", func(t *testing.T) {
		e := newEvidence(u.ID, "link", Clock())
		mustCommit(t, s, &e)
		officer := &fieldwatch.Scope{UserID: other.ID, Townships: []string{"130102009"}}
		chief := &fieldwatch.Scope{UserID: other.ID, Reaches: []string{"R-滹沱河-03"}}
		visible := func(sc *fieldwatch.Scope) bool {
			t.Helper()
			_, err := s.ScopedEvidenceByID(t.Context(), e.ID, sc)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("ScopedEvidenceByID: %v", err)
			}
			return err == nil
		}
		if visible(officer) || visible(chief) {
			t.Fatal("unlinked evidence visible to another township's officer or a river chief")
		}
		if !visible(&fieldwatch.Scope{UserID: u.ID}) || !visible(nil) {
			t.Fatal("evidence not visible to its uploader or an admin")
		}
		if err := s.SetEvidenceLink(t.Context(), e.ID, "130102009", "R-滹沱河-03"); err != nil {
			t.Fatalf("SetEvidenceLink: %v", err)
		}
		if !visible(officer) || !visible(chief) {
			t.Fatal("linked evidence not visible to the township's officer or the reach's chief")
		}
		e.TownshipCode, e.ReachCode = "130102009", "R-滹沱河-03"
		sameEvidence(t, mustEvidenceByID(t, s, e.ID), e)
		if err := s.SetEvidenceLink(t.Context(), e.ID, "", "R-滹沱河-03"); err != nil {
			t.Fatalf("SetEvidenceLink: %v", err)
		}
		if visible(officer) || !visible(chief) {
			t.Fatal("clearing the township did not change the township scope alone")
		}
		e.TownshipCode = ""
		sameEvidence(t, mustEvidenceByID(t, s, e.ID), e)
		for _, bad := range [][2]string{{"1301\x00", ""}, {"", "\xff"}} {
			if err := s.SetEvidenceLink(t.Context(), e.ID, bad[0], bad[1]); !errors.Is(err, fieldwatch.ErrInvalid) {
				t.Errorf("SetEvidenceLink(%q, %q) = %v, want fieldwatch.ErrInvalid", bad[0], bad[1], err)
			}
		}
	})

	// ListEvidence reads rows on PostgreSQL through pgx's own scanning,
	// EvidenceByID through database/sql: every column, nullable ones set
	// and unset (duplicate, links, retry time, gave-up state, no
	// location), must come back the same both ways.
	t.Run("ListAgreesWithByID", func(t *testing.T) {
		retried := newEvidence(u.ID, "list agrees retried", Clock().Add(2*time.Hour))
		mustCommit(t, s, &retried)
		next := Clock().Add(3 * time.Hour)
		if err := s.SetThumbnailTries(t.Context(), retried.ID, fieldwatch.ThumbnailTries{Attempts: 2, NextAt: &next, Error: "decode: <odd> & \"q\""}); err != nil {
			t.Fatalf("SetThumbnailTries: %v", err)
		}
		gaveUp := newEvidence(u.ID, "list agrees gave up", Clock().Add(2*time.Hour))
		gaveUp.Location, gaveUp.LocationSource, gaveUp.EXIFDeviceDistanceM = nil, fieldwatch.SourceNone, nil
		mustCommit(t, s, &gaveUp)
		if err := s.SetThumbnailTries(t.Context(), gaveUp.ID, fieldwatch.ThumbnailTries{Attempts: 5, Error: "x", GaveUp: fieldwatch.ThumbnailFailed}); err != nil {
			t.Fatalf("SetThumbnailTries: %v", err)
		}
		dup := newEvidence(other.ID, "list agrees gave up", Clock().Add(2*time.Hour))
		mustCommit(t, s, &dup)
		f := fieldwatch.EvidenceFilter{Limit: store.MaxEvidenceLimit}
		seen := map[string]bool{}
		for {
			page, err := s.ListEvidence(t.Context(), f)
			if err != nil {
				t.Fatalf("ListEvidence: %v", err)
			}
			for _, e := range page {
				seen[e.ID] = true
				sameEvidence(t, e, mustEvidenceByID(t, s, e.ID))
			}
			if len(page) < store.MaxEvidenceLimit {
				break
			}
			last := page[len(page)-1]
			f.AfterTime, f.AfterID = &last.ReceivedAt, last.ID
		}
		for _, id := range []string{retried.ID, gaveUp.ID, dup.ID} {
			if !seen[id] {
				t.Errorf("evidence %s not listed", id)
			}
		}
		if d := mustEvidenceByID(t, s, dup.ID); d.DuplicateOf != gaveUp.ID {
			t.Errorf("DuplicateOf = %q, want %q", d.DuplicateOf, gaveUp.ID)
		}
	})
}

// testListEvidence needs a store of its own: listings see every row.
func testListEvidence(t *testing.T, s *store.Store) {
	ctx := t.Context()
	a := mustCreateUser(t, s, fieldwatch.User{Username: "list.a"})
	b := mustCreateUser(t, s, fieldwatch.User{Username: "list.b"})
	c := mustCreateUser(t, s, fieldwatch.User{Username: "list.c"})
	bulkUser := mustCreateUser(t, s, fieldwatch.User{Username: "list.bulk"})

	// Positions around a centre at 40.2°N, at a distance and bearing
	// (degrees clockwise from north), placed in the local projection
	// (accurate to a fraction of a millimetre at this range).
	centre := geo.Point{Lon: 114.5, Lat: 40.2}
	lp := geo.NewLocalProjection(centre)
	at := func(metres, bearing float64) *geo.Point {
		sin, cos := math.Sincos(bearing * math.Pi / 180)
		p := lp.Unproject(metres*sin, metres*cos)
		return &p
	}
	const edge = 0.0015 // half-width of the box test, degrees
	T := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
	type fixture struct {
		name      string
		uploader  fieldwatch.User
		category  fieldwatch.Category
		received  time.Time
		loc       *geo.Point
		flags     []fieldwatch.Flag
		ct        string
		township  string
		reach     string
		wantDistM float64 // from centre, 0 to skip the check
	}
	fixtures := []fixture{
		{"a1", a, fieldwatch.CategoryDustSite, T.Add(1 * time.Hour), at(90, 0), []fieldwatch.Flag{fieldwatch.FlagEXIFMissing}, "image/jpeg", "T1", "", 90},
		{"a2", a, fieldwatch.CategoryOpenBurning, T.Add(2 * time.Hour), at(110, 90), nil, "image/jpeg", "", "R1", 110},
		{"a3", a, fieldwatch.CategoryRiverSection, T.Add(3 * time.Hour), nil, []fieldwatch.Flag{fieldwatch.FlagLocationMissing}, "image/heic", "", "", 0},
		{"b1", b, fieldwatch.CategoryDustSite, T.Add(4 * time.Hour), at(90, 225), nil, "image/webp", "T2", "", 90},
		{"b2", b, fieldwatch.CategoryRiverSection, T.Add(5 * time.Hour), at(99, 45), nil, "image/jpeg", "", "R2", 99},
		{"b3", b, fieldwatch.CategoryRiverSection, T.Add(5 * time.Hour), at(101, 135), nil, "image/png", "T1", "", 101},
		{"c1", c, fieldwatch.CategoryOpenBurning, T.Add(6 * time.Hour), &geo.Point{Lon: 114.8, Lat: 40.5}, // about 42 km away
			[]fieldwatch.Flag{fieldwatch.FlagOutsideCounty, fieldwatch.FlagMockLocation}, "image/jpeg", "", "R1", 0},
		{"c2", c, fieldwatch.CategoryDustSite, T.Add(6 * time.Hour), at(110, 270), nil, "image/jpeg", "T3", "", 110},
		{"c3", c, fieldwatch.CategoryOther, T.Add(7 * time.Hour), &geo.Point{Lon: centre.Lon + edge, Lat: centre.Lat}, nil, "image/png", "", "", 0},
		{"d1", c, fieldwatch.CategoryOther, T.Add(7 * time.Hour), &geo.Point{Lon: centre.Lon + edge + 1e-7, Lat: centre.Lat}, nil, "image/jpeg", "", "", 0},
	}
	byName := map[string]fieldwatch.Evidence{}
	var all []fieldwatch.Evidence
	for _, fx := range fixtures {
		if fx.wantDistM > 0 {
			if d := geo.Distance(centre, *fx.loc); math.Abs(d-fx.wantDistM) > 0.01 {
				t.Fatalf("fixture %s lies %.4f m from the centre, want %v", fx.name, d, fx.wantDistM)
			}
		}
		e := newEvidence(fx.uploader.ID, "list "+fx.name, fx.received)
		e.Category, e.Location, e.Flags, e.ContentType = fx.category, fx.loc, fx.flags, fx.ct
		if fx.loc != nil {
			e.LocationSource = fieldwatch.SourceEXIF
		}
		mustCommit(t, s, &e)
		if fx.township != "" || fx.reach != "" {
			if err := s.SetEvidenceLink(ctx, e.ID, fx.township, fx.reach); err != nil {
				t.Fatalf("SetEvidenceLink: %v", err)
			}
			e.TownshipCode, e.ReachCode = fx.township, fx.reach
		}
		byName[fx.name] = e
		all = append(all, e)
	}
	names := map[string]string{} // id → fixture name, for messages
	for n, e := range byName {
		names[e.ID] = n
	}

	// Enough rows for both limits to bite, with ties of three in
	// ReceivedAt, older than the named ones and of a type that gets no
	// thumbnails. Committed one after another: SQLite serialises writers
	// anyway, and concurrent ones would only sleep in its busy handler.
	const bulk = 505
	bulkBase := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	bulkRows := make([]fieldwatch.Evidence, bulk)
	for i := range bulkRows {
		e := newEvidence(bulkUser.ID, fmt.Sprint("bulk ", i), bulkBase.Add(time.Duration(i/3)*time.Second))
		e.ContentType = "image/heic"
		mustCommit(t, s, &e)
		bulkRows[i] = e
	}
	all = append(all, bulkRows...)
	newestFirst := func(x, y fieldwatch.Evidence) int {
		if c := y.ReceivedAt.Compare(x.ReceivedAt); c != 0 {
			return c
		}
		return strings.Compare(y.ID, x.ID)
	}
	slices.SortFunc(all, newestFirst)

	label := func(list []fieldwatch.Evidence) []string {
		out := make([]string, len(list))
		for i, e := range list {
			if n, ok := names[e.ID]; ok {
				out[i] = n
			} else {
				out[i] = "bulk:" + e.ID
			}
		}
		return out
	}
	sameList := func(t *testing.T, got, want []fieldwatch.Evidence) {
		t.Helper()
		if len(got) != len(want) {
			if len(got) < 20 && len(want) < 20 {
				t.Fatalf("got %v, want %v", label(got), label(want))
			}
			t.Fatalf("got %d rows, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID {
				t.Fatalf("row %d is %s, want %s (got %v)", i, label(got[i:i+1]), label(want[i:i+1]), label(got))
			}
			sameEvidence(t, got[i], want[i])
		}
	}
	// only lists the named fixtures in listing order.
	only := func(list ...string) []fieldwatch.Evidence {
		out := []fieldwatch.Evidence{}
		for _, e := range all {
			if slices.Contains(list, names[e.ID]) {
				out = append(out, e)
			}
		}
		return out
	}
	box := func(minLon, minLat, maxLon, maxLat float64) *geo.Box {
		return &geo.Box{MinLon: minLon, MinLat: minLat, MaxLon: maxLon, MaxLat: maxLat}
	}
	nobody := uuid.NewString()

	t.Run("Filters", func(t *testing.T) {
		tests := []struct {
			name string
			f    fieldwatch.EvidenceFilter
			want []fieldwatch.Evidence
		}{
			{"Category", fieldwatch.EvidenceFilter{Category: ptr(fieldwatch.CategoryDustSite)}, only("a1", "b1", "c2")},
			{"Uploader", fieldwatch.EvidenceFilter{UploaderID: &b.ID}, only("b1", "b2", "b3")},
			{"UploaderWithoutEvidence", fieldwatch.EvidenceFilter{UploaderID: &nobody}, only()},
			{"Flag", fieldwatch.EvidenceFilter{Flag: ptr(fieldwatch.FlagMockLocation)}, only("c1")},
			{"FlagOfSeveral", fieldwatch.EvidenceFilter{Flag: ptr(fieldwatch.FlagOutsideCounty)}, only("c1")},
			{"FlagNobodyHas", fieldwatch.EvidenceFilter{Flag: ptr(fieldwatch.FlagDuplicateOf)}, only()},
			{"TimeRangeHalfOpen", fieldwatch.EvidenceFilter{From: ptr(T.Add(2 * time.Hour)), To: ptr(T.Add(5 * time.Hour))}, only("a2", "a3", "b1")},
			{"From", fieldwatch.EvidenceFilter{From: ptr(T.Add(6 * time.Hour))}, only("c1", "c2", "c3", "d1")},
			{"BBoxEdgesIncluded", fieldwatch.EvidenceFilter{BBox: box(centre.Lon-edge, centre.Lat-edge, centre.Lon+edge, centre.Lat+edge)},
				only("a1", "a2", "b1", "b2", "b3", "c2", "c3")},
			{"BBoxNorthPart", fieldwatch.EvidenceFilter{BBox: box(centre.Lon-edge, centre.Lat+0.0001, centre.Lon+edge, centre.Lat+edge)},
				only("a1", "b2")},
			{"BBoxFar", fieldwatch.EvidenceFilter{BBox: box(114.7, 40.4, 114.9, 40.6)}, only("c1")},
			{"BBoxEmpty", fieldwatch.EvidenceFilter{BBox: box(100, 20, 101, 21)}, only()},
			{"BBoxPoint", fieldwatch.EvidenceFilter{BBox: box(114.8, 40.5, 114.8, 40.5)}, only("c1")},
			{"Near100m", fieldwatch.EvidenceFilter{Near: &centre, RadiusM: 100}, only("a1", "b1", "b2")},
			{"Near1km", fieldwatch.EvidenceFilter{Near: &centre, RadiusM: 1000}, only("a1", "a2", "b1", "b2", "b3", "c2", "c3", "d1")},
			{"Near50kmReachesFarPoint", fieldwatch.EvidenceFilter{Near: &centre, RadiusM: 50_000},
				only("a1", "a2", "b1", "b2", "b3", "c1", "c2", "c3", "d1")},
			{"Near1mAroundFarPoint", fieldwatch.EvidenceFilter{Near: &geo.Point{Lon: 114.8, Lat: 40.5}, RadiusM: 1}, only("c1")},
			{"NearAndCategory", fieldwatch.EvidenceFilter{Near: &centre, RadiusM: 100, Category: ptr(fieldwatch.CategoryDustSite)}, only("a1", "b1")},
			{"UploaderAndFlag", fieldwatch.EvidenceFilter{UploaderID: &c.ID, Flag: ptr(fieldwatch.FlagOutsideCounty)}, only("c1")},
			{"ScopeOwn", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{UserID: a.ID}}, only("a1", "a2", "a3")},
			{"ScopeTownship", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{UserID: nobody, Townships: []string{"T1"}}}, only("a1", "b3")},
			{"ScopeReach", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{UserID: nobody, Reaches: []string{"R1"}}}, only("a2", "c1")},
			{"ScopeAll", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{UserID: b.ID, Townships: []string{"T3", "T3"}, Reaches: []string{"R1"}}},
				only("a2", "b1", "b2", "b3", "c1", "c2")},
			{"ScopeEmptySeesNothing", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{}}, only()},
			{"ScopeBadUserIDOwnsNothing", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{UserID: "a1' OR '1'='1", Townships: []string{"T2"}}}, only("b1")},
			{"ScopeUnknownCodes", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{Townships: []string{"T9"}, Reaches: []string{"R9"}}}, only()},
			{"ScopeAndCategory", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{UserID: a.ID, Townships: []string{"T1"}},
				Category: ptr(fieldwatch.CategoryDustSite)}, only("a1")},
			{"ScopeAndBBox", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{UserID: c.ID},
				BBox: box(centre.Lon-edge, centre.Lat-edge, centre.Lon+edge, centre.Lat+edge)}, only("c2", "c3")},
			{"AfterTimeOnly", fieldwatch.EvidenceFilter{AfterTime: ptr(T.Add(5 * time.Hour)), From: &T}, only("a1", "a2", "a3", "b1")},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ListEvidence(ctx, tc.f)
				if err != nil {
					t.Fatalf("ListEvidence: %v", err)
				}
				if got == nil {
					t.Fatal("ListEvidence returned nil, want a slice")
				}
				sameList(t, got, tc.want)
			})
		}
	})

	t.Run("ScopedEvidenceByID", func(t *testing.T) {
		officer := &fieldwatch.Scope{UserID: nobody, Townships: []string{"T1"}}
		for name, want := range map[string]bool{"a1": true, "b3": true, "b1": false, "c1": false} {
			_, err := s.ScopedEvidenceByID(ctx, byName[name].ID, officer)
			if got := err == nil; got != want || (err != nil && !errors.Is(err, store.ErrNotFound)) {
				t.Errorf("ScopedEvidenceByID(%s) = %v, want visible=%v", name, err, want)
			}
		}
	})

	t.Run("KeysetPagination", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			limit int
			f     fieldwatch.EvidenceFilter
			want  []fieldwatch.Evidence
		}{
			{"All7", 7, fieldwatch.EvidenceFilter{}, all},
			{"All50", 50, fieldwatch.EvidenceFilter{}, all},
			{"All500", 500, fieldwatch.EvidenceFilter{}, all},
			{"TiesOneByOne", 1, fieldwatch.EvidenceFilter{From: ptr(T.Add(5 * time.Hour))}, only("b2", "b3", "c1", "c2", "c3", "d1")},
			{"BulkTies2", 2, fieldwatch.EvidenceFilter{UploaderID: &bulkUser.ID}, all[len(fixtures):]},
			// The page's ids are chosen before its rows are read: the
			// order and the cursor must hold through ties there too.
			{"BBoxOneByOne", 1, fieldwatch.EvidenceFilter{BBox: box(centre.Lon-edge, centre.Lat-edge, centre.Lon+edge, centre.Lat+edge)},
				only("a1", "a2", "b1", "b2", "b3", "c2", "c3")},
			{"BBoxByTwo", 2, fieldwatch.EvidenceFilter{BBox: box(centre.Lon-edge, centre.Lat-edge, centre.Lon+edge, centre.Lat+edge)},
				only("a1", "a2", "b1", "b2", "b3", "c2", "c3")},
			{"BulkScope3", 3, fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{UserID: bulkUser.ID}}, all[len(fixtures):]},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var got []fieldwatch.Evidence
				f := tc.f
				f.Limit = tc.limit
				for page := 0; ; page++ {
					if page > len(all) {
						t.Fatal("pagination does not end")
					}
					p, err := s.ListEvidence(ctx, f)
					if err != nil {
						t.Fatalf("page %d: %v", page, err)
					}
					if len(p) > tc.limit {
						t.Fatalf("page %d has %d rows, limit %d", page, len(p), tc.limit)
					}
					if len(p) == 0 {
						break
					}
					got = append(got, p...)
					last := p[len(p)-1]
					f.AfterTime, f.AfterID = &last.ReceivedAt, last.ID
				}
				sameList(t, got, tc.want)
			})
		}
	})

	t.Run("LimitClamped", func(t *testing.T) {
		for _, tc := range []struct {
			name  string
			limit int
			want  int
		}{
			{"ZeroMeansDefault", 0, store.DefaultEvidenceLimit},
			{"Negative", -5, 1},
			{"One", 1, 1},
			{"Max", store.MaxEvidenceLimit, store.MaxEvidenceLimit},
			{"AboveMax", store.MaxEvidenceLimit + 1, store.MaxEvidenceLimit},
			{"Huge", 1 << 30, store.MaxEvidenceLimit},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.ListEvidence(ctx, fieldwatch.EvidenceFilter{Limit: tc.limit})
				if err != nil {
					t.Fatalf("ListEvidence: %v", err)
				}
				sameList(t, got, all[:tc.want])
			})
		}
	})

	t.Run("InvalidFilter", func(t *testing.T) {
		nan := math.NaN()
		for _, tc := range []struct {
			name string
			f    fieldwatch.EvidenceFilter
		}{
			{"UnknownCategory", fieldwatch.EvidenceFilter{Category: ptr(fieldwatch.Category("x"))}},
			{"UnknownFlag", fieldwatch.EvidenceFilter{Flag: ptr(fieldwatch.Flag("x"))}},
			{"UploaderNotUUID", fieldwatch.EvidenceFilter{UploaderID: ptr("1; DROP TABLE evidence")}},
			{"BBoxNaN", fieldwatch.EvidenceFilter{BBox: box(nan, 40, 115, 41)}},
			{"BBoxInverted", fieldwatch.EvidenceFilter{BBox: box(115, 40, 114, 41)}},
			{"BBoxOutOfRange", fieldwatch.EvidenceFilter{BBox: box(114, 40, 181, 41)}},
			{"NearNaN", fieldwatch.EvidenceFilter{Near: &geo.Point{Lon: nan, Lat: 40}, RadiusM: 100}},
			{"NearLatOutOfRange", fieldwatch.EvidenceFilter{Near: &geo.Point{Lon: 114, Lat: 114}, RadiusM: 100}},
			{"RadiusZero", fieldwatch.EvidenceFilter{Near: &centre}},
			{"RadiusNegative", fieldwatch.EvidenceFilter{Near: &centre, RadiusM: -1}},
			{"RadiusNaN", fieldwatch.EvidenceFilter{Near: &centre, RadiusM: nan}},
			{"RadiusInf", fieldwatch.EvidenceFilter{Near: &centre, RadiusM: math.Inf(1)}},
			{"RadiusAboveMax", fieldwatch.EvidenceFilter{Near: &centre, RadiusM: store.MaxNearRadiusM * 1.01}},
			{"AfterIDNotUUID", fieldwatch.EvidenceFilter{AfterTime: &T, AfterID: "zzz"}},
			{"AfterIDWithoutTime", fieldwatch.EvidenceFilter{AfterID: byName["a1"].ID}},
			{"FromYear10000", fieldwatch.EvidenceFilter{From: ptr(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}},
			{"ScopeTownshipNUL", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{Townships: []string{"T1\x00"}}}},
			{"ScopeReachInvalidUTF8", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{Reaches: []string{"\xff"}}}},
			{"ScopeEmptyCode", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{Townships: []string{""}}}},
			{"ScopeTooManyCodes", fieldwatch.EvidenceFilter{Scope: &fieldwatch.Scope{Reaches: make([]string, store.MaxScopeCodes+1)}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if _, err := s.ListEvidence(ctx, tc.f); !errors.Is(err, fieldwatch.ErrInvalid) {
					t.Fatalf("ListEvidence = %v, want fieldwatch.ErrInvalid", err)
				}
			})
		}
	})

	// Last: it changes the thumbnails of the named rows.
	t.Run("NeedingThumbnails", func(t *testing.T) {
		need := func(t *testing.T, sizes []int, limit int, want ...string) {
			t.Helper()
			got, err := s.EvidenceNeedingThumbnails(ctx, sizes, Clock(), limit)
			if err != nil {
				t.Fatalf("EvidenceNeedingThumbnails(%v): %v", sizes, err)
			}
			oldestFirst := slices.Clone(only(want...))
			slices.Reverse(oldestFirst)
			if limit > 0 && len(oldestFirst) > limit {
				oldestFirst = oldestFirst[:limit]
			}
			if !slices.Equal(label(got), label(oldestFirst)) {
				t.Fatalf("EvidenceNeedingThumbnails(%v, %d) = %v, want %v", sizes, limit, label(got), label(oldestFirst))
			}
		}
		images := []string{"a1", "a2", "b1", "b2", "b3", "c1", "c2", "c3", "d1"} // a3 is HEIC, bulk too
		need(t, []int{320, 1280}, 0, images...)
		need(t, []int{320, 1280}, 2, images...)
		for name, sizes := range map[string][]int{"a1": {320, 1280}, "a2": {1280, 640, 320}, "b1": {320}, "a3": {320, 1280}} {
			if err := s.SetThumbnails(ctx, byName[name].ID, sizes); err != nil {
				t.Fatalf("SetThumbnails(%s): %v", name, err)
			}
		}
		need(t, []int{320, 1280}, 0, "b1", "b2", "b3", "c1", "c2", "c3", "d1")
		need(t, []int{1280, 320, 320}, 0, "b1", "b2", "b3", "c1", "c2", "c3", "d1")
		need(t, []int{320}, 0, "b2", "b3", "c1", "c2", "c3", "d1")
		need(t, []int{640}, 0, "a1", "b1", "b2", "b3", "c1", "c2", "c3", "d1")
		need(t, nil, 0)
		if got := mustEvidenceByID(t, s, byName["a2"].ID).Thumbnails; !slices.Equal(got, []int{320, 640, 1280}) {
			t.Errorf("a2 thumbnails = %v", got)
		}
		if _, err := s.EvidenceNeedingThumbnails(ctx, []int{0}, Clock(), 0); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Errorf("EvidenceNeedingThumbnails([0]) = %v, want fieldwatch.ErrInvalid", err)
		}
	})
}
