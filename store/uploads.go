package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

const uploadCols = `id, user_id, object_key, size, sha256, created_at, expires_at, completed_at`

// uploadLockClass keys the advisory lock that serialises session
// creation on PostgreSQL, so that two replicas counting open sessions at
// once cannot both take the last place. (SQLite write transactions are
// already serial.)
const uploadLockClass int32 = 0x66770012

func scanUpload(r rowScanner) (fieldwatch.Upload, error) {
	var u fieldwatch.Upload
	err := r.Scan(&u.ID, &u.UserID, &u.ObjectKey, &u.Size, &u.SHA256, timeScan{t: &u.CreatedAt}, timeScan{t: &u.ExpiresAt},
		timeScan{null: &u.CompletedAt})
	return u, err
}

// CreateUpload records a direct upload if the caps of lim allow: it
// counts the sessions that are not completed and were created after
// lim.OpenSince, of u.UserID (at most lim.PerUser) and in all (at most
// lim.Total), and inserts u in the same transaction. ID is set if empty.
// Returns fieldwatch.ErrUserUploadLimit or fieldwatch.ErrUploadLimit when a cap
// is reached, an error wrapping fieldwatch.ErrInvalid for a bad size or
// digest, ErrNotFound for an unknown user.
func (s *Store) CreateUpload(ctx context.Context, u *fieldwatch.Upload, lim fieldwatch.UploadLimits) error {
	if u.Size <= 0 || !fieldwatch.ValidSHA256(u.SHA256) {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "upload needs a positive size and a lower-case hex SHA-256")
	}
	if err := errors.Join(checkText("object key", u.ObjectKey), checkTime("created_at", u.CreatedAt), checkTime("expires_at", u.ExpiresAt),
		checkTime("open since", lim.OpenSince)); err != nil {
		return err
	}
	if u.CompletedAt != nil {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "a new upload cannot be completed")
	}
	uid, ok := parseID(u.UserID)
	if !ok {
		return fmt.Errorf("store: create upload: %w", ErrNotFound)
	}
	if u.ID == "" {
		id, err := newID()
		if err != nil {
			return err
		}
		u.ID = id
	}
	id, ok := parseID(u.ID)
	if !ok {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "upload id is not a UUID")
	}
	since := s.d.timeArg(lim.OpenSince)
	// atCap counts up to limit rows of query, so a count costs no more
	// than the cap however many sessions there are.
	atCap := func(tx *sql.Tx, limit int, where string, args ...any) (bool, error) {
		if limit <= 0 {
			return false, nil
		}
		var n int
		err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM (SELECT 1 FROM uploads WHERE completed_at IS NULL AND created_at > ?`+
			where+` LIMIT ?) o`), append(append([]any{since}, args...), limit)...).Scan(&n)
		return n >= limit, err
	}
	var capErr error
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		if s.d.hashLock != "" {
			if _, err := tx.ExecContext(ctx, s.q(s.d.hashLock), uploadLockClass, 0); err != nil {
				return err
			}
		}
		// The user's own cap first: a user over it hears 429, their
		// doing, rather than 503.
		for _, c := range []struct {
			limit int
			where string
			args  []any
			err   error
		}{
			{lim.PerUser, ` AND user_id = ?`, []any{uid}, fieldwatch.ErrUserUploadLimit},
			{lim.Total, ``, nil, fieldwatch.ErrUploadLimit},
		} {
			full, err := atCap(tx, c.limit, c.where, c.args...)
			if err != nil {
				return err
			}
			if full {
				capErr = c.err
				return nil
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO uploads (`+uploadCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)`),
			id, uid, u.ObjectKey, u.Size, u.SHA256, s.d.timeArg(u.CreatedAt), s.d.timeArg(u.ExpiresAt))
		return err
	})
	if err != nil {
		return s.fail("create upload", err)
	}
	if capErr != nil {
		return fmt.Errorf("store: create upload: %w", capErr)
	}
	u.ID = id
	return nil
}

// FinishUpload marks the direct upload id completed at "at" (the first
// completion's time is kept) and keeps it until keepUntil, for replays of
// its completion. Returns ErrNotFound if there is no such upload.
func (s *Store) FinishUpload(ctx context.Context, id string, at, keepUntil time.Time) error {
	if err := errors.Join(checkTime("completed_at", at), checkTime("expires_at", keepUntil)); err != nil {
		return err
	}
	uid, ok := parseID(id)
	if !ok {
		return fmt.Errorf("store: finish upload: %w", ErrNotFound)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE uploads SET completed_at = COALESCE(completed_at, ?), expires_at = ? WHERE id = ?`),
		s.d.timeArg(at), s.d.timeArg(keepUntil), uid)
	if err != nil {
		return s.fail("finish upload", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return s.fail("finish upload", err)
	} else if n == 0 {
		return fmt.Errorf("store: finish upload: %w", ErrNotFound)
	}
	return nil
}

// CountUploads counts the direct uploads as they stand at now: open (not
// completed, deadline not passed), expired (not completed, deadline
// passed) and completed.
func (s *Store) CountUploads(ctx context.Context, now time.Time) (fieldwatch.UploadCounts, error) {
	if err := checkTime("now", now); err != nil {
		return fieldwatch.UploadCounts{}, err
	}
	var c fieldwatch.UploadCounts
	t := s.d.timeArg(now)
	err := s.db.QueryRowContext(ctx, s.q(`SELECT
			COALESCE(SUM(CASE WHEN completed_at IS NULL AND expires_at > ? THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN completed_at IS NULL AND expires_at <= ? THEN 1 ELSE 0 END), 0),
			COALESCE(SUM(CASE WHEN completed_at IS NOT NULL THEN 1 ELSE 0 END), 0)
		FROM uploads`), t, t).Scan(&c.Open, &c.Expired, &c.Completed)
	if err != nil {
		return fieldwatch.UploadCounts{}, s.fail("count uploads", err)
	}
	return c, nil
}

// UploadByID returns the direct upload with id, or ErrNotFound.
func (s *Store) UploadByID(ctx context.Context, id string) (fieldwatch.Upload, error) {
	uid, ok := parseID(id)
	if !ok {
		return fieldwatch.Upload{}, fmt.Errorf("store: upload: %w", ErrNotFound)
	}
	u, err := scanUpload(s.db.QueryRowContext(ctx, s.q(`SELECT `+uploadCols+` FROM uploads WHERE id = ?`), uid))
	if errors.Is(err, sql.ErrNoRows) {
		return fieldwatch.Upload{}, fmt.Errorf("store: upload: %w", ErrNotFound)
	}
	if err != nil {
		return fieldwatch.Upload{}, s.fail("upload", err)
	}
	return u, nil
}

// DeleteUpload forgets a direct upload; a missing one is not an error.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	uid, ok := parseID(id)
	if !ok {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM uploads WHERE id = ?`), uid); err != nil {
		return s.fail("delete upload", err)
	}
	return nil
}

// ExpiredUploads returns up to limit direct uploads whose deadline
// (ExpiresAt) is before "before", oldest first, completed or not, for the
// reconciler to remove with their objects.
func (s *Store) ExpiredUploads(ctx context.Context, before time.Time, limit int) ([]fieldwatch.Upload, error) {
	if err := checkTime("before", before); err != nil {
		return nil, err
	}
	limit = min(max(limit, 1), MaxSubmissionLimit)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+uploadCols+` FROM uploads WHERE expires_at < ? ORDER BY expires_at, id LIMIT ?`),
		s.d.timeArg(before), limit)
	if err != nil {
		return nil, s.fail("expired uploads", err)
	}
	defer rows.Close()
	var out []fieldwatch.Upload
	for rows.Next() {
		u, err := scanUpload(rows)
		if err != nil {
			return nil, s.fail("expired uploads", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("expired uploads", err)
	}
	return out, nil
}
