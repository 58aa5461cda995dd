package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/store"
)

// testThumbnailTries needs a store of its own: it lists every evidence
// needing thumbnails.
func testThumbnailTries(t *testing.T, s *store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, fieldwatch.User{Username: "thumbs"})
	t0 := Clock().Truncate(time.Microsecond)
	var ids []string
	for i, seed := range []string{"t-old", "t-mid", "t-new"} {
		e := newEvidence(u.ID, seed, t0.Add(time.Duration(i)*time.Minute))
		mustCommit(t, s, &e)
		ids = append(ids, e.ID)
	}
	due := func(t *testing.T, at time.Time, want ...string) {
		t.Helper()
		got, err := s.EvidenceNeedingThumbnails(ctx, fieldwatch.ThumbnailSizes(), at, 0)
		if err != nil {
			t.Fatal(err)
		}
		var gotIDs []string
		for _, e := range got {
			gotIDs = append(gotIDs, e.ID)
		}
		if !slices.Equal(gotIDs, want) {
			t.Fatalf("due at %v = %v, want %v", at, gotIDs, want)
		}
	}
	due(t, t0, ids...)

	next := t0.Add(10 * time.Minute)
	tries := fieldwatch.ThumbnailTries{Attempts: 1, NextAt: &next, Error: "the image cannot be decoded"}
	if err := s.SetThumbnailTries(ctx, ids[0], tries); err != nil {
		t.Fatal(err)
	}
	if got := mustEvidenceByID(t, s, ids[0]).ThumbnailTries; !sameTries(got, tries) {
		t.Fatalf("ThumbnailTries = %+v, want %+v", got, tries)
	}
	// Backed off until NextAt, then after the photos never failed.
	due(t, t0, ids[1], ids[2])
	due(t, next, ids[1], ids[2], ids[0])

	gaveUp := fieldwatch.ThumbnailTries{Attempts: 5, Error: "the image cannot be decoded", GaveUp: fieldwatch.ThumbnailFailed}
	if err := s.SetThumbnailTries(ctx, ids[0], gaveUp); err != nil {
		t.Fatal(err)
	}
	e := mustEvidenceByID(t, s, ids[0])
	if !sameTries(e.ThumbnailTries, gaveUp) || e.ThumbnailState() != fieldwatch.ThumbnailFailed {
		t.Fatalf("given up: %+v, state %s", e.ThumbnailTries, e.ThumbnailState())
	}
	due(t, next.Add(time.Hour), ids[1], ids[2])
	if err := s.SetThumbnailTries(ctx, ids[1], fieldwatch.ThumbnailTries{Attempts: 1, GaveUp: fieldwatch.ThumbnailUnsupported}); err != nil {
		t.Fatal(err)
	}
	due(t, next, ids[2])

	// Success clears the record.
	if err := s.SetThumbnails(ctx, ids[0], fieldwatch.ThumbnailSizes()); err != nil {
		t.Fatal(err)
	}
	e = mustEvidenceByID(t, s, ids[0])
	if !sameTries(e.ThumbnailTries, fieldwatch.ThumbnailTries{}) || e.ThumbnailState() != fieldwatch.ThumbnailReady {
		t.Fatalf("after SetThumbnails: %+v, state %s", e.ThumbnailTries, e.ThumbnailState())
	}

	for name, tr := range map[string]fieldwatch.ThumbnailTries{
		"NegativeAttempts": {Attempts: -1},
		"GaveUpPending":    {GaveUp: fieldwatch.ThumbnailPending},
		"GaveUpUnknown":    {GaveUp: "later"},
		"ErrorNUL":         {Error: "bad\x00"},
		"ErrorTooLong":     {Error: strings.Repeat("x", 501)},
	} {
		if err := s.SetThumbnailTries(ctx, ids[2], tr); !errors.Is(err, fieldwatch.ErrInvalid) {
			t.Errorf("SetThumbnailTries(%s) = %v, want fieldwatch.ErrInvalid", name, err)
		}
	}
	if err := s.SetThumbnailTries(ctx, "00000000-0000-7000-8000-000000000000", fieldwatch.ThumbnailTries{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetThumbnailTries(unknown) = %v, want ErrNotFound", err)
	}
}

func sameTries(a, b fieldwatch.ThumbnailTries) bool {
	if (a.NextAt == nil) != (b.NextAt == nil) || a.NextAt != nil && !a.NextAt.Equal(*b.NextAt) {
		return false
	}
	a.NextAt, b.NextAt = nil, nil
	return a == b
}
