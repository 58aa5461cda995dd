package fieldwatch

import (
	"fmt"
	"slices"
	"time"
)

// Severity grades a problem; with the category it sets the deadline.
type Severity string

// Severities.
const (
	SeverityLow    Severity = "low"
	SeverityMedium Severity = "medium"
	SeverityHigh   Severity = "high"
)

// Severities lists every Severity, lowest first.
func Severities() []Severity { return []Severity{SeverityLow, SeverityMedium, SeverityHigh} }

// Valid reports whether s is one of Severities.
func (s Severity) Valid() bool { return slices.Contains(Severities(), s) }

// CaseState is where a rectification case (整改) stands.
type CaseState string

// Case states. A case moves open → in_progress → rectification_submitted
// → closed; a rectification that does not convince is returned (→
// returned → in_progress), and a closed case whose problem recurs is
// reopened (→ reopened → in_progress).
const (
	CaseOpen                   CaseState = "open"
	CaseInProgress             CaseState = "in_progress"
	CaseRectificationSubmitted CaseState = "rectification_submitted"
	CaseReturned               CaseState = "returned"
	CaseClosed                 CaseState = "closed"
	CaseReopened               CaseState = "reopened"
)

// CaseStates lists every CaseState.
func CaseStates() []CaseState {
	return []CaseState{CaseOpen, CaseInProgress, CaseRectificationSubmitted, CaseReturned, CaseClosed, CaseReopened}
}

// Valid reports whether s is one of CaseStates.
func (s CaseState) Valid() bool { return slices.Contains(CaseStates(), s) }

// CaseAction moves a case from one state to the next.
type CaseAction string

// Case actions.
const (
	ActionStart               CaseAction = "start"
	ActionSubmitRectification CaseAction = "submit_rectification"
	ActionVerify              CaseAction = "verify"
	ActionReturn              CaseAction = "return"
	ActionReopen              CaseAction = "reopen"
)

// transitions is the state machine: for each state, the actions it
// allows and where each leads.
var transitions = map[CaseState]map[CaseAction]CaseState{
	CaseOpen:                   {ActionStart: CaseInProgress},
	CaseReturned:               {ActionStart: CaseInProgress},
	CaseReopened:               {ActionStart: CaseInProgress},
	CaseInProgress:             {ActionSubmitRectification: CaseRectificationSubmitted},
	CaseRectificationSubmitted: {ActionVerify: CaseClosed, ActionReturn: CaseReturned},
	CaseClosed:                 {ActionReopen: CaseReopened},
}

// CaseActions lists every CaseAction, in the order they are offered to
// clients.
func CaseActions() []CaseAction {
	return []CaseAction{ActionStart, ActionSubmitRectification, ActionVerify, ActionReturn, ActionReopen}
}

// Valid reports whether a is one of CaseActions.
func (a CaseAction) Valid() bool { return slices.Contains(CaseActions(), a) }

// ParseCaseAction returns the action named s or an error wrapping ErrInvalid.
func ParseCaseAction(s string) (CaseAction, error) {
	if a := CaseAction(s); a.Valid() {
		return a, nil
	}
	return "", Errorf(EINVALID, "unknown case action %q", s)
}

// Next returns the state action leads to from s, and whether s allows it.
func (s CaseState) Next(a CaseAction) (CaseState, bool) {
	to, ok := transitions[s][a]
	return to, ok
}

// owesAction reports whether, in state s, the accountable township owes
// the next step; only then can the case fall overdue. Once the
// rectification is submitted the county owes the verification, and the
// township is not late for the county's delay.
func (s CaseState) owesAction() bool {
	switch s {
	case CaseOpen, CaseInProgress, CaseReturned, CaseReopened:
		return true
	}
	return false
}

// Escalation is how far up an overdue case has been raised.
type Escalation string

// Escalation levels, in increasing order.
const (
	EscalationNone         Escalation = "none"
	EscalationReminder     Escalation = "reminder"      // the deadline is within one working day
	EscalationTownshipHead Escalation = "township_head" // overdue: the township's head is told
	EscalationCounty       Escalation = "county"        // 7 working days overdue: the county is told
)

// Escalations lists every Escalation, in increasing order.
func Escalations() []Escalation {
	return []Escalation{EscalationNone, EscalationReminder, EscalationTownshipHead, EscalationCounty}
}

// Valid reports whether e is one of Escalations.
func (e Escalation) Valid() bool { return slices.Contains(Escalations(), e) }

func (e Escalation) rank() int { return slices.Index(Escalations(), e) }

// Case is a rectification case: the accountable township (and, on a
// river, reach and chiefs) must fix what the evidence shows by the
// deadline, and prove it with new evidence that a second person verifies.
type Case struct {
	ID       string
	Title    string
	Category Category
	Severity Severity
	State    CaseState

	TownshipCode string
	ReachCode    string
	Chiefs       []ChiefRef

	EvidenceIDs              []string // what the case was opened from
	RectificationEvidenceIDs []string // the latest submission's evidence
	// Uploaders are the uploaders of EvidenceIDs: inspectors see the
	// cases made from their evidence.
	Uploaders []string

	OpenedBy string
	OpenedAt time.Time
	// CycleStart is when the current round began: the opening, or the
	// latest reopening. Rectification evidence must be captured after it.
	CycleStart       time.Time
	Deadline         time.Time
	DeadlineExplicit bool
	OverdueSince     *time.Time
	Escalation       Escalation

	SubmittedBy string
	SubmittedAt *time.Time
	VerifiedBy  string
	ClosedAt    *time.Time
	UpdatedAt   time.Time
	// Version increases with every change; writes name the version they
	// read, so two concurrent transitions cannot both apply.
	Version int64
}

// CaseEventKind says what a timeline entry records.
type CaseEventKind string

// Timeline entry kinds.
const (
	CaseEventOpened     CaseEventKind = "opened"
	CaseEventTransition CaseEventKind = "transition"
	CaseEventComment    CaseEventKind = "comment"
	CaseEventOverdue    CaseEventKind = "overdue"
	CaseEventEscalation CaseEventKind = "escalation"
)

// CaseEventKinds lists every CaseEventKind.
func CaseEventKinds() []CaseEventKind {
	return []CaseEventKind{CaseEventOpened, CaseEventTransition, CaseEventComment, CaseEventOverdue, CaseEventEscalation}
}

// Valid reports whether k is one of CaseEventKinds.
func (k CaseEventKind) Valid() bool { return slices.Contains(CaseEventKinds(), k) }

// CaseEvent is one entry of a case's timeline.
type CaseEvent struct {
	Seq            int64 // position in the case's timeline, assigned by the store
	At             time.Time
	ActorID        string // "" for the system (the deadline job)
	Kind           CaseEventKind
	Action         CaseAction
	From, To       CaseState
	Note           string
	EvidenceIDs    []string
	OverrideReason string
	Escalation     Escalation
}

// CaseFilter narrows a case listing. Scope is nil for administrators.
type CaseFilter struct {
	State        CaseState
	TownshipCode string
	ReachCode    string
	Category     Category
	Overdue      *bool
	Scope        *Scope

	AfterTime *time.Time // keyset: cases opened before this…
	AfterID   string     // …or at it with a smaller id
	Limit     int
}

// accountable reports whether the actor answers for c: an officer of its
// township or a chief of its reach. They start and submit the work.
func (a Actor) accountable(c Case) bool {
	switch a.Role {
	case RoleAdmin:
		return true
	case RoleTownshipOfficer:
		return c.TownshipCode != "" && slices.Contains(a.Townships, c.TownshipCode)
	case RoleRiverChief:
		return c.ReachCode != "" && slices.Contains(a.Reaches, c.ReachCode)
	}
	return false
}

// may reports whether the actor's role and scope let them take action on
// c, ignoring the state; the four-eyes rule is checked separately so it
// can say why.
func (a Actor) may(act CaseAction, c Case) bool {
	switch act {
	case ActionStart, ActionSubmitRectification:
		return a.accountable(c)
	case ActionVerify, ActionReturn, ActionReopen:
		return a.Role == RoleAdmin
	}
	return false
}

// AllowedActions returns what the actor may do next on c, in a stable
// order: the state allows it, the role and scope permit it, and (for
// verify) the actor did not submit the rectification.
func (a Actor) AllowedActions(c Case) []CaseAction {
	out := []CaseAction{}
	for _, act := range CaseActions() {
		if _, ok := c.State.Next(act); !ok || !a.may(act, c) {
			continue
		}
		if act == ActionVerify && c.SubmittedBy == a.UserID {
			continue
		}
		out = append(out, act)
	}
	return out
}

// TransitionError says that the case's state does not allow an action;
// Allowed lists what the caller may do instead. The API answers 409.
type TransitionError struct {
	State   CaseState
	Action  CaseAction
	Allowed []CaseAction
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("a case in state %s cannot %s", e.State, e.Action)
}

// Unwrap gives the error its code, ECASESTATE, and makes it match
// ErrConflict.
func (e *TransitionError) Unwrap() error {
	return &Error{Code: ECASESTATE, Message: e.Error(), Err: ErrConflict}
}

// EvidenceProblem says why one evidence item of a request was refused.
type EvidenceProblem struct {
	Index  int // position in the request's evidence_ids
	ID     string
	Reason string
	// Overridable: an administrator may accept the item anyway, with a
	// reason (a rule about time or distance, not a missing item).
	Overridable bool
}

// EvidenceError lists why evidence named in a request was refused. The
// API answers 422 with one field (/evidence_ids/N) per problem.
type EvidenceError struct {
	Problems []EvidenceProblem
}

func (e *EvidenceError) Error() string {
	if len(e.Problems) == 0 {
		return "evidence refused"
	}
	return fmt.Sprintf("evidence_ids/%d: %s", e.Problems[0].Index, e.Problems[0].Reason)
}

// Unwrap gives the error its code, EINVALID, with one field
// (/evidence_ids/N) per problem.
func (e *EvidenceError) Unwrap() error {
	fields := make([]FieldError, 0, len(e.Problems))
	for _, p := range e.Problems {
		fields = append(fields, FieldError{Field: fmt.Sprintf("/evidence_ids/%d", p.Index), Reason: p.Reason})
	}
	return &Error{Code: EINVALID, Message: e.Error(), Fields: fields}
}
