package store

import (
	"context"
	"fmt"

	"github.com/fieldwatch/fieldwatch"
)

// RehashPassword replaces a user's password hash with a stronger hash of
// the same password, only while the stored hash is still oldHash. Unlike
// SetPasswordHash it is not a password change: PasswordChangedAt stays, so
// the user's sessions stay valid. If the hash changed meanwhile it returns
// ErrNotFound and changes nothing.
func (s *Store) RehashPassword(ctx context.Context, id, oldHash, newHash string) error {
	if err := checkText("password hash", newHash); err != nil {
		return err
	}
	if newHash == "" {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "empty password hash")
	}
	cid, ok := parseID(id)
	if !ok {
		return fmt.Errorf("store: rehash password: %w", ErrNotFound)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`),
		newHash, cid, oldHash)
	if err != nil {
		return s.fail("rehash password", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail("rehash password", err)
	}
	if n == 0 {
		return fmt.Errorf("store: rehash password: %w", ErrNotFound)
	}
	return nil
}
