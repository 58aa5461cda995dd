package fieldwatch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch/geo"
)

// CaseStore keeps cases, their timelines and the idempotency keys of
// transitions. Every write appends to the audit trail in the same
// transaction.
type CaseStore interface {
	// CreateCase stores c (setting ID and Version) with its first
	// timeline entry.
	CreateCase(ctx context.Context, c *Case, ev CaseEvent) error
	CaseByID(ctx context.Context, id string) (Case, error)
	ListCases(ctx context.Context, f CaseFilter) ([]Case, error)
	CaseEvents(ctx context.Context, id string) ([]CaseEvent, error)
	// TransitionByKey finds a transition made with an Idempotency-Key.
	TransitionByKey(ctx context.Context, actorID, key string) (caseID string, fingerprint []byte, found bool, err error)
	// UpdateCase writes c if its stored version is still c.Version-1 and
	// appends evs to its timeline; with a non-empty key it also records
	// the key. A stale version or a taken key fails with ErrConflict.
	UpdateCase(ctx context.Context, c Case, evs []CaseEvent, key CaseKey) error
	// AddCaseEvent appends a comment to the timeline; it sets ev.Seq.
	AddCaseEvent(ctx context.Context, caseID string, ev *CaseEvent) error
	// CasesOwingAction lists the cases the deadline job looks at: those
	// in a state where the township owes the next step and not yet
	// escalated to the county.
	CasesOwingAction(ctx context.Context) ([]Case, error)
}

// CaseKey is the Idempotency-Key of a transition and what it was used for.
type CaseKey struct {
	ActorID     string
	Key         string
	Fingerprint []byte
}

// CaseEvidence reads the evidence cases are made from.
type CaseEvidence interface {
	EvidenceByID(ctx context.Context, id string) (Evidence, error)
}

// CasePlaces answers which township and reach exist, and who the reach's
// chiefs are.
type CasePlaces interface {
	TownshipByCode(ctx context.Context, code string, at time.Time) (Township, error)
	ReachByCode(ctx context.Context, code string, at time.Time) (Reach, error)
	ChiefsAt(ctx context.Context, reachCode string, at time.Time) ([]ChiefRef, error)
}

// DeadlinePolicy gives the working days allowed to rectify, by category
// and severity. A category or severity it has no entry for gets the
// default (see Days).
type DeadlinePolicy map[Category]map[Severity]int

// FallbackDeadlines are the working days for a category that neither the
// configuration nor DefaultDeadlines has a row for: a new category works
// with these (those of CategoryOther) until it is given its own row.
func FallbackDeadlines() map[Severity]int {
	return map[Severity]int{SeverityHigh: 5, SeverityMedium: 10, SeverityLow: 15}
}

// DefaultDeadlines are the working days allowed unless configured. Open
// burning is put out the same week; dust control takes a few days of site
// work; river problems (garbage, outfalls) need clean-up crews or
// engineering.
func DefaultDeadlines() DeadlinePolicy {
	return DeadlinePolicy{
		CategoryOpenBurning:  {SeverityHigh: 1, SeverityMedium: 2, SeverityLow: 3},
		CategoryDustSite:     {SeverityHigh: 3, SeverityMedium: 5, SeverityLow: 10},
		CategoryRiverSection: {SeverityHigh: 5, SeverityMedium: 10, SeverityLow: 20},
		CategoryOther:        FallbackDeadlines(),
	}
}

// Days returns the working days p allows a case of category c and
// severity s: p's entry, else DefaultDeadlines', else FallbackDeadlines'.
func (p DeadlinePolicy) Days(c Category, s Severity) int {
	if days, ok := p[c][s]; ok {
		return days
	}
	if days, ok := DefaultDeadlines()[c][s]; ok {
		return days
	}
	return FallbackDeadlines()[s]
}

// ParseDeadlines reads overrides such as "open_burning:high=1,dust_site:low=7"
// over the defaults.
func ParseDeadlines(s string) (DeadlinePolicy, error) {
	return DefaultDeadlines().override(s)
}

// override reads overrides in ParseDeadlines' form into p, which may lack
// rows, and returns it.
func (p DeadlinePolicy) override(s string) (DeadlinePolicy, error) {
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		key, days, ok := strings.Cut(item, "=")
		cat, sev, ok2 := strings.Cut(key, ":")
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || !ok || !ok2 || n < 0 || n > 365 || fmt.Sprint(n) != days {
			return nil, Errorf(EINVALID, "deadline %q: want CATEGORY:SEVERITY=DAYS (0–365)", item)
		}
		c, err := ParseCategory(cat)
		if err != nil {
			return nil, err
		}
		if !Severity(sev).Valid() {
			return nil, Errorf(EINVALID, "deadline %q: unknown severity %q", item, sev)
		}
		if p[c] == nil {
			p[c] = map[Severity]int{}
		}
		p[c][Severity(sev)] = n
	}
	return p, nil
}

// CaseRules configure casework.
type CaseRules struct {
	Calendar  *Calendar
	Deadlines DeadlinePolicy
	// MaxDistanceM is how far rectification evidence may be from the
	// nearest original evidence. Default 100 m.
	MaxDistanceM float64
	// CountyAfterDays is how many working days overdue a case goes to
	// the county. Default 7.
	CountyAfterDays int
	Clock           func() time.Time
	Logger          *slog.Logger
}

// Casework runs rectification cases: opening, the state machine, the
// rectification evidence rules, four eyes, and deadline escalation.
type Casework struct {
	store    CaseStore
	evidence CaseEvidence
	places   CasePlaces
	rules    CaseRules
}

// NewCasework returns casework over the given ports. Rules left zero get
// their defaults; a nil Calendar counts weekends only, in UTC+8.
func NewCasework(store CaseStore, evidence CaseEvidence, places CasePlaces, rules CaseRules) *Casework {
	if rules.Calendar == nil {
		rules.Calendar, _ = NewCalendar(time.FixedZone("CST", 8*3600), nil, nil)
	}
	if rules.Deadlines == nil {
		rules.Deadlines = DefaultDeadlines()
	}
	if rules.MaxDistanceM <= 0 {
		rules.MaxDistanceM = 100
	}
	if rules.CountyAfterDays <= 0 {
		rules.CountyAfterDays = 7
	}
	if rules.Clock == nil {
		rules.Clock = time.Now
	}
	if rules.Logger == nil {
		rules.Logger = slog.New(slog.DiscardHandler)
	}
	return &Casework{store: store, evidence: evidence, places: places, rules: rules}
}

// Deadline is when a case of this category and severity opened at start
// is due: the end of the n-th working day after it.
func (w *Casework) Deadline(c Category, s Severity, start time.Time) time.Time {
	return w.rules.Calendar.AddWorkingDays(start, w.rules.Deadlines.Days(c, s))
}

// CaseRequest is what an administrator fills in to open a case.
type CaseRequest struct {
	EvidenceIDs  []string
	Title        string
	Category     Category
	Severity     Severity
	TownshipCode string     // "" to take the evidence's
	ReachCode    string     // "" to take the evidence's
	Deadline     *time.Time // nil to compute
	Note         string
}

// Open opens a case from evidence. Only administrators open cases.
func (w *Casework) Open(ctx context.Context, a Actor, req CaseRequest) (Case, error) {
	if a.Role != RoleAdmin {
		return Case{}, Errorf(EFORBIDDEN, "only administrators open cases")
	}
	now := w.rules.Clock().UTC()
	title, err := CleanText("title", req.Title, 200, false)
	if err != nil {
		return Case{}, err
	}
	if title == "" {
		return Case{}, Errorf(EINVALID, "title is empty")
	}
	note, err := CleanText("note", req.Note, 2000, true)
	if err != nil {
		return Case{}, err
	}
	if !req.Severity.Valid() {
		return Case{}, Errorf(EINVALID, "unknown severity %q", req.Severity)
	}
	if _, err := ParseCategory(string(req.Category)); err != nil {
		return Case{}, err
	}
	if len(req.EvidenceIDs) == 0 {
		return Case{}, Errorf(EINVALID, "a case needs evidence")
	}
	var evs []Evidence
	var probs []EvidenceProblem
	for i, id := range req.EvidenceIDs {
		e, err := w.evidence.EvidenceByID(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			probs = append(probs, EvidenceProblem{Index: i, ID: id, Reason: "no such evidence"})
			continue
		case err != nil:
			return Case{}, err
		}
		evs = append(evs, e)
	}
	if len(probs) > 0 {
		return Case{}, &EvidenceError{Problems: probs}
	}
	c := Case{Title: title, Category: req.Category, Severity: req.Severity, State: CaseOpen,
		TownshipCode: req.TownshipCode, ReachCode: req.ReachCode, Escalation: EscalationNone,
		OpenedBy: a.UserID, OpenedAt: now, CycleStart: now, UpdatedAt: now}
	for _, e := range evs {
		c.EvidenceIDs = append(c.EvidenceIDs, e.ID)
		if !slices.Contains(c.Uploaders, e.UploaderID) {
			c.Uploaders = append(c.Uploaders, e.UploaderID)
		}
		if req.TownshipCode == "" && c.TownshipCode == "" {
			c.TownshipCode = e.TownshipCode
		}
		if req.ReachCode == "" && c.ReachCode == "" {
			c.ReachCode = e.ReachCode
		}
	}
	if c.TownshipCode != "" {
		if _, err := w.places.TownshipByCode(ctx, c.TownshipCode, now); errors.Is(err, ErrNotFound) {
			return Case{}, Errorf(EINVALID, "township %s does not exist", c.TownshipCode)
		} else if err != nil {
			return Case{}, err
		}
	}
	if c.ReachCode != "" {
		if _, err := w.places.ReachByCode(ctx, c.ReachCode, now); errors.Is(err, ErrNotFound) {
			return Case{}, Errorf(EINVALID, "reach %s does not exist", c.ReachCode)
		} else if err != nil {
			return Case{}, err
		}
		if c.Chiefs, err = w.places.ChiefsAt(ctx, c.ReachCode, now); err != nil {
			return Case{}, err
		}
	}
	if c.TownshipCode == "" && c.ReachCode == "" {
		return Case{}, Errorf(EINVALID, "the evidence lies outside every township and reach: name township_code")
	}
	if req.Deadline != nil {
		if !req.Deadline.After(now) {
			return Case{}, Errorf(EINVALID, "deadline must be in the future")
		}
		c.Deadline, c.DeadlineExplicit = req.Deadline.UTC(), true
	} else {
		c.Deadline = w.Deadline(c.Category, c.Severity, now).UTC()
	}
	ev := CaseEvent{At: now, ActorID: a.UserID, Kind: CaseEventOpened, To: CaseOpen, Note: note, EvidenceIDs: c.EvidenceIDs}
	if err := w.store.CreateCase(ctx, &c, ev); err != nil {
		return Case{}, err
	}
	return c, nil
}

// Get returns a case in the actor's scope with its timeline.
func (w *Casework) Get(ctx context.Context, a Actor, id string) (Case, []CaseEvent, error) {
	c, err := w.visible(ctx, a, id)
	if err != nil {
		return Case{}, nil, err
	}
	evs, err := w.store.CaseEvents(ctx, c.ID)
	if err != nil {
		return Case{}, nil, err
	}
	return c, evs, nil
}

// List lists cases in the actor's scope.
func (w *Casework) List(ctx context.Context, a Actor, f CaseFilter) ([]Case, error) {
	f.Scope = a.CaseScope()
	return w.store.ListCases(ctx, f)
}

func (w *Casework) visible(ctx context.Context, a Actor, id string) (Case, error) {
	c, err := w.store.CaseByID(ctx, id)
	if err != nil {
		return Case{}, err
	}
	if !a.CaseScope().SeesCase(c) {
		return Case{}, fmt.Errorf("fieldwatch: case outside scope: %w", ErrNotFound)
	}
	return c, nil
}

// Comment adds a comment to a case in the actor's scope.
func (w *Casework) Comment(ctx context.Context, a Actor, id, body string) (CaseEvent, error) {
	c, err := w.visible(ctx, a, id)
	if err != nil {
		return CaseEvent{}, err
	}
	body, err = CleanText("body", body, 4000, true)
	if err != nil {
		return CaseEvent{}, err
	}
	if strings.TrimSpace(body) == "" {
		return CaseEvent{}, Errorf(EINVALID, "comment is empty")
	}
	ev := CaseEvent{At: w.rules.Clock().UTC(), ActorID: a.UserID, Kind: CaseEventComment, Note: body}
	if err := w.store.AddCaseEvent(ctx, c.ID, &ev); err != nil {
		return CaseEvent{}, err
	}
	return ev, nil
}

// Transition is a request to move a case on.
type Transition struct {
	Action         CaseAction
	Note           string
	EvidenceIDs    []string // rectification evidence (submit_rectification)
	OverrideReason string   // administrators: accept evidence breaking the rules
	Key            string   // Idempotency-Key
}

func (t Transition) fingerprint(caseID string) []byte {
	h := sha256.New()
	ids := slices.Clone(t.EvidenceIDs)
	slices.Sort(ids)
	for _, f := range append([]string{caseID, string(t.Action), t.Note, t.OverrideReason}, ids...) {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return h.Sum(nil)
}

// ErrTransitionKeyReused: the Idempotency-Key was used before for a
// different transition.
var ErrTransitionKeyReused = Wrap(EKEYREUSED, "Idempotency-Key already used for a different transition", ErrKeyReused)

// Transition applies t to the case id as a. A retry with the same key
// answers the case as it now is without applying the action twice.
func (w *Casework) Transition(ctx context.Context, a Actor, id string, t Transition) (Case, error) {
	if t.Key == "" {
		return Case{}, Errorf(EINVALID, "a transition needs an Idempotency-Key")
	}
	if _, err := ParseCaseAction(string(t.Action)); err != nil {
		return Case{}, err
	}
	fp := t.fingerprint(id)
	// Two tries: a lost race with another transition re-reads the case
	// and decides again (the other may have made this one illegal).
	for attempt := 0; ; attempt++ {
		if replay, ok, err := w.replay(ctx, a, id, t.Key, fp); err != nil || ok {
			return replay, err
		}
		c, evs, err := w.decide(ctx, a, id, t)
		if err != nil {
			return Case{}, err
		}
		err = w.store.UpdateCase(ctx, c, evs, CaseKey{ActorID: a.UserID, Key: t.Key, Fingerprint: fp})
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, ErrConflict) || attempt == 2 {
			return Case{}, err
		}
	}
}

// replay answers a transition already made with key.
func (w *Casework) replay(ctx context.Context, a Actor, id, key string, fp []byte) (Case, bool, error) {
	caseID, prev, found, err := w.store.TransitionByKey(ctx, a.UserID, key)
	if err != nil || !found {
		return Case{}, false, err
	}
	if caseID != id || string(prev) != string(fp) {
		return Case{}, false, ErrTransitionKeyReused
	}
	c, err := w.visible(ctx, a, id)
	return c, err == nil, err
}

// decide checks t against the case as it is now and returns the case
// after it, with its timeline entry.
func (w *Casework) decide(ctx context.Context, a Actor, id string, t Transition) (Case, []CaseEvent, error) {
	c, err := w.visible(ctx, a, id)
	if err != nil {
		return Case{}, nil, err
	}
	to, ok := c.State.Next(t.Action)
	if !ok {
		return Case{}, nil, &TransitionError{State: c.State, Action: t.Action, Allowed: a.AllowedActions(c)}
	}
	if !a.may(t.Action, c) {
		return Case{}, nil, Errorf(EFORBIDDEN, "your role may not %s this case", t.Action)
	}
	if t.Action == ActionVerify && c.SubmittedBy == a.UserID {
		return Case{}, nil, Errorf(EFORBIDDEN, "four eyes: the rectification must be verified by someone other than its submitter")
	}
	note, err := CleanText("note", t.Note, 2000, true)
	if err != nil {
		return Case{}, nil, err
	}
	if t.Action == ActionReturn && strings.TrimSpace(note) == "" {
		return Case{}, nil, Errorf(EINVALID, "returning a rectification needs a note saying what is missing")
	}
	if t.Action != ActionSubmitRectification && (len(t.EvidenceIDs) > 0 || t.OverrideReason != "") {
		return Case{}, nil, Errorf(EINVALID, "evidence_ids and override_reason go with submit_rectification only")
	}
	now := w.rules.Clock().UTC()
	ev := CaseEvent{At: now, ActorID: a.UserID, Kind: CaseEventTransition, Action: t.Action, From: c.State, To: to, Note: note}
	switch t.Action {
	case ActionSubmitRectification:
		override, err := CleanText("override_reason", t.OverrideReason, 2000, true)
		if err != nil {
			return Case{}, nil, err
		}
		if override != "" && a.Role != RoleAdmin {
			return Case{}, nil, Errorf(EFORBIDDEN, "only administrators may override the rectification evidence rules")
		}
		if err := w.checkRectification(ctx, a, c, t.EvidenceIDs, override != ""); err != nil {
			return Case{}, nil, err
		}
		ev.EvidenceIDs, ev.OverrideReason = slices.Clone(t.EvidenceIDs), override
		c.SubmittedBy, c.SubmittedAt, c.RectificationEvidenceIDs = a.UserID, &now, slices.Clone(t.EvidenceIDs)
	case ActionVerify:
		c.VerifiedBy, c.ClosedAt = a.UserID, &now
	case ActionReopen:
		// A recurrence is a new round: fresh deadline, fresh evidence.
		c.CycleStart, c.Deadline, c.DeadlineExplicit = now, w.Deadline(c.Category, c.Severity, now).UTC(), false
		c.OverdueSince, c.Escalation = nil, EscalationNone
		c.SubmittedBy, c.SubmittedAt, c.VerifiedBy, c.ClosedAt, c.RectificationEvidenceIDs = "", nil, "", nil, nil
	}
	c.State, c.UpdatedAt = to, now
	c.Version++
	return c, []CaseEvent{ev}, nil
}

// checkRectification applies the evidence rules: each item exists and is
// visible to the submitter, is not the case's own evidence, was captured
// after the round began, and lies within MaxDistanceM of the nearest
// original evidence. With override, time and distance problems pass.
func (w *Casework) checkRectification(ctx context.Context, a Actor, c Case, ids []string, override bool) error {
	if len(ids) == 0 {
		return Errorf(EINVALID, "submit_rectification needs evidence_ids: photos of the fixed site")
	}
	var origins []geo.Point
	for _, id := range c.EvidenceIDs {
		e, err := w.evidence.EvidenceByID(ctx, id)
		if err != nil {
			return err
		}
		if e.Location != nil {
			origins = append(origins, *e.Location)
		}
	}
	var probs []EvidenceProblem
	for i, id := range ids {
		bad := func(overridable bool, format string, args ...any) {
			probs = append(probs, EvidenceProblem{Index: i, ID: id, Reason: fmt.Sprintf(format, args...), Overridable: overridable})
		}
		e, err := w.evidence.EvidenceByID(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound) || (err == nil && !a.EvidenceScope().SeesEvidence(e)):
			bad(false, "no such evidence")
			continue
		case err != nil:
			return err
		case slices.Contains(c.EvidenceIDs, e.ID):
			bad(false, "this is the case's own evidence, not proof of the fix")
			continue
		}
		switch {
		case e.CapturedAt == nil:
			bad(true, "the photo has no capture time")
		case !e.CapturedAt.After(c.CycleStart):
			bad(true, "captured %s, before the case opened at %s", e.CapturedAt.UTC().Format(time.RFC3339), c.CycleStart.Format(time.RFC3339))
		}
		switch {
		case e.Location == nil:
			bad(true, "the photo has no location")
		case len(origins) == 0:
			bad(true, "the case's evidence has no location to compare with")
		default:
			d := nearest(*e.Location, origins)
			if d > w.rules.MaxDistanceM {
				bad(true, "taken %.0f m from the original evidence; the limit is %.0f m", d, w.rules.MaxDistanceM)
			}
		}
	}
	if override {
		probs = slices.DeleteFunc(probs, func(p EvidenceProblem) bool { return p.Overridable })
	}
	if len(probs) > 0 {
		return &EvidenceError{Problems: probs}
	}
	return nil
}

func nearest(p geo.Point, to []geo.Point) float64 {
	best := -1.0
	for _, q := range to {
		if d := geo.Distance(p, q); best < 0 || d < best {
			best = d
		}
	}
	return best
}

// EscalationAt is how far a case owing action should be escalated at
// now: a reminder within one working day of the deadline, the township
// head once overdue, the county CountyAfterDays working days later.
func (w *Casework) EscalationAt(c Case, now time.Time) Escalation {
	cal := w.rules.Calendar
	switch {
	case !c.State.owesAction():
		return c.Escalation
	case now.After(c.Deadline):
		if cal.WorkingDaysBetween(c.Deadline, now) >= w.rules.CountyAfterDays {
			return EscalationCounty
		}
		return EscalationTownshipHead
	case cal.WorkingDaysBetween(now, c.Deadline) <= 1:
		return EscalationReminder
	}
	return EscalationNone
}

// Sweep is the deadline job: it marks cases overdue once their deadline
// passes unmet and raises their escalation, recording each step on the
// timeline. It returns how many cases changed. Cases changed
// concurrently are left for the next sweep.
func (w *Casework) Sweep(ctx context.Context) (int, error) {
	cases, err := w.store.CasesOwingAction(ctx)
	if err != nil {
		return 0, err
	}
	now := w.rules.Clock().UTC()
	changed := 0
	for _, c := range cases {
		level := w.EscalationAt(c, now)
		if level.rank() <= c.Escalation.rank() {
			continue
		}
		var evs []CaseEvent
		if now.After(c.Deadline) && c.OverdueSince == nil {
			since := c.Deadline
			c.OverdueSince = &since
			evs = append(evs, CaseEvent{At: now, Kind: CaseEventOverdue, Note: "deadline " + c.Deadline.Format(time.RFC3339) + " passed"})
		}
		c.Escalation = level
		evs = append(evs, CaseEvent{At: now, Kind: CaseEventEscalation, Escalation: level})
		c.UpdatedAt = now
		c.Version++
		switch err := w.store.UpdateCase(ctx, c, evs, CaseKey{}); {
		case errors.Is(err, ErrConflict):
			continue
		case err != nil:
			return changed, err
		}
		changed++
	}
	return changed, nil
}
