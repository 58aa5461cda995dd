package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
)

// PatrolService records and reads river patrols (fieldwatch.Patrols).
type PatrolService interface {
	Record(ctx context.Context, a fieldwatch.Actor, req fieldwatch.PatrolRequest) (fieldwatch.Patrol, bool, error)
	Get(ctx context.Context, a fieldwatch.Actor, id string) (fieldwatch.Patrol, error)
	List(ctx context.Context, a fieldwatch.Actor, f fieldwatch.PatrolFilter) ([]fieldwatch.Patrol, error)
	CanSeeReach(ctx context.Context, a fieldwatch.Actor, code string) (bool, error)
	Compliance(ctx context.Context, a fieldwatch.Actor, month string) ([]fieldwatch.ComplianceRow, error)
}

// CreatePatrol records a patrol from its GeoJSON or GPX track, in the
// coordinate system the body's crs names (the domain converts it).
func (s *Server) CreatePatrol(ctx context.Context, req CreatePatrolRequestObject) (CreatePatrolResponseObject, error) {
	b := req.Body
	var (
		track geo.Track
		err   error
	)
	switch {
	case (b.Track == nil) == (b.Gpx == nil):
		return nil, unprocessable("send the track as exactly one of track (GeoJSON) or gpx", fieldwatch.FieldError{Field: "/track", Reason: "exactly one of track and gpx"})
	case b.Track != nil:
		doc, err2 := json.Marshal(b.Track)
		if err2 != nil {
			return nil, err2
		}
		track, err = fieldwatch.ParseTrackGeoJSON(bytes.NewReader(doc))
	default:
		track, err = fieldwatch.ParseTrackGPX(strings.NewReader(*b.Gpx))
	}
	if err != nil {
		return nil, err
	}
	pr := fieldwatch.PatrolRequest{ReachCode: b.ReachCode, Track: track, Key: req.Params.IdempotencyKey.String()}
	if b.Crs != nil {
		pr.CRS = geo.CRS(*b.Crs)
	}
	if b.Note != nil {
		pr.Note = *b.Note
	}
	if b.EvidenceIds != nil {
		for _, id := range *b.EvidenceIds {
			pr.EvidenceIDs = append(pr.EvidenceIDs, id.String())
		}
	}
	p, replayed, err := s.cfg.Patrols.Record(ctx, actor(ctx), pr)
	if err != nil {
		return nil, err
	}
	if replayed {
		return CreatePatrol200JSONResponse(patrolOut(p)), nil
	}
	return CreatePatrol201JSONResponse(patrolOut(p)), nil
}

// ListPatrols lists patrols in the caller's scope.
func (s *Server) ListPatrols(ctx context.Context, req ListPatrolsRequestObject) (ListPatrolsResponseObject, error) {
	prm := req.Params
	if err := checkTimeRange(prm.From, prm.To); err != nil {
		return nil, err
	}
	f := fieldwatch.PatrolFilter{Limit: 50, Valid: prm.Valid, From: prm.From, To: prm.To}
	if prm.Reach != nil {
		f.ReachCode = *prm.Reach
	}
	if prm.Chief != nil {
		f.ChiefID = prm.Chief.String()
	}
	page, err := s.patrolPage(ctx, f, prm.Limit, prm.Cursor)
	if err != nil {
		return nil, err
	}
	return ListPatrols200JSONResponse(page), nil
}

// ListReachPatrols lists one reach's patrols; a reach out of scope is 404.
func (s *Server) ListReachPatrols(ctx context.Context, req ListReachPatrolsRequestObject) (ListReachPatrolsResponseObject, error) {
	ok, err := s.cfg.Patrols.CanSeeReach(ctx, actor(ctx), req.Code)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("api: reach %s outside scope: %w", req.Code, fieldwatch.ErrNotFound)
	}
	page, err := s.patrolPage(ctx, fieldwatch.PatrolFilter{ReachCode: req.Code}, req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	return ListReachPatrols200JSONResponse(page), nil
}

func (s *Server) patrolPage(ctx context.Context, f fieldwatch.PatrolFilter, limit *int, cursor *string) (PatrolPage, error) {
	f.Limit = 50
	if limit != nil {
		f.Limit = *limit
	}
	if cursor != nil {
		t, id, err := s.openTimeCursor("patrols", *cursor)
		if err != nil {
			return PatrolPage{}, err
		}
		f.AfterTime, f.AfterID = &t, id
	}
	items, err := s.cfg.Patrols.List(ctx, actor(ctx), f)
	if err != nil {
		return PatrolPage{}, err
	}
	page := PatrolPage{Items: make([]Patrol, 0, len(items))}
	for _, p := range items {
		page.Items = append(page.Items, patrolOut(p))
	}
	if len(items) == f.Limit {
		last := items[len(items)-1]
		next := s.sealTimeCursor("patrols", last.StartedAt, last.ID)
		page.NextCursor = &next
	}
	return page, nil
}

// GetPatrol returns a patrol in scope with its track as GeoJSON.
func (s *Server) GetPatrol(ctx context.Context, req GetPatrolRequestObject) (GetPatrolResponseObject, error) {
	p, err := s.cfg.Patrols.Get(ctx, actor(ctx), req.Id.String())
	if err != nil {
		return nil, err
	}
	o := patrolOut(p)
	coords := make([][]float64, 0, len(p.Track))
	times := make([]string, 0, len(p.Track))
	for _, f := range p.Track {
		coords = append(coords, []float64{f.Lon, f.Lat})
		times = append(times, f.At.UTC().Format(time.RFC3339Nano))
	}
	return GetPatrol200JSONResponse(PatrolDetail{ChiefId: o.ChiefId, Coverage: o.Coverage, DurationS: o.DurationS, EndedAt: o.EndedAt,
		EvidenceIds: o.EvidenceIds, Fixes: o.Fixes, Gaps: o.Gaps, Id: o.Id, LengthM: o.LengthM, MaxSpeedMps: o.MaxSpeedMps,
		MedianSpeedMps: o.MedianSpeedMps, Note: o.Note, ReachCode: o.ReachCode, Reasons: o.Reasons, RecordedAt: o.RecordedAt,
		StartedAt: o.StartedAt, Teleports: o.Teleports, TownshipCode: o.TownshipCode, Valid: o.Valid,
		Track: TrackFeature{Type: TrackFeatureTypeFeature, Geometry: map[string]any{"type": "LineString", "coordinates": coords},
			Properties: map[string]any{"times": times}}}), nil
}

// GetPatrolCompliance returns the month's patrol compliance in scope.
func (s *Server) GetPatrolCompliance(ctx context.Context, req GetPatrolComplianceRequestObject) (GetPatrolComplianceResponseObject, error) {
	rows, err := s.cfg.Patrols.Compliance(ctx, actor(ctx), req.Params.Month)
	if err != nil {
		return nil, err
	}
	out := Compliance{Month: req.Params.Month, Items: make([]ComplianceRow, 0, len(rows))}
	for _, r := range rows {
		out.Items = append(out.Items, ComplianceRow{ChiefId: mustUUID(r.ChiefID), ChiefName: r.ChiefName, Level: ComplianceRowLevel(r.Level),
			ReachCode: r.ReachCode, TownshipCode: r.TownshipCode, Required: r.Required, Met: r.Met, ValidPatrols: r.ValidPatrols,
			Rate: r.Rate(), Compliant: r.Compliant()})
	}
	return GetPatrolCompliance200JSONResponse(out), nil
}

func patrolOut(p fieldwatch.Patrol) Patrol {
	o := Patrol{Id: mustUUID(p.ID), ChiefId: mustUUID(p.ChiefID), ReachCode: p.ReachCode, StartedAt: p.StartedAt, EndedAt: p.EndedAt,
		LengthM: p.LengthM, DurationS: p.DurationS, Coverage: p.Coverage, MaxSpeedMps: p.MaxSpeed, MedianSpeedMps: p.MedianSpeed,
		Fixes: p.Fixes, Gaps: p.Gaps, Teleports: p.Teleports, Valid: p.Valid, Reasons: p.Reasons, EvidenceIds: uuids(p.EvidenceIDs),
		RecordedAt: p.RecordedAt}
	if o.Reasons == nil {
		o.Reasons = []string{}
	}
	if p.TownshipCode != "" {
		o.TownshipCode = &p.TownshipCode
	}
	if p.Note != "" {
		o.Note = &p.Note
	}
	return o
}
