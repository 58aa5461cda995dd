package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// River chief assignments. An assignment names a reach by code, so it
// holds across the reach's versions. It is in force from ValidFrom
// (inclusive) to ValidTo (exclusive; nil: open-ended). SetReachChiefs
// replaces a reach's chiefs from a given instant on: what was in force is
// closed then and what had not started is dropped, so the past stays as it
// was and ChiefsAt answers for any past instant.

// chiefLockClass is the first key of the advisory lock that serialises
// SetReachChiefs per reach (the second is a hash of the code).
const chiefLockClass int32 = 0x66770003

// maxChiefAssignments bounds the assignments SetReachChiefs takes at once.
const maxChiefAssignments = 100

// levelOrder is fieldwatch.ChiefLevel.Rank in SQL, for column c.level.
const levelOrder = `CASE c.level WHEN 'county' THEN 0 WHEN 'township' THEN 1 ELSE 2 END`

// validAt is the condition on chief_assignments (alias a) for the rows in
// force at one instant, bound twice.
func validAt(alias string) string {
	return alias + `.valid_from <= ? AND (` + alias + `.valid_to IS NULL OR ` + alias + `.valid_to > ?)`
}

// reachLockKey is the second key of the per-reach lock.
func reachLockKey(code string) int32 {
	h := fnv.New32a()
	h.Write([]byte(code)) //nolint:errcheck // never fails
	return int32(h.Sum32())
}

// normAssignments validates the assignments of SetReachChiefs and returns
// them in stored form: ReachCode set, ids canonical, a zero ValidFrom
// made now, times to the microsecond.
func normAssignments(reachCode string, as []fieldwatch.ChiefAssignment, now time.Time) ([]fieldwatch.ChiefAssignment, error) {
	invalid := func(i int, format string, a ...any) error {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "chief assignment %d of reach %s: %s", i, reachCode, fmt.Sprintf(format, a...))
	}
	if len(as) > maxChiefAssignments {
		return nil, fieldwatch.Errorf(fieldwatch.EINVALID, "more than %d chief assignments", maxChiefAssignments)
	}
	out := make([]fieldwatch.ChiefAssignment, len(as))
	for i, a := range as {
		if a.ReachCode != "" && a.ReachCode != reachCode {
			return nil, invalid(i, "it names reach %q", a.ReachCode)
		}
		a.ReachCode = reachCode
		uid, ok := parseID(a.UserID)
		if !ok {
			if err := checkText("chief user id", a.UserID); err != nil {
				return nil, err
			}
			return nil, invalid(i, "user %q: not a user id", a.UserID)
		}
		a.UserID = uid
		if !a.Level.Valid() {
			return nil, invalid(i, "user %s: unknown level %q", uid, a.Level)
		}
		if a.ValidFrom.IsZero() {
			a.ValidFrom = now
		}
		a.ValidFrom = roundTime(a.ValidFrom)
		if err := checkTime("valid from", a.ValidFrom); err != nil {
			return nil, err
		}
		if a.ValidFrom.Before(now) {
			return nil, invalid(i, "user %s: valid from %s is before now (%s): history is not rewritten",
				uid, a.ValidFrom.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano))
		}
		var err error
		if a.ValidTo, err = normTimePtr("valid to", a.ValidTo); err != nil {
			return nil, err
		}
		if a.ValidTo != nil && !a.ValidFrom.Before(*a.ValidTo) {
			return nil, invalid(i, "user %s: valid from %s is not before valid to %s",
				uid, a.ValidFrom.Format(time.RFC3339Nano), a.ValidTo.Format(time.RFC3339Nano))
		}
		for j, b := range out[:i] {
			if b.UserID == uid && overlaps(a, b) {
				return nil, invalid(i, "user %s: overlaps assignment %d of the same user", uid, j)
			}
		}
		out[i] = a
	}
	return out, nil
}

// overlaps reports whether two assignments are in force at a common
// instant.
func overlaps(a, b fieldwatch.ChiefAssignment) bool {
	before := func(t time.Time, end *time.Time) bool { return end == nil || t.Before(*end) }
	return before(a.ValidFrom, b.ValidTo) && before(b.ValidFrom, a.ValidTo)
}

// SetReachChiefs makes as the chiefs of the reach from now on, in one
// write transaction. Assignments of the reach in force at now are closed
// (ValidTo = now) and those starting at or after now are deleted; then as
// is inserted. Assignments before now are kept as they were: history.
// With no assignments the reach has no chief from now on.
//
// In each assignment, ReachCode may be empty (it is set to reachCode); a
// zero ValidFrom means now; ValidFrom must not be before now and must be
// before ValidTo, if set. The same user may not have overlapping
// assignments. Times are kept to the microsecond.
//
// Returns an error wrapping fieldwatch.ErrInvalid naming the assignment and
// user if a user does not exist or does not have role river_chief, a
// level is unknown or an interval is empty or starts before now;
// ErrNotFound if as is not empty and the reach is neither in force at now
// nor scheduled to be.
func (s *Store) SetReachChiefs(ctx context.Context, reachCode string, as []fieldwatch.ChiefAssignment, now time.Time) error {
	if err := checkText("reach code", reachCode); err != nil {
		return err
	}
	if reachCode == "" {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "empty reach code")
	}
	now = roundTime(now)
	if err := checkTime("now", now); err != nil {
		return err
	}
	as, err := normAssignments(reachCode, as, now)
	if err != nil {
		return err
	}
	nowArg := s.d.timeArg(now)
	err = s.writeTx(ctx, func(tx *sql.Tx) error {
		if s.d.hashLock != "" {
			if _, err := tx.ExecContext(ctx, s.q(s.d.hashLock), chiefLockClass, reachLockKey(reachCode)); err != nil {
				return err
			}
		}
		if len(as) > 0 {
			var exists bool
			err := tx.QueryRowContext(ctx, s.q(`SELECT EXISTS (SELECT 1 FROM reaches
				WHERE code = ? AND (effective_to IS NULL OR effective_to > ?))`), reachCode, nowArg).Scan(&exists)
			if err != nil {
				return err
			}
			if !exists {
				return fmt.Errorf("reach %s: %w", reachCode, ErrNotFound)
			}
			if err := s.checkChiefs(ctx, tx, as); err != nil {
				return err
			}
		}
		// What this replaces, for the audit trail: the assignments in
		// force at now or scheduled after it, as they were.
		old, err := s.queryAssignmentsTx(ctx, tx, `SELECT `+assignmentCols+` FROM chief_assignments c
			WHERE c.reach_code = ? AND (c.valid_to IS NULL OR c.valid_to > ?)
			ORDER BY c.valid_from, `+levelOrder+`, c.user_id`, reachCode, nowArg)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM chief_assignments WHERE reach_code = ? AND valid_from >= ?`),
			reachCode, nowArg); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE chief_assignments SET valid_to = ?
			WHERE reach_code = ? AND valid_from < ? AND (valid_to IS NULL OR valid_to > ?)`),
			nowArg, reachCode, nowArg, nowArg); err != nil {
			return err
		}
		for _, a := range as {
			id, err := newID()
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO chief_assignments (id, reach_code, user_id, level, valid_from, valid_to)
				VALUES (?, ?, ?, ?, ?, ?)`),
				id, a.ReachCode, a.UserID, string(a.Level), s.d.timeArg(a.ValidFrom), s.d.nullTimeArg(a.ValidTo))
			if err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, now, "reach.chiefs", "reach", reachCode, map[string]any{
			"old": chiefsAudit(old), "new": chiefsAudit(as),
		})
	})
	if err != nil {
		return s.fail("set reach chiefs", err)
	}
	return nil
}

// chiefsAudit is how the audit trail records assignments.
func chiefsAudit(as []fieldwatch.ChiefAssignment) any {
	type assignment struct {
		UserID    string     `json:"user_id"`
		Level     string     `json:"level"`
		ValidFrom time.Time  `json:"valid_from"`
		ValidTo   *time.Time `json:"valid_to,omitempty"`
	}
	out := make([]assignment, len(as))
	for i, a := range as {
		out[i] = assignment{a.UserID, string(a.Level), a.ValidFrom.UTC(), a.ValidTo}
	}
	return out
}

// checkChiefs checks, in tx, that every assignment's user exists and has
// role river_chief.
func (s *Store) checkChiefs(ctx context.Context, tx *sql.Tx, as []fieldwatch.ChiefAssignment) error {
	args := make([]any, len(as))
	for i, a := range as {
		args[i] = a.UserID
	}
	rows, err := tx.QueryContext(ctx, s.q(`SELECT id, username, role FROM users WHERE id IN (`+marks(len(as))+`)`), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	type user struct{ name, role string }
	users := make(map[string]user, len(as))
	for rows.Next() {
		var id string
		var u user
		if err := rows.Scan(&id, &u.name, &u.role); err != nil {
			return err
		}
		users[id] = u
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, a := range as {
		u, ok := users[a.UserID]
		switch {
		case !ok:
			return fieldwatch.Errorf(fieldwatch.EINVALID, "chief assignment %d of reach %s: user %s does not exist", i, a.ReachCode, a.UserID)
		case u.role != string(fieldwatch.RoleRiverChief):
			return fieldwatch.Errorf(fieldwatch.EINVALID, "chief assignment %d of reach %s: user %q (%s) has role %s, not %s", i, a.ReachCode, u.name, a.UserID, u.role, fieldwatch.RoleRiverChief)
		}
	}
	return nil
}

// ChiefsAt returns the chiefs of the reach at at, with their display
// names (the username for a user without one), ordered by level (county,
// township, village), then name (bytewise), then user id. A reach without
// chiefs, or an unknown reach, has none.
func (s *Store) ChiefsAt(ctx context.Context, reachCode string, at time.Time) ([]fieldwatch.ChiefRef, error) {
	if err := checkText("reach code", reachCode); err != nil {
		return nil, err
	}
	at, err := s.at(at)
	if err != nil {
		return nil, err
	}
	arg := s.d.timeArg(at)
	out := []fieldwatch.ChiefRef{}
	err = s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.q(`SELECT c.user_id, u.display_name, u.username, c.level
			FROM chief_assignments c JOIN users u ON u.id = c.user_id
			WHERE c.reach_code = ? AND `+validAt("c")), reachCode, arg, arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				c                  fieldwatch.ChiefRef
				display, user, lvl string
			)
			if err := rows.Scan(&c.UserID, &display, &user, &lvl); err != nil {
				return err
			}
			c.Name, c.Level = cmp.Or(display, user), fieldwatch.ChiefLevel(lvl)
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.fail("chiefs at", err)
	}
	// Sorted here rather than in SQL so that names compare bytewise on
	// both backends, whatever the server's collation.
	slices.SortFunc(out, func(a, b fieldwatch.ChiefRef) int {
		return cmp.Or(cmp.Compare(a.Level.Rank(), b.Level.Rank()),
			strings.Compare(a.Name, b.Name), strings.Compare(a.UserID, b.UserID))
	})
	return out, nil
}

// ReachesOfChief returns the codes of the reaches the user is assigned to
// at at, in code order (bytewise), in one query on an index that covers
// it. Assignments outlive their reach's removal by an import (see
// ImportReaches), so a code may name a reach no longer in force. A userID
// that is not a UUID has no reaches.
func (s *Store) ReachesOfChief(ctx context.Context, userID string, at time.Time) ([]string, error) {
	out := []string{}
	uid, ok := parseID(userID)
	if !ok {
		return out, nil
	}
	at, err := s.at(at)
	if err != nil {
		return nil, err
	}
	query, args := s.reachesOfChiefQuery(uid, at)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.fail("reaches of chief", err)
	}
	defer rows.Close()
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			return nil, s.fail("reaches of chief", err)
		}
		out = append(out, code)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("reaches of chief", err)
	}
	return out, nil
}

func (s *Store) reachesOfChiefQuery(uid string, at time.Time) (string, []any) {
	arg := s.d.timeArg(at)
	return `SELECT DISTINCT c.reach_code FROM chief_assignments c WHERE c.user_id = ? AND ` + validAt("c") + `
		ORDER BY c.reach_code`, []any{uid, arg, arg}
}

const assignmentCols = `c.reach_code, c.user_id, c.level, c.valid_from, c.valid_to`

// ChiefAssignments returns the reach's assignments in force at at,
// ordered by level (county first), then ValidFrom, then user id.
func (s *Store) ChiefAssignments(ctx context.Context, reachCode string, at time.Time) ([]fieldwatch.ChiefAssignment, error) {
	if err := checkText("reach code", reachCode); err != nil {
		return nil, err
	}
	at, err := s.at(at)
	if err != nil {
		return nil, err
	}
	arg := s.d.timeArg(at)
	return s.queryAssignments(ctx, "chief assignments", `SELECT `+assignmentCols+` FROM chief_assignments c
		WHERE c.reach_code = ? AND `+validAt("c")+` ORDER BY `+levelOrder+`, c.valid_from, c.user_id`, reachCode, arg, arg)
}

// ChiefAssignmentHistory returns every assignment the reach has had, has
// or will have, ordered by ValidFrom, then level (county first), then user
// id: closed ones with the ValidTo they were closed at.
func (s *Store) ChiefAssignmentHistory(ctx context.Context, reachCode string) ([]fieldwatch.ChiefAssignment, error) {
	if err := checkText("reach code", reachCode); err != nil {
		return nil, err
	}
	return s.queryAssignments(ctx, "chief assignment history", `SELECT `+assignmentCols+` FROM chief_assignments c
		WHERE c.reach_code = ? ORDER BY c.valid_from, `+levelOrder+`, c.user_id`, reachCode)
}

func (s *Store) queryAssignments(ctx context.Context, op, query string, args ...any) ([]fieldwatch.ChiefAssignment, error) {
	var out []fieldwatch.ChiefAssignment
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.queryAssignmentsTx(ctx, tx, query, args...)
		return err
	})
	if err != nil {
		return nil, s.fail(op, err)
	}
	return out, nil
}

// queryAssignmentsTx reads assignments (columns assignmentCols) in q.
func (s *Store) queryAssignmentsTx(ctx context.Context, q querier, query string, args ...any) ([]fieldwatch.ChiefAssignment, error) {
	out := []fieldwatch.ChiefAssignment{}
	rows, err := q.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a   fieldwatch.ChiefAssignment
			lvl string
		)
		if err := rows.Scan(&a.ReachCode, &a.UserID, &lvl, timeScan{t: &a.ValidFrom}, timeScan{null: &a.ValidTo}); err != nil {
			return nil, err
		}
		a.Level = fieldwatch.ChiefLevel(lvl)
		out = append(out, a)
	}
	return out, rows.Err()
}
