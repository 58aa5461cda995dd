package store

import (
	"context"
	"errors"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// Leases on background jobs. Replicas that share the database run the
// same jobs on their own timers; a job that must run once (one deadline
// sweep, one reconciler pass, one set of previews per photo) first takes
// its lease. A lease is a row (name, holder, expires_at): taking it is a
// single compare-and-set, so of two replicas asking at once exactly one
// gets it, and a holder that dies loses it when it expires, without
// anyone cleaning up. Times come from the caller, which keeps the clock
// (replicas' clocks must agree to well within a lease's length, as they
// must for upload heartbeats). SQLite has one process, which always gets
// its leases; the table is the same so that the code is.

// AcquireLease gives the lease name to holder until until, and reports
// whether holder has it: true when the lease was free, had expired at
// now, or was already holder's (it then runs until until, which renews
// or shortens it); false, with no error, while another holder has it.
// Returns an error wrapping fieldwatch.ErrInvalid for an empty name or
// holder, or until not after now.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	if err := checkLease(name, holder); err != nil {
		return false, err
	}
	if err := errors.Join(checkTime("now", now), checkTime("until", until)); err != nil {
		return false, err
	}
	if !until.After(now) {
		return false, fieldwatch.Errorf(fieldwatch.EINVALID, "lease %s: until %s is not after now %s", name,
			until.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano))
	}
	// On PostgreSQL the conflicting row is locked and the WHERE is
	// re-checked on its newest version, so a concurrent taker sees the
	// winner's row and updates nothing.
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO job_leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE job_leases.holder = excluded.holder OR job_leases.expires_at <= ?`),
		name, holder, s.d.timeArg(until), s.d.timeArg(now))
	if err != nil {
		return false, s.fail("acquire lease", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.fail("acquire lease", err)
	}
	return n == 1, nil
}

// ReleaseLease ends holder's lease name now, so that another holder may
// take it at once. It does nothing when holder does not hold it (for
// instance because it expired and someone else took it).
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if err := checkLease(name, holder); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM job_leases WHERE name = ? AND holder = ?`), name, holder); err != nil {
		return s.fail("release lease", err)
	}
	return nil
}

// DeleteExpiredLeases removes the leases that expired at or before
// before, and returns how many: leases per photo are taken once each and
// left to expire.
func (s *Store) DeleteExpiredLeases(ctx context.Context, before time.Time) (int, error) {
	if err := checkTime("before", before); err != nil {
		return 0, err
	}
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM job_leases WHERE expires_at <= ?`), s.d.timeArg(before))
	if err != nil {
		return 0, s.fail("delete expired leases", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail("delete expired leases", err)
	}
	return int(n), nil
}

func checkLease(name, holder string) error {
	if name == "" || holder == "" {
		return fieldwatch.Errorf(fieldwatch.EINVALID, "a lease needs a name and a holder")
	}
	return errors.Join(checkText("lease name", name), checkText("lease holder", holder))
}
