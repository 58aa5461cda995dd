package api

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/geojson"

	"github.com/fieldwatch/fieldwatch"
)

// Atlas is the county's geography: versioned townships and reaches, river
// chiefs, and the linking index built from them (fieldwatch.Atlas).
type Atlas interface {
	ImportTownships(ctx context.Context, geojson []byte, effectiveFrom time.Time) (version int64, count int, err error)
	ImportReaches(ctx context.Context, geojson []byte, effectiveFrom time.Time) (version int64, count int, err error)
	Townships(ctx context.Context, at time.Time) ([]fieldwatch.Township, error)
	Township(ctx context.Context, code string, at time.Time) (fieldwatch.Township, error)
	Reaches(ctx context.Context, q fieldwatch.ReachQuery) ([]fieldwatch.Reach, error)
	Reach(ctx context.Context, code string, at time.Time) (fieldwatch.Reach, error)
	SetChiefs(ctx context.Context, reach string, as []fieldwatch.ChiefAssignment) ([]fieldwatch.ChiefRef, error)
	Chiefs(ctx context.Context, reach string, at time.Time) ([]fieldwatch.ChiefRef, error)
	ChiefReaches(ctx context.Context, userID string, at time.Time) ([]string, error)
	Relink(ctx context.Context, actorID string) (fieldwatch.RelinkReport, error)
}

// ImportTownships imports township boundaries as a new version.
func (s *Server) ImportTownships(ctx context.Context, req ImportTownshipsRequestObject) (ImportTownshipsResponseObject, error) {
	raw, err := json.Marshal(req.Body)
	if err != nil {
		return nil, err
	}
	v, n, err := s.cfg.Atlas.ImportTownships(ctx, raw, s.effectiveFrom(req.Params.EffectiveFrom))
	if err != nil {
		return nil, err
	}
	return ImportTownships201JSONResponse{Version: v, Count: n}, nil
}

// ImportReaches imports river reaches as a new version.
func (s *Server) ImportReaches(ctx context.Context, req ImportReachesRequestObject) (ImportReachesResponseObject, error) {
	raw, err := json.Marshal(req.Body)
	if err != nil {
		return nil, err
	}
	v, n, err := s.cfg.Atlas.ImportReaches(ctx, raw, s.effectiveFrom(req.Params.EffectiveFrom))
	if err != nil {
		return nil, err
	}
	return ImportReaches201JSONResponse{Version: v, Count: n}, nil
}

func (s *Server) effectiveFrom(t *time.Time) time.Time {
	if t != nil {
		return t.UTC()
	}
	return s.now().UTC()
}

// ListTownships lists the townships in force, without boundaries.
func (s *Server) ListTownships(ctx context.Context, _ ListTownshipsRequestObject) (ListTownshipsResponseObject, error) {
	ts, err := s.cfg.Atlas.Townships(ctx, s.now())
	if err != nil {
		return nil, err
	}
	out := make(ListTownships200JSONResponse, 0, len(ts))
	for _, t := range ts {
		out = append(out, townshipInfo(t))
	}
	return out, nil
}

func townshipInfo(t fieldwatch.Township) TownshipInfo {
	info := TownshipInfo{Code: t.Code, Name: t.Name, Kind: t.Kind, Zone: TownshipInfoZone(t.Zone), Version: t.Version, EffectiveFrom: t.EffectiveFrom}
	if t.NameEN != "" {
		info.NameEn = &t.NameEN
	}
	return info
}

// GetTownship returns one township with its boundary.
func (s *Server) GetTownship(ctx context.Context, req GetTownshipRequestObject) (GetTownshipResponseObject, error) {
	t, err := s.cfg.Atlas.Township(ctx, req.Code, s.now())
	if err != nil {
		return nil, err
	}
	g, err := geometryJSON(t.Boundary)
	if err != nil {
		return nil, err
	}
	props := map[string]any{"code": t.Code, "name": t.Name, "kind": t.Kind, "zone": string(t.Zone),
		"version": t.Version, "effective_from": t.EffectiveFrom.Format(time.RFC3339)}
	if t.NameEN != "" {
		props["name_en"] = t.NameEN
	}
	return GetTownship200ApplicationGeoPlusJSONResponse{Type: GeoFeatureTypeFeature, Geometry: g, Properties: props}, nil
}

// ListReaches lists reaches in force, as GeoJSON.
func (s *Server) ListReaches(ctx context.Context, req ListReachesRequestObject) (ListReachesResponseObject, error) {
	q := fieldwatch.ReachQuery{At: s.now(), Township: req.Params.Township, River: req.Params.River}
	if req.Params.Chief != nil {
		c := req.Params.Chief.String()
		q.ChiefUserID = &c
	}
	crs, err := queryCRS(req.Params.Crs)
	if err != nil {
		return nil, err
	}
	if req.Params.Bbox != nil {
		b, err := parseBBoxIn(*req.Params.Bbox, crs)
		if err != nil {
			return nil, err
		}
		q.BBox = &b
	}
	rs, err := s.cfg.Atlas.Reaches(ctx, q)
	if err != nil {
		return nil, err
	}
	fc := GeoFeatureCollection{Type: GeoFeatureCollectionTypeFeatureCollection, Features: make([]GeoFeature, 0, len(rs))}
	for _, r := range rs {
		f, err := reachFeature(r, nil)
		if err != nil {
			return nil, err
		}
		fc.Features = append(fc.Features, f)
	}
	return ListReaches200ApplicationGeoPlusJSONResponse(fc), nil
}

// GetReach returns one reach with its line and current chiefs.
func (s *Server) GetReach(ctx context.Context, req GetReachRequestObject) (GetReachResponseObject, error) {
	now := s.now()
	r, err := s.cfg.Atlas.Reach(ctx, req.Code, now)
	if err != nil {
		return nil, err
	}
	chiefs, err := s.cfg.Atlas.Chiefs(ctx, req.Code, now)
	if err != nil {
		return nil, err
	}
	f, err := reachFeature(r, chiefs)
	if err != nil {
		return nil, err
	}
	return GetReach200ApplicationGeoPlusJSONResponse(f), nil
}

func reachFeature(r fieldwatch.Reach, chiefs []fieldwatch.ChiefRef) (GeoFeature, error) {
	g, err := geometryJSON(r.Line)
	if err != nil {
		return GeoFeature{}, err
	}
	props := map[string]any{"code": r.Code, "river": r.River, "name": r.Name, "township_code": r.TownshipCode,
		"version": r.Version, "effective_from": r.EffectiveFrom.Format(time.RFC3339)}
	if r.RiverEN != "" {
		props["river_en"] = r.RiverEN
	}
	if chiefs != nil {
		props["chiefs"] = chiefsOut(chiefs)
	}
	return GeoFeature{Type: GeoFeatureTypeFeature, Geometry: g, Properties: props}, nil
}

// SetReachChiefs replaces the reach's river chiefs.
func (s *Server) SetReachChiefs(ctx context.Context, req SetReachChiefsRequestObject) (SetReachChiefsResponseObject, error) {
	as := make([]fieldwatch.ChiefAssignment, 0, len(*req.Body))
	for _, in := range *req.Body {
		a := fieldwatch.ChiefAssignment{ReachCode: req.Code, UserID: in.UserId.String(), Level: fieldwatch.ChiefLevel(in.Level), ValidTo: in.ValidTo}
		if in.ValidFrom != nil {
			a.ValidFrom = in.ValidFrom.UTC()
		}
		as = append(as, a)
	}
	chiefs, err := s.cfg.Atlas.SetChiefs(ctx, req.Code, as)
	if err != nil {
		return nil, err
	}
	return SetReachChiefs200JSONResponse(chiefsOut(chiefs)), nil
}

func chiefsOut(cs []fieldwatch.ChiefRef) []Chief {
	out := make([]Chief, 0, len(cs))
	for _, c := range cs {
		out = append(out, Chief{UserId: mustUUID(c.UserID), Name: c.Name, Level: ChiefLevel(c.Level)})
	}
	return out
}

// GetMyReaches lists the reaches the caller answers for today.
func (s *Server) GetMyReaches(ctx context.Context, _ GetMyReachesRequestObject) (GetMyReachesResponseObject, error) {
	p := actor(ctx)
	codes, err := s.cfg.Atlas.ChiefReaches(ctx, p.UserID, s.now())
	if err != nil {
		return nil, err
	}
	return GetMyReaches200JSONResponse(nonNil(codes)), nil
}

// geometryJSON renders a go-geom geometry as a GeoJSON geometry object.
func geometryJSON(g geom.T) (map[string]any, error) {
	enc, err := geojson.Encode(g)
	if err != nil {
		return nil, fmt.Errorf("api: encode geometry: %w", err)
	}
	b, err := json.Marshal(enc)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

// RelinkEvidence re-attributes open evidence after geography changed.
func (s *Server) RelinkEvidence(ctx context.Context, _ RelinkEvidenceRequestObject) (RelinkEvidenceResponseObject, error) {
	p := actor(ctx)
	rep, err := s.cfg.Atlas.Relink(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	return RelinkEvidence200JSONResponse{Checked: rep.Checked, Changed: rep.Changed}, nil
}
