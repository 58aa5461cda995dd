package storetest

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/store"
)

// responsibility returns a full record whose numbers need every digit of
// a double, with a chief id in upper case (stored canonical).
func responsibility(chief1, chief2 string) fieldwatch.Responsibility {
	return fieldwatch.Responsibility{
		TownshipCode: "130227101",
		TownshipName: "兴城镇",
		Zone:         fieldwatch.ZoneCore,
		ReachCode:    "LH-01",
		ReachName:    "滦河兴城镇段 \"north\"",
		ReachDistM:   12.345678901234567,
		Chiefs: []fieldwatch.ChiefRef{
			{UserID: strings.ToUpper(chief1), Name: "张三", Level: fieldwatch.ChiefCounty},
			{UserID: chief2, Name: "", Level: fieldwatch.ChiefVillage},
		},
		Candidates: []fieldwatch.ReachCandidate{
			{Code: "LH-01", DistanceM: 12.345678901234567},
			{Code: "LH-02", DistanceM: 1e-7},
			{Code: "SH-01", DistanceM: 123456.78900000001},
		},
		Method:  "exif-point-in-polygon",
		Version: 7,
	}
}

// stored returns r as the store keeps it: chief ids canonical.
func stored(r fieldwatch.Responsibility) *fieldwatch.Responsibility {
	chiefs := make([]fieldwatch.ChiefRef, len(r.Chiefs))
	for i, c := range r.Chiefs {
		c.UserID = strings.ToLower(c.UserID)
		chiefs[i] = c
	}
	r.Chiefs = chiefs
	if r.Candidates == nil {
		r.Candidates = []fieldwatch.ReachCandidate{}
	}
	return &r
}

func testResponsibility(t *testing.T, s *store.Store) {
	ctx := t.Context()
	u := mustCreateUser(t, s, fieldwatch.User{Username: "resp.owner"})
	other := mustCreateUser(t, s, fieldwatch.User{Username: "resp.other"})
	chief1, chief2 := uuid.NewString(), uuid.NewString()
	full := responsibility(chief1, chief2)

	t.Run("CommitRoundTrip", func(t *testing.T) {
		e := newEvidence(u.ID, "resp commit", Clock())
		r := full
		e.Responsibility = &r
		mustCommit(t, s, &e)
		if got := e.Responsibility.Chiefs[0].UserID; got != chief1 {
			t.Errorf("committed chief id %q, want canonical %q", got, chief1)
		}
		if r.Chiefs[0].UserID != strings.ToUpper(chief1) {
			t.Error("CommitEvidence changed the caller's responsibility")
		}
		want := newEvidence(u.ID, "resp commit", Clock())
		want.ID, want.Flags, want.Thumbnails, want.EXIF.Problems = e.ID, []fieldwatch.Flag{}, []int{}, []string{}
		want.TownshipCode, want.ReachCode = "130227101", "LH-01"
		want.Responsibility = stored(full)
		sameEvidence(t, e, want)
		sameEvidence(t, mustEvidenceByID(t, s, e.ID), want)
		list, err := s.ListEvidence(ctx, fieldwatch.EvidenceFilter{UploaderID: &u.ID})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, x := range list {
			if x.ID == e.ID {
				found = true
				sameEvidence(t, x, want)
			}
		}
		if !found {
			t.Fatal("ListEvidence lacks the evidence")
		}
		// The reach's chief sees it through the codes taken from the record.
		if _, err := s.ScopedEvidenceByID(ctx, e.ID, &fieldwatch.Scope{UserID: other.ID, Reaches: []string{"LH-01"}}); err != nil {
			t.Fatalf("evidence not visible in its reach's scope: %v", err)
		}
	})

	t.Run("CommitEmptyRecord", func(t *testing.T) {
		e := newEvidence(u.ID, "resp empty", Clock())
		e.Responsibility = &fieldwatch.Responsibility{Method: "none"}
		mustCommit(t, s, &e)
		want := &fieldwatch.Responsibility{Method: "none", Chiefs: []fieldwatch.ChiefRef{}, Candidates: []fieldwatch.ReachCandidate{}}
		got := mustEvidenceByID(t, s, e.ID)
		sameStruct(t, "Responsibility", *got.Responsibility, *want)
		if got.TownshipCode != "" || got.ReachCode != "" {
			t.Errorf("codes %q, %q; want none", got.TownshipCode, got.ReachCode)
		}
	})

	t.Run("CommitCodesMustMatch", func(t *testing.T) {
		for _, codes := range [][2]string{{"130227102", ""}, {"", "LH-02"}} {
			e := newEvidence(u.ID, "resp mismatch "+codes[0]+codes[1], Clock())
			r := full
			e.Responsibility, e.TownshipCode, e.ReachCode = &r, codes[0], codes[1]
			key := uuid.NewString()
			sub := mustClaim(t, s, u.ID, key, Clock())
			if err := s.CommitEvidence(ctx, &e, key, sub.Attempt, hash("fp "+key)); !errors.Is(err, fieldwatch.ErrInvalid) {
				t.Errorf("CommitEvidence with codes %q = %v, want fieldwatch.ErrInvalid", codes, err)
			}
		}
		e := newEvidence(u.ID, "resp match", Clock())
		r := full
		e.Responsibility, e.TownshipCode, e.ReachCode = &r, full.TownshipCode, full.ReachCode
		mustCommit(t, s, &e)
	})

	t.Run("Set", func(t *testing.T) {
		e := newEvidence(u.ID, "resp set", Clock())
		mustCommit(t, s, &e)
		if got := mustEvidenceByID(t, s, e.ID); got.Responsibility != nil {
			t.Fatalf("Responsibility before linking = %+v, want nil", got.Responsibility)
		}
		if err := s.SetEvidenceResponsibility(ctx, e.ID, full); err != nil {
			t.Fatalf("SetEvidenceResponsibility: %v", err)
		}
		want := e
		want.TownshipCode, want.ReachCode, want.Responsibility = full.TownshipCode, full.ReachCode, stored(full)
		sameEvidence(t, mustEvidenceByID(t, s, e.ID), want)

		// A new record replaces the old, codes and all; none clears them.
		outside := fieldwatch.Responsibility{ReachCode: "SH-01", ReachDistM: 40, Method: "device-nearest-reach", Version: 8,
			Candidates: []fieldwatch.ReachCandidate{{Code: "SH-01", DistanceM: 40}}}
		if err := s.SetEvidenceResponsibility(ctx, e.ID, outside); err != nil {
			t.Fatalf("SetEvidenceResponsibility: %v", err)
		}
		want.TownshipCode, want.ReachCode, want.Responsibility = "", "SH-01", stored(outside)
		want.Responsibility.Chiefs = []fieldwatch.ChiefRef{}
		sameEvidence(t, mustEvidenceByID(t, s, e.ID), want)

		// A manual link drops the record that no longer explains it.
		if err := s.SetEvidenceLink(ctx, e.ID, "130227103", "LH-02"); err != nil {
			t.Fatalf("SetEvidenceLink: %v", err)
		}
		want.TownshipCode, want.ReachCode, want.Responsibility = "130227103", "LH-02", nil
		sameEvidence(t, mustEvidenceByID(t, s, e.ID), want)
	})

	t.Run("SetInvalid", func(t *testing.T) {
		e := newEvidence(u.ID, "resp invalid", Clock())
		r := full
		e.Responsibility = &r
		mustCommit(t, s, &e)
		with := func(f func(*fieldwatch.Responsibility)) fieldwatch.Responsibility {
			r := responsibility(chief1, chief2)
			f(&r)
			return r
		}
		many := make([]fieldwatch.ReachCandidate, 17)
		for i := range many {
			many[i] = fieldwatch.ReachCandidate{Code: "LH-01", DistanceM: float64(i)}
		}
		tests := []struct {
			name string
			r    fieldwatch.Responsibility
		}{
			{"NaNDistance", with(func(r *fieldwatch.Responsibility) { r.ReachDistM = math.NaN() })},
			{"InfiniteDistance", with(func(r *fieldwatch.Responsibility) { r.ReachDistM = math.Inf(1) })},
			{"NegativeDistance", with(func(r *fieldwatch.Responsibility) { r.ReachDistM = -1 })},
			{"UnknownZone", with(func(r *fieldwatch.Responsibility) { r.Zone = "downtown" })},
			{"ChiefNotUUID", with(func(r *fieldwatch.Responsibility) { r.Chiefs[1].UserID = "li.si" })},
			{"ChiefUnknownLevel", with(func(r *fieldwatch.Responsibility) { r.Chiefs[0].Level = "province" })},
			{"ChiefNameNUL", with(func(r *fieldwatch.Responsibility) { r.Chiefs[0].Name = "张\x00" })},
			{"CandidateEmptyCode", with(func(r *fieldwatch.Responsibility) { r.Candidates[2].Code = "" })},
			{"CandidateNaN", with(func(r *fieldwatch.Responsibility) { r.Candidates[0].DistanceM = math.NaN() })},
			{"TooManyCandidates", with(func(r *fieldwatch.Responsibility) { r.Candidates = many })},
			{"NegativeVersion", with(func(r *fieldwatch.Responsibility) { r.Version = -1 })},
			{"MethodInvalidUTF8", with(func(r *fieldwatch.Responsibility) { r.Method = "\xff" })},
			{"ReachCodeNUL", with(func(r *fieldwatch.Responsibility) { r.ReachCode = "LH\x00" })},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if err := s.SetEvidenceResponsibility(ctx, e.ID, tc.r); !errors.Is(err, fieldwatch.ErrInvalid) {
					t.Fatalf("SetEvidenceResponsibility = %v, want fieldwatch.ErrInvalid", err)
				}
				x := newEvidence(u.ID, "resp invalid commit "+tc.name, Clock())
				x.Responsibility = &tc.r
				key := uuid.NewString()
				sub := mustClaim(t, s, u.ID, key, Clock())
				if err := s.CommitEvidence(ctx, &x, key, sub.Attempt, hash("fp "+key)); !errors.Is(err, fieldwatch.ErrInvalid) {
					t.Fatalf("CommitEvidence = %v, want fieldwatch.ErrInvalid", err)
				}
			})
		}
		sameEvidence(t, mustEvidenceByID(t, s, e.ID), e)
	})

	t.Run("SetNotFound", func(t *testing.T) {
		for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
			if err := s.SetEvidenceResponsibility(ctx, id, full); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("SetEvidenceResponsibility(%q) = %v, want ErrNotFound", id, err)
			}
		}
	})
}
