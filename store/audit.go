package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// The audit trail. Every state-changing store method appends an event in
// the transaction of its change, so the change and its record stand or
// fall together. The actor is the one fieldwatch.WithActor put in the
// context ("" for the system) unless the caller names one.

// auditLockClass keys the advisory lock that serialises appends on
// PostgreSQL, so two transactions never link to the same predecessor.
// (SQLite write transactions are already serial.) It differs from the
// other classes so that an append never waits on, say, a chief
// assignment of an unrelated reach whose key happens to be 0.
const auditLockClass int32 = 0x66770004

// Limits of AuditQuery.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 1000
)

// appendAudit links ev after the last entry, inside tx. It sets Seq,
// PrevHash and Hash on ev, and ActorID from the context (see
// fieldwatch.WithActor) when empty. Call it late in the transaction, after
// its other locks: from here on the transaction holds the lock every
// writer of the trail queues on, and waiting for anything else while
// holding it would make every writer wait too (or deadlock).
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, ev *fieldwatch.AuditEvent) error {
	if ev.ActorID == "" {
		a, _ := fieldwatch.ActorFromContext(ctx)
		ev.ActorID = a.UserID
	}
	if !json.Valid(ev.Data) {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "audit data is not JSON")
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

// audit appends an event by the context's actor about one object, with
// details encoded as JSON. details must never hold secrets: password
// hashes, tokens, presigned URLs.
func (s *Store) audit(ctx context.Context, tx *sql.Tx, at time.Time, action, objectType, objectID string, details any) error {
	data, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("store: audit details of %s: %w", action, err)
	}
	return s.appendAudit(ctx, tx, &fieldwatch.AuditEvent{At: at, Action: action, ObjectType: objectType, ObjectID: objectID, Data: data})
}

// RelinkEvidence replaces the responsibility record of evidence id and
// appends ev (which should say what changed) to the audit trail, in one
// transaction: the change and its record stand or fall together.
func (s *Store) RelinkEvidence(ctx context.Context, id string, r fieldwatch.Responsibility, ev fieldwatch.AuditEvent) error {
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
	s.forgetEvidence(cid)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: relink evidence: %w", ErrNotFound)
	}
	if err != nil {
		return s.fail("relink evidence", err)
	}
	return nil
}

// AuditEvents returns up to limit entries after seq, in chain order.
func (s *Store) AuditEvents(ctx context.Context, after int64, limit int) ([]fieldwatch.AuditEvent, error) {
	return s.AuditQuery(ctx, fieldwatch.AuditFilter{After: after, Limit: min(max(limit, 1), MaxAuditLimit)})
}

// AuditQuery returns the entries matching f in chain (seq) order. f.Limit
// 0 means DefaultAuditLimit; other values are clamped to 1..MaxAuditLimit.
// Returns an error wrapping fieldwatch.ErrInvalid for text that cannot be
// stored, which therefore matches nothing.
func (s *Store) AuditQuery(ctx context.Context, f fieldwatch.AuditFilter) ([]fieldwatch.AuditEvent, error) {
	where := []string{"seq > ?"}
	args := []any{f.After}
	for _, c := range []struct {
		col string
		v   *string
	}{{"action", f.Action}, {"object_type", f.ObjectType}, {"object_id", f.ObjectID}, {"actor_id", f.ActorID}} {
		if c.v == nil {
			continue
		}
		if err := checkText("audit "+c.col, *c.v); err != nil {
			return nil, err
		}
		where = append(where, c.col+" = ?")
		args = append(args, *c.v)
	}
	if f.From != nil {
		if err := checkTime("from", *f.From); err != nil {
			return nil, err
		}
		where = append(where, "at >= ?")
		args = append(args, s.d.timeArg(*f.From))
	}
	if f.To != nil {
		if err := checkTime("to", *f.To); err != nil {
			return nil, err
		}
		where = append(where, "at < ?")
		args = append(args, s.d.timeArg(*f.To))
	}
	args = append(args, clampLimit(f.Limit, DefaultAuditLimit, MaxAuditLimit))
	// data is read as text: jsonb in PostgreSQL, TEXT in SQLite.
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, at, actor_id, action, object_type, object_id, CAST(data AS TEXT), prev_hash, hash
		FROM audit_events WHERE `+strings.Join(where, " AND ")+` ORDER BY seq LIMIT ?`), args...)
	if err != nil {
		return nil, s.fail("audit events", err)
	}
	defer rows.Close()
	out := []fieldwatch.AuditEvent{}
	for rows.Next() {
		var ev fieldwatch.AuditEvent
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

// AuditHead returns the newest entry's seq, hash and time: the value to
// keep outside the database, so that VerifyAuditAgainst can tell when
// entries were removed from the end, which the chain alone cannot. An
// empty trail has seq 0, an empty hash and a zero time.
func (s *Store) AuditHead(ctx context.Context) (seq int64, hash []byte, at time.Time, err error) {
	hash = []byte{}
	err = s.db.QueryRowContext(ctx, `SELECT seq, hash, at FROM audit_events ORDER BY seq DESC LIMIT 1`).
		Scan(&seq, &hash, timeScan{t: &at})
	if errors.Is(err, sql.ErrNoRows) {
		return 0, []byte{}, time.Time{}, nil
	}
	if err != nil {
		return 0, nil, time.Time{}, s.fail("audit head", err)
	}
	return seq, hash, at, nil
}

// AuditAnchor is a chain head kept outside the database (see AuditHead).
type AuditAnchor struct {
	Seq  int64
	Hash []byte
}

// AuditReport is what VerifyAuditAgainst found.
type AuditReport struct {
	Checked int   // entries read
	Last    int64 // seq of the last entry read, 0 for none
	// FirstBroken is the seq of the first entry whose link does not
	// hold, 0 when all hold. A removed entry is named by the one after
	// the gap (or, at the end, by the first missing seq); reordered
	// entries by the first one out of place.
	FirstBroken int64
	Reason      string // why FirstBroken is broken, for people
}

// VerifyAudit walks the whole chain and returns the sequence number of
// the first entry whose link does not hold (0 when all hold), and how
// many entries it checked. See VerifyAuditAgainst.
func (s *Store) VerifyAudit(ctx context.Context) (firstBroken int64, checked int, err error) {
	r, err := s.VerifyAuditAgainst(ctx, nil)
	return r.FirstBroken, r.Checked, err
}

// VerifyAuditAgainst walks the whole chain in seq order and reports the
// first entry that was altered (any field: its hash no longer covers
// it), removed (a gap in seq), or moved (its prev_hash is not its
// predecessor's hash). With head, it also requires the entry at head.Seq
// to have head.Hash, and the chain to reach it: that catches removal of
// the newest entries, and a chain rewritten and relinked wholesale,
// which is then reported at head.Seq as the earliest entry known to be
// wrong.
func (s *Store) VerifyAuditAgainst(ctx context.Context, head *AuditAnchor) (AuditReport, error) {
	var r AuditReport
	prev := []byte{}
	want := int64(1)
	broken := func(seq int64, format string, a ...any) (AuditReport, error) {
		r.FirstBroken, r.Reason = seq, fmt.Sprintf(format, a...)
		return r, nil
	}
	for {
		page, err := s.AuditEvents(ctx, r.Last, MaxAuditLimit)
		if err != nil {
			return r, err
		}
		for _, ev := range page {
			r.Checked++
			r.Last = ev.Seq
			// PostgreSQL normalises jsonb; hash what was linked, which the
			// store keeps byte-identical only as text. Compare the chain on
			// canonical JSON instead.
			ev.Data = canonicalJSON(ev.Data)
			switch {
			case ev.Seq == want+1:
				return broken(ev.Seq, "entry %d is missing", want)
			case ev.Seq > want:
				return broken(ev.Seq, "entries %d to %d are missing", want, ev.Seq-1)
			case ev.Seq != want:
				return broken(ev.Seq, "entry %d is where entry %d should be", ev.Seq, want)
			case !bytes.Equal(ev.PrevHash, prev) && want == 1:
				return broken(ev.Seq, "its prev_hash is not empty, as the first entry's must be (entries moved or replaced)")
			case !bytes.Equal(ev.PrevHash, prev):
				return broken(ev.Seq, "its prev_hash is not the hash of entry %d (entries moved or replaced)", want-1)
			case !bytes.Equal(ev.Hash, ev.ChainHash(prev)):
				return broken(ev.Seq, "its hash does not match its contents (altered)")
			case head != nil && ev.Seq == head.Seq && !bytes.Equal(ev.Hash, head.Hash):
				return broken(ev.Seq, "its hash %x is not the exported head's %x (the chain was rewritten up to here)", ev.Hash, head.Hash)
			}
			prev = ev.Hash
			want++
		}
		if len(page) < MaxAuditLimit {
			break
		}
	}
	if head != nil && head.Seq > r.Last {
		if head.Seq == r.Last+1 {
			return broken(r.Last+1, "entry %d, the exported head, is missing", head.Seq)
		}
		return broken(r.Last+1, "entries %d to %d are missing (the exported head is entry %d)", r.Last+1, head.Seq, head.Seq)
	}
	return r, nil
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

// AuditTamper is a way TamperAuditForTest rewrites the trail.
type AuditTamper string

// Ways to tamper with the trail, as someone with write access to the
// database but not to the exported head might.
const (
	TamperAlter    AuditTamper = "alter"    // change entry seq's details
	TamperDelete   AuditTamper = "delete"   // delete entry seq
	TamperSwap     AuditTamper = "swap"     // exchange entries seq and seq+1, renumbering them
	TamperTruncate AuditTamper = "truncate" // delete entry seq and every later one
)

// TamperAuditForTest rewrites the trail at entry seq without relinking
// the chain; tests use it to show that VerifyAudit names the entry. It
// returns ErrNotFound if an entry it needs does not exist.
func (s *Store) TamperAuditForTest(ctx context.Context, how AuditTamper, seq int64) error {
	exec := func(tx *sql.Tx, want int64, query string, args ...any) error {
		res, err := tx.ExecContext(ctx, s.q(query), args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n < want {
			return ErrNotFound
		}
		return nil
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		switch how {
		case TamperAlter:
			return exec(tx, 1, `UPDATE audit_events SET data = ? WHERE seq = ?`, `{"forged":true}`, seq)
		case TamperDelete:
			return exec(tx, 1, `DELETE FROM audit_events WHERE seq = ?`, seq)
		case TamperTruncate:
			return exec(tx, 1, `DELETE FROM audit_events WHERE seq >= ?`, seq)
		case TamperSwap:
			// Through a free number: both backends check the primary key
			// row by row, so a one-statement swap would collide.
			for _, m := range [][2]int64{{seq, -seq}, {seq + 1, seq}, {-seq, seq + 1}} {
				if err := exec(tx, 1, `UPDATE audit_events SET seq = ? WHERE seq = ?`, m[1], m[0]); err != nil {
					return err
				}
			}
			return nil
		}
		return fieldwatch.Errorf(fieldwatch.EINVALID, "unknown tampering %q", how)
	})
	if err != nil {
		return s.fail("tamper audit", err)
	}
	return nil
}
