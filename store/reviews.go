package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fieldwatch/fieldwatch"
)

// AddReview records a decision on evidence and appends it to the audit
// trail in the same transaction. It sets r.ID. Returns ErrNotFound for
// unknown evidence or reviewer, ErrInvalid for an unknown decision.
func (s *Store) AddReview(ctx context.Context, r *fieldwatch.Review) error {
	if !r.Decision.Valid() {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "unknown decision %q", r.Decision)
	}
	if err := errors.Join(checkText("note", r.Note), checkTime("at", r.At)); err != nil {
		return err
	}
	eid, ok1 := parseID(r.EvidenceID)
	rid, ok2 := parseID(r.ReviewerID)
	if !ok1 || !ok2 {
		return fmt.Errorf("store: add review: %w", ErrNotFound)
	}
	id, err := newID()
	if err != nil {
		return err
	}
	data, err := json.Marshal(map[string]string{"decision": string(r.Decision), "note": r.Note})
	if err != nil {
		return err
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO evidence_reviews (id, evidence_id, reviewer_id, decision, note, at) VALUES (?, ?, ?, ?, ?, ?)`),
			id, eid, rid, string(r.Decision), r.Note, s.d.timeArg(r.At)); err != nil {
			return err
		}
		return s.appendAudit(ctx, tx, &fieldwatch.AuditEvent{At: r.At, ActorID: r.ReviewerID, Action: "evidence.review",
			ObjectType: "evidence", ObjectID: r.EvidenceID, Data: data})
	})
	if err != nil {
		return s.fail("add review", err)
	}
	r.ID = id
	r.At = roundTime(r.At.UTC())
	return nil
}

// Reviews returns the review history of evidence, oldest first.
func (s *Store) Reviews(ctx context.Context, evidenceID string) ([]fieldwatch.Review, error) {
	eid, ok := parseID(evidenceID)
	if !ok {
		return []fieldwatch.Review{}, nil
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, evidence_id, reviewer_id, decision, note, at
		FROM evidence_reviews WHERE evidence_id = ? ORDER BY at, id`), eid)
	if err != nil {
		return nil, s.fail("reviews", err)
	}
	defer rows.Close()
	out := []fieldwatch.Review{}
	for rows.Next() {
		var r fieldwatch.Review
		var d string
		if err := rows.Scan(&r.ID, &r.EvidenceID, &r.ReviewerID, &d, &r.Note, timeScan{t: &r.At}); err != nil {
			return nil, s.fail("reviews", err)
		}
		r.Decision = fieldwatch.Decision(d)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("reviews", err)
	}
	return out, nil
}
