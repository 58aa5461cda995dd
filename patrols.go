package fieldwatch

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch/geo"
)

// Patrol is a river chief's walk along a reach (巡河), with what the
// server made of its track.
type Patrol struct {
	ID           string
	ChiefID      string // who recorded it
	ReachCode    string
	TownshipCode string // the reach's, at recording
	StartedAt    time.Time
	EndedAt      time.Time

	LengthM     float64
	DurationS   float64
	Coverage    float64
	MaxSpeed    float64 // m/s
	MedianSpeed float64 // m/s
	Fixes       int
	Gaps        int
	Teleports   int
	Valid       bool
	Reasons     []string

	EvidenceIDs []string
	Note        string
	RecordedAt  time.Time
	Track       geo.Track // loaded by PatrolByID only
}

// PatrolFilter narrows a patrol listing. Scope nil: everything.
type PatrolFilter struct {
	ReachCode string
	ChiefID   string
	Valid     *bool
	From, To  *time.Time // StartedAt in [From, To)
	Scope     *Scope

	AfterTime *time.Time // keyset: started before this…
	AfterID   string     // …or at it with a smaller id
	Limit     int
}

// PatrolStore keeps patrols.
type PatrolStore interface {
	// CreatePatrol stores p under the recorder's Idempotency-Key (setting
	// p.ID); a taken key fails with ErrConflict.
	CreatePatrol(ctx context.Context, p *Patrol, key string, fingerprint []byte) error
	// PatrolByKey finds the patrol a user recorded with key.
	PatrolByKey(ctx context.Context, userID, key string) (Patrol, []byte, bool, error)
	PatrolByID(ctx context.Context, id string) (Patrol, error)
	ListPatrols(ctx context.Context, f PatrolFilter) ([]Patrol, error)
	// ChiefAssignmentsDuring lists assignments in force at any time in [from, to).
	ChiefAssignmentsDuring(ctx context.Context, from, to time.Time) ([]ChiefAssignment, error)
	UserByID(ctx context.Context, id string) (User, error)
}

// PatrolReaches gives the reach a patrol is on.
type PatrolReaches interface {
	ReachByCode(ctx context.Context, code string, at time.Time) (Reach, error)
}

// Period is how often a chief must patrol.
type Period string

// Patrol periods.
const (
	PeriodWeek    Period = "week"    // Monday to Sunday
	PeriodMonth   Period = "month"   // calendar month
	PeriodQuarter Period = "quarter" // calendar quarter
)

// Periods lists every Period, shortest first.
func Periods() []Period { return []Period{PeriodWeek, PeriodMonth, PeriodQuarter} }

// Valid reports whether p is one of Periods.
func (p Period) Valid() bool { return slices.Contains(Periods(), p) }

// Frequency is the patrol period required of each chief level.
type Frequency map[ChiefLevel]Period

// DefaultFrequency: village chiefs weekly, township chiefs monthly,
// county chiefs quarterly (the common provincial minimums).
func DefaultFrequency() Frequency {
	return Frequency{ChiefVillage: PeriodWeek, ChiefTownship: PeriodMonth, ChiefCounty: PeriodQuarter}
}

// ParseFrequency reads overrides such as "village=week,county=month".
func ParseFrequency(s string) (Frequency, error) {
	f := DefaultFrequency()
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		level, period, ok := strings.Cut(item, "=")
		l, p := ChiefLevel(level), Period(period)
		if !ok || !l.Valid() || !p.Valid() {
			return nil, Errorf(EINVALID, "patrol frequency %q: want LEVEL=week|month|quarter", item)
		}
		f[l] = p
	}
	return f, nil
}

// PatrolConfig configures Patrols.
type PatrolConfig struct {
	Rules     geo.PatrolRules
	Frequency Frequency
	Location  *time.Location // the county's zone: weeks and months end at its midnight
	Clock     func() time.Time
}

// Patrols records patrols, analyses their tracks and checks the chiefs'
// patrol frequency.
type Patrols struct {
	store    PatrolStore
	reaches  PatrolReaches
	evidence CaseEvidence
	cfg      PatrolConfig
}

// NewPatrols returns the patrol service; zero config parts get defaults.
func NewPatrols(store PatrolStore, reaches PatrolReaches, evidence CaseEvidence, cfg PatrolConfig) *Patrols {
	if cfg.Frequency == nil {
		cfg.Frequency = DefaultFrequency()
	}
	if cfg.Location == nil {
		cfg.Location = time.FixedZone("CST", 8*3600)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Patrols{store: store, reaches: reaches, evidence: evidence, cfg: cfg}
}

// PatrolRequest is a patrol as the phone sends it.
type PatrolRequest struct {
	ReachCode   string
	Track       geo.Track
	EvidenceIDs []string
	Note        string
	Key         string // Idempotency-Key

	// CRS is the coordinate system Track was recorded in; empty means
	// WGS-84. Phones using the Amap or Tencent location SDK record GCJ-02
	// by default and Baidu's SDK BD-09, about 500 m off WGS-84 in most of
	// China: read as WGS-84, such a walk along the river misses the reach
	// and scores no coverage. Record converts Track to WGS-84 before any
	// analysis.
	CRS geo.CRS
}

func (r PatrolRequest) fingerprint() []byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%d|", r.ReachCode, r.Note, len(r.Track))
	if r.CRS != "" && r.CRS != geo.WGS84 {
		// The same numbers in another system are another walk. WGS-84
		// adds nothing, so fingerprints stored before patrols had a CRS
		// still match their retries.
		fmt.Fprintf(h, "crs=%s|", r.CRS)
	}
	for _, f := range r.Track {
		fmt.Fprintf(h, "%.9f,%.9f,%d;", f.Lon, f.Lat, f.At.UnixNano())
	}
	for _, id := range r.EvidenceIDs {
		fmt.Fprintf(h, "%s;", id)
	}
	return h.Sum(nil)
}

// ErrPatrolKeyReused: the Idempotency-Key was used for a different patrol.
var ErrPatrolKeyReused = Wrap(EKEYREUSED, "Idempotency-Key already used for a different patrol", ErrKeyReused)

// Record analyses and stores a patrol. River chiefs record patrols of
// the reaches they are assigned to, administrators of any; a reach out of
// the chief's scope answers like a missing one. replayed is true when the
// key was used before for the same patrol.
func (s *Patrols) Record(ctx context.Context, a Actor, req PatrolRequest) (p Patrol, replayed bool, err error) {
	if a.Role != RoleAdmin && a.Role != RoleRiverChief {
		return Patrol{}, false, Errorf(EFORBIDDEN, "only river chiefs and administrators record patrols")
	}
	if req.Key == "" {
		return Patrol{}, false, Errorf(EINVALID, "a patrol needs an Idempotency-Key")
	}
	if req.CRS == "" {
		req.CRS = geo.WGS84
	}
	if c, err := geo.ParseCRS(string(req.CRS)); err != nil || c != req.CRS {
		return Patrol{}, false, &Error{Code: EINVALID, Message: fmt.Sprintf("track CRS %q is not one of wgs84, gcj02, bd09", req.CRS),
			Fields: []FieldError{{Field: "/crs", Reason: "not one of wgs84, gcj02, bd09"}}}
	}
	fp := req.fingerprint()
	if prev, found, err := s.replay(ctx, a.UserID, req.Key, fp); err != nil || found {
		return prev, found, err
	}
	if a.Role == RoleRiverChief && !slices.Contains(a.Reaches, req.ReachCode) {
		return Patrol{}, false, fmt.Errorf("fieldwatch: reach %s is not the chief's: %w", req.ReachCode, ErrNotFound)
	}
	note, err := CleanText("note", req.Note, 2000, true)
	if err != nil {
		return Patrol{}, false, err
	}
	if err := req.Track.Validate(); err != nil {
		return Patrol{}, false, Errorf(EINVALID, "%w", err)
	}
	track, err := trackToWGS84(req.Track, req.CRS)
	if err != nil {
		return Patrol{}, false, err
	}
	req.Track = track
	now := s.cfg.Clock().UTC()
	start, end := req.Track[0].At.UTC(), req.Track[len(req.Track)-1].At.UTC()
	if end.After(now.Add(5 * time.Minute)) {
		return Patrol{}, false, Errorf(EINVALID, "the track ends in the future (%s)", end.Format(time.RFC3339))
	}
	reach, err := s.reaches.ReachByCode(ctx, req.ReachCode, start)
	if errors.Is(err, ErrNotFound) {
		// The reach may be newer than the walk's start (a re-import): use
		// the current geometry rather than refuse a real patrol.
		reach, err = s.reaches.ReachByCode(ctx, req.ReachCode, now)
	}
	if err != nil {
		return Patrol{}, false, err
	}
	var probs []EvidenceProblem
	for i, id := range req.EvidenceIDs {
		e, err := s.evidence.EvidenceByID(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound) || (err == nil && !a.EvidenceScope().SeesEvidence(e)):
			probs = append(probs, EvidenceProblem{Index: i, ID: id, Reason: "no such evidence"})
		case err != nil:
			return Patrol{}, false, err
		}
	}
	if len(probs) > 0 {
		return Patrol{}, false, &EvidenceError{Problems: probs}
	}
	an := geo.AnalyzePatrol(req.Track, reach.Line, s.cfg.Rules)
	p = Patrol{ChiefID: a.UserID, ReachCode: reach.Code, TownshipCode: reach.TownshipCode, StartedAt: start, EndedAt: end,
		LengthM: round2(an.LengthM), DurationS: an.Duration.Seconds(), Coverage: round4(an.Coverage),
		MaxSpeed: round2(an.MaxSpeed), MedianSpeed: round2(an.MedianSpeed), Fixes: len(req.Track),
		Gaps: len(an.Gaps), Teleports: len(an.Teleports), Valid: an.Valid, Reasons: append([]string{}, an.Reasons...),
		EvidenceIDs: append([]string{}, req.EvidenceIDs...), Note: note, RecordedAt: now, Track: req.Track}
	err = s.store.CreatePatrol(ctx, &p, req.Key, fp)
	if errors.Is(err, ErrConflict) {
		// A concurrent retry with the same key won the race: answer its patrol.
		if prev, found, err2 := s.replay(ctx, a.UserID, req.Key, fp); err2 != nil || found {
			return prev, found, err2
		}
	}
	if err != nil {
		return Patrol{}, false, err
	}
	return p, false, nil
}

// replay finds the patrol recorded earlier with key; the same key with a
// different patrol is ErrPatrolKeyReused.
func (s *Patrols) replay(ctx context.Context, userID, key string, fp []byte) (Patrol, bool, error) {
	prev, prevFP, found, err := s.store.PatrolByKey(ctx, userID, key)
	switch {
	case err != nil || !found:
		return Patrol{}, false, err
	case string(prevFP) != string(fp):
		return Patrol{}, false, ErrPatrolKeyReused
	}
	return prev, true, nil
}

func round4(f float64) float64 { return float64(int64(f*10000+0.5)) / 10000 }

// Get returns a patrol in the actor's scope, with its track.
func (s *Patrols) Get(ctx context.Context, a Actor, id string) (Patrol, error) {
	p, err := s.store.PatrolByID(ctx, id)
	if err != nil {
		return Patrol{}, err
	}
	if !a.PatrolScope().SeesPatrol(p) {
		return Patrol{}, fmt.Errorf("fieldwatch: patrol outside scope: %w", ErrNotFound)
	}
	return p, nil
}

// List lists patrols in the actor's scope, newest first.
func (s *Patrols) List(ctx context.Context, a Actor, f PatrolFilter) ([]Patrol, error) {
	f.Scope = a.PatrolScope()
	return s.store.ListPatrols(ctx, f)
}

// CanSeeReach reports whether the actor sees the reach's patrols: its
// chiefs, the officers of its township, administrators.
func (s *Patrols) CanSeeReach(ctx context.Context, a Actor, code string) (bool, error) {
	r, err := s.reaches.ReachByCode(ctx, code, s.cfg.Clock())
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return a.PatrolScope().Covers(r.TownshipCode, code), nil
}

// ComplianceRow is one chief's patrol record on one reach for a month.
type ComplianceRow struct {
	ChiefID      string
	ChiefName    string
	Level        ChiefLevel
	ReachCode    string
	TownshipCode string
	Required     int // periods ending in the month that need a valid patrol
	Met          int
	ValidPatrols int // valid patrols started in the month
	PatrolIDs    []string
}

// Rate is Met/Required, 1 when nothing was required.
func (r ComplianceRow) Rate() float64 {
	if r.Required == 0 {
		return 1
	}
	return float64(r.Met) / float64(r.Required)
}

// Compliant reports whether every required period had a valid patrol.
func (r ComplianceRow) Compliant() bool { return r.Met >= r.Required }

// period is one stretch of time that needs a valid patrol.
type period struct{ from, to time.Time }

// periods returns the periods of kind p that end within [start, end):
// each counts in the month it ends in, so a week spanning two months and
// a quarter count once.
func (s *Patrols) periods(p Period, start, end time.Time) []period {
	switch p {
	case PeriodWeek:
		// The Monday on or before start.
		d := start.AddDate(0, 0, -((int(start.Weekday()) + 6) % 7))
		var out []period
		for ; ; d = d.AddDate(0, 0, 7) {
			to := d.AddDate(0, 0, 7)
			if to.After(end) {
				return out
			}
			if to.After(start) {
				out = append(out, period{d, to})
			}
		}
	case PeriodQuarter:
		if end.Month()%3 != 1 { // the month after a quarter's last is Jan, Apr, Jul, Oct
			return nil
		}
		return []period{{end.AddDate(0, -3, 0), end}}
	}
	return []period{{start, end}}
}

// Compliance checks every chief assignment in force during month against
// its level's frequency. Rows are ordered by township, reach, level
// (county first) and chief. The actor sees the rows of their scope.
func (s *Patrols) Compliance(ctx context.Context, a Actor, month string) ([]ComplianceRow, error) {
	start, end, err := MonthRange(month, s.cfg.Location)
	if err != nil {
		return nil, err
	}
	rows, err := s.compliance(ctx, start, end)
	if err != nil {
		return nil, err
	}
	sc := a.PatrolScope()
	return slices.DeleteFunc(rows, func(r ComplianceRow) bool {
		return sc != nil && r.ChiefID != sc.UserID && !sc.Covers(r.TownshipCode, r.ReachCode)
	}), nil
}

func (s *Patrols) compliance(ctx context.Context, start, end time.Time) ([]ComplianceRow, error) {
	assignments, err := s.store.ChiefAssignmentsDuring(ctx, start, end)
	if err != nil {
		return nil, err
	}
	// A quarter's patrols may lie before the month.
	from := end.AddDate(0, -3, 0)
	valid := true
	patrols, err := s.allPatrols(ctx, PatrolFilter{From: &from, To: &end, Valid: &valid})
	if err != nil {
		return nil, err
	}
	type key struct{ chief, reach string }
	byChief := map[key][]Patrol{}
	for _, p := range patrols {
		byChief[key{p.ChiefID, p.ReachCode}] = append(byChief[key{p.ChiefID, p.ReachCode}], p)
	}
	rows := map[key]*ComplianceRow{}
	var order []key
	names := map[string]string{}
	for _, as := range assignments {
		k := key{as.UserID, as.ReachCode}
		row := rows[k]
		if row == nil {
			if _, ok := names[as.UserID]; !ok {
				u, err := s.store.UserByID(ctx, as.UserID)
				if err != nil {
					return nil, err
				}
				names[as.UserID] = u.DisplayName
			}
			township := ""
			if r, err := s.reaches.ReachByCode(ctx, as.ReachCode, end.Add(-time.Nanosecond)); err == nil {
				township = r.TownshipCode
			} else if !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			row = &ComplianceRow{ChiefID: as.UserID, ChiefName: names[as.UserID], Level: as.Level, ReachCode: as.ReachCode,
				TownshipCode: township, PatrolIDs: []string{}}
			rows[k] = row
			order = append(order, k)
		}
		for _, per := range s.periods(s.cfg.Frequency[as.Level], start, end) {
			// A period counts only while the chief was assigned.
			if !as.ValidFrom.Before(per.to) || (as.ValidTo != nil && !as.ValidTo.After(per.from)) {
				continue
			}
			row.Required++
			for _, p := range byChief[k] {
				if !p.StartedAt.Before(per.from) && p.StartedAt.Before(per.to) {
					row.Met++
					break
				}
			}
		}
		for _, p := range byChief[k] {
			if !p.StartedAt.Before(start) && !slices.Contains(row.PatrolIDs, p.ID) {
				row.ValidPatrols++
				row.PatrolIDs = append(row.PatrolIDs, p.ID)
			}
		}
	}
	out := make([]ComplianceRow, 0, len(order))
	for _, k := range order {
		r := *rows[k]
		r.Met = min(r.Met, r.Required)
		out = append(out, r)
	}
	slices.SortFunc(out, func(x, y ComplianceRow) int {
		return cmp.Or(cmp.Compare(x.TownshipCode, y.TownshipCode), cmp.Compare(x.ReachCode, y.ReachCode),
			cmp.Compare(x.Level.Rank(), y.Level.Rank()), cmp.Compare(x.ChiefID, y.ChiefID))
	})
	return out, nil
}

// allPatrols pages through every patrol matching f.
func (s *Patrols) allPatrols(ctx context.Context, f PatrolFilter) ([]Patrol, error) {
	f.Limit = 500
	var out []Patrol
	for {
		page, err := s.store.ListPatrols(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < f.Limit {
			return out, nil
		}
		last := page[len(page)-1]
		f.AfterTime, f.AfterID = &last.StartedAt, last.ID
	}
}

// trackToWGS84 returns t converted from crs to WGS-84, in a new slice so
// that the caller's track (the fixes as received) is left as it was. Every
// analysis and the stored track are in WGS-84, like the reaches they are
// compared with.
func trackToWGS84(t geo.Track, crs geo.CRS) (geo.Track, error) {
	if crs == geo.WGS84 {
		return t, nil
	}
	out := make(geo.Track, len(t))
	for i, f := range t {
		p, err := geo.ToWGS84(f.Point, crs)
		if err != nil {
			return nil, &Error{Code: EINVALID, Message: fmt.Sprintf("track: fix %d: %v", i, err),
				Fields: []FieldError{{Field: fmt.Sprintf("/track/fixes/%d", i), Reason: err.Error()}}, Err: err}
		}
		out[i] = geo.Fix{Point: p, At: f.At}
	}
	return out, nil
}

// ParseTrackGeoJSON reads a patrol's track sent as GeoJSON, the request's
// /track. An invalid track is EINVALID with one field per problem
// (/track/fixes/N for a fix).
func ParseTrackGeoJSON(r io.Reader) (geo.Track, error) {
	t, err := geo.ParseTrackGeoJSON(r)
	return t, trackError(err, "/track")
}

// ParseTrackGPX reads a patrol's track sent as GPX, the request's /gpx;
// errors as for ParseTrackGeoJSON, under /gpx.
func ParseTrackGPX(r io.Reader) (geo.Track, error) {
	t, err := geo.ParseGPX(r)
	return t, trackError(err, "/gpx")
}

// trackError turns a track's problems into EINVALID fields under field.
func trackError(err error, field string) error {
	if err == nil {
		return nil
	}
	var te *geo.TrackError
	if !errors.As(err, &te) {
		return Errorf(EINVALID, "track: %w", err)
	}
	fields := make([]FieldError, 0, len(te.Problems))
	for _, p := range te.Problems {
		f := field
		if p.Fix >= 0 {
			f = fmt.Sprintf("%s/fixes/%d", field, p.Fix)
		}
		fields = append(fields, FieldError{Field: f, Reason: p.Reason})
	}
	return &Error{Code: EINVALID, Message: te.Error(), Fields: fields, Err: err}
}
