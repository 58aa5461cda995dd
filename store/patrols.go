package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/geo"
)

// Patrol listing page sizes.
const (
	DefaultPatrolLimit = 50
	MaxPatrolLimit     = 500
)

const patrolCols = `p.id, p.chief_id, p.reach_code, p.township_code, p.started_at, p.ended_at, p.length_m, p.duration_s,
	p.coverage, p.max_speed, p.median_speed, p.fixes, p.gaps, p.teleports, p.valid, p.reasons, p.evidence_ids, p.note, p.recorded_at`

// CreatePatrol stores a patrol with its track under the recorder's
// Idempotency-Key, and appends "patrol.create" to the audit trail, in
// one transaction. It sets p.ID. A key the recorder used before fails
// with ErrConflict; an unknown recorder with ErrNotFound.
func (s *Store) CreatePatrol(ctx context.Context, p *fieldwatch.Patrol, key string, fingerprint []byte) error {
	uid, ok := parseID(p.ChiefID)
	if !ok {
		return fmt.Errorf("store: create patrol: %w", ErrNotFound)
	}
	errs := []error{checkText("reach", p.ReachCode+p.TownshipCode), checkText("note", p.Note), checkText("key", key),
		checkTime("started_at", p.StartedAt), checkTime("ended_at", p.EndedAt), checkTime("recorded_at", p.RecordedAt)}
	for _, v := range []float64{p.LengthM, p.DurationS, p.Coverage, p.MaxSpeed, p.MedianSpeed} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			errs = append(errs, fieldwatch.Errorf(fieldwatch.EINVALID, "patrol numbers must be finite"))
		}
	}
	for _, id := range p.EvidenceIDs {
		if _, ok := parseID(id); !ok {
			errs = append(errs, fieldwatch.Errorf(fieldwatch.EINVALID, "evidence id %q", id))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	id, err := newID()
	if err != nil {
		return err
	}
	reasons, err := json.Marshal(nonNil(p.Reasons))
	if err != nil {
		return err
	}
	evidence, err := json.Marshal(nonNil(p.EvidenceIDs))
	if err != nil {
		return err
	}
	track, err := encodeTrack(p.Track)
	if err != nil {
		return err
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO patrols (id, chief_id, idem_key, fingerprint, reach_code, township_code,
			started_at, ended_at, length_m, duration_s, coverage, max_speed, median_speed, fixes, gaps, teleports, valid,
			reasons, evidence_ids, note, track, recorded_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			id, uid, key, fingerprint, p.ReachCode, p.TownshipCode, s.d.timeArg(p.StartedAt), s.d.timeArg(p.EndedAt),
			p.LengthM, p.DurationS, p.Coverage, p.MaxSpeed, p.MedianSpeed, p.Fixes, p.Gaps, p.Teleports, p.Valid,
			string(reasons), string(evidence), p.Note, track, s.d.timeArg(p.RecordedAt)); err != nil {
			return err
		}
		return s.audit(ctx, tx, p.RecordedAt, "patrol.create", "patrol", id, map[string]any{
			"reach_code": p.ReachCode, "started_at": p.StartedAt.UTC().Format(time.RFC3339), "length_m": p.LengthM,
			"coverage": p.Coverage, "valid": p.Valid, "reasons": nonNil(p.Reasons), "fixes": p.Fixes})
	})
	if err != nil {
		return s.fail("create patrol", err)
	}
	p.ID = id
	for _, t := range []*time.Time{&p.StartedAt, &p.EndedAt, &p.RecordedAt} {
		*t = roundTime(*t)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// encodeTrack stores fixes compactly: [lon, lat, unix ms] each.
func encodeTrack(t geo.Track) (string, error) {
	var b strings.Builder
	b.WriteByte('[')
	for i, f := range t {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "[%s,%s,%d]", fmtCoord(f.Lon), fmtCoord(f.Lat), f.At.UnixMilli())
	}
	b.WriteByte(']')
	return b.String(), nil
}

func fmtCoord(v float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.8f", v), "0"), ".")
}

func decodeTrack(s string) (geo.Track, error) {
	var raw [][3]float64
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, err
	}
	t := make(geo.Track, 0, len(raw))
	for _, r := range raw {
		t = append(t, geo.Fix{Point: geo.Point{Lon: r[0], Lat: r[1]}, At: time.UnixMilli(int64(r[2])).UTC()})
	}
	return t, nil
}

// PatrolByKey returns the patrol userID recorded with key, with the
// fingerprint of the request.
func (s *Store) PatrolByKey(ctx context.Context, userID, key string) (fieldwatch.Patrol, []byte, bool, error) {
	uid, ok := parseID(userID)
	if !ok || checkText("key", key) != nil {
		return fieldwatch.Patrol{}, nil, false, nil
	}
	var fp []byte
	var id string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, fingerprint FROM patrols WHERE chief_id = ? AND idem_key = ?`), uid, key).Scan(&id, &fp)
	if errors.Is(err, sql.ErrNoRows) {
		return fieldwatch.Patrol{}, nil, false, nil
	}
	if err != nil {
		return fieldwatch.Patrol{}, nil, false, s.fail("patrol by key", err)
	}
	p, err := s.PatrolByID(ctx, id)
	if err != nil {
		return fieldwatch.Patrol{}, nil, false, err
	}
	return p, fp, true, nil
}

// PatrolByID returns a patrol with its track, or ErrNotFound.
func (s *Store) PatrolByID(ctx context.Context, id string) (fieldwatch.Patrol, error) {
	pid, ok := parseID(id)
	if !ok {
		return fieldwatch.Patrol{}, fmt.Errorf("store: patrol: %w", ErrNotFound)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+patrolCols+`, p.track FROM patrols p WHERE p.id = ?`), pid)
	if err != nil {
		return fieldwatch.Patrol{}, s.fail("patrol", err)
	}
	out, err := s.scanPatrols(rows, true)
	if err != nil {
		return fieldwatch.Patrol{}, s.fail("patrol", err)
	}
	if len(out) == 0 {
		return fieldwatch.Patrol{}, fmt.Errorf("store: patrol: %w", ErrNotFound)
	}
	return out[0], nil
}

// ListPatrols returns patrols matching f, newest first, without tracks.
func (s *Store) ListPatrols(ctx context.Context, f fieldwatch.PatrolFilter) ([]fieldwatch.Patrol, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if f.ReachCode != "" {
		add("p.reach_code = ?", f.ReachCode)
	}
	if f.ChiefID != "" {
		uid, ok := parseID(f.ChiefID)
		if !ok {
			return nil, fieldwatch.Errorf(fieldwatch.EINVALID, "patrol filter: chief is not an id")
		}
		add("p.chief_id = ?", uid)
	}
	if f.Valid != nil {
		add("p.valid = ?", *f.Valid)
	}
	for _, b := range []struct {
		t    *time.Time
		cond string
	}{{f.From, "p.started_at >= ?"}, {f.To, "p.started_at < ?"}} {
		if b.t != nil {
			if err := checkTime("time", *b.t); err != nil {
				return nil, err
			}
			add(b.cond, s.d.timeArg(*b.t))
		}
	}
	if sc := f.Scope; sc != nil {
		cond, a, err := visibleTo("patrol", "p.chief_id = ?", sc.UserID,
			codeSet{"p.reach_code", sc.Reaches}, codeSet{"p.township_code", sc.Townships})
		if err != nil {
			return nil, err
		}
		add(cond, a...)
	}
	if f.AfterTime != nil || f.AfterID != "" {
		cond, a, err := s.after("patrol", "p.started_at", "p.id", f.AfterTime, f.AfterID)
		if err != nil {
			return nil, err
		}
		add(cond, a...)
	}
	query := `SELECT ` + patrolCols + ` FROM patrols p`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY p.started_at DESC, p.id DESC LIMIT ?`
	rows, err := s.db.QueryContext(ctx, s.q(query), append(args, clampLimit(f.Limit, DefaultPatrolLimit, MaxPatrolLimit))...)
	if err != nil {
		return nil, s.fail("list patrols", err)
	}
	out, err := s.scanPatrols(rows, false)
	if err != nil {
		return nil, s.fail("list patrols", err)
	}
	return out, nil
}

func (s *Store) scanPatrols(rows *sql.Rows, withTrack bool) ([]fieldwatch.Patrol, error) {
	defer rows.Close()
	out := []fieldwatch.Patrol{}
	for rows.Next() {
		var (
			p                 fieldwatch.Patrol
			reasons, evidence string
			track             string
		)
		dst := []any{&p.ID, &p.ChiefID, &p.ReachCode, &p.TownshipCode, timeScan{t: &p.StartedAt}, timeScan{t: &p.EndedAt},
			&p.LengthM, &p.DurationS, &p.Coverage, &p.MaxSpeed, &p.MedianSpeed, &p.Fixes, &p.Gaps, &p.Teleports, &p.Valid,
			&reasons, &evidence, &p.Note, timeScan{t: &p.RecordedAt}}
		if withTrack {
			dst = append(dst, &track)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		if err := errors.Join(json.Unmarshal([]byte(reasons), &p.Reasons), json.Unmarshal([]byte(evidence), &p.EvidenceIDs)); err != nil {
			return nil, fmt.Errorf("store: patrol %s: %w", p.ID, err)
		}
		if withTrack {
			t, err := decodeTrack(track)
			if err != nil {
				return nil, fmt.Errorf("store: patrol %s: track: %w", p.ID, err)
			}
			p.Track = t
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ChiefAssignmentsDuring returns every chief assignment in force at some
// time in [from, to), ordered by reach, level (county first), ValidFrom
// and user.
func (s *Store) ChiefAssignmentsDuring(ctx context.Context, from, to time.Time) ([]fieldwatch.ChiefAssignment, error) {
	if err := errors.Join(checkTime("from", from), checkTime("to", to)); err != nil {
		return nil, err
	}
	return s.queryAssignments(ctx, "chief assignments during", `SELECT `+assignmentCols+` FROM chief_assignments c
		WHERE c.valid_from < ? AND (c.valid_to IS NULL OR c.valid_to > ?)
		ORDER BY c.reach_code, `+levelOrder+`, c.valid_from, c.user_id`, s.d.timeArg(to), s.d.timeArg(from))
}
