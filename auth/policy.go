package auth

import (
	"fmt"
	"slices"
	"time"

	"github.com/fieldwatch/fieldwatch/inspect"
)

// Principal is the caller of one request: who they are now, not what
// their token said when it was issued. The zero Principal may do nothing.
//
// Scope follows the role (docs/glossary.md#roles): admins see everything;
// inspectors and township officers see their townships; river chiefs
// see their reaches. A scope list a role does not use is left empty, so
// stale data in another column can never widen access.
type Principal struct {
	UserID    string
	Role      inspect.Role
	Townships []string // township codes, for inspectors and township officers
	Reaches   []string // reach codes, for river chiefs
}

// NewPrincipal builds the request's Principal from verified claims and
// the user row read from the store for this request. reaches are the
// reach codes the user is currently assigned to as a river chief (nil for
// other roles or until chief assignments exist).
//
// It fails with ErrUnauthenticated when the user is not the token's
// subject, is inactive, or changed their password after the token was
// issued; so deactivation and password changes take effect on the next
// request, not when the token expires (docs/reliability.md#a4, #b8). Role and
// scope come from u, not from the claims.
func NewPrincipal(c Claims, u inspect.User, reaches []string) (Principal, error) {
	switch {
	case u.ID == "" || u.ID != c.UserID:
		return Principal{}, fmt.Errorf("%w: token subject does not match user", ErrUnauthenticated)
	case !u.Active:
		return Principal{}, fmt.Errorf("%w: user is inactive", ErrUnauthenticated)
	case !c.PasswordChangedAt.IsZero() && !c.PasswordChangedAt.Equal(u.PasswordChangedAt):
		// The token names the password change it was issued under; any
		// later change (they strictly increase) ends it, even within the
		// same second as its iat.
		return Principal{}, fmt.Errorf("%w: password changed after token was issued", ErrUnauthenticated)
	case c.PasswordChangedAt.IsZero() && !u.PasswordChangedAt.IsZero() &&
		!c.IssuedAt.After(u.PasswordChangedAt.Truncate(time.Second)):
		// A token without the claim has only iat, in whole seconds: one
		// issued in the second of the change may predate it, so it is
		// refused with those before.
		return Principal{}, fmt.Errorf("%w: password changed after token was issued", ErrUnauthenticated)
	case !u.Role.Valid():
		return Principal{}, fmt.Errorf("%w: user has no valid role", ErrUnauthenticated)
	}
	p := Principal{UserID: u.ID, Role: u.Role}
	switch u.Role {
	case inspect.RoleInspector, inspect.RoleTownshipOfficer:
		p.Townships = slices.Clone(u.Townships)
	case inspect.RoleRiverChief:
		p.Reaches = slices.Clone(reaches)
	}
	return p, nil
}

// Is reports whether the principal has one of roles. Admin-only
// operations check p.Is(inspect.RoleAdmin) (docs/reliability.md#a8).
func (p Principal) Is(roles ...inspect.Role) bool {
	return p.Role.Valid() && slices.Contains(roles, p.Role)
}

// CanSeeTownship reports whether objects located in the township with
// this code are in scope. The empty code (a location outside every
// township) is visible to admins only.
func (p Principal) CanSeeTownship(code string) bool {
	if p.Role == inspect.RoleAdmin {
		return true
	}
	return code != "" && slices.Contains(p.Townships, code)
}

// CanSeeReach reports whether the principal is assigned to the reach.
// It answers for river chiefs and admins; an officer's access to a reach
// follows from the reach's township, so use CanSee with both codes.
func (p Principal) CanSeeReach(code string) bool {
	if p.Role == inspect.RoleAdmin {
		return true
	}
	return code != "" && slices.Contains(p.Reaches, code)
}

// CanSee reports whether an object located in township and (if on a
// river) reach is in scope: the township grants it to inspectors and
// officers, the reach to its chiefs. The API answers 404 when it is not
// (docs/reliability.md#a1). Inspectors' own submissions are visible to them
// whatever their location; that check needs the uploader and belongs to
// the caller.
func (p Principal) CanSee(township, reach string) bool {
	return p.CanSeeTownship(township) || p.CanSeeReach(reach)
}
