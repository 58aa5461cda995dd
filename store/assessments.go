package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// indicatorJSON is the stored form of a letter's indicator.
type indicatorJSON struct {
	Metric    fieldwatch.Metric    `json:"metric"`
	Category  fieldwatch.Category  `json:"category,omitempty"`
	Rule      fieldwatch.ScoreRule `json:"rule"`
	Target    float64              `json:"target"`
	Floor     float64              `json:"floor,omitempty"`
	PointsPer float64              `json:"points_per,omitempty"`
	Weight    float64              `json:"weight"`
}

// CreateLetter stores a township's letter and appends "letter.create" to
// the audit trail. It sets l.ID. A letter of the same township, year and
// signing date fails with ErrConflict.
func (s *Store) CreateLetter(ctx context.Context, l *fieldwatch.Letter) error {
	uid, ok := parseID(l.RecordedBy)
	if !ok {
		return fmt.Errorf("store: create letter: %w", ErrNotFound)
	}
	if err := errors.Join(checkText("township", l.TownshipCode), checkTime("recorded_at", l.RecordedAt)); err != nil {
		return err
	}
	inds := make([]indicatorJSON, 0, len(l.Indicators))
	for _, ind := range l.Indicators {
		inds = append(inds, indicatorJSON(ind))
	}
	doc, err := json.Marshal(inds)
	if err != nil {
		return err
	}
	id, err := newID()
	if err != nil {
		return err
	}
	signed := l.SignedOn.Format(time.DateOnly)
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO letters (id, township_code, year, signed_on, indicators, recorded_at, recorded_by)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), id, l.TownshipCode, l.Year, signed, string(doc), s.d.timeArg(l.RecordedAt), uid); err != nil {
			return err
		}
		return s.audit(ctx, tx, l.RecordedAt, "letter.create", "letter", id, map[string]any{
			"township_code": l.TownshipCode, "year": l.Year, "signed_on": signed, "indicators": json.RawMessage(doc)})
	})
	if err != nil {
		if err = s.fail("create letter", err); errors.Is(err, ErrConflict) {
			return conflictf("%s already has a letter for %d signed on %s", l.TownshipCode, l.Year, signed)
		}
		return err
	}
	l.ID, l.RecordedAt = id, roundTime(l.RecordedAt)
	return nil
}

// LettersOf returns a township's letters, newest year and signing first.
func (s *Store) LettersOf(ctx context.Context, township string) ([]fieldwatch.Letter, error) {
	if err := checkText("township", township); err != nil {
		return nil, err
	}
	return s.queryLetters(ctx, `SELECT id, township_code, year, signed_on, indicators, recorded_at, recorded_by FROM letters
		WHERE township_code = ? ORDER BY year DESC, signed_on DESC, id DESC`, township)
}

// LettersInForce returns, per township, its latest-signed letter for
// year: a correction supersedes the letter it corrects.
func (s *Store) LettersInForce(ctx context.Context, year int) (map[string]*fieldwatch.Letter, error) {
	ls, err := s.queryLetters(ctx, `SELECT id, township_code, year, signed_on, indicators, recorded_at, recorded_by FROM letters
		WHERE year = ? ORDER BY township_code, signed_on DESC, id DESC`, year)
	if err != nil {
		return nil, err
	}
	out := map[string]*fieldwatch.Letter{}
	for i := range ls {
		if _, ok := out[ls[i].TownshipCode]; !ok {
			out[ls[i].TownshipCode] = &ls[i]
		}
	}
	return out, nil
}

func (s *Store) queryLetters(ctx context.Context, query string, args ...any) ([]fieldwatch.Letter, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.fail("letters", err)
	}
	defer rows.Close()
	out := []fieldwatch.Letter{}
	for rows.Next() {
		var (
			l            fieldwatch.Letter
			signed, inds string
		)
		if err := rows.Scan(&l.ID, &l.TownshipCode, &l.Year, &signed, &inds, timeScan{t: &l.RecordedAt}, &l.RecordedBy); err != nil {
			return nil, s.fail("letters", err)
		}
		if l.SignedOn, err = time.Parse(time.DateOnly, signed); err != nil {
			return nil, s.fail("letters", err)
		}
		var ij []indicatorJSON
		if err := json.Unmarshal([]byte(inds), &ij); err != nil {
			return nil, s.fail("letters", err)
		}
		for _, ind := range ij {
			l.Indicators = append(l.Indicators, fieldwatch.Indicator(ind))
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("letters", err)
	}
	return out, nil
}

// FrozenAssessment returns month's frozen assessment, if it was frozen.
func (s *Store) FrozenAssessment(ctx context.Context, month string) (fieldwatch.Assessment, bool, error) {
	var snap string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT snapshot FROM assessment_snapshots WHERE month = ?`), month).Scan(&snap)
	if errors.Is(err, sql.ErrNoRows) {
		return fieldwatch.Assessment{}, false, nil
	}
	if err != nil {
		return fieldwatch.Assessment{}, false, s.fail("frozen assessment", err)
	}
	var a fieldwatch.Assessment
	if err := json.Unmarshal([]byte(snap), &a); err != nil {
		return fieldwatch.Assessment{}, false, s.fail("frozen assessment", err)
	}
	return a, true, nil
}

// FreezeAssessment stores a frozen assessment and appends
// "assessment.freeze" (with each township's score and ranks) to the audit
// trail. A month frozen before fails with ErrConflict.
func (s *Store) FreezeAssessment(ctx context.Context, a fieldwatch.Assessment) error {
	if !a.Frozen || a.FrozenAt == nil {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "only a frozen assessment is stored")
	}
	uid, ok := parseID(a.FrozenBy)
	if !ok {
		return fmt.Errorf("store: freeze assessment: %w", ErrNotFound)
	}
	snap, err := json.Marshal(a)
	if err != nil {
		return err
	}
	type scoreJSON struct {
		Code        string   `json:"code"`
		Score       *float64 `json:"score"`
		RankInZone  int      `json:"rank_in_zone"`
		RankOverall int      `json:"rank_overall"`
	}
	scores := make([]scoreJSON, 0, len(a.Townships))
	for _, t := range a.Townships {
		scores = append(scores, scoreJSON{t.Code, t.Score, t.RankInZone, t.RankOverall})
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO assessment_snapshots (month, frozen_at, frozen_by, snapshot) VALUES (?, ?, ?, ?)`),
			a.Month, s.d.timeArg(*a.FrozenAt), uid, string(snap)); err != nil {
			return err
		}
		return s.audit(ctx, tx, *a.FrozenAt, "assessment.freeze", "assessment", a.Month, map[string]any{"townships": scores})
	})
	if err != nil {
		return s.fail("freeze assessment", err)
	}
	return nil
}

// MonthFacts gathers what the monthly assessment counts in [from, to):
// cases due, fallen overdue, reopened and opened, and evidence received,
// each with its township.
func (s *Store) MonthFacts(ctx context.Context, from, to time.Time) (fieldwatch.MonthFacts, error) {
	if err := errors.Join(checkTime("from", from), checkTime("to", to)); err != nil {
		return fieldwatch.MonthFacts{}, err
	}
	a, b := s.d.timeArg(from), s.d.timeArg(to)
	var f fieldwatch.MonthFacts
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		cases := func(dst *[]fieldwatch.CaseFact, query string, args ...any) error {
			rows, err := tx.QueryContext(ctx, s.q(query), args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			*dst = []fieldwatch.CaseFact{}
			for rows.Next() {
				var c fieldwatch.CaseFact
				var cat string
				if err := rows.Scan(&c.ID, &c.TownshipCode, &cat, &c.OnTime); err != nil {
					return err
				}
				c.Category = fieldwatch.Category(cat)
				*dst = append(*dst, c)
			}
			return rows.Err()
		}
		onTime := `(c.state = 'closed' AND c.closed_at IS NOT NULL AND c.closed_at <= c.deadline)`
		if err := cases(&f.CasesDue, `SELECT c.id, c.township_code, c.category, `+onTime+` FROM cases c
			WHERE c.deadline >= ? AND c.deadline < ? ORDER BY c.id`, a, b); err != nil {
			return err
		}
		if err := cases(&f.Overdue, `SELECT c.id, c.township_code, c.category, `+onTime+` FROM cases c
			WHERE c.overdue_since >= ? AND c.overdue_since < ? ORDER BY c.id`, a, b); err != nil {
			return err
		}
		if err := cases(&f.Reopened, `SELECT c.id, c.township_code, c.category, `+onTime+` FROM case_events e
			JOIN cases c ON c.id = e.case_id WHERE e.action = 'reopen' AND e.at >= ? AND e.at < ? ORDER BY c.id, e.seq`, a, b); err != nil {
			return err
		}
		if err := cases(&f.Opened, `SELECT c.id, c.township_code, c.category, `+onTime+` FROM cases c
			WHERE c.opened_at >= ? AND c.opened_at < ? ORDER BY c.id`, a, b); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT e.id, e.township_code, e.category FROM evidence e
			WHERE e.received_at >= ? AND e.received_at < ? AND e.township_code IS NOT NULL ORDER BY e.received_at, e.id`), a, b)
		if err != nil {
			return err
		}
		defer rows.Close()
		f.Evidence = []fieldwatch.EvidenceFact{}
		for rows.Next() {
			var e fieldwatch.EvidenceFact
			var cat string
			if err := rows.Scan(&e.ID, &e.TownshipCode, &cat); err != nil {
				return err
			}
			e.Category = fieldwatch.Category(cat)
			f.Evidence = append(f.Evidence, e)
		}
		return rows.Err()
	})
	if err != nil {
		return fieldwatch.MonthFacts{}, s.fail("month facts", err)
	}
	return f, nil
}

// The store is every port of the assessment.
var (
	_ fieldwatch.AssessmentStore = (*Store)(nil)
	_ fieldwatch.PatrolStore     = (*Store)(nil)
	_ fieldwatch.CaseStore       = (*Store)(nil)
)
