package fieldwatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fieldwatch/fieldwatch/geo"
)

// AtlasStore is the persistence of the county's geography.
type AtlasStore interface {
	ImportTownships(ctx context.Context, ts []Township, effectiveFrom time.Time) (int64, error)
	ImportReaches(ctx context.Context, rs []Reach, effectiveFrom time.Time) (int64, error)
	Townships(ctx context.Context, at time.Time) ([]Township, error)
	TownshipByCode(ctx context.Context, code string, at time.Time) (Township, error)
	QueryReaches(ctx context.Context, q ReachQuery) ([]Reach, error)
	ReachByCode(ctx context.Context, code string, at time.Time) (Reach, error)
	SetReachChiefs(ctx context.Context, reach string, as []ChiefAssignment, now time.Time) error
	ChiefsAt(ctx context.Context, reach string, at time.Time) ([]ChiefRef, error)
	ReachesOfChief(ctx context.Context, userID string, at time.Time) ([]string, error)
	ListEvidence(ctx context.Context, f EvidenceFilter) ([]Evidence, error)
	RelinkEvidence(ctx context.Context, id string, r Responsibility, ev AuditEvent) error
}

// Atlas is the county's geography in use: versioned townships and reaches
// in the store, and an in-memory index over the ones in force, rebuilt
// whenever an import changes them. Linking runs against the index, so it
// costs microseconds and no query.
type Atlas struct {
	store AtlasStore
	now   func() time.Time
	// Tolerances: how far from a reach a point may be to be linked to it.
	riverTolM, otherTolM float64

	mu        sync.RWMutex
	idx       *geo.Index
	townships map[string]Township
	reaches   map[string]Reach
	version   int64 // township import batch the index was built from
}

// AtlasConfig tunes linking. Zero values take the defaults.
type AtlasConfig struct {
	RiverToleranceM float64 // for river_section evidence; default 300 m
	OtherToleranceM float64 // for other categories; default 100 m
	Clock           func() time.Time
}

// NewAtlas loads the geography in force and builds the index.
func NewAtlas(ctx context.Context, st AtlasStore, cfg AtlasConfig) (*Atlas, error) {
	if cfg.RiverToleranceM <= 0 {
		cfg.RiverToleranceM = 300
	}
	if cfg.OtherToleranceM <= 0 {
		cfg.OtherToleranceM = 100
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	a := &Atlas{store: st, now: cfg.Clock, riverTolM: cfg.RiverToleranceM, otherTolM: cfg.OtherToleranceM}
	return a, a.Reload(ctx)
}

// Reload rebuilds the index from the townships and reaches in force now.
func (a *Atlas) Reload(ctx context.Context) error {
	now := a.now()
	ts, err := a.store.Townships(ctx, now)
	if err != nil {
		return err
	}
	rs, err := a.store.QueryReaches(ctx, ReachQuery{At: now})
	if err != nil {
		return err
	}
	its := make([]geo.IndexTownship, 0, len(ts))
	tm := make(map[string]Township, len(ts))
	var version int64
	for _, t := range ts {
		its = append(its, geo.IndexTownship{Code: t.Code, Boundary: t.Boundary})
		tm[t.Code] = t
		version = max(version, t.Version)
	}
	irs := make([]geo.IndexReach, 0, len(rs))
	rm := make(map[string]Reach, len(rs))
	for _, r := range rs {
		irs = append(irs, geo.IndexReach{Code: r.Code, Line: r.Line})
		rm[r.Code] = r
	}
	idx, err := geo.NewIndex(its, irs)
	if err != nil {
		return fmt.Errorf("fieldwatch: build geography index: %w", err)
	}
	a.mu.Lock()
	a.idx, a.townships, a.reaches, a.version = idx, tm, rm, version
	a.mu.Unlock()
	return nil
}

// HasTownships reports whether any boundary is loaded: without one,
// "outside every township" means nothing.
func (a *Atlas) HasTownships() bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.townships) > 0
}

// Link works out who answers for evidence at p: the township covering it,
// the nearest reach within the category's tolerance, and that reach's
// chiefs at the capture time (or receipt, when the capture time is
// unknown). Reaches are considered for every category: dust on a river
// bank concerns the river chief too, within the tighter tolerance.
func (a *Atlas) Link(ctx context.Context, e *Evidence) (*Responsibility, error) {
	if e.Location == nil {
		return nil, nil
	}
	tol := a.otherTolM
	if e.Category == CategoryRiverSection {
		tol = a.riverTolM
	}
	a.mu.RLock()
	idx, townships, reaches, version := a.idx, a.townships, a.reaches, a.version
	a.mu.RUnlock()
	if idx == nil {
		return nil, nil
	}
	loc := idx.Locate(*e.Location, tol)
	r := &Responsibility{Method: "point-in-polygon+nearest-reach:" + string(e.LocationSource), Version: version}
	if t, ok := townships[loc.Township]; ok {
		r.TownshipCode, r.TownshipName, r.Zone = t.Code, t.Name, t.Zone
	}
	for _, c := range loc.Candidates {
		r.Candidates = append(r.Candidates, ReachCandidate{Code: c.Code, DistanceM: c.DistanceM})
	}
	if rc, ok := reaches[loc.Reach]; ok {
		r.ReachCode, r.ReachName, r.ReachDistM = rc.Code, rc.Name, loc.ReachDistanceM
		at := e.ReceivedAt
		if e.CapturedAt != nil && e.CapturedAt.Before(e.ReceivedAt) {
			at = *e.CapturedAt
		}
		chiefs, err := a.store.ChiefsAt(ctx, rc.Code, at)
		if err != nil {
			return nil, err
		}
		r.Chiefs = chiefs
	}
	return r, nil
}

// ImportTownships validates a GeoJSON FeatureCollection of boundaries and
// stores it as a new version effective from from; the index follows.
// Invalid input returns EINVALID with one field (/features/N) per bad
// feature, wrapping *geo.ImportError, and nothing is stored.
func (a *Atlas) ImportTownships(ctx context.Context, data []byte, from time.Time) (int64, int, error) {
	fs, err := geo.ParseTownships(data, geo.ImportLimits{})
	if err != nil {
		return 0, 0, importError(err)
	}
	ts := make([]Township, 0, len(fs))
	for _, f := range fs {
		ts = append(ts, Township{Code: f.Code, Name: f.Name, NameEN: f.NameEN, Kind: f.Kind, Zone: Zone(f.Zone), Boundary: f.Boundary})
	}
	v, err := a.store.ImportTownships(ctx, ts, from)
	if err != nil {
		return 0, 0, err
	}
	return v, len(ts), a.Reload(ctx)
}

// ImportReaches is ImportTownships for river reaches.
func (a *Atlas) ImportReaches(ctx context.Context, data []byte, from time.Time) (int64, int, error) {
	fs, err := geo.ParseReaches(data, geo.ImportLimits{})
	if err != nil {
		return 0, 0, importError(err)
	}
	rs := make([]Reach, 0, len(fs))
	for _, f := range fs {
		rs = append(rs, Reach{Code: f.Code, River: f.River, RiverEN: f.RiverEN, Name: f.Name, TownshipCode: f.TownshipCode, Line: f.Line})
	}
	v, err := a.store.ImportReaches(ctx, rs, from)
	if err != nil {
		return 0, 0, err
	}
	return v, len(rs), a.Reload(ctx)
}

// Townships lists the townships in force at at.
func (a *Atlas) Townships(ctx context.Context, at time.Time) ([]Township, error) {
	return a.store.Townships(ctx, at)
}

// Township returns one township in force at at.
func (a *Atlas) Township(ctx context.Context, code string, at time.Time) (Township, error) {
	return a.store.TownshipByCode(ctx, code, at)
}

// Reaches lists reaches as q selects.
func (a *Atlas) Reaches(ctx context.Context, q ReachQuery) ([]Reach, error) {
	return a.store.QueryReaches(ctx, q)
}

// Reach returns one reach in force at at.
func (a *Atlas) Reach(ctx context.Context, code string, at time.Time) (Reach, error) {
	return a.store.ReachByCode(ctx, code, at)
}

// SetChiefs replaces a reach's current and future chiefs and returns the
// chiefs now in force. The reach must exist now; a zero ValidFrom means
// now.
func (a *Atlas) SetChiefs(ctx context.Context, reach string, as []ChiefAssignment) ([]ChiefRef, error) {
	now := a.now().UTC()
	if _, err := a.store.ReachByCode(ctx, reach, now); err != nil {
		return nil, err
	}
	as = append([]ChiefAssignment(nil), as...)
	for i := range as {
		if as[i].ValidFrom.IsZero() {
			as[i].ValidFrom = now // from now on
		}
	}
	if err := a.store.SetReachChiefs(ctx, reach, as, now); err != nil {
		return nil, err
	}
	return a.store.ChiefsAt(ctx, reach, now)
}

// Chiefs returns the chiefs of a reach at at.
func (a *Atlas) Chiefs(ctx context.Context, reach string, at time.Time) ([]ChiefRef, error) {
	return a.store.ChiefsAt(ctx, reach, at)
}

// ChiefReaches returns the reaches a chief answers for at at: their scope.
func (a *Atlas) ChiefReaches(ctx context.Context, userID string, at time.Time) ([]string, error) {
	return a.store.ReachesOfChief(ctx, userID, at)
}

// RelinkReport counts what a relink pass looked at and changed.
type RelinkReport struct {
	Checked int
	Changed int
}

// Relink recomputes who answers for evidence after boundaries or chief
// assignments changed, and records each change (old and new) in the audit
// trail in the same transaction as the change. Evidence whose case is
// closed keeps its record; cases do not exist yet, so every evidence counts
// as open. It runs against the index in force now; chiefs are still taken
// at each evidence's capture time.
func (a *Atlas) Relink(ctx context.Context, actorID string) (RelinkReport, error) {
	var rep RelinkReport
	f := EvidenceFilter{Limit: 500}
	for {
		page, err := a.store.ListEvidence(ctx, f)
		if err != nil {
			return rep, err
		}
		for _, e := range page {
			rep.Checked++
			next, err := a.Link(ctx, &e)
			if err != nil {
				return rep, err
			}
			if next == nil || sameLink(e.Responsibility, next) {
				continue
			}
			data, err := json.Marshal(struct {
				Old *Responsibility `json:"old"`
				New *Responsibility `json:"new"`
			}{e.Responsibility, next})
			if err != nil {
				return rep, err
			}
			ev := AuditEvent{At: a.now(), ActorID: actorID, Action: "evidence.relink", ObjectType: "evidence", ObjectID: e.ID, Data: data}
			if err := a.store.RelinkEvidence(ctx, e.ID, *next, ev); err != nil {
				return rep, err
			}
			rep.Changed++
		}
		if len(page) < f.Limit {
			return rep, nil
		}
		last := page[len(page)-1]
		t := last.ReceivedAt
		f.AfterTime, f.AfterID = &t, last.ID
	}
}

// sameLink reports whether two records name the same township, reach and
// chiefs: what accountability depends on.
func sameLink(old, next *Responsibility) bool {
	if old == nil {
		return false
	}
	if old.TownshipCode != next.TownshipCode || old.ReachCode != next.ReachCode || len(old.Chiefs) != len(next.Chiefs) {
		return false
	}
	for i := range old.Chiefs {
		if old.Chiefs[i].UserID != next.Chiefs[i].UserID || old.Chiefs[i].Level != next.Chiefs[i].Level {
			return false
		}
	}
	return true
}

// importError turns the importer's per-feature findings into EINVALID
// naming each feature index and reason.
func importError(err error) error {
	var ie *geo.ImportError
	if !errors.As(err, &ie) {
		return err
	}
	fields := make([]FieldError, 0, len(ie.Problems))
	for _, p := range ie.Problems {
		f := "/features"
		if p.Feature >= 0 {
			f = fmt.Sprintf("/features/%d", p.Feature)
		}
		reason := p.Reason
		if p.Code != "" {
			reason = p.Code + ": " + reason
		}
		fields = append(fields, FieldError{Field: f, Reason: reason})
	}
	return &Error{Code: EINVALID, Message: fmt.Sprintf("%d problem(s) in the GeoJSON; nothing was imported", len(fields)),
		Fields: fields, Err: err}
}
