package api

import (
	"context"

	"github.com/fieldwatch/fieldwatch/inspect"
)

// Reviewer records and reads evidence reviews.
type Reviewer interface {
	AddReview(ctx context.Context, r *inspect.Review) error
	Reviews(ctx context.Context, evidenceID string) ([]inspect.Review, error)
}

// ReviewEvidence records an administrator's decision beside the evidence.
func (s *Server) ReviewEvidence(ctx context.Context, req ReviewEvidenceRequestObject) (ReviewEvidenceResponseObject, error) {
	p := actor(ctx)
	e, err := s.visibleEvidence(ctx, req.Id.String())
	if err != nil {
		return nil, err
	}
	r := inspect.Review{EvidenceID: e.ID, ReviewerID: p.UserID, Decision: inspect.Decision(req.Body.Decision), At: s.now()}
	if req.Body.Note != nil {
		if r.Note, err = inspect.CleanText("note", *req.Body.Note, 2000, true); err != nil {
			return nil, err
		}
	}
	if err := s.cfg.Reviews.AddReview(ctx, &r); err != nil {
		return nil, err
	}
	return ReviewEvidence201JSONResponse(reviewOut(r)), nil
}

// ListEvidenceReviews returns the review history of evidence in scope.
func (s *Server) ListEvidenceReviews(ctx context.Context, req ListEvidenceReviewsRequestObject) (ListEvidenceReviewsResponseObject, error) {
	e, err := s.visibleEvidence(ctx, req.Id.String())
	if err != nil {
		return nil, err
	}
	rs, err := s.cfg.Reviews.Reviews(ctx, e.ID)
	if err != nil {
		return nil, err
	}
	out := make(ListEvidenceReviews200JSONResponse, 0, len(rs))
	for _, r := range rs {
		out = append(out, reviewOut(r))
	}
	return out, nil
}

func reviewOut(r inspect.Review) Review {
	return Review{Id: mustUUID(r.ID), EvidenceId: mustUUID(r.EvidenceID), ReviewerId: mustUUID(r.ReviewerID),
		Decision: ReviewDecision(r.Decision), Note: r.Note, At: r.At}
}
