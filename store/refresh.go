package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

const refreshCols = `id, family_id, user_id, hash, created_at, expires_at, spent_at, revoked_at`

func scanRefreshToken(r rowScanner) (fieldwatch.RefreshToken, error) {
	var t fieldwatch.RefreshToken
	err := r.Scan(&t.ID, &t.FamilyID, &t.UserID, &t.Hash,
		timeScan{t: &t.CreatedAt}, timeScan{t: &t.ExpiresAt}, timeScan{null: &t.SpentAt}, timeScan{null: &t.RevokedAt})
	return t, err
}

// InsertRefreshToken stores t. An empty ID gets a new one; an empty
// FamilyID starts a family named after the token's ID. CreatedAt
// defaults to the store's clock. Hash must be a SHA-256 (32 bytes) and
// ExpiresAt must be set.
//
// A token of a family that already has tokens (a rotation) is stored
// only while the user's password has not changed since the family began, checked in the same statement as the insert (and
// under a share lock on the user's row in PostgreSQL, which a password
// change must wait for): a refresh that read the user before a change
// cannot add a live token after it. A new family records the user's
// current credentials; logins use StartRefreshFamily instead, which also
// checks the password hash they verified.
//
// Returns ErrConflict for a duplicate ID or hash, ErrNotFound if the user
// does not exist or (for a rotation) changed password since the family
// began, and an error wrapping fieldwatch.ErrInvalid for
// malformed fields.
func (s *Store) InsertRefreshToken(ctx context.Context, t fieldwatch.RefreshToken) error {
	t, uid, err := s.checkRefreshToken(t)
	if err != nil {
		return err
	}
	return s.insertRefreshToken(ctx, "insert refresh token", t, uid,
		`u.credential_version = COALESCE((SELECT MIN(f.credential_version) FROM refresh_tokens f WHERE f.family_id = ?), u.credential_version)`,
		t.FamilyID)
}

// StartRefreshFamily stores the first token of a new family for a login,
// only while the user is active and its stored password hash is still
// passwordHash, the one the login verified: a login that checked the old
// password cannot start a session after a password change committed
// (docs/reliability.md#b8, #h5). The check and the insert are one statement.
//
// Returns ErrNotFound if the user does not exist, is inactive or has
// another password hash now (the caller re-reads the user: a rehash with
// stronger parameters is not a password change), ErrConflict for a
// duplicate ID or hash, and an error wrapping fieldwatch.ErrInvalid for
// malformed fields.
func (s *Store) StartRefreshFamily(ctx context.Context, t fieldwatch.RefreshToken, passwordHash string) error {
	if passwordHash == "" {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "empty password hash")
	}
	t, uid, err := s.checkRefreshToken(t)
	if err != nil {
		return err
	}
	return s.insertRefreshToken(ctx, "start refresh family", t, uid, `u.active = ? AND u.password_hash = ?`, true, passwordHash)
}

// checkRefreshToken validates t and fills in its defaults; uid is the
// canonical user id.
func (s *Store) checkRefreshToken(t fieldwatch.RefreshToken) (fieldwatch.RefreshToken, string, error) {
	var err error
	if t.ID == "" {
		if t.ID, err = newID(); err != nil {
			return t, "", err
		}
	} else if id, ok := parseID(t.ID); ok {
		t.ID = id
	} else {
		return t, "", fieldwatch.Errorf(fieldwatch.EINVALID, "refresh token id is not a UUID")
	}
	if t.FamilyID == "" {
		t.FamilyID = t.ID
	} else if id, ok := parseID(t.FamilyID); ok {
		t.FamilyID = id
	} else {
		return t, "", fieldwatch.Errorf(fieldwatch.EINVALID, "refresh token family id is not a UUID")
	}
	uid, ok := parseID(t.UserID)
	if !ok {
		return t, "", fmt.Errorf("store: insert refresh token: user: %w", ErrNotFound)
	}
	if len(t.Hash) != sha256.Size {
		return t, "", fieldwatch.Errorf(fieldwatch.EINVALID, "refresh token hash must be %d bytes", sha256.Size)
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.now()
	}
	if t.ExpiresAt.IsZero() {
		return t, "", fieldwatch.Errorf(fieldwatch.EINVALID, "refresh token without expiry")
	}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"created at", &t.CreatedAt}, {"expires at", &t.ExpiresAt}, {"spent at", t.SpentAt}, {"revoked at", t.RevokedAt}} {
		if f.t == nil {
			continue
		}
		if err := checkTime(f.name, *f.t); err != nil {
			return t, "", err
		}
	}
	return t, uid, nil
}

// insertRefreshToken inserts t if cond (on users u, with args) holds,
// copying the user's credential generation into the row. In PostgreSQL the user's row is share-locked
// for the statement: a password change (which updates that row, then
// revokes the user's tokens, in one transaction) either waits for this
// insert and then revokes the new row, or commits first and makes cond
// false when the row is re-checked.
func (s *Store) insertRefreshToken(ctx context.Context, op string, t fieldwatch.RefreshToken, uid, cond string, args ...any) error {
	lock := ""
	if s.d.name == postgresDialect.name {
		// SQLite serialises writers; it has no row locks to take.
		lock = ` FOR SHARE OF u`
	}
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO refresh_tokens (`+refreshCols+`, credential_version)
		SELECT ?, ?, u.id, ?, ?, ?, ?, ?, u.credential_version FROM users u
		WHERE u.id = ? AND `+cond+lock),
		append([]any{t.ID, t.FamilyID, t.Hash, s.d.timeArg(t.CreatedAt), s.d.timeArg(t.ExpiresAt),
			s.d.nullTimeArg(t.SpentAt), s.d.nullTimeArg(t.RevokedAt), uid}, args...)...)
	if err != nil {
		return s.fail(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(op, err)
	}
	if n == 0 {
		return fmt.Errorf("store: %s: user missing, inactive or with other credentials: %w", op, ErrNotFound)
	}
	return nil
}

// RefreshTokenByHash returns the token whose SHA-256 is hash, whatever its
// state: the caller needs spent and revoked tokens too, to detect reuse.
// Returns ErrNotFound if there is none.
func (s *Store) RefreshTokenByHash(ctx context.Context, hash []byte) (fieldwatch.RefreshToken, error) {
	if len(hash) != sha256.Size {
		return fieldwatch.RefreshToken{}, fmt.Errorf("store: refresh token by hash: %w", ErrNotFound)
	}
	t, err := scanRefreshToken(s.db.QueryRowContext(ctx, s.q(`SELECT `+refreshCols+` FROM refresh_tokens WHERE hash = ?`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return fieldwatch.RefreshToken{}, fmt.Errorf("store: refresh token by hash: %w", ErrNotFound)
	}
	if err != nil {
		return fieldwatch.RefreshToken{}, s.fail("refresh token by hash", err)
	}
	return t, nil
}

// SpendRefreshToken marks the token spent at the given time if it is
// neither spent, nor revoked, nor expired at that time, in one statement,
// so that of two concurrent refreshes with the same token exactly one
// reports true. false means the token was already used (the caller treats
// that as reuse) or is no longer valid. Returns ErrNotFound if there is no
// such token.
func (s *Store) SpendRefreshToken(ctx context.Context, id string, at time.Time) (bool, error) {
	cid, ok := parseID(id)
	if !ok {
		return false, fmt.Errorf("store: spend refresh token: %w", ErrNotFound)
	}
	if err := checkTime("spent at", at); err != nil {
		return false, err
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE refresh_tokens SET spent_at = ?
		WHERE id = ? AND spent_at IS NULL AND revoked_at IS NULL AND expires_at > ?`),
		s.d.timeArg(at), cid, s.d.timeArg(at))
	if err != nil {
		return false, s.fail("spend refresh token", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.fail("spend refresh token", err)
	}
	if n == 1 {
		return true, nil
	}
	var one int
	err = s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM refresh_tokens WHERE id = ?`), cid).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("store: spend refresh token: %w", ErrNotFound)
	}
	if err != nil {
		return false, s.fail("spend refresh token", err)
	}
	return false, nil
}

// RevokeRefreshFamily revokes every token of a family that is not revoked
// yet, keeping the first revocation time. Revoking an unknown family is
// not an error: the outcome the caller wants already holds.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) error {
	return s.revoke(ctx, "revoke refresh family", "family_id", familyID, at)
}

// RevokeUserRefreshTokens revokes every live token of a user: logout
// everywhere, deactivation, password change. Unknown users are not an error.
func (s *Store) RevokeUserRefreshTokens(ctx context.Context, userID string, at time.Time) error {
	return s.revoke(ctx, "revoke user refresh tokens", "user_id", userID, at)
}

// revoke sets revoked_at where col (a constant, never input) equals id.
func (s *Store) revoke(ctx context.Context, op, col, id string, at time.Time) error {
	if err := checkTime("revoked at", at); err != nil {
		return err
	}
	cid, ok := parseID(id)
	if !ok {
		return nil
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE refresh_tokens SET revoked_at = ? WHERE `+col+` = ? AND revoked_at IS NULL`),
		s.d.timeArg(at), cid)
	if err != nil {
		return s.fail(op, err)
	}
	return nil
}

// DeleteExpiredRefreshTokens deletes tokens that expired before the given
// time and returns how many. Reuse detection needs spent tokens until they
// expire, so only expiry, not spending, makes a token deletable.
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, before time.Time) (int, error) {
	if err := checkTime("before", before); err != nil {
		return 0, err
	}
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM refresh_tokens WHERE expires_at < ?`), s.d.timeArg(before))
	if err != nil {
		return 0, s.fail("delete expired refresh tokens", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail("delete expired refresh tokens", err)
	}
	return int(n), nil
}
