package fieldwatch

import (
	"slices"
	"time"
)

// Role is what a user does in the county's campaign. It decides which
// operations a user may call; the user's scope decides on which objects.
type Role string

// The four roles. See docs/glossary.md#roles.
const (
	RoleAdmin           Role = "admin"
	RoleInspector       Role = "inspector"
	RoleRiverChief      Role = "river_chief"
	RoleTownshipOfficer Role = "township_officer"
)

// Roles lists every role in a stable order.
func Roles() []Role { return []Role{RoleAdmin, RoleInspector, RoleRiverChief, RoleTownshipOfficer} }

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// ParseRole returns the role named s, or an error wrapping ErrInvalid.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", Errorf(EINVALID, "unknown role %q", s)
	}
	return r, nil
}

// User is an account. PasswordHash is an argon2id PHC string and never
// leaves the server.
type User struct {
	ID           string // server-generated UUID
	Username     string // unique; stored NFC-normalised and lower-cased (auth.NormalizeUsername)
	DisplayName  string // may be Chinese
	Phone        string // optional
	Role         Role
	Active       bool
	PasswordHash string
	// Townships are the township codes an inspector or township officer
	// covers. River chiefs' reaches come from their chief assignments.
	Townships         []string
	CreatedAt         time.Time
	UpdatedAt         time.Time
	PasswordChangedAt time.Time
}

// UserPatch changes some fields of a user; nil fields are left alone.
type UserPatch struct {
	DisplayName *string
	Phone       *string
	Role        *Role
	Active      *bool
	Townships   *[]string
}

// UserFilter selects users for a listing. Results are ordered by username;
// After is the last username of the previous page (keyset pagination).
type UserFilter struct {
	Role   *Role
	Active *bool
	After  string
	Limit  int
}

// RefreshToken is one link of a refresh-token family. Only the SHA-256 of
// the opaque token is stored; the token itself is shown to the client once.
type RefreshToken struct {
	ID        string // server-generated UUID
	FamilyID  string // shared by every token descended from one login
	UserID    string
	Hash      []byte // SHA-256 of the opaque token
	CreatedAt time.Time
	ExpiresAt time.Time
	SpentAt   *time.Time // set when it was exchanged for a new pair
	RevokedAt *time.Time // set when its family was revoked
}
