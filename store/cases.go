package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// Case listing page sizes.
const (
	DefaultCaseLimit = 50
	MaxCaseLimit     = 500
)

const caseCols = `c.id, c.title, c.category, c.severity, c.state, c.township_code, c.reach_code, c.chiefs, c.rectification,
	c.opened_by, c.opened_at, c.cycle_start, c.deadline, c.deadline_explicit, c.overdue_since, c.escalation,
	c.submitted_by, c.submitted_at, c.verified_by, c.closed_at, c.updated_at, c.version`

// caseEventData is the JSON form of a timeline entry's fields.
type caseEventData struct {
	Action         fieldwatch.CaseAction `json:"action,omitempty"`
	From           fieldwatch.CaseState  `json:"from,omitempty"`
	To             fieldwatch.CaseState  `json:"to,omitempty"`
	Note           string                `json:"note,omitempty"`
	EvidenceIDs    []string              `json:"evidence_ids,omitempty"`
	OverrideReason string                `json:"override_reason,omitempty"`
	Escalation     fieldwatch.Escalation `json:"escalation,omitempty"`
}

type chiefJSON struct {
	UserID string                `json:"user_id"`
	Name   string                `json:"name"`
	Level  fieldwatch.ChiefLevel `json:"level"`
}

// CreateCase stores a new case with its first timeline entry and its
// evidence, and appends "case.open" to the audit trail, in one
// transaction. It sets c.ID and c.Version. Unknown evidence or users give
// ErrNotFound.
func (s *Store) CreateCase(ctx context.Context, c *fieldwatch.Case, ev fieldwatch.CaseEvent) error {
	if err := s.checkCase(*c); err != nil {
		return err
	}
	id, err := newID()
	if err != nil {
		return err
	}
	c.ID, c.Version = id, 1
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		chiefs, rect, err := caseJSON(*c)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO cases (id, title, category, severity, state, township_code, reach_code,
			chiefs, rectification, opened_by, opened_at, cycle_start, deadline, deadline_explicit, overdue_since, escalation,
			submitted_by, submitted_at, verified_by, closed_at, updated_at, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			c.ID, c.Title, string(c.Category), string(c.Severity), string(c.State), c.TownshipCode, c.ReachCode,
			chiefs, rect, c.OpenedBy, s.d.timeArg(c.OpenedAt), s.d.timeArg(c.CycleStart), s.d.timeArg(c.Deadline),
			c.DeadlineExplicit, s.d.nullTimeArg(c.OverdueSince), string(c.Escalation),
			nullText(c.SubmittedBy), s.d.nullTimeArg(c.SubmittedAt), nullText(c.VerifiedBy), s.d.nullTimeArg(c.ClosedAt),
			s.d.timeArg(c.UpdatedAt), c.Version); err != nil {
			return err
		}
		for i, eid := range c.EvidenceIDs {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO case_evidence (case_id, evidence_id, role, ordinal) VALUES (?, ?, 'original', ?)`),
				c.ID, eid, i); err != nil {
				return err
			}
		}
		return s.appendCaseEvents(ctx, tx, *c, []fieldwatch.CaseEvent{ev}, 0)
	})
	if err != nil {
		c.ID, c.Version = "", 0
		return s.fail("create case", err)
	}
	s.roundCase(c)
	return nil
}

// checkCase rejects what the database could not store faithfully.
func (s *Store) checkCase(c fieldwatch.Case) error {
	var errs []error
	if !c.Category.Valid() || !c.Severity.Valid() || !c.State.Valid() || !c.Escalation.Valid() {
		errs = append(errs, fieldwatch.Errorf(fieldwatch.EINVALID, "case: unknown category, severity, state or escalation %q, %q, %q, %q",
			c.Category, c.Severity, c.State, c.Escalation))
	}
	for _, f := range []struct{ name, v string }{{"title", c.Title}, {"township", c.TownshipCode}, {"reach", c.ReachCode}} {
		errs = append(errs, checkText(f.name, f.v))
	}
	for _, t := range []struct {
		name string
		v    *time.Time
	}{{"opened_at", &c.OpenedAt}, {"deadline", &c.Deadline}, {"cycle_start", &c.CycleStart}, {"updated_at", &c.UpdatedAt},
		{"overdue_since", c.OverdueSince}, {"submitted_at", c.SubmittedAt}, {"closed_at", c.ClosedAt}} {
		if t.v != nil {
			errs = append(errs, checkTime(t.name, *t.v))
		}
	}
	for _, id := range append(append([]string{c.OpenedBy}, c.EvidenceIDs...), c.RectificationEvidenceIDs...) {
		if _, ok := parseID(id); !ok {
			errs = append(errs, fieldwatch.Errorf(fieldwatch.EINVALID, "case refers to %q, not an id", id))
		}
	}
	return errors.Join(errs...)
}

func caseJSON(c fieldwatch.Case) (chiefs, rect string, err error) {
	cs := make([]chiefJSON, 0, len(c.Chiefs))
	for _, ch := range c.Chiefs {
		cs = append(cs, chiefJSON(ch))
	}
	b1, err := json.Marshal(cs)
	if err != nil {
		return "", "", err
	}
	ids := c.RectificationEvidenceIDs
	if ids == nil {
		ids = []string{}
	}
	b2, err := json.Marshal(ids)
	return string(b1), string(b2), err
}

// roundCase sets c's times to what the database keeps.
func (s *Store) roundCase(c *fieldwatch.Case) {
	for _, t := range []*time.Time{&c.OpenedAt, &c.CycleStart, &c.Deadline, &c.UpdatedAt, c.OverdueSince, c.SubmittedAt, c.ClosedAt} {
		if t != nil {
			*t = roundTime(*t)
		}
	}
}

// appendCaseEvents adds evs to c's timeline after seq last (0: find it)
// and records each in the audit trail.
func (s *Store) appendCaseEvents(ctx context.Context, tx *sql.Tx, c fieldwatch.Case, evs []fieldwatch.CaseEvent, last int64) error {
	if last == 0 {
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(seq), 0) FROM case_events WHERE case_id = ?`), c.ID).Scan(&last); err != nil {
			return err
		}
	}
	for i := range evs {
		ev := &evs[i]
		if err := errors.Join(checkText("note", ev.Note+ev.OverrideReason), checkTime("at", ev.At)); err != nil {
			return err
		}
		last++
		ev.Seq = last
		data, err := json.Marshal(caseEventData{Action: ev.Action, From: ev.From, To: ev.To, Note: ev.Note,
			EvidenceIDs: ev.EvidenceIDs, OverrideReason: ev.OverrideReason, Escalation: ev.Escalation})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO case_events (case_id, seq, at, actor_id, kind, action, data) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			c.ID, ev.Seq, s.d.timeArg(ev.At), nullText(ev.ActorID), string(ev.Kind), string(ev.Action), string(data)); err != nil {
			return err
		}
		audit, err := caseAudit(c, *ev, data)
		if err != nil {
			return err
		}
		if err := s.appendAudit(ctx, tx, &audit); err != nil {
			return err
		}
	}
	return nil
}

// caseAudit is the audit entry of a timeline entry: which case, what
// happened, and the case's state and deadline after it. An administrator's
// override of the rectification rules is in the entry's data.
func caseAudit(c fieldwatch.Case, ev fieldwatch.CaseEvent, data []byte) (fieldwatch.AuditEvent, error) {
	var d map[string]any
	if err := json.Unmarshal(data, &d); err != nil {
		return fieldwatch.AuditEvent{}, err
	}
	d["seq"] = ev.Seq
	d["state"] = c.State
	d["deadline"] = c.Deadline.UTC().Format(time.RFC3339)
	if ev.Kind == fieldwatch.CaseEventOpened {
		d["township_code"], d["reach_code"], d["category"], d["severity"] = c.TownshipCode, c.ReachCode, c.Category, c.Severity
	}
	if ev.Kind == fieldwatch.CaseEventComment {
		// Comments are conversation, not decisions: the trail records that
		// one was made and its length, not its text.
		d["note_chars"] = len([]rune(ev.Note))
		delete(d, "note")
	}
	b, err := json.Marshal(d)
	if err != nil {
		return fieldwatch.AuditEvent{}, err
	}
	action := "case." + string(ev.Kind)
	if ev.Kind == fieldwatch.CaseEventTransition {
		action = "case." + string(ev.Action)
	}
	return fieldwatch.AuditEvent{At: ev.At, ActorID: ev.ActorID, Action: action, ObjectType: "case", ObjectID: c.ID, Data: b}, nil
}

// CaseByID returns the case with this id, or ErrNotFound.
func (s *Store) CaseByID(ctx context.Context, id string) (fieldwatch.Case, error) {
	cid, ok := parseID(id)
	if !ok {
		return fieldwatch.Case{}, fmt.Errorf("store: case: %w", ErrNotFound)
	}
	var out []fieldwatch.Case
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.queryCases(ctx, tx, `SELECT `+caseCols+` FROM cases c WHERE c.id = ?`, cid)
		return err
	})
	if err != nil {
		return fieldwatch.Case{}, s.fail("case", err)
	}
	if len(out) == 0 {
		return fieldwatch.Case{}, fmt.Errorf("store: case: %w", ErrNotFound)
	}
	return out[0], nil
}

// ListCases returns cases matching f, newest first.
func (s *Store) ListCases(ctx context.Context, f fieldwatch.CaseFilter) ([]fieldwatch.Case, error) {
	query, args, err := s.listCasesQuery(f)
	if err != nil {
		return nil, err
	}
	var out []fieldwatch.Case
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		out, err = s.queryCases(ctx, tx, query, args...)
		return err
	})
	if err != nil {
		return nil, s.fail("list cases", err)
	}
	return out, nil
}

// owingStates are the states in which the township owes the next step;
// the cases_owing index has the same predicate.
const owingStates = `c.state IN ('open', 'in_progress', 'returned', 'reopened')`

func (s *Store) listCasesQuery(f fieldwatch.CaseFilter) (string, []any, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.State != "" {
		add("c.state = ?", string(f.State))
	}
	if f.Category != "" {
		add("c.category = ?", string(f.Category))
	}
	if f.TownshipCode != "" {
		if err := checkText("township", f.TownshipCode); err != nil {
			return "", nil, err
		}
		add("c.township_code = ?", f.TownshipCode)
	}
	if f.ReachCode != "" {
		if err := checkText("reach", f.ReachCode); err != nil {
			return "", nil, err
		}
		add("c.reach_code = ?", f.ReachCode)
	}
	if f.Overdue != nil {
		overdue := "c.overdue_since IS NOT NULL AND c.state <> 'closed'"
		if *f.Overdue {
			add(overdue)
		} else {
			add("NOT (" + overdue + ")")
		}
	}
	if f.Scope != nil {
		cond, a, err := caseScopeCond(f.Scope)
		if err != nil {
			return "", nil, err
		}
		add(cond, a...)
	}
	if f.AfterTime != nil || f.AfterID != "" {
		cond, a, err := s.after("case", "c.opened_at", "c.id", f.AfterTime, f.AfterID)
		if err != nil {
			return "", nil, err
		}
		add(cond, a...)
	}
	query := `SELECT ` + caseCols + ` FROM cases c`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY c.opened_at DESC, c.id DESC LIMIT ?`
	return query, append(args, clampLimit(f.Limit, DefaultCaseLimit, MaxCaseLimit)), nil
}

// after is the keyset condition for the page that follows (at, id) in a
// listing ordered by (timeCol DESC, idCol DESC): a cursor has both.
func (s *Store) after(what, timeCol, idCol string, at *time.Time, id string) (string, []any, error) {
	uid, ok := parseID(id)
	if at == nil || !ok || checkTime("after time", *at) != nil {
		return "", nil, fieldwatch.Errorf(fieldwatch.EINVALID, "%s filter: bad cursor", what)
	}
	return "(" + timeCol + ", " + idCol + ") < (?, ?)", []any{s.d.timeArg(*at), uid}, nil
}

// caseScopeCond is the condition for what sc may see: cases in its
// townships or on its reaches, and cases made from its own evidence.
func caseScopeCond(sc *fieldwatch.Scope) (string, []any, error) {
	return visibleTo("case", `EXISTS (SELECT 1 FROM case_evidence ce JOIN evidence e ON e.id = ce.evidence_id
			WHERE ce.case_id = c.id AND ce.role = 'original' AND e.uploader_id = ?)`, sc.UserID,
		codeSet{"c.township_code", sc.Townships}, codeSet{"c.reach_code", sc.Reaches})
}

// CasesOwingAction lists the cases the deadline job escalates: in a state
// where the township owes the next step, not yet at the county. A county
// has hundreds of open cases, not millions; the partial index keeps this
// cheap regardless of how many are closed.
func (s *Store) CasesOwingAction(ctx context.Context) ([]fieldwatch.Case, error) {
	var out []fieldwatch.Case
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.queryCases(ctx, tx, `SELECT `+caseCols+` FROM cases c WHERE `+owingStates+
			` AND c.escalation <> 'county' ORDER BY c.deadline, c.id`)
		return err
	})
	if err != nil {
		return nil, s.fail("cases owing action", err)
	}
	return out, nil
}

func (s *Store) queryCases(ctx context.Context, tx *sql.Tx, query string, args ...any) ([]fieldwatch.Case, error) {
	rows, err := tx.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []fieldwatch.Case{}
	for rows.Next() {
		var (
			c                        fieldwatch.Case
			category, sev, st, esc   string
			chiefs, rect             string
			submittedBy, verifiedBy  sql.NullString
			overdue, submitted, clsd *time.Time
		)
		if err := rows.Scan(&c.ID, &c.Title, &category, &sev, &st, &c.TownshipCode, &c.ReachCode, &chiefs, &rect,
			&c.OpenedBy, timeScan{t: &c.OpenedAt}, timeScan{t: &c.CycleStart}, timeScan{t: &c.Deadline}, &c.DeadlineExplicit,
			timeScan{null: &overdue}, &esc, &submittedBy, timeScan{null: &submitted}, &verifiedBy, timeScan{null: &clsd},
			timeScan{t: &c.UpdatedAt}, &c.Version); err != nil {
			return nil, err
		}
		c.Category, c.Severity, c.State, c.Escalation = fieldwatch.Category(category), fieldwatch.Severity(sev), fieldwatch.CaseState(st), fieldwatch.Escalation(esc)
		c.OverdueSince, c.SubmittedAt, c.ClosedAt = overdue, submitted, clsd
		c.SubmittedBy, c.VerifiedBy = submittedBy.String, verifiedBy.String
		var cs []chiefJSON
		if err := json.Unmarshal([]byte(chiefs), &cs); err != nil {
			return nil, fmt.Errorf("store: case %s: chiefs: %w", c.ID, err)
		}
		c.Chiefs = make([]fieldwatch.ChiefRef, 0, len(cs))
		for _, ch := range cs {
			c.Chiefs = append(c.Chiefs, fieldwatch.ChiefRef(ch))
		}
		if err := json.Unmarshal([]byte(rect), &c.RectificationEvidenceIDs); err != nil {
			return nil, fmt.Errorf("store: case %s: rectification: %w", c.ID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	return out, s.loadCaseEvidence(ctx, tx, out)
}

// loadCaseEvidence fills in each case's original evidence ids and their
// uploaders, in one query for the whole page.
func (s *Store) loadCaseEvidence(ctx context.Context, tx *sql.Tx, cases []fieldwatch.Case) error {
	if len(cases) == 0 {
		return nil
	}
	at := map[string]int{}
	args := make([]any, 0, len(cases))
	for i, c := range cases {
		at[c.ID] = i
		cases[i].EvidenceIDs, cases[i].Uploaders = []string{}, []string{}
		args = append(args, c.ID)
	}
	rows, err := tx.QueryContext(ctx, s.q(`SELECT ce.case_id, ce.evidence_id, e.uploader_id
		FROM case_evidence ce JOIN evidence e ON e.id = ce.evidence_id
		WHERE ce.role = 'original' AND ce.case_id IN (`+marks(len(args))+`) ORDER BY ce.case_id, ce.ordinal`), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var cid, eid, uid string
		if err := rows.Scan(&cid, &eid, &uid); err != nil {
			return err
		}
		c := &cases[at[cid]]
		c.EvidenceIDs = append(c.EvidenceIDs, eid)
		if !slices.Contains(c.Uploaders, uid) {
			c.Uploaders = append(c.Uploaders, uid)
		}
	}
	return rows.Err()
}

// CaseEvents returns a case's timeline, oldest first.
func (s *Store) CaseEvents(ctx context.Context, id string) ([]fieldwatch.CaseEvent, error) {
	cid, ok := parseID(id)
	if !ok {
		return []fieldwatch.CaseEvent{}, nil
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, at, actor_id, kind, data FROM case_events WHERE case_id = ? ORDER BY seq`), cid)
	if err != nil {
		return nil, s.fail("case events", err)
	}
	defer rows.Close()
	out := []fieldwatch.CaseEvent{}
	for rows.Next() {
		var (
			ev         fieldwatch.CaseEvent
			actor      sql.NullString
			kind, data string
			d          caseEventData
		)
		if err := rows.Scan(&ev.Seq, timeScan{t: &ev.At}, &actor, &kind, &data); err != nil {
			return nil, s.fail("case events", err)
		}
		if err := json.Unmarshal([]byte(data), &d); err != nil {
			return nil, s.fail("case events", err)
		}
		ev.ActorID, ev.Kind = actor.String, fieldwatch.CaseEventKind(kind)
		ev.Action, ev.From, ev.To, ev.Note = d.Action, d.From, d.To, d.Note
		ev.EvidenceIDs, ev.OverrideReason, ev.Escalation = d.EvidenceIDs, d.OverrideReason, d.Escalation
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("case events", err)
	}
	return out, nil
}

// TransitionByKey finds the transition actorID made with Idempotency-Key
// key: the case it was for and the fingerprint of the request.
func (s *Store) TransitionByKey(ctx context.Context, actorID, key string) (string, []byte, bool, error) {
	uid, ok := parseID(actorID)
	if !ok || checkText("key", key) != nil {
		return "", nil, false, nil
	}
	var cid string
	var fp []byte
	err := s.db.QueryRowContext(ctx, s.q(`SELECT case_id, fingerprint FROM case_transition_keys WHERE actor_id = ? AND idem_key = ?`),
		uid, key).Scan(&cid, &fp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, false, nil
	}
	if err != nil {
		return "", nil, false, s.fail("transition by key", err)
	}
	return cid, fp, true, nil
}

// UpdateCase writes c, whose Version must be one more than the stored
// one, appends evs to its timeline (and the audit trail) and, with a
// non-empty key, records it; all in one transaction. A stale version or
// a key already taken fails with ErrConflict.
func (s *Store) UpdateCase(ctx context.Context, c fieldwatch.Case, evs []fieldwatch.CaseEvent, key fieldwatch.CaseKey) error {
	if err := s.checkCase(c); err != nil {
		return err
	}
	chiefs, rect, err := caseJSON(c)
	if err != nil {
		return err
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE cases SET state = ?, chiefs = ?, rectification = ?, cycle_start = ?, deadline = ?,
			deadline_explicit = ?, overdue_since = ?, escalation = ?, submitted_by = ?, submitted_at = ?, verified_by = ?,
			closed_at = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?`),
			string(c.State), chiefs, rect, s.d.timeArg(c.CycleStart), s.d.timeArg(c.Deadline), c.DeadlineExplicit,
			s.d.nullTimeArg(c.OverdueSince), string(c.Escalation), nullText(c.SubmittedBy), s.d.nullTimeArg(c.SubmittedAt),
			nullText(c.VerifiedBy), s.d.nullTimeArg(c.ClosedAt), s.d.timeArg(c.UpdatedAt), c.Version, c.ID, c.Version-1)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return conflictf("case %s changed since it was read", c.ID)
		}
		for i, eid := range c.RectificationEvidenceIDs {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO case_evidence (case_id, evidence_id, role, ordinal)
				VALUES (?, ?, 'rectification', ?) ON CONFLICT DO NOTHING`), c.ID, eid, i); err != nil {
				return err
			}
		}
		if key.Key != "" {
			if err := checkText("key", key.Key); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO case_transition_keys (actor_id, idem_key, case_id, fingerprint, at)
				VALUES (?, ?, ?, ?, ?)`), key.ActorID, key.Key, c.ID, key.Fingerprint, s.d.timeArg(c.UpdatedAt)); err != nil {
				return err
			}
		}
		return s.appendCaseEvents(ctx, tx, c, evs, 0)
	})
	if err != nil {
		return s.fail("update case", err)
	}
	return nil
}

// AddCaseEvent appends a comment (or any entry that does not change the
// case) to its timeline and the audit trail. It sets ev.Seq.
func (s *Store) AddCaseEvent(ctx context.Context, caseID string, ev *fieldwatch.CaseEvent) error {
	c, err := s.CaseByID(ctx, caseID)
	if err != nil {
		return err
	}
	evs := []fieldwatch.CaseEvent{*ev}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		// Touching the row locks it, so concurrent entries on one case
		// take turns at the timeline's next seq.
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE cases SET updated_at = ? WHERE id = ?`), s.d.timeArg(ev.At), c.ID); err != nil {
			return err
		}
		return s.appendCaseEvents(ctx, tx, c, evs, 0)
	})
	if err != nil {
		return s.fail("add case event", err)
	}
	*ev = evs[0]
	ev.At = roundTime(ev.At)
	return nil
}
