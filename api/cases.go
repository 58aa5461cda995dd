package api

import (
	"context"

	"github.com/oapi-codegen/runtime/types"

	"github.com/fieldwatch/fieldwatch"
)

// Casework runs rectification cases (fieldwatch.Casework): the rules of who
// may do what live there, not here.
type Casework interface {
	Open(ctx context.Context, a fieldwatch.Actor, req fieldwatch.CaseRequest) (fieldwatch.Case, error)
	Get(ctx context.Context, a fieldwatch.Actor, id string) (fieldwatch.Case, []fieldwatch.CaseEvent, error)
	List(ctx context.Context, a fieldwatch.Actor, f fieldwatch.CaseFilter) ([]fieldwatch.Case, error)
	Transition(ctx context.Context, a fieldwatch.Actor, id string, t fieldwatch.Transition) (fieldwatch.Case, error)
	Comment(ctx context.Context, a fieldwatch.Actor, id, body string) (fieldwatch.CaseEvent, error)
}

// CreateCase opens a case from evidence.
func (s *Server) CreateCase(ctx context.Context, req CreateCaseRequestObject) (CreateCaseResponseObject, error) {
	b := req.Body
	cr := fieldwatch.CaseRequest{Title: b.Title, Category: fieldwatch.Category(b.Category), Severity: fieldwatch.Severity(b.Severity),
		Deadline: b.Deadline}
	for _, id := range b.EvidenceIds {
		cr.EvidenceIDs = append(cr.EvidenceIDs, id.String())
	}
	if b.TownshipCode != nil {
		cr.TownshipCode = *b.TownshipCode
	}
	if b.ReachCode != nil {
		cr.ReachCode = *b.ReachCode
	}
	if b.Note != nil {
		cr.Note = *b.Note
	}
	a := actor(ctx)
	c, err := s.cfg.Cases.Open(ctx, a, cr)
	if err != nil {
		return nil, err
	}
	return CreateCase201JSONResponse(caseOut(a, c)), nil
}

// ListCases lists cases in the caller's scope, newest first.
func (s *Server) ListCases(ctx context.Context, req ListCasesRequestObject) (ListCasesResponseObject, error) {
	prm := req.Params
	f := fieldwatch.CaseFilter{Limit: 50, Overdue: prm.Overdue}
	if prm.Limit != nil {
		f.Limit = *prm.Limit
	}
	if prm.State != nil {
		f.State = fieldwatch.CaseState(*prm.State)
	}
	if prm.Category != nil {
		f.Category = fieldwatch.Category(*prm.Category)
	}
	if prm.Township != nil {
		f.TownshipCode = *prm.Township
	}
	if prm.Reach != nil {
		f.ReachCode = *prm.Reach
	}
	if prm.Cursor != nil {
		t, id, err := s.openTimeCursor("cases", *prm.Cursor)
		if err != nil {
			return nil, err
		}
		f.AfterTime, f.AfterID = &t, id
	}
	a := actor(ctx)
	items, err := s.cfg.Cases.List(ctx, a, f)
	if err != nil {
		return nil, err
	}
	page := CasePage{Items: make([]Case, 0, len(items))}
	for _, c := range items {
		page.Items = append(page.Items, caseOut(a, c))
	}
	if len(items) == f.Limit {
		last := items[len(items)-1]
		next := s.sealTimeCursor("cases", last.OpenedAt, last.ID)
		page.NextCursor = &next
	}
	return ListCases200JSONResponse(page), nil
}

// GetCase returns a case in scope with its timeline.
func (s *Server) GetCase(ctx context.Context, req GetCaseRequestObject) (GetCaseResponseObject, error) {
	a := actor(ctx)
	c, evs, err := s.cfg.Cases.Get(ctx, a, req.Id.String())
	if err != nil {
		return nil, err
	}
	out := caseOut(a, c)
	d := CaseDetail{AllowedActions: out.AllowedActions, Category: out.Category, Chiefs: out.Chiefs, ClosedAt: out.ClosedAt,
		Deadline: out.Deadline, DeadlineExplicit: out.DeadlineExplicit, Escalation: CaseDetailEscalation(out.Escalation), EvidenceIds: out.EvidenceIds,
		Id: out.Id, OpenedAt: out.OpenedAt, OpenedBy: out.OpenedBy, OverdueSince: out.OverdueSince, ReachCode: out.ReachCode,
		RectificationEvidenceIds: out.RectificationEvidenceIds, Severity: out.Severity, State: out.State,
		SubmittedAt: out.SubmittedAt, SubmittedBy: out.SubmittedBy, Title: out.Title, TownshipCode: out.TownshipCode,
		UpdatedAt: out.UpdatedAt, VerifiedBy: out.VerifiedBy, Timeline: make([]CaseEvent, 0, len(evs))}
	for _, ev := range evs {
		d.Timeline = append(d.Timeline, caseEventOut(ev))
	}
	return GetCase200JSONResponse(d), nil
}

// TransitionCase moves a case on; see openapi.yaml for who may do what.
func (s *Server) TransitionCase(ctx context.Context, req TransitionCaseRequestObject) (TransitionCaseResponseObject, error) {
	b := req.Body
	t := fieldwatch.Transition{Action: fieldwatch.CaseAction(b.Action), Key: req.Params.IdempotencyKey.String()}
	if b.Note != nil {
		t.Note = *b.Note
	}
	if b.OverrideReason != nil {
		t.OverrideReason = *b.OverrideReason
	}
	if b.EvidenceIds != nil {
		for _, id := range *b.EvidenceIds {
			t.EvidenceIDs = append(t.EvidenceIDs, id.String())
		}
	}
	a := actor(ctx)
	c, err := s.cfg.Cases.Transition(ctx, a, req.Id.String(), t)
	if err != nil {
		return nil, err
	}
	return TransitionCase200JSONResponse(caseOut(a, c)), nil
}

// CommentCase adds a comment to a case in scope.
func (s *Server) CommentCase(ctx context.Context, req CommentCaseRequestObject) (CommentCaseResponseObject, error) {
	ev, err := s.cfg.Cases.Comment(ctx, actor(ctx), req.Id.String(), req.Body.Body)
	if err != nil {
		return nil, err
	}
	return CommentCase201JSONResponse(caseEventOut(ev)), nil
}

func caseOut(a fieldwatch.Actor, c fieldwatch.Case) Case {
	out := Case{Id: mustUUID(c.ID), Title: c.Title, Category: Category(c.Category), Severity: Severity(c.Severity),
		State: CaseState(c.State), TownshipCode: c.TownshipCode, Chiefs: make([]Chief, 0, len(c.Chiefs)),
		OpenedBy: mustUUID(c.OpenedBy), OpenedAt: c.OpenedAt, Deadline: c.Deadline, DeadlineExplicit: c.DeadlineExplicit,
		OverdueSince: c.OverdueSince, Escalation: CaseEscalation(c.Escalation), SubmittedAt: c.SubmittedAt,
		ClosedAt: c.ClosedAt, UpdatedAt: c.UpdatedAt, EvidenceIds: uuids(c.EvidenceIDs),
		RectificationEvidenceIds: uuids(c.RectificationEvidenceIDs), AllowedActions: []CaseAction{}}
	if c.ReachCode != "" {
		out.ReachCode = &c.ReachCode
	}
	for _, ch := range c.Chiefs {
		out.Chiefs = append(out.Chiefs, Chief{UserId: mustUUID(ch.UserID), Name: ch.Name, Level: ChiefLevel(ch.Level)})
	}
	if c.SubmittedBy != "" {
		u := mustUUID(c.SubmittedBy)
		out.SubmittedBy = &u
	}
	if c.VerifiedBy != "" {
		u := mustUUID(c.VerifiedBy)
		out.VerifiedBy = &u
	}
	for _, act := range a.AllowedActions(c) {
		out.AllowedActions = append(out.AllowedActions, CaseAction(act))
	}
	return out
}

func caseEventOut(ev fieldwatch.CaseEvent) CaseEvent {
	out := CaseEvent{Seq: ev.Seq, At: ev.At, Kind: CaseEventKind(ev.Kind)}
	if ev.ActorID != "" {
		u := mustUUID(ev.ActorID)
		out.ActorId = &u
	}
	if ev.Action != "" {
		act := CaseAction(ev.Action)
		out.Action = &act
	}
	if ev.From != "" {
		st := CaseState(ev.From)
		out.FromState = &st
	}
	if ev.To != "" {
		st := CaseState(ev.To)
		out.ToState = &st
	}
	if ev.Note != "" {
		out.Note = &ev.Note
	}
	if len(ev.EvidenceIDs) > 0 {
		ids := uuids(ev.EvidenceIDs)
		out.EvidenceIds = &ids
	}
	if ev.OverrideReason != "" {
		out.OverrideReason = &ev.OverrideReason
	}
	if ev.Escalation != "" {
		e := CaseEventEscalation(ev.Escalation)
		out.Escalation = &e
	}
	return out
}

func uuids(ids []string) []types.UUID {
	out := make([]types.UUID, 0, len(ids))
	for _, id := range ids {
		out = append(out, mustUUID(id))
	}
	return out
}
