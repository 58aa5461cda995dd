package fieldwatch

import (
	"context"
	"slices"
)

// Actor is the person a request acts for: who they are, their role, and
// the townships and reaches their role grants. package auth builds it from
// a verified token and the user as stored now; the API carries it in the
// request's context (WithActor) and hands it to every domain operation.
// The zero Actor is the system: it may do nothing a role is needed for.
//
// Scope follows the role: administrators see everything; inspectors and
// township officers hold Townships; river chiefs hold Reaches. A list the
// role does not use is left empty by auth, and ignored here, so stale
// data in another column can never widen access.
type Actor struct {
	UserID    string
	Role      Role
	Townships []string // township codes, for inspectors and township officers
	Reaches   []string // reach codes, for river chiefs
}

// Is reports whether the actor has one of roles.
func (a Actor) Is(roles ...Role) bool {
	return a.Role.Valid() && slices.Contains(roles, a.Role)
}

// Scope is what a non-administrator's query may return: objects owned by
// UserID (uploaded, recorded, or made from their evidence, depending on
// the object), or placed in one of Townships or on one of Reaches. A nil
// *Scope sees everything; an empty one sees nothing. The store turns it
// into SQL; the Actor's methods decide, per kind of object, which of the
// role's codes count.
type Scope struct {
	UserID    string
	Townships []string
	Reaches   []string
}

// EvidenceScope is the evidence the actor may see: their own uploads, and
// evidence linked to their townships (inspectors and officers) or reaches
// (river chiefs). Nil for administrators.
func (a Actor) EvidenceScope() *Scope {
	switch a.Role {
	case RoleAdmin:
		return nil
	case RoleInspector, RoleTownshipOfficer:
		return &Scope{UserID: a.UserID, Townships: a.Townships}
	case RoleRiverChief:
		return &Scope{UserID: a.UserID, Reaches: a.Reaches}
	}
	return &Scope{UserID: a.UserID}
}

// CaseScope is the cases the actor may see: those of their townships
// (officers) or reaches (chiefs), and those made from their evidence
// (everyone; in practice inspectors, whose townships do not count here).
// Nil for administrators.
func (a Actor) CaseScope() *Scope { return a.accountableScope() }

// PatrolScope is the patrols the actor may see: their own, those on their
// reaches (chiefs) and on reaches in their townships (officers). Nil for
// administrators.
func (a Actor) PatrolScope() *Scope { return a.accountableScope() }

// accountableScope grants the codes of the roles that answer for a place:
// officers their townships, chiefs their reaches.
func (a Actor) accountableScope() *Scope {
	switch a.Role {
	case RoleAdmin:
		return nil
	case RoleTownshipOfficer:
		return &Scope{UserID: a.UserID, Townships: a.Townships}
	case RoleRiverChief:
		return &Scope{UserID: a.UserID, Reaches: a.Reaches}
	}
	return &Scope{UserID: a.UserID}
}

// SeesEvidence reports whether the scope includes e; nil sees everything.
func (s *Scope) SeesEvidence(e Evidence) bool {
	return s == nil || s.owns(e.UploaderID) || s.Covers(e.TownshipCode, e.ReachCode)
}

// SeesCase reports whether the scope includes c; nil sees everything.
func (s *Scope) SeesCase(c Case) bool {
	return s == nil || s.Covers(c.TownshipCode, c.ReachCode) || slices.ContainsFunc(c.Uploaders, s.owns)
}

// SeesPatrol reports whether the scope includes p; nil sees everything.
func (s *Scope) SeesPatrol(p Patrol) bool {
	return s == nil || s.owns(p.ChiefID) || s.Covers(p.TownshipCode, p.ReachCode)
}

// owns reports whether userID is the scope's user. The empty id (the
// system) owns nothing, as in the store.
func (s *Scope) owns(userID string) bool { return s.UserID != "" && userID == s.UserID }

// Covers reports whether township or reach is one of the scope's codes;
// nil covers everything. The empty code (outside every township, off
// every river) is covered by nil only.
func (s *Scope) Covers(township, reach string) bool {
	return s == nil || (township != "" && slices.Contains(s.Townships, township)) ||
		(reach != "" && slices.Contains(s.Reaches, reach))
}

// actorKey is the context key of the request's Actor.
type actorKey struct{}

// WithActor returns ctx carrying a as the actor of the request: the API
// puts it there once the token is verified, and every audit event the
// request's writes append names a.UserID without each store method taking
// it as a parameter.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFromContext returns the Actor WithActor put in ctx. Without one
// (the command line, background work, an unauthenticated first-run setup)
// it returns the zero Actor, the system, and false.
func ActorFromContext(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}
