package fieldwatch

import (
	"context"
	"fmt"
	"time"
)

// ArchiveStore is what reading and reviewing evidence needs of
// persistence.
type ArchiveStore interface {
	// EvidenceByID returns evidence, or an error matching ErrNotFound.
	EvidenceByID(ctx context.Context, id string) (Evidence, error)
	// ListEvidence returns a page of evidence matching f, within f.Scope.
	ListEvidence(ctx context.Context, f EvidenceFilter) ([]Evidence, error)
	// AddReview records a decision (setting r.ID) and appends it to the
	// audit trail; an unknown decision is ErrInvalid.
	AddReview(ctx context.Context, r *Review) error
	// Reviews returns the review history of evidence, oldest first.
	Reviews(ctx context.Context, evidenceID string) ([]Review, error)
}

// Archive is stored evidence as its readers see it: one item or a page
// within the actor's scope, and its reviews. Evidence outside the scope
// is not found, exactly like a missing id, so its existence does not
// leak.
type Archive struct {
	store ArchiveStore
	clock func() time.Time
}

// NewArchive returns the archive over st; clock stamps reviews (nil:
// time.Now).
func NewArchive(st ArchiveStore, clock func() time.Time) *Archive {
	if clock == nil {
		clock = time.Now
	}
	return &Archive{store: st, clock: clock}
}

// Evidence returns one piece of evidence in a's scope (see
// Actor.EvidenceScope); anything else is ErrNotFound.
func (ar *Archive) Evidence(ctx context.Context, a Actor, id string) (Evidence, error) {
	e, err := ar.store.EvidenceByID(ctx, id)
	if err != nil {
		return Evidence{}, err
	}
	if !a.EvidenceScope().SeesEvidence(e) {
		return Evidence{}, fmt.Errorf("fieldwatch: evidence outside scope: %w", ErrNotFound)
	}
	return e, nil
}

// List returns a page of evidence matching f within a's scope, whatever
// f.Scope said.
func (ar *Archive) List(ctx context.Context, a Actor, f EvidenceFilter) ([]Evidence, error) {
	f.Scope = a.EvidenceScope()
	return ar.store.ListEvidence(ctx, f)
}

// ReviewRequest is an administrator's decision on evidence.
type ReviewRequest struct {
	Decision Decision
	Note     string // up to 2000 characters; "" for none
}

// Review records an administrator's decision beside evidence in their
// scope. Evidence is never changed by a review; the latest one is its
// review state.
func (ar *Archive) Review(ctx context.Context, a Actor, evidenceID string, req ReviewRequest) (Review, error) {
	if !a.Is(RoleAdmin) {
		return Review{}, Errorf(EFORBIDDEN, "only administrators review evidence")
	}
	e, err := ar.Evidence(ctx, a, evidenceID)
	if err != nil {
		return Review{}, err
	}
	note, err := CleanText("note", req.Note, 2000, true)
	if err != nil {
		return Review{}, err
	}
	r := Review{EvidenceID: e.ID, ReviewerID: a.UserID, Decision: req.Decision, Note: note, At: ar.clock()}
	if err := ar.store.AddReview(ctx, &r); err != nil {
		return Review{}, err
	}
	return r, nil
}

// Reviews returns the review history of evidence in a's scope, oldest
// first.
func (ar *Archive) Reviews(ctx context.Context, a Actor, evidenceID string) ([]Review, error) {
	e, err := ar.Evidence(ctx, a, evidenceID)
	if err != nil {
		return nil, err
	}
	return ar.store.Reviews(ctx, e.ID)
}
