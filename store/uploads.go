package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fieldwatch/fieldwatch/inspect"
)

const uploadCols = `id, user_id, object_key, size, sha256, created_at, expires_at`

func scanUpload(r rowScanner) (inspect.Upload, error) {
	var u inspect.Upload
	err := r.Scan(&u.ID, &u.UserID, &u.ObjectKey, &u.Size, &u.SHA256, timeScan{t: &u.CreatedAt}, timeScan{t: &u.ExpiresAt})
	return u, err
}

// CreateUpload records a direct upload. ID is set if empty. Returns an
// error wrapping inspect.ErrInvalid for a bad size or digest, ErrNotFound
// for an unknown user.
func (s *Store) CreateUpload(ctx context.Context, u *inspect.Upload) error {
	if u.Size <= 0 || !isHexSHA256(u.SHA256) {
		return fmt.Errorf("%w: upload needs a positive size and a lower-case hex SHA-256", inspect.ErrInvalid)
	}
	if err := errors.Join(checkText("object key", u.ObjectKey), checkTime("created_at", u.CreatedAt), checkTime("expires_at", u.ExpiresAt)); err != nil {
		return err
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
		return fmt.Errorf("%w: upload id is not a UUID", inspect.ErrInvalid)
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO uploads (`+uploadCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		id, uid, u.ObjectKey, u.Size, u.SHA256, s.d.timeArg(u.CreatedAt), s.d.timeArg(u.ExpiresAt))
	if err != nil {
		return s.fail("create upload", err)
	}
	return nil
}

// UploadByID returns the direct upload with id, or ErrNotFound.
func (s *Store) UploadByID(ctx context.Context, id string) (inspect.Upload, error) {
	uid, ok := parseID(id)
	if !ok {
		return inspect.Upload{}, fmt.Errorf("store: upload: %w", ErrNotFound)
	}
	u, err := scanUpload(s.db.QueryRowContext(ctx, s.q(`SELECT `+uploadCols+` FROM uploads WHERE id = ?`), uid))
	if errors.Is(err, sql.ErrNoRows) {
		return inspect.Upload{}, fmt.Errorf("store: upload: %w", ErrNotFound)
	}
	if err != nil {
		return inspect.Upload{}, s.fail("upload", err)
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

// ExpiredUploads returns up to limit direct uploads that expired before
// t, oldest first, for the reconciler to remove with their objects.
func (s *Store) ExpiredUploads(ctx context.Context, before time.Time, limit int) ([]inspect.Upload, error) {
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
	var out []inspect.Upload
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

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
