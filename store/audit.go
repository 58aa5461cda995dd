package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fieldwatch/fieldwatch/inspect"
)

// auditLockClass keys the advisory lock that serialises appends on
// PostgreSQL, so two transactions never link to the same predecessor.
// (SQLite write transactions are already serial.)
const auditLockClass int32 = 0x66770003

// appendAudit links ev after the last entry, inside tx. It sets Seq,
// PrevHash and Hash on ev.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, ev *inspect.AuditEvent) error {
	if !json.Valid(ev.Data) {
		return fmt.Errorf("%w: audit data is not JSON", inspect.ErrInvalid)
	}
	if err := checkText("audit action", ev.Action+ev.ObjectType+ev.ObjectID+ev.ActorID); err != nil {
		return err
	}
	if s.d.hashLock != "" {
		if _, err := tx.ExecContext(ctx, s.q(s.d.hashLock), auditLockClass, 0); err != nil {
			return err
		}
	}
	var last int64
	prev := []byte{}
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&last, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	ev.Seq, ev.PrevHash, ev.At = last+1, prev, roundTime(ev.At.UTC())
	ev.Data = canonicalJSON(ev.Data)
	ev.Hash = ev.ChainHash(prev)
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO audit_events (seq, at, actor_id, action, object_type, object_id, data, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ev.Seq, s.d.timeArg(ev.At), ev.ActorID, ev.Action, ev.ObjectType, ev.ObjectID, string(ev.Data), ev.PrevHash, ev.Hash)
	return err
}

// RelinkEvidence replaces the responsibility record of evidence id and
// appends ev (which should say what changed) to the audit trail, in one
// transaction: the change and its record stand or fall together.
func (s *Store) RelinkEvidence(ctx context.Context, id string, r inspect.Responsibility, ev inspect.AuditEvent) error {
	r, err := normResponsibility(r)
	if err != nil {
		return err
	}
	doc, err := responsibilityJSON(r)
	if err != nil {
		return err
	}
	cid, ok := parseID(id)
	if !ok {
		return fmt.Errorf("store: relink evidence: %w", ErrNotFound)
	}
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE evidence SET responsibility = ?, township_code = ?, reach_code = ? WHERE id = ?`),
			doc, nullText(r.TownshipCode), nullText(r.ReachCode), cid)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return s.appendAudit(ctx, tx, &ev)
	})
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: relink evidence: %w", ErrNotFound)
	}
	if err != nil {
		return s.fail("relink evidence", err)
	}
	return nil
}

// AuditEvents returns up to limit entries after seq, in chain order.
func (s *Store) AuditEvents(ctx context.Context, after int64, limit int) ([]inspect.AuditEvent, error) {
	limit = min(max(limit, 1), MaxSubmissionLimit)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, at, actor_id, action, object_type, object_id, data, prev_hash, hash
		FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?`), after, limit)
	if err != nil {
		return nil, s.fail("audit events", err)
	}
	defer rows.Close()
	var out []inspect.AuditEvent
	for rows.Next() {
		var ev inspect.AuditEvent
		var data string
		if err := rows.Scan(&ev.Seq, timeScan{t: &ev.At}, &ev.ActorID, &ev.Action, &ev.ObjectType, &ev.ObjectID, &data, &ev.PrevHash, &ev.Hash); err != nil {
			return nil, s.fail("audit events", err)
		}
		ev.Data = []byte(data)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("audit events", err)
	}
	return out, nil
}

// VerifyAudit walks the whole chain and returns the sequence number of
// the first entry whose link does not hold (0 when all hold), and how
// many entries it checked.
func (s *Store) VerifyAudit(ctx context.Context) (firstBroken int64, checked int, err error) {
	prev := []byte{}
	var after, want int64
	for {
		page, err := s.AuditEvents(ctx, after, MaxSubmissionLimit)
		if err != nil {
			return 0, checked, err
		}
		for _, ev := range page {
			want++
			checked++
			// PostgreSQL normalises jsonb; hash what was linked, which the
			// store keeps byte-identical only as text. Compare the chain on
			// canonical JSON instead.
			ev.Data = canonicalJSON(ev.Data)
			if ev.Seq != want || !bytes.Equal(ev.PrevHash, prev) || !bytes.Equal(ev.Hash, ev.ChainHash(prev)) {
				return ev.Seq, checked, nil
			}
			prev = ev.Hash
			after = ev.Seq
		}
		if len(page) < MaxSubmissionLimit {
			return 0, checked, nil
		}
	}
}

// canonicalJSON re-encodes a JSON document with sorted keys and no
// insignificant space, the form audit data is hashed in: jsonb does not
// keep the bytes it was given.
func canonicalJSON(b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return b
	}
	out, err := json.Marshal(v)
	if err != nil {
		return b
	}
	return out
}

// TamperAuditForTest rewrites the action of entry seq without relinking
// the chain, as an attacker with database access might; tests use it to
// show that VerifyAudit names the entry.
func (s *Store) TamperAuditForTest(ctx context.Context, seq int64) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE audit_events SET action = action || '.forged' WHERE seq = ?`), seq)
	return err
}
