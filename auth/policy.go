package auth

import (
	"fmt"
	"slices"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// NewActor builds the request's fieldwatch.Actor from verified claims and
// the user row read from the store for this request: who the caller is
// now, not what their token said when it was issued. reaches are the
// reach codes the user is currently assigned to as a river chief (nil for
// other roles or until chief assignments exist).
//
// It fails with ErrUnauthenticated when the user is not the token's
// subject, is inactive, or changed their password after the token was
// issued; so deactivation and password changes take effect on the next
// request, not when the token expires (docs/reliability.md#a4, #b8). Role and
// scope come from u, not from the claims.
func NewActor(c Claims, u fieldwatch.User, reaches []string) (fieldwatch.Actor, error) {
	switch {
	case u.ID == "" || u.ID != c.UserID:
		return fieldwatch.Actor{}, fmt.Errorf("%w: token subject does not match user", ErrUnauthenticated)
	case !u.Active:
		return fieldwatch.Actor{}, fmt.Errorf("%w: user is inactive", ErrUnauthenticated)
	case !c.PasswordChangedAt.IsZero() && !c.PasswordChangedAt.Equal(u.PasswordChangedAt):
		// The token names the password change it was issued under; any
		// later change (they strictly increase) ends it, even within the
		// same second as its iat.
		return fieldwatch.Actor{}, fmt.Errorf("%w: password changed after token was issued", ErrUnauthenticated)
	case c.PasswordChangedAt.IsZero() && !u.PasswordChangedAt.IsZero() &&
		!c.IssuedAt.After(u.PasswordChangedAt.Truncate(time.Second)):
		// A token without the claim has only iat, in whole seconds: one
		// issued in the second of the change may predate it, so it is
		// refused with those before.
		return fieldwatch.Actor{}, fmt.Errorf("%w: password changed after token was issued", ErrUnauthenticated)
	case !u.Role.Valid():
		return fieldwatch.Actor{}, fmt.Errorf("%w: user has no valid role", ErrUnauthenticated)
	}
	// Scope follows the role: a list the role does not use stays empty,
	// so stale data in another column can never widen access.
	a := fieldwatch.Actor{UserID: u.ID, Role: u.Role}
	switch u.Role {
	case fieldwatch.RoleInspector, fieldwatch.RoleTownshipOfficer:
		a.Townships = slices.Clone(u.Townships)
	case fieldwatch.RoleRiverChief:
		a.Reaches = slices.Clone(reaches)
	}
	return a, nil
}
