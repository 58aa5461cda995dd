package fieldwatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// archiveStore is an in-memory ArchiveStore.
type archiveStore struct {
	evidence map[string]Evidence
	reviews  []Review
	filters  []EvidenceFilter
}

func (s *archiveStore) EvidenceByID(_ context.Context, id string) (Evidence, error) {
	e, ok := s.evidence[id]
	if !ok {
		return Evidence{}, fmt.Errorf("evidence %s: %w", id, ErrNotFound)
	}
	return e, nil
}

func (s *archiveStore) ListEvidence(_ context.Context, f EvidenceFilter) ([]Evidence, error) {
	s.filters = append(s.filters, f)
	var out []Evidence
	for _, e := range s.evidence {
		if f.Scope.SeesEvidence(e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *archiveStore) AddReview(_ context.Context, r *Review) error {
	r.ID = fmt.Sprintf("r%d", len(s.reviews)+1)
	s.reviews = append(s.reviews, *r)
	return nil
}

func (s *archiveStore) Reviews(_ context.Context, evidenceID string) ([]Review, error) {
	var out []Review
	for _, r := range s.reviews {
		if r.EvidenceID == evidenceID {
			out = append(out, r)
		}
	}
	return out, nil
}

func newTestArchive() (*Archive, *archiveStore, time.Time) {
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	st := &archiveStore{evidence: map[string]Evidence{
		"home":  {ID: "home", UploaderID: "u-ins", TownshipCode: "T1"},
		"river": {ID: "river", UploaderID: "u-x", TownshipCode: "T2", ReachCode: "R1"},
		"away":  {ID: "away", UploaderID: "u-x", TownshipCode: "T9"},
	}}
	return NewArchive(st, func() time.Time { return now }), st, now
}

var (
	arAdmin   = Actor{UserID: "u-admin", Role: RoleAdmin}
	arOfficer = Actor{UserID: "u-off", Role: RoleTownshipOfficer, Townships: []string{"T1"}}
	arChief   = Actor{UserID: "u-chief", Role: RoleRiverChief, Reaches: []string{"R1"}}
	arOwnerOf = Actor{UserID: "u-ins", Role: RoleInspector}
)

func TestArchiveEvidence(t *testing.T) {
	tests := []struct {
		name string
		a    Actor
		id   string
		want error
	}{
		{"OK_Admin", arAdmin, "away", nil},
		{"OK_Township", arOfficer, "home", nil},
		{"OK_Reach", arChief, "river", nil},
		{"OK_OwnUpload", arOwnerOf, "home", nil},
		{"ErrNotFound_OutsideScope", arOfficer, "away", ErrNotFound},
		{"ErrNotFound_ReachOfficerDoesNotHold", arOfficer, "river", ErrNotFound},
		{"ErrNotFound_Missing", arAdmin, "nope", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ar, _, _ := newTestArchive()
			e, err := ar.Evidence(t.Context(), tt.a, tt.id)
			if !errors.Is(err, tt.want) || (tt.want == nil && (err != nil || e.ID != tt.id)) {
				t.Fatalf("Evidence = %+v, %v; want %v", e, err, tt.want)
			}
		})
	}
}

func TestArchiveList(t *testing.T) {
	ar, st, _ := newTestArchive()
	// A caller's filter cannot widen the scope.
	es, err := ar.List(t.Context(), arChief, EvidenceFilter{Scope: nil, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || es[0].ID != "river" {
		t.Errorf("chief lists %+v, want river only", es)
	}
	if sc := st.filters[0].Scope; sc == nil || sc.UserID != arChief.UserID || len(sc.Reaches) != 1 {
		t.Errorf("scope = %+v", sc)
	}
	if _, err := ar.List(t.Context(), arAdmin, EvidenceFilter{Scope: &Scope{}}); err != nil || st.filters[1].Scope != nil {
		t.Errorf("admin scope = %+v, %v; want nil", st.filters[1].Scope, err)
	}
}

func TestArchiveReview(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		ar, st, now := newTestArchive()
		r, err := ar.Review(t.Context(), arAdmin, "away", ReviewRequest{Decision: DecisionRejected, Note: "blurred\u200b photo"})
		if err != nil {
			t.Fatal(err)
		}
		want := Review{ID: "r1", EvidenceID: "away", ReviewerID: arAdmin.UserID, Decision: DecisionRejected, Note: "blurred photo", At: now}
		if r != want || len(st.reviews) != 1 {
			t.Errorf("review = %+v, want %+v", r, want)
		}
		hist, err := ar.Reviews(t.Context(), arAdmin, "away")
		if err != nil || len(hist) != 1 || hist[0] != want {
			t.Errorf("Reviews = %+v, %v", hist, err)
		}
	})
	tests := []struct {
		name string
		a    Actor
		id   string
		note string
		want error
	}{
		{"ErrForbidden_NotAdmin", arOfficer, "home", "", ErrForbidden},
		{"ErrNotFound_Missing", arAdmin, "nope", "", ErrNotFound},
		{"ErrInvalid_NoteTooLong", arAdmin, "home", strings.Repeat("水", 2001), ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ar, st, _ := newTestArchive()
			if _, err := ar.Review(t.Context(), tt.a, tt.id, ReviewRequest{Decision: DecisionAccepted, Note: tt.note}); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if len(st.reviews) != 0 {
				t.Error("a refused review was recorded")
			}
		})
	}
	t.Run("ErrNotFound_HistoryOutsideScope", func(t *testing.T) {
		ar, _, _ := newTestArchive()
		if _, err := ar.Reviews(t.Context(), arChief, "home"); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}
