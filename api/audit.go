package api

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// AuditLog reads the tamper-evident audit trail.
type AuditLog interface {
	AuditQuery(ctx context.Context, f fieldwatch.AuditFilter) ([]fieldwatch.AuditEvent, error)
	AuditHead(ctx context.Context) (seq int64, hash []byte, at time.Time, err error)
}

// ListAudit pages through the audit trail in chain order.
func (s *Server) ListAudit(ctx context.Context, req ListAuditRequestObject) (ListAuditResponseObject, error) {
	l := s.cfg.Audit
	prm := req.Params
	if err := checkTimeRange(prm.From, prm.To); err != nil {
		return nil, err
	}
	f := fieldwatch.AuditFilter{Action: prm.Action, ObjectType: prm.ObjectType, ObjectID: prm.ObjectId, From: prm.From, To: prm.To}
	if prm.After != nil {
		f.After = *prm.After
	}
	if prm.Actor != nil {
		a := prm.Actor.String()
		f.ActorID = &a
	}
	limit := 50
	if prm.Limit != nil {
		limit = *prm.Limit
	}
	// One more than asked tells whether another page follows, so the
	// last page carries no next_after.
	f.Limit = limit + 1
	evs, err := l.AuditQuery(ctx, f)
	if err != nil {
		return nil, err
	}
	page := AuditPage{Items: make([]AuditEvent, 0, min(len(evs), limit))}
	if len(evs) > limit {
		evs = evs[:limit]
		next := evs[limit-1].Seq
		page.NextAfter = &next
	}
	for _, e := range evs {
		item, err := auditOut(e)
		if err != nil {
			return nil, err
		}
		page.Items = append(page.Items, item)
	}
	return ListAudit200JSONResponse(page), nil
}

// GetAuditHead returns the newest event's seq and hash, for safekeeping
// outside the database.
func (s *Server) GetAuditHead(ctx context.Context, req GetAuditHeadRequestObject) (GetAuditHeadResponseObject, error) {
	l := s.cfg.Audit
	seq, hash, at, err := l.AuditHead(ctx)
	if err != nil {
		return nil, err
	}
	out := AuditHead{Seq: seq, Hash: hex.EncodeToString(hash)}
	if seq != 0 {
		out.At = &at
	}
	return GetAuditHead200JSONResponse(out), nil
}

// auditOut is the wire form of an event: details decoded from the stored
// canonical JSON, hashes in hex.
func auditOut(e fieldwatch.AuditEvent) (AuditEvent, error) {
	out := AuditEvent{Seq: e.Seq, At: e.At, Action: e.Action, ObjectType: e.ObjectType, ObjectId: e.ObjectID,
		PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash)}
	if e.ActorID != "" {
		a := e.ActorID
		out.Actor = &a
	}
	// UseNumber keeps integers beyond 2^53 (sizes, versions) exact.
	dec := json.NewDecoder(bytes.NewReader(e.Data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return AuditEvent{}, err
	}
	switch d := v.(type) {
	case map[string]any:
		out.Details = d
	default:
		// Every writer records an object; anything else is shown as is
		// rather than hidden.
		out.Details = map[string]any{"value": d}
	}
	return out, nil
}
