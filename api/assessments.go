package api

import (
	"bytes"
	"context"

	"github.com/oapi-codegen/runtime/types"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/report"
)

// AssessmentService keeps letters and produces monthly assessments
// (fieldwatch.Assessor).
type AssessmentService interface {
	CreateLetter(ctx context.Context, a fieldwatch.Actor, l fieldwatch.Letter) (fieldwatch.Letter, error)
	Letters(ctx context.Context, township string) ([]fieldwatch.Letter, error)
	Month(ctx context.Context, month string) (fieldwatch.Assessment, error)
	Township(ctx context.Context, a fieldwatch.Actor, month, code string) (fieldwatch.Assessment, fieldwatch.TownshipScore, error)
	Freeze(ctx context.Context, a fieldwatch.Actor, month string) (fieldwatch.Assessment, error)
}

// CreateLetter records a township's responsibility letter.
func (s *Server) CreateLetter(ctx context.Context, req CreateLetterRequestObject) (CreateLetterResponseObject, error) {
	b := req.Body
	l := fieldwatch.Letter{TownshipCode: req.Code, Year: b.Year, SignedOn: b.SignedOn.Time}
	for _, ind := range b.Indicators {
		l.Indicators = append(l.Indicators, indicatorIn(ind))
	}
	out, err := s.cfg.Assessments.CreateLetter(ctx, actor(ctx), l)
	if err != nil {
		return nil, err
	}
	return CreateLetter201JSONResponse(letterOut(out)), nil
}

// ListLetters lists a township's letters.
func (s *Server) ListLetters(ctx context.Context, req ListLettersRequestObject) (ListLettersResponseObject, error) {
	ls, err := s.cfg.Assessments.Letters(ctx, req.Code)
	if err != nil {
		return nil, err
	}
	out := make(ListLetters200JSONResponse, 0, len(ls))
	for _, l := range ls {
		out = append(out, letterOut(l))
	}
	return out, nil
}

// GetAssessment returns the month's assessment as JSON, CSV or XLSX.
func (s *Server) GetAssessment(ctx context.Context, req GetAssessmentRequestObject) (GetAssessmentResponseObject, error) {
	a, err := s.cfg.Assessments.Month(ctx, req.Month)
	if err != nil {
		return nil, err
	}
	format := GetAssessmentParamsFormatJson
	if req.Params.Format != nil {
		format = *req.Params.Format
	}
	var buf bytes.Buffer
	switch format {
	case GetAssessmentParamsFormatCsv:
		if err := report.WriteCSV(&buf, a); err != nil {
			return nil, err
		}
		return GetAssessment200TextcsvResponse{Body: &buf, ContentLength: int64(buf.Len())}, nil
	case GetAssessmentParamsFormatXlsx:
		if err := report.WriteXLSX(&buf, a); err != nil {
			return nil, err
		}
		return GetAssessment200ApplicationvndOpenxmlformatsOfficedocumentSpreadsheetmlSheetResponse{Body: &buf, ContentLength: int64(buf.Len())}, nil
	}
	return GetAssessment200JSONResponse(assessmentOut(a)), nil
}

// GetTownshipAssessment returns one township's month with the objects
// behind each value.
func (s *Server) GetTownshipAssessment(ctx context.Context, req GetTownshipAssessmentRequestObject) (GetTownshipAssessmentResponseObject, error) {
	a, ts, err := s.cfg.Assessments.Township(ctx, actor(ctx), req.Month, req.Code)
	if err != nil {
		return nil, err
	}
	out := TownshipAssessment{Month: a.Month, Frozen: a.Frozen}
	sc := townshipScoreOut(ts)
	t := &out.Township
	t.Code, t.Name, t.Zone, t.LetterId, t.Score, t.RankInZone, t.RankOverall =
		sc.Code, sc.Name, TownshipAssessmentTownshipZone(sc.Zone), sc.LetterId, sc.Score, sc.RankInZone, sc.RankOverall
	t.Indicators = make([]IndicatorDetail, 0, len(ts.Indicators))
	for i, ind := range ts.Indicators {
		o := sc.Indicators[i]
		t.Indicators = append(t.Indicators, IndicatorDetail{Metric: o.Metric, Category: o.Category, Rule: IndicatorDetailRule(o.Rule),
			Target: o.Target, Floor: o.Floor, PointsPer: o.PointsPer, Weight: o.Weight, Value: o.Value, Points: o.Points,
			EvidenceIds: uuids(ind.Refs.EvidenceIDs), CaseIds: uuids(ind.Refs.CaseIDs), PatrolIds: uuids(ind.Refs.PatrolIDs)})
	}
	return GetTownshipAssessment200JSONResponse(out), nil
}

// FreezeAssessment freezes a finished month.
func (s *Server) FreezeAssessment(ctx context.Context, req FreezeAssessmentRequestObject) (FreezeAssessmentResponseObject, error) {
	a, err := s.cfg.Assessments.Freeze(ctx, actor(ctx), req.Month)
	if err != nil {
		return nil, err
	}
	return FreezeAssessment201JSONResponse(assessmentOut(a)), nil
}

func indicatorIn(ind Indicator) fieldwatch.Indicator {
	out := fieldwatch.Indicator{Metric: fieldwatch.Metric(ind.Metric), Rule: fieldwatch.ScoreRule(ind.Rule), Target: ind.Target, Weight: ind.Weight}
	if ind.Category != nil {
		out.Category = fieldwatch.Category(*ind.Category)
	}
	if ind.Floor != nil {
		out.Floor = *ind.Floor
	}
	if ind.PointsPer != nil {
		out.PointsPer = *ind.PointsPer
	}
	return out
}

// indicatorFields are the parts of an indicator every schema repeats.
func indicatorFields(ind fieldwatch.Indicator) (cat *Category, floor, pointsPer *float64) {
	if ind.Category != "" {
		c := Category(ind.Category)
		cat = &c
	}
	if ind.Rule == fieldwatch.RuleLinear {
		floor = &ind.Floor
	} else {
		pointsPer = &ind.PointsPer
	}
	return cat, floor, pointsPer
}

func letterOut(l fieldwatch.Letter) Letter {
	out := Letter{Id: mustUUID(l.ID), TownshipCode: l.TownshipCode, Year: l.Year, SignedOn: types.Date{Time: l.SignedOn},
		RecordedAt: l.RecordedAt, RecordedBy: mustUUID(l.RecordedBy), Indicators: make([]Indicator, 0, len(l.Indicators))}
	for _, ind := range l.Indicators {
		cat, floor, pp := indicatorFields(ind)
		out.Indicators = append(out.Indicators, Indicator{Metric: Metric(ind.Metric), Category: cat, Rule: IndicatorRule(ind.Rule),
			Target: ind.Target, Floor: floor, PointsPer: pp, Weight: ind.Weight})
	}
	return out
}

func townshipScoreOut(t fieldwatch.TownshipScore) TownshipScore {
	out := TownshipScore{Code: t.Code, Name: t.Name, Zone: TownshipScoreZone(t.Zone), Score: t.Score,
		Indicators: make([]IndicatorScore, 0, len(t.Indicators))}
	if t.LetterID != "" {
		id := mustUUID(t.LetterID)
		out.LetterId = &id
	}
	if t.RankOverall > 0 {
		out.RankOverall, out.RankInZone = &t.RankOverall, &t.RankInZone
	}
	for _, ind := range t.Indicators {
		cat, floor, pp := indicatorFields(ind.Indicator)
		out.Indicators = append(out.Indicators, IndicatorScore{Metric: Metric(ind.Metric), Category: cat, Rule: IndicatorScoreRule(ind.Rule),
			Target: ind.Target, Floor: floor, PointsPer: pp, Weight: ind.Weight, Value: ind.Value, Points: ind.Points})
	}
	return out
}

func assessmentOut(a fieldwatch.Assessment) Assessment {
	out := Assessment{Month: a.Month, Frozen: a.Frozen, FrozenAt: a.FrozenAt, ComputedAt: a.ComputedAt,
		Townships: make([]TownshipScore, 0, len(a.Townships))}
	if a.FrozenBy != "" {
		id := mustUUID(a.FrozenBy)
		out.FrozenBy = &id
	}
	for _, t := range a.Townships {
		out.Townships = append(out.Townships, townshipScoreOut(t))
	}
	return out
}
