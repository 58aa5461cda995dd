package fieldwatch

import (
	"context"
	"testing"
)

// TestActorScopes checks which places each role's scopes cover, and that
// an inspector's townships show them evidence but not cases or patrols.
func TestActorScopes(t *testing.T) {
	const (
		home, away   = "420101001", "420101002"
		mine, theirs = "R-001", "R-002"
	)
	actors := map[string]Actor{
		"admin":     {UserID: "a", Role: RoleAdmin},
		"inspector": {UserID: "i", Role: RoleInspector, Townships: []string{home}},
		"officer":   {UserID: "o", Role: RoleTownshipOfficer, Townships: []string{home}},
		"chief":     {UserID: "c", Role: RoleRiverChief, Reaches: []string{mine}},
		// Lists the role does not use grant nothing.
		"chiefWithTownships": {UserID: "c2", Role: RoleRiverChief, Townships: []string{home}},
		"zero":               {},
	}
	tests := []struct {
		who             string
		township, reach string
		evidence        bool // EvidenceScope covers the place
		accountable     bool // CaseScope and PatrolScope cover it
	}{
		{"admin", away, theirs, true, true},
		{"admin", "", "", true, true},
		{"inspector", home, "", true, false},
		{"inspector", away, mine, false, false},
		{"inspector", "", "", false, false},
		{"officer", home, theirs, true, true},
		{"officer", away, theirs, false, false},
		{"chief", away, mine, true, true},
		{"chief", home, theirs, false, false},
		{"chief", "", "", false, false},
		{"chiefWithTownships", home, theirs, false, false},
		{"zero", home, mine, false, false},
		{"zero", "", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.who+"/"+tt.township+"/"+tt.reach, func(t *testing.T) {
			a := actors[tt.who]
			if got := a.EvidenceScope().Covers(tt.township, tt.reach); got != tt.evidence {
				t.Errorf("EvidenceScope().Covers = %v, want %v", got, tt.evidence)
			}
			if got := a.CaseScope().Covers(tt.township, tt.reach); got != tt.accountable {
				t.Errorf("CaseScope().Covers = %v, want %v", got, tt.accountable)
			}
			if got := a.PatrolScope().Covers(tt.township, tt.reach); got != tt.accountable {
				t.Errorf("PatrolScope().Covers = %v, want %v", got, tt.accountable)
			}
		})
	}
}

// TestScopeOwnership checks that what a user owns is in their scope
// wherever it lies, and only theirs.
func TestScopeOwnership(t *testing.T) {
	ins := Actor{UserID: "i", Role: RoleInspector}
	other := Actor{UserID: "j", Role: RoleInspector}
	e := Evidence{UploaderID: "i", TownshipCode: "far"}
	c := Case{TownshipCode: "far", Uploaders: []string{"x", "i"}}
	p := Patrol{ChiefID: "i", ReachCode: "far"}
	if !ins.EvidenceScope().SeesEvidence(e) || other.EvidenceScope().SeesEvidence(e) {
		t.Error("evidence: only the uploader sees their upload outside their townships")
	}
	if !ins.CaseScope().SeesCase(c) || other.CaseScope().SeesCase(c) {
		t.Error("cases: only uploaders of a case's evidence see it outside their townships")
	}
	if !ins.PatrolScope().SeesPatrol(p) || other.PatrolScope().SeesPatrol(p) {
		t.Error("patrols: only the recorder sees their patrol outside their reaches")
	}
	var all *Scope
	if !all.SeesEvidence(Evidence{}) || !all.SeesCase(Case{}) || !all.SeesPatrol(Patrol{}) {
		t.Error("a nil scope must see everything")
	}
	if (&Scope{}).SeesEvidence(Evidence{TownshipCode: "t"}) {
		t.Error("an empty scope must see nothing")
	}
}

func TestActorIs(t *testing.T) {
	admin := Actor{UserID: "a", Role: RoleAdmin}
	if !admin.Is(RoleAdmin) || admin.Is(RoleInspector, RoleRiverChief) {
		t.Error("Is does not follow the role")
	}
	if admin.Is() {
		t.Error("Is() with no roles = true")
	}
	if (Actor{Role: "root"}).Is("root") {
		t.Error("an unknown role passed Is")
	}
}

func TestActorContext(t *testing.T) {
	if a, ok := ActorFromContext(context.Background()); ok || a.UserID != "" {
		t.Errorf("empty context: %+v, %v; want the system", a, ok)
	}
	want := Actor{UserID: "u", Role: RoleRiverChief, Reaches: []string{"R-1"}}
	got, ok := ActorFromContext(WithActor(context.Background(), want))
	if !ok || got.UserID != want.UserID || got.Role != want.Role || len(got.Reaches) != 1 {
		t.Errorf("ActorFromContext(WithActor(a)) = %+v, %v", got, ok)
	}
}
