package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// Limits of ListUsers.
const (
	DefaultUserLimit = 50
	MaxUserLimit     = 500
)

// querier is what both *sql.DB and *sql.Tx offer, so that helpers run
// inside or outside a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const userCols = `id, username, display_name, phone, role, active, password_hash,
	created_at, updated_at, password_changed_at`

type rowScanner interface{ Scan(dest ...any) error }

// scanUser reads userCols, then any extra columns into extra.
func scanUser(r rowScanner, extra ...any) (fieldwatch.User, error) {
	var (
		u    fieldwatch.User
		role string
		pca  *time.Time
	)
	err := r.Scan(append([]any{&u.ID, &u.Username, &u.DisplayName, &u.Phone, &role, &u.Active, &u.PasswordHash,
		timeScan{t: &u.CreatedAt}, timeScan{t: &u.UpdatedAt}, timeScan{null: &pca}}, extra...)...)
	if err != nil {
		return fieldwatch.User{}, err
	}
	u.Role = fieldwatch.Role(role)
	if pca != nil {
		u.PasswordChangedAt = *pca
	}
	u.Townships = []string{}
	return u, nil
}

// CreateUser inserts u and completes it in place: a new ID unless u has
// one (a UUID), the username in NFC, townships sorted and deduplicated,
// CreatedAt from the store's clock unless set, UpdatedAt = CreatedAt unless
// set, and PasswordChangedAt = CreatedAt when a password hash is given
// without one. Times are kept to the microsecond.
//
// Returns ErrConflict if the username (compared after lower-casing ASCII)
// or ID is taken, and an error wrapping fieldwatch.ErrInvalid for text that
// cannot be stored, an empty username or an unknown role.
func (s *Store) CreateUser(ctx context.Context, u *fieldwatch.User) error {
	nu := *u
	var err error
	var key string
	if nu.Username, key, err = normUsername(u.Username); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"display name", nu.DisplayName}, {"phone", nu.Phone}, {"password hash", nu.PasswordHash},
	} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	if !nu.Role.Valid() {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "unknown role %q", nu.Role)
	}
	if nu.Townships, err = normTownships(u.Townships); err != nil {
		return err
	}
	if nu.ID == "" {
		if nu.ID, err = newID(); err != nil {
			return err
		}
	} else if id, ok := parseID(nu.ID); ok {
		nu.ID = id
	} else {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "user id is not a UUID")
	}
	if nu.CreatedAt.IsZero() {
		nu.CreatedAt = s.now()
	}
	nu.CreatedAt = roundTime(nu.CreatedAt)
	if nu.UpdatedAt.IsZero() {
		nu.UpdatedAt = nu.CreatedAt
	}
	nu.UpdatedAt = roundTime(nu.UpdatedAt)
	var pca *time.Time
	if nu.PasswordChangedAt.IsZero() && nu.PasswordHash != "" {
		nu.PasswordChangedAt = nu.CreatedAt
	}
	if !nu.PasswordChangedAt.IsZero() {
		nu.PasswordChangedAt = roundTime(nu.PasswordChangedAt)
		pca = &nu.PasswordChangedAt
	}
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"created at", nu.CreatedAt}, {"updated at", nu.UpdatedAt}, {"password changed at", nu.PasswordChangedAt}} {
		if err := checkTime(f.name, f.t); err != nil {
			return err
		}
	}

	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO users (`+userCols+`, username_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			nu.ID, nu.Username, nu.DisplayName, nu.Phone, string(nu.Role), nu.Active, nu.PasswordHash,
			s.d.timeArg(nu.CreatedAt), s.d.timeArg(nu.UpdatedAt), s.d.nullTimeArg(pca), key)
		if err != nil {
			return err
		}
		if err := s.insertTownships(ctx, tx, nu.ID, nu.Townships); err != nil {
			return err
		}
		// Never the password hash: the trail is read by administrators
		// and kept for years.
		return s.audit(ctx, tx, nu.CreatedAt, "user.create", "user", nu.ID, map[string]any{
			"username": nu.Username, "display_name": nu.DisplayName, "role": nu.Role,
			"active": nu.Active, "townships": nu.Townships,
		})
	})
	if err != nil {
		err = s.fail("create user", err)
		if errors.Is(err, ErrConflict) {
			// The message is for the client; the driver's text (constraint
			// and column names) is not.
			return s.userConflict(ctx, key)
		}
		return err
	}
	*u = nu
	return nil
}

// userConflict says which unique value of a new user is taken.
func (s *Store) userConflict(ctx context.Context, key string) error {
	var one int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM users WHERE username_key = ?`), key).Scan(&one)
	switch {
	case err == nil:
		return conflictf("username already taken")
	case errors.Is(err, sql.ErrNoRows):
		return conflictf("user id already taken")
	default:
		return s.fail("create user", err)
	}
}

func (s *Store) insertTownships(ctx context.Context, q querier, userID string, codes []string) error {
	for _, c := range codes {
		if _, err := q.ExecContext(ctx, s.q(`INSERT INTO user_townships (user_id, township_code) VALUES (?, ?)`), userID, c); err != nil {
			return err
		}
	}
	return nil
}

// loadTownships fills in the townships of users, in code order.
func (s *Store) loadTownships(ctx context.Context, q querier, users []fieldwatch.User) error {
	if len(users) == 0 {
		return nil
	}
	idx := make(map[string]int, len(users))
	args := make([]any, len(users))
	for i, u := range users {
		idx[u.ID] = i
		args[i] = u.ID
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(users)), ", ")
	rows, err := q.QueryContext(ctx, s.q(`SELECT user_id, township_code FROM user_townships
		WHERE user_id IN (`+marks+`) ORDER BY user_id, township_code`), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, code string
		if err := rows.Scan(&id, &code); err != nil {
			return err
		}
		if i, ok := idx[id]; ok {
			users[i].Townships = append(users[i].Townships, code)
		}
	}
	return rows.Err()
}

// userWhere reads one user and its townships, in q's snapshot.
func (s *Store) userWhere(ctx context.Context, q querier, cond string, arg any) (fieldwatch.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, s.q(`SELECT `+userCols+` FROM users WHERE `+cond), arg))
	if errors.Is(err, sql.ErrNoRows) {
		return fieldwatch.User{}, ErrNotFound
	}
	if err != nil {
		return fieldwatch.User{}, err
	}
	one := []fieldwatch.User{u}
	if err := s.loadTownships(ctx, q, one); err != nil {
		return fieldwatch.User{}, err
	}
	return one[0], nil
}

// UserByID returns the user with the given id and its townships. Returns
// ErrNotFound if there is none (also for an id that is not a UUID).
func (s *Store) UserByID(ctx context.Context, id string) (fieldwatch.User, error) {
	cid, ok := parseID(id)
	if !ok {
		return fieldwatch.User{}, fmt.Errorf("store: user by id: %w", ErrNotFound)
	}
	// One statement, so one snapshot and one round trip: every
	// authenticated request reads its user.
	var townships sql.NullString
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT `+userCols+`,
		(SELECT `+s.d.joinText("t.township_code")+` FROM user_townships t WHERE t.user_id = users.id)
		FROM users WHERE id = ?`), cid), &townships)
	if errors.Is(err, sql.ErrNoRows) {
		return fieldwatch.User{}, fmt.Errorf("store: user by id: %w", ErrNotFound)
	}
	if err != nil {
		return fieldwatch.User{}, s.fail("user by id", err)
	}
	if townships.String != "" {
		u.Townships = strings.Split(townships.String, ",")
		slices.Sort(u.Townships)
	}
	return u, nil
}

// UserByUsername returns the user whose username matches after NFC and
// ASCII lower-casing, so "Wang.Li" finds "wang.li". Returns ErrNotFound if
// there is none, and an error wrapping fieldwatch.ErrInvalid for text that
// cannot be a username.
func (s *Store) UserByUsername(ctx context.Context, username string) (fieldwatch.User, error) {
	_, key, err := normUsername(username)
	if err != nil {
		return fieldwatch.User{}, err
	}
	var u fieldwatch.User
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = s.userWhere(ctx, tx, "username_key = ?", key)
		return err
	})
	if err != nil {
		return fieldwatch.User{}, s.fail("user by username", err)
	}
	return u, nil
}

// ListUsers returns users matching f in username order (by the ASCII
// lower-cased key, byte order, identical on both backends). f.After is the
// last username of the previous page. f.Limit 0 means DefaultUserLimit;
// other values are clamped to 1..MaxUserLimit.
func (s *Store) ListUsers(ctx context.Context, f fieldwatch.UserFilter) ([]fieldwatch.User, error) {
	var (
		where []string
		args  []any
	)
	if f.Role != nil {
		if !f.Role.Valid() {
			return nil, fieldwatch.Errorf(fieldwatch.EINVALID, "unknown role %q", *f.Role)
		}
		where = append(where, "role = ?")
		args = append(args, string(*f.Role))
	}
	if f.Active != nil {
		where = append(where, "active = ?")
		args = append(args, *f.Active)
	}
	if f.After != "" {
		_, key, err := normUsername(f.After)
		if err != nil {
			return nil, err
		}
		where = append(where, "username_key > ?")
		args = append(args, key)
	}
	limit := f.Limit
	switch {
	case limit == 0:
		limit = DefaultUserLimit
	case limit < 1:
		limit = 1
	case limit > MaxUserLimit:
		limit = MaxUserLimit
	}
	query := `SELECT ` + userCols + ` FROM users`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY username_key LIMIT ?`
	args = append(args, limit)

	var users []fieldwatch.User
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.q(query), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			u, err := scanUser(rows)
			if err != nil {
				return err
			}
			users = append(users, u)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		return s.loadTownships(ctx, tx, users)
	})
	if err != nil {
		return nil, s.fail("list users", err)
	}
	if users == nil {
		users = []fieldwatch.User{}
	}
	return users, nil
}

// adminLockClass keys the advisory lock that serialises changes of role
// and activity, so the last active administrator check and the change it
// guards are one step for concurrent updates.
const adminLockClass int32 = 0x66770013

// ErrLastAdmin is returned by UpdateUser for a change that would leave no
// active administrator: nobody could then manage accounts. It matches
// ErrConflict; its message is fit for the client.
var ErrLastAdmin = conflictf("the last active administrator cannot be demoted or deactivated")

// UpdateUser applies the non-nil fields of p and sets UpdatedAt to now.
// Townships, when given, replace the user's set. An empty patch changes
// nothing and returns the user as stored. Returns the updated user,
// ErrNotFound if there is none, ErrLastAdmin if the change would demote
// or deactivate the last active administrator (checked in the update's
// transaction), or an error wrapping fieldwatch.ErrInvalid.
func (s *Store) UpdateUser(ctx context.Context, id string, p fieldwatch.UserPatch, now time.Time) (fieldwatch.User, error) {
	var (
		sets []string
		args []any
	)
	if p.DisplayName != nil {
		if err := checkText("display name", *p.DisplayName); err != nil {
			return fieldwatch.User{}, err
		}
		sets = append(sets, "display_name = ?")
		args = append(args, *p.DisplayName)
	}
	if p.Phone != nil {
		if err := checkText("phone", *p.Phone); err != nil {
			return fieldwatch.User{}, err
		}
		sets = append(sets, "phone = ?")
		args = append(args, *p.Phone)
	}
	if p.Role != nil {
		if !p.Role.Valid() {
			return fieldwatch.User{}, fieldwatch.Errorf(fieldwatch.EINVALID, "unknown role %q", *p.Role)
		}
		sets = append(sets, "role = ?")
		args = append(args, string(*p.Role))
	}
	if p.Active != nil {
		sets = append(sets, "active = ?")
		args = append(args, *p.Active)
	}
	var townships []string
	if p.Townships != nil {
		var err error
		if townships, err = normTownships(*p.Townships); err != nil {
			return fieldwatch.User{}, err
		}
	}
	if len(sets) == 0 && p.Townships == nil {
		return s.UserByID(ctx, id)
	}
	if err := checkTime("now", now); err != nil {
		return fieldwatch.User{}, err
	}
	cid, ok := parseID(id)
	if !ok {
		return fieldwatch.User{}, fmt.Errorf("store: update user: %w", ErrNotFound)
	}
	sets = append(sets, "updated_at = ?")
	args = append(args, s.d.timeArg(now), cid)

	var u fieldwatch.User
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		// A change of role or activity may remove an administrator: such
		// changes take one lock, before any row lock, so that two
		// administrators demoting each other cannot both see the other
		// still active (SQLite serialises writers anyway).
		if (p.Role != nil || p.Active != nil) && s.d.hashLock != "" {
			if _, err := tx.ExecContext(ctx, s.q(s.d.hashLock), adminLockClass, int32(0)); err != nil {
				return err
			}
		}
		// Lock the row first (PostgreSQL runs writers side by side), so
		// that the old values read next, for the audit trail, are the
		// ones this update replaces.
		res, err := tx.ExecContext(ctx, s.q(`UPDATE users SET updated_at = ? WHERE id = ?`), s.d.timeArg(now), cid)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		old, err := s.userWhere(ctx, tx, "id = ?", cid)
		if err != nil {
			return err
		}
		demoted := p.Role != nil && *p.Role != fieldwatch.RoleAdmin
		deactivated := p.Active != nil && !*p.Active
		if old.Role == fieldwatch.RoleAdmin && old.Active && (demoted || deactivated) {
			var others int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM users WHERE role = ? AND active = ? AND id <> ?`),
				string(fieldwatch.RoleAdmin), true, cid).Scan(&others); err != nil {
				return err
			}
			if others == 0 {
				return ErrLastAdmin
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE users SET `+strings.Join(sets, ", ")+` WHERE id = ?`), args...); err != nil {
			return err
		}
		if p.Townships != nil {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM user_townships WHERE user_id = ?`), cid); err != nil {
				return err
			}
			if err := s.insertTownships(ctx, tx, cid, townships); err != nil {
				return err
			}
		}
		if u, err = s.userWhere(ctx, tx, "id = ?", cid); err != nil {
			return err
		}
		return s.audit(ctx, tx, now, "user.update", "user", cid, userChanges(old, u))
	})
	if err != nil {
		return fieldwatch.User{}, s.fail("update user", err)
	}
	return u, nil
}

// SetPasswordHash stores a new password hash and records now as both
// PasswordChangedAt and UpdatedAt, and in the same transaction revokes
// every refresh token of the user and moves the user to a new credential
// generation, so that no session of the old password outlives the change,
// not even one whose login or refresh is in flight (see
// StartRefreshFamily and InsertRefreshToken). PasswordChangedAt strictly
// increases, by a microsecond if now does not move it on: access tokens
// name the PasswordChangedAt they were issued under, and two changes must
// never share one. Returns ErrNotFound if there is no such user, and an
// error wrapping fieldwatch.ErrInvalid for an empty or unstorable hash.
func (s *Store) SetPasswordHash(ctx context.Context, id, hash string, now time.Time) error {
	if err := checkText("password hash", hash); err != nil {
		return err
	}
	if hash == "" {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "empty password hash")
	}
	if err := checkTime("now", now); err != nil {
		return err
	}
	cid, ok := parseID(id)
	if !ok {
		return fmt.Errorf("store: set password hash: %w", ErrNotFound)
	}
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		// Lock the row first (PostgreSQL runs writers side by side): the
		// change time read next is then the one this change follows, and
		// a login's share lock (StartRefreshFamily) waits for the commit.
		res, err := tx.ExecContext(ctx, s.q(`UPDATE users SET updated_at = ? WHERE id = ?`), s.d.timeArg(now), cid)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		var (
			username string
			last     *time.Time
		)
		if err := tx.QueryRowContext(ctx, s.q(`SELECT username, password_changed_at FROM users WHERE id = ?`), cid).
			Scan(&username, timeScan{null: &last}); err != nil {
			return err
		}
		changed := roundTime(now)
		if last != nil && !changed.After(*last) {
			changed = last.Add(precision)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ?,
			credential_version = credential_version + 1 WHERE id = ?`),
			hash, s.d.timeArg(changed), s.d.timeArg(now), cid); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`),
			s.d.timeArg(now), cid); err != nil {
			return err
		}
		// That it changed, and for whom; never the hash.
		return s.audit(ctx, tx, now, "user.password", "user", cid, map[string]string{"username": username})
	})
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: set password hash: %w", ErrNotFound)
	}
	if err != nil {
		return s.fail("set password hash", err)
	}
	return nil
}

// userChanges is the audit record of an update: the username, and old and
// new values of the fields that changed. It never holds the password hash,
// which UpdateUser does not change.
func userChanges(old, u fieldwatch.User) any {
	type change struct {
		Old any `json:"old"`
		New any `json:"new"`
	}
	changes := map[string]change{}
	add := func(field string, o, n any, same bool) {
		if !same {
			changes[field] = change{o, n}
		}
	}
	add("display_name", old.DisplayName, u.DisplayName, old.DisplayName == u.DisplayName)
	add("phone", old.Phone, u.Phone, old.Phone == u.Phone)
	add("role", old.Role, u.Role, old.Role == u.Role)
	add("active", old.Active, u.Active, old.Active == u.Active)
	add("townships", old.Townships, u.Townships, slices.Equal(old.Townships, u.Townships))
	return map[string]any{"username": u.Username, "changes": changes}
}

// CountUsers returns the number of users, active or not. The first-run
// setup uses it to decide whether an initial admin may be created.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, s.fail("count users", err)
	}
	return n, nil
}
