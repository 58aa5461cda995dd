package auth

import (
	"slices"

	"github.com/fieldwatch/fieldwatch"
)

// Access says who may call an API operation. Which objects they may reach
// is scope (fieldwatch.Actor's EvidenceScope, CaseScope, PatrolScope),
// checked by the operation itself.
type Access struct {
	// Public operations need no token. It must agree with `security: []`
	// in openapi.yaml; the API refuses to start otherwise.
	Public bool
	// Roles that may call the operation; empty means every authenticated
	// user.
	Roles []fieldwatch.Role
}

// Allows reports whether the actor may call an operation with this
// access rule.
func (a Access) Allows(who fieldwatch.Actor) bool {
	if a.Public {
		return true
	}
	if !who.Role.Valid() {
		return false
	}
	return len(a.Roles) == 0 || slices.Contains(a.Roles, who.Role)
}

var (
	public        = Access{Public: true}
	authenticated = Access{}
	adminOnly     = Access{Roles: []fieldwatch.Role{fieldwatch.RoleAdmin}}
)

// Operations is the authorization policy: the access rule of every
// operation in openapi.yaml, by operationId. The API applies it before a
// request is parsed; an operation missing here makes the server refuse to
// start and the authorization matrix test fail, so nothing is left
// unguarded by omission.
func Operations() map[string]Access {
	return map[string]Access{
		"getHealth":  public,
		"getReady":   public,
		"getVersion": public,
		"login":      public,
		"refresh":    public,
		"logout":     public,
		"getMe":      authenticated,
		"listUsers":  adminOnly,
		"createUser": adminOnly,
		"getUser":    adminOnly,
		"updateUser": adminOnly,

		// Every role uploads evidence; what each may read is scope,
		// checked per object (own uploads, townships, reaches).
		"createEvidence":       authenticated,
		"listEvidence":         authenticated,
		"getEvidence":          authenticated,
		"getEvidencePhoto":     authenticated,
		"getEvidenceThumbnail": authenticated,
		"reviewEvidence":       adminOnly,
		"listEvidenceReviews":  authenticated,
		"createUpload":         authenticated,
		"putUploadContent":     authenticated,
		"completeUpload":       authenticated,

		// Geography is public knowledge inside the county; changing it is
		// for administrators.
		"importTownships": adminOnly,
		"importReaches":   adminOnly,
		"setReachChiefs":  adminOnly,
		"relinkEvidence":  adminOnly,
		"listTownships":   authenticated,
		"getTownship":     authenticated,
		"listReaches":     authenticated,
		"getReach":        authenticated,
		"getMyReaches":    authenticated,

		// Scope and per-action rules (who may start, submit, verify) are
		// the case service's; this only keeps non-admins from opening cases.
		"createCase":     adminOnly,
		"listCases":      authenticated,
		"getCase":        authenticated,
		"transitionCase": authenticated,
		"commentCase":    authenticated,

		"listAudit":    adminOnly,
		"getAuditHead": adminOnly,

		// Patrols: scope (a chief's reaches, an officer's townships) is the
		// patrol service's.
		"createPatrol":        {Roles: []fieldwatch.Role{fieldwatch.RoleRiverChief, fieldwatch.RoleAdmin}},
		"listPatrols":         authenticated,
		"getPatrol":           authenticated,
		"listReachPatrols":    authenticated,
		"getPatrolCompliance": authenticated,

		// The monthly ranking (通报) is published to every township;
		// the drill-down is the township's own or an administrator's.
		"createLetter":          adminOnly,
		"listLetters":           adminOnly,
		"getAssessment":         authenticated,
		"getTownshipAssessment": authenticated,
		"freezeAssessment":      adminOnly,
	}
}
