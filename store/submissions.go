package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
)

// Limits of StaleSubmissions.
const (
	DefaultSubmissionLimit = 50
	MaxSubmissionLimit     = 500
)

// maxIdemKeyLen bounds an Idempotency-Key in bytes. Clients send UUIDs
// (36 bytes); the API checks the form, the store only what it can hold.
const maxIdemKeyLen = 255

// claimAttempts bounds ClaimSubmission's retries when the row it lost to
// is deleted before it can read it (a release racing the claim).
const claimAttempts = 3

const submissionCols = `user_id, idem_key, state, fingerprint, evidence_id, created_at, updated_at, attempt`

func scanSubmission(r rowScanner) (fieldwatch.Submission, error) {
	var (
		sub     fieldwatch.Submission
		state   string
		evID    sql.NullString
		attempt sql.NullString
	)
	err := r.Scan(&sub.UserID, &sub.Key, &state, &sub.Fingerprint, &evID,
		timeScan{t: &sub.CreatedAt}, timeScan{t: &sub.UpdatedAt}, &attempt)
	if err != nil {
		return fieldwatch.Submission{}, err
	}
	sub.State = fieldwatch.SubmissionState(state)
	sub.EvidenceID = evID.String
	sub.Attempt = attempt.String
	if len(sub.Fingerprint) == 0 {
		sub.Fingerprint = nil
	}
	return sub, nil
}

// checkIdemKey rejects keys no column can hold: empty, too long, invalid
// UTF-8 or NUL.
func checkIdemKey(key string) error {
	if err := checkText("idempotency key", key); err != nil {
		return err
	}
	if key == "" || len(key) > maxIdemKeyLen {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "idempotency key must be 1 to %d bytes", maxIdemKeyLen)
	}
	return nil
}

// ClaimSubmission claims the upload (userID, key). If there is no row it
// inserts a pending one (CreatedAt = UpdatedAt = now) and reports
// claimed=true. If a pending row's UpdatedAt is before staleBefore, its
// request is presumed dead: the claim takes it over (UpdatedAt = now,
// CreatedAt kept) and reports claimed=true. Otherwise it returns the row as
// it is with claimed=false: pending means another request is in flight
// (409), stored means a replay.
//
// The claim is one atomic statement: of any number of concurrent claims on
// the same pair, exactly one reports claimed=true. Each claim gets a fresh
// Attempt token; heartbeats, the release, MarkSubmissionObject and
// CommitEvidence name it, so after a takeover the old request can no
// longer commit, release or mark anything.
//
// Returns ErrNotFound if the user does not exist (or userID is not a UUID),
// and an error wrapping fieldwatch.ErrInvalid for an unusable key or time.
func (s *Store) ClaimSubmission(ctx context.Context, userID, key string, now, staleBefore time.Time) (fieldwatch.Submission, bool, error) {
	if err := checkIdemKey(key); err != nil {
		return fieldwatch.Submission{}, false, err
	}
	if err := checkTime("now", now); err != nil {
		return fieldwatch.Submission{}, false, err
	}
	if err := checkTime("stale before", staleBefore); err != nil {
		return fieldwatch.Submission{}, false, err
	}
	uid, ok := parseID(userID)
	if !ok {
		return fieldwatch.Submission{}, false, fmt.Errorf("store: claim submission: user: %w", ErrNotFound)
	}
	var (
		sub     fieldwatch.Submission
		claimed bool
	)
	attempt := uuid.NewString()
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		for range claimAttempts {
			// ON CONFLICT … DO UPDATE … WHERE returns the row only when it
			// inserted or took over; PostgreSQL re-checks the WHERE on the
			// newest version of a concurrently updated row, so two
			// takeovers of one stale row cannot both succeed.
			var err error
			sub, err = scanSubmission(tx.QueryRowContext(ctx, s.q(`INSERT INTO submissions (`+submissionCols+`)
				VALUES (?, ?, 'pending', NULL, NULL, ?, ?, ?)
				ON CONFLICT (user_id, idem_key) DO UPDATE
				SET updated_at = excluded.updated_at, attempt = excluded.attempt, object_sha256 = NULL
				WHERE submissions.state = 'pending' AND submissions.updated_at < ?
				RETURNING `+submissionCols),
				uid, key, s.d.timeArg(now), s.d.timeArg(now), attempt, s.d.timeArg(staleBefore)))
			if err == nil {
				claimed = true
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			sub, err = scanSubmission(tx.QueryRowContext(ctx,
				s.q(`SELECT `+submissionCols+` FROM submissions WHERE user_id = ? AND idem_key = ?`), uid, key))
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			// Released between the two statements (PostgreSQL, READ
			// COMMITTED): claim again.
		}
		return fmt.Errorf("%w: submission keeps changing", ErrUnavailable)
	})
	if err != nil {
		return fieldwatch.Submission{}, false, s.fail("claim submission", err)
	}
	return sub, claimed, nil
}

// HeartbeatSubmission sets UpdatedAt = now on a pending submission of
// this attempt, so that neither a new claim nor the reconciler takes it
// for abandoned. Returns ErrNotFound if the attempt no longer holds it:
// stored, released, taken over, or abandoned by the reconciler (the
// request should then give up).
func (s *Store) HeartbeatSubmission(ctx context.Context, userID, key, attempt string, now time.Time) error {
	if err := checkIdemKey(key); err != nil {
		return err
	}
	if err := checkTime("now", now); err != nil {
		return err
	}
	uid, ok := parseID(userID)
	if !ok {
		return fmt.Errorf("store: heartbeat submission: %w", ErrNotFound)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE submissions SET updated_at = ?
		WHERE user_id = ? AND idem_key = ? AND state = 'pending' AND attempt = ?`), s.d.timeArg(now), uid, key, attempt)
	if err != nil {
		return s.fail("heartbeat submission", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.fail("heartbeat submission", err)
	} else if n == 0 {
		return fmt.Errorf("store: heartbeat submission: %w", ErrNotFound)
	}
	return nil
}

// heartbeatChunk bounds the claims one heartbeat statement names (three
// parameters each, well below both databases' parameter limits).
const heartbeatChunk = 250

// HeartbeatSubmissions is HeartbeatSubmission for many claims at once:
// it sets UpdatedAt = now on every listed submission that its attempt
// still holds pending, in one statement per heartbeatChunk claims, and
// reports how many it updated. A claim that is no longer held (stored,
// released, taken over, abandoned, an unknown key or user) is skipped,
// not an error: the caller compares the count with what it sent.
//
// An upload process beats for all its claims this way, so 1,000 uploads
// in flight cost one short UPDATE per interval instead of 1,000, and
// keep their database connections free for reads. The statements take
// the rows in (user, key) order, so two batches never deadlock on them.
func (s *Store) HeartbeatSubmissions(ctx context.Context, claims []fieldwatch.SubmissionAttempt, now time.Time) (int, error) {
	if err := checkTime("now", now); err != nil {
		return 0, err
	}
	valid := make([]fieldwatch.SubmissionAttempt, 0, len(claims))
	for _, c := range claims {
		uid, ok := parseID(c.UserID)
		if !ok || checkIdemKey(c.Key) != nil || checkText("attempt", c.Attempt) != nil {
			continue // no such claim can be held
		}
		c.UserID = uid
		valid = append(valid, c)
	}
	slices.SortFunc(valid, func(a, b fieldwatch.SubmissionAttempt) int {
		return cmp.Or(cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.Key, b.Key), cmp.Compare(a.Attempt, b.Attempt))
	})
	total := 0
	for chunk := range slices.Chunk(valid, heartbeatChunk) {
		var b strings.Builder
		args := make([]any, 0, 1+3*len(chunk))
		args = append(args, s.d.timeArg(now))
		b.WriteString(`UPDATE submissions SET updated_at = ?
			WHERE state = 'pending' AND (user_id, idem_key, attempt) IN (`)
		for i, c := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?)")
			args = append(args, c.UserID, c.Key, c.Attempt)
		}
		b.WriteString(")")
		res, err := s.db.ExecContext(ctx, s.q(b.String()), args...)
		if err != nil {
			return total, s.fail("heartbeat submissions", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, s.fail("heartbeat submissions", err)
		}
		total += int(n)
	}
	return total, nil
}

// ReleaseSubmission deletes the submission if this attempt still holds it
// pending, so that the client's retry can claim it again (after a failed
// upload, or when the reconciler abandons it). A missing, stored or taken
// over submission is left alone without error: a stored one must keep
// replaying, and a taken over one belongs to the newer attempt.
func (s *Store) ReleaseSubmission(ctx context.Context, userID, key, attempt string) error {
	if err := checkIdemKey(key); err != nil {
		return err
	}
	uid, ok := parseID(userID)
	if !ok {
		return nil
	}
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM submissions
		WHERE user_id = ? AND idem_key = ? AND state = 'pending' AND attempt IS NOT DISTINCT FROM ?`),
		uid, key, nullText(attempt))
	if err != nil {
		return s.fail("release submission", err)
	}
	return nil
}

// ReleaseStaleSubmission is the reconciler's ReleaseSubmission: it
// deletes the submission only if this attempt still holds it pending and
// its heartbeat is still older than staleBefore. A heartbeat that arrived
// after StaleSubmissions listed the row means the request is alive, and
// its claim stays.
func (s *Store) ReleaseStaleSubmission(ctx context.Context, userID, key, attempt string, staleBefore time.Time) error {
	if err := checkIdemKey(key); err != nil {
		return err
	}
	if err := checkTime("stale before", staleBefore); err != nil {
		return err
	}
	uid, ok := parseID(userID)
	if !ok {
		return nil
	}
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM submissions
		WHERE user_id = ? AND idem_key = ? AND state = 'pending' AND attempt IS NOT DISTINCT FROM ? AND updated_at < ?`),
		uid, key, nullText(attempt), s.d.timeArg(staleBefore))
	if err != nil {
		return s.fail("release stale submission", err)
	}
	return nil
}

// MarkSubmissionObject records that this attempt is about to store the
// evidence object with this hex SHA-256 (and beats its heart). It takes
// the per-hash lock that DeleteOrphanObject and CommitEvidence take, so a
// reconciler pass either deleted the object before the mark (and the PUT
// that follows stores it again) or sees the mark and leaves the object
// alone until the attempt commits or is released. Returns ErrNotFound if
// the attempt no longer holds the submission.
func (s *Store) MarkSubmissionObject(ctx context.Context, userID, key, attempt, sha256 string, now time.Time) error {
	if err := checkIdemKey(key); err != nil {
		return err
	}
	if !fieldwatch.ValidSHA256(sha256) {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "sha256 must be 64 lowercase hex digits")
	}
	if err := checkTime("now", now); err != nil {
		return err
	}
	uid, ok := parseID(userID)
	if !ok {
		return fmt.Errorf("store: mark submission object: %w", ErrNotFound)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockHash(ctx, tx, sha256); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.q(`UPDATE submissions SET object_sha256 = ?, updated_at = ?
			WHERE user_id = ? AND idem_key = ? AND state = 'pending' AND attempt = ?`),
			sha256, s.d.timeArg(now), uid, key, attempt)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("store: mark submission object: %w", ErrNotFound)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return err
	}
	if err != nil {
		return s.fail("mark submission object", err)
	}
	return nil
}

// DeleteOrphanObject calls del, which deletes the evidence object with
// this hex SHA-256, if and only if no evidence row and no pending upload
// attempt names that hash, and reports whether it did. It holds the
// per-hash lock while it checks and while del runs, so no upload can mark
// the hash, and no commit can add a row for it, in between.
func (s *Store) DeleteOrphanObject(ctx context.Context, sha256 string, del func(context.Context) error) (bool, error) {
	if !fieldwatch.ValidSHA256(sha256) {
		return false, fieldwatch.Errorf(fieldwatch.EINVALID, "sha256 must be 64 lowercase hex digits")
	}
	deleted := false
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if err := s.lockHash(ctx, tx, sha256); err != nil {
			return err
		}
		var owned bool
		err := tx.QueryRowContext(ctx, s.q(`SELECT EXISTS (SELECT 1 FROM evidence WHERE sha256 = ?)
			OR EXISTS (SELECT 1 FROM submissions WHERE object_sha256 = ? AND state = 'pending')`),
			sha256, sha256).Scan(&owned)
		if err != nil || owned {
			return err
		}
		if err := del(ctx); err != nil {
			return errDeleteObject{err}
		}
		deleted = true
		return nil
	})
	var de errDeleteObject
	if errors.As(err, &de) {
		return false, de.err // the photo store's error, as it is
	}
	if err != nil {
		return false, s.fail("delete orphan object", err)
	}
	return deleted, nil
}

// errDeleteObject carries the photo store's error out of the transaction
// without the database's classification.
type errDeleteObject struct{ err error }

func (e errDeleteObject) Error() string { return e.err.Error() }

// lockHash takes the transaction-scoped per-hash lock (PostgreSQL; SQLite's
// write transactions are serialised already).
func (s *Store) lockHash(ctx context.Context, tx *sql.Tx, sha256 string) error {
	if s.d.hashLock == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, s.q(s.d.hashLock), hashLockClass, sha256LockKey(sha256))
	return err
}

// SubmissionByKey returns the submission (userID, key) in whatever state.
// Returns ErrNotFound if there is none.
func (s *Store) SubmissionByKey(ctx context.Context, userID, key string) (fieldwatch.Submission, error) {
	if err := checkIdemKey(key); err != nil {
		return fieldwatch.Submission{}, err
	}
	uid, ok := parseID(userID)
	if !ok {
		return fieldwatch.Submission{}, fmt.Errorf("store: submission by key: %w", ErrNotFound)
	}
	sub, err := scanSubmission(s.db.QueryRowContext(ctx,
		s.q(`SELECT `+submissionCols+` FROM submissions WHERE user_id = ? AND idem_key = ?`), uid, key))
	if errors.Is(err, sql.ErrNoRows) {
		return fieldwatch.Submission{}, fmt.Errorf("store: submission by key: %w", ErrNotFound)
	}
	if err != nil {
		return fieldwatch.Submission{}, s.fail("submission by key", err)
	}
	return sub, nil
}

// StaleSubmissions returns pending submissions whose UpdatedAt is before
// staleBefore, least recently updated first (then by user and key), for the
// reconciler. limit 0 means DefaultSubmissionLimit; other values are
// clamped to 1..MaxSubmissionLimit.
func (s *Store) StaleSubmissions(ctx context.Context, staleBefore time.Time, limit int) ([]fieldwatch.Submission, error) {
	if err := checkTime("stale before", staleBefore); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+submissionCols+` FROM submissions
		WHERE state = 'pending' AND updated_at < ?
		ORDER BY updated_at, user_id, idem_key LIMIT ?`),
		s.d.timeArg(staleBefore), clampLimit(limit, DefaultSubmissionLimit, MaxSubmissionLimit))
	if err != nil {
		return nil, s.fail("stale submissions", err)
	}
	defer rows.Close()
	out := []fieldwatch.Submission{}
	for rows.Next() {
		sub, err := scanSubmission(rows)
		if err != nil {
			return nil, s.fail("stale submissions", err)
		}
		out = append(out, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("stale submissions", err)
	}
	return out, nil
}

// clampLimit applies a list method's limit rule: 0 means def, other
// values are clamped to 1..most.
func clampLimit(limit, def, most int) int {
	switch {
	case limit == 0:
		return def
	case limit < 1:
		return 1
	case limit > most:
		return most
	}
	return limit
}
