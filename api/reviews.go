package api

import (
	"context"

	"github.com/fieldwatch/fieldwatch"
)

// ReviewEvidence records an administrator's decision beside the evidence.
func (s *Server) ReviewEvidence(ctx context.Context, req ReviewEvidenceRequestObject) (ReviewEvidenceResponseObject, error) {
	rr := fieldwatch.ReviewRequest{Decision: fieldwatch.Decision(req.Body.Decision)}
	if req.Body.Note != nil {
		rr.Note = *req.Body.Note
	}
	r, err := s.cfg.Evidence.Review(ctx, actor(ctx), req.Id.String(), rr)
	if err != nil {
		return nil, err
	}
	return ReviewEvidence201JSONResponse(reviewOut(r)), nil
}

// ListEvidenceReviews returns the review history of evidence in scope.
func (s *Server) ListEvidenceReviews(ctx context.Context, req ListEvidenceReviewsRequestObject) (ListEvidenceReviewsResponseObject, error) {
	rs, err := s.cfg.Evidence.Reviews(ctx, actor(ctx), req.Id.String())
	if err != nil {
		return nil, err
	}
	out := make(ListEvidenceReviews200JSONResponse, 0, len(rs))
	for _, r := range rs {
		out = append(out, reviewOut(r))
	}
	return out, nil
}

func reviewOut(r fieldwatch.Review) Review {
	return Review{Id: mustUUID(r.ID), EvidenceId: mustUUID(r.EvidenceID), ReviewerId: mustUUID(r.ReviewerID),
		Decision: ReviewDecision(r.Decision), Note: r.Note, At: r.At}
}
