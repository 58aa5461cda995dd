package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/fieldwatch/fieldwatch"
)

// Bounds of a responsibility record: linking keeps up to three candidate
// reaches and a reach has a handful of chiefs; these only keep a row from
// growing without limit.
const (
	maxResponsibilityChiefs     = 64
	maxResponsibilityCandidates = 16
)

// The responsibility column: fieldwatch.Responsibility as JSON. As for the
// details column, the field names are the stored format, independent of
// the Go names.
type (
	responsibilityDoc struct {
		TownshipCode string         `json:"township_code,omitempty"`
		TownshipName string         `json:"township_name,omitempty"`
		Zone         string         `json:"zone,omitempty"`
		ReachCode    string         `json:"reach_code,omitempty"`
		ReachName    string         `json:"reach_name,omitempty"`
		ReachDistM   float64        `json:"reach_dist_m"`
		Chiefs       []chiefRefDoc  `json:"chiefs"`
		Candidates   []candidateDoc `json:"candidates"`
		Method       string         `json:"method"`
		Version      int64          `json:"version"`
	}
	chiefRefDoc struct {
		UserID string `json:"user_id"`
		Name   string `json:"name"`
		Level  string `json:"level"`
	}
	candidateDoc struct {
		Code      string  `json:"code"`
		DistanceM float64 `json:"distance_m"`
	}
)

// normResponsibility validates r (the domain's rules are r.Validate's, the
// rest is storage: text, ids, bounds) and returns it in stored form: user ids
// canonical, nil slices made empty. It leaves r's slices untouched.
func normResponsibility(r fieldwatch.Responsibility) (fieldwatch.Responsibility, error) {
	invalid := func(format string, a ...any) error {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "responsibility: %s", fmt.Sprintf(format, a...))
	}
	if err := checkFields("responsibility ", "township code", r.TownshipCode, "township name", r.TownshipName,
		"reach code", r.ReachCode, "reach name", r.ReachName, "method", r.Method); err != nil {
		return r, err
	}
	if err := r.Validate(); err != nil {
		return r, err
	}
	if len(r.Chiefs) > maxResponsibilityChiefs || len(r.Candidates) > maxResponsibilityCandidates {
		return r, invalid("more than %d chiefs or %d candidates", maxResponsibilityChiefs, maxResponsibilityCandidates)
	}
	chiefs := make([]fieldwatch.ChiefRef, len(r.Chiefs))
	for i, c := range r.Chiefs {
		id, ok := parseID(c.UserID)
		if !ok {
			if err := checkText("responsibility chief user id", c.UserID); err != nil {
				return r, err
			}
			return r, invalid("chief %d: user id %q is not a UUID", i, c.UserID)
		}
		if err := checkText("responsibility chief name", c.Name); err != nil {
			return r, err
		}
		chiefs[i] = fieldwatch.ChiefRef{UserID: id, Name: c.Name, Level: c.Level}
	}
	r.Chiefs = chiefs
	candidates := make([]fieldwatch.ReachCandidate, len(r.Candidates))
	for i, c := range r.Candidates {
		if err := checkText("responsibility candidate code", c.Code); err != nil {
			return r, err
		}
		candidates[i] = c
	}
	r.Candidates = candidates
	return r, nil
}

// responsibilityJSON returns the stored form of a normalised record.
func responsibilityJSON(r fieldwatch.Responsibility) (string, error) {
	d := responsibilityDoc{
		TownshipCode: r.TownshipCode, TownshipName: r.TownshipName, Zone: string(r.Zone),
		ReachCode: r.ReachCode, ReachName: r.ReachName, ReachDistM: r.ReachDistM,
		Chiefs: make([]chiefRefDoc, len(r.Chiefs)), Candidates: make([]candidateDoc, len(r.Candidates)),
		Method: r.Method, Version: r.Version,
	}
	for i, c := range r.Chiefs {
		d.Chiefs[i] = chiefRefDoc{UserID: c.UserID, Name: c.Name, Level: string(c.Level)}
	}
	for i, c := range r.Candidates {
		d.Candidates[i] = candidateDoc(c)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return "", fieldwatch.Errorf(fieldwatch.EINVALID, "responsibility: %w", err)
	}
	return string(b), nil
}

// fromResponsibilityJSON reads the stored form: by the hand-written
// decoder where it can, else by encoding/json, with the same result.
func fromResponsibilityJSON(raw string) (*fieldwatch.Responsibility, error) {
	d, ok := decodeResponsibility(raw)
	if !ok {
		d = responsibilityDoc{}
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			return nil, fmt.Errorf("store: bad stored responsibility: %w", err)
		}
	}
	r := &fieldwatch.Responsibility{
		TownshipCode: d.TownshipCode, TownshipName: d.TownshipName, Zone: fieldwatch.Zone(d.Zone),
		ReachCode: d.ReachCode, ReachName: d.ReachName, ReachDistM: d.ReachDistM,
		Chiefs: make([]fieldwatch.ChiefRef, len(d.Chiefs)), Candidates: make([]fieldwatch.ReachCandidate, len(d.Candidates)),
		Method: d.Method, Version: d.Version,
	}
	for i, c := range d.Chiefs {
		r.Chiefs[i] = fieldwatch.ChiefRef{UserID: c.UserID, Name: c.Name, Level: fieldwatch.ChiefLevel(c.Level)}
	}
	for i, c := range d.Candidates {
		r.Candidates[i] = fieldwatch.ReachCandidate(c)
	}
	return r, nil
}

// SetEvidenceResponsibility records who answers for an evidence
// (Evidence.Responsibility) and sets Evidence.TownshipCode and ReachCode
// from it (an empty code clears it), replacing any earlier record. Like
// SetEvidenceLink it is derived data, not an edit of the evidence.
//
// Returns ErrNotFound if there is no such evidence, and an error wrapping
// fieldwatch.ErrInvalid for a record that cannot be stored: unstorable text,
// an unknown zone or chief level, a chief user id that is not a UUID, an
// empty candidate code, a negative, NaN or infinite distance, a negative
// version, more than 64 chiefs or 16 candidates.
func (s *Store) SetEvidenceResponsibility(ctx context.Context, id string, r fieldwatch.Responsibility) error {
	r, err := normResponsibility(r)
	if err != nil {
		return err
	}
	doc, err := responsibilityJSON(r)
	if err != nil {
		return err
	}
	return s.updateEvidence(ctx, "set evidence responsibility", id, `responsibility = ?, township_code = ?, reach_code = ?`,
		doc, nullText(r.TownshipCode), nullText(r.ReachCode))
}
