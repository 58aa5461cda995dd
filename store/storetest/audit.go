package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/fieldwatch/fieldwatch"
	"github.com/fieldwatch/fieldwatch/store"
)

// auditRow is what the audit tests compare of an event.
type auditRow struct {
	action, actor, objectType, objectID string
}

func (r auditRow) String() string {
	return fmt.Sprintf("%s by %q on %s %s", r.action, r.actor, r.objectType, r.objectID)
}

func auditRows(evs []fieldwatch.AuditEvent) []auditRow {
	out := make([]auditRow, len(evs))
	for i, e := range evs {
		out[i] = auditRow{e.Action, e.ActorID, e.ObjectType, e.ObjectID}
	}
	return out
}

func mustAudit(t *testing.T, s *store.Store, f fieldwatch.AuditFilter) []fieldwatch.AuditEvent {
	t.Helper()
	evs, err := s.AuditQuery(t.Context(), f)
	if err != nil {
		t.Fatalf("AuditQuery(%+v): %v", f, err)
	}
	return evs
}

// auditData decodes an event's details.
func auditData(t *testing.T, e fieldwatch.AuditEvent) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Data, &m); err != nil {
		t.Fatalf("details of %s: %v (%s)", e.Action, err, e.Data)
	}
	return m
}

// auditActions performs one of each audited store write: the system
// creates an administrator; under the administrator's context (as the API
// sets it) an inspector and a chief are created, the inspector updated and
// given a password, boundaries imported and the chiefs of a reach set
// twice; under the inspector's, evidence is uploaded; the administrator
// reviews it. It returns the rows the trail must hold, in order, and the
// evidence.
func auditActions(t *testing.T, s *store.Store) (want []auditRow, admin, insp fieldwatch.User, e fieldwatch.Evidence) {
	t.Helper()
	sys := t.Context()
	admin = mustCreateUser(t, s, fieldwatch.User{Username: "audit.admin", Role: fieldwatch.RoleAdmin, PasswordHash: "$argon2id$secret-admin"})
	as := fieldwatch.WithActor(sys, fieldwatch.Actor{UserID: admin.ID, Role: admin.Role})
	insp = fieldwatch.User{Username: "audit.insp", Role: fieldwatch.RoleInspector, PasswordHash: "$argon2id$secret-insp",
		Townships: []string{"130227101"}}
	if err := s.CreateUser(as, &insp); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	chief := fieldwatch.User{Username: "audit.chief", Role: fieldwatch.RoleRiverChief}
	if err := s.CreateUser(as, &chief); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	now := Clock()
	if _, err := s.UpdateUser(as, insp.ID, fieldwatch.UserPatch{DisplayName: ptr("Inspector Wang"), Phone: ptr(""),
		Townships: &[]string{"130227102"}}, now); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if err := s.SetPasswordHash(as, insp.ID, "$argon2id$secret-new", now); err != nil {
		t.Fatalf("SetPasswordHash: %v", err)
	}
	t1 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tv, err := s.ImportTownships(as, []fieldwatch.Township{{Code: "130227101", Name: "兴城镇", Kind: "town", Zone: fieldwatch.ZoneCore,
		Boundary: multiPolygon([][]float64{rect(118.2, 40.1, 118.3, 40.2)})}}, t1)
	if err != nil {
		t.Fatalf("ImportTownships: %v", err)
	}
	rv, err := s.ImportReaches(as, []fieldwatch.Reach{{Code: "LH-01", River: "滦河", Name: "滦河兴城镇段", TownshipCode: "130227101",
		Line: multiLine([]float64{118.25, 40.15, 118.27, 40.16})}}, t1)
	if err != nil {
		t.Fatalf("ImportReaches: %v", err)
	}
	for _, l := range []fieldwatch.ChiefLevel{fieldwatch.ChiefVillage, fieldwatch.ChiefCounty} {
		if err := s.SetReachChiefs(as, "LH-01", []fieldwatch.ChiefAssignment{{UserID: chief.ID, Level: l}}, now); err != nil {
			t.Fatalf("SetReachChiefs: %v", err)
		}
		now = now.Add(time.Hour)
	}
	ins := fieldwatch.WithActor(sys, fieldwatch.Actor{UserID: insp.ID, Role: insp.Role, Townships: insp.Townships})
	e = newEvidence(insp.ID, "audit upload", now)
	e.TownshipCode = "130227101"
	key := uuid.NewString()
	sub, ok, err := s.ClaimSubmission(ins, insp.ID, key, now, now.Add(-staleAfter))
	if err != nil || !ok {
		t.Fatalf("ClaimSubmission: %v, %v", ok, err)
	}
	if err := s.CommitEvidence(ins, &e, key, sub.Attempt, hash("fp audit")); err != nil {
		t.Fatalf("CommitEvidence: %v", err)
	}
	// The reviewer is named by the review, whatever the context says.
	if err := s.AddReview(sys, &fieldwatch.Review{EvidenceID: e.ID, ReviewerID: admin.ID, Decision: fieldwatch.DecisionAccepted,
		Note: "ok", At: now.Add(time.Minute)}); err != nil {
		t.Fatalf("AddReview: %v", err)
	}
	want = []auditRow{
		{"user.create", "", "user", admin.ID},
		{"user.create", admin.ID, "user", insp.ID},
		{"user.create", admin.ID, "user", chief.ID},
		{"user.update", admin.ID, "user", insp.ID},
		{"user.password", admin.ID, "user", insp.ID},
		{"townships.import", admin.ID, "import_batch", fmt.Sprint(tv)},
		{"reaches.import", admin.ID, "import_batch", fmt.Sprint(rv)},
		{"reach.chiefs", admin.ID, "reach", "LH-01"},
		{"reach.chiefs", admin.ID, "reach", "LH-01"},
		{"evidence.upload", insp.ID, "evidence", e.ID},
		{"evidence.review", admin.ID, "evidence", e.ID},
	}
	return want, admin, insp, e
}

func testAudit(t *testing.T, open func(t *testing.T) *store.Store) {
	s := migrated(t, open(t))
	ctx := t.Context()
	if seq, h, at, err := s.AuditHead(ctx); err != nil || seq != 0 || len(h) != 0 || !at.IsZero() {
		t.Fatalf("AuditHead of an empty trail = %d, %x, %v, %v", seq, h, at, err)
	}
	want, admin, insp, e := auditActions(t, s)
	all := mustAudit(t, s, fieldwatch.AuditFilter{Limit: store.MaxAuditLimit})

	t.Run("EveryActionWithItsActor", func(t *testing.T) {
		got := auditRows(all)
		if len(got) != len(want) {
			t.Fatalf("trail has %d events, want %d:\n%v", len(got), len(want), got)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("event %d: %v, want %v", i+1, got[i], want[i])
			}
			if all[i].Seq != int64(i+1) {
				t.Errorf("event %d has seq %d", i+1, all[i].Seq)
			}
			if all[i].At.Location() != time.UTC {
				t.Errorf("event %d at %v, want UTC", i+1, all[i].At)
			}
		}
		if broken, n, err := s.VerifyAudit(ctx); err != nil || broken != 0 || n != len(want) {
			t.Fatalf("VerifyAudit = broken %d, %d entries, %v", broken, n, err)
		}
	})

	t.Run("Details", func(t *testing.T) {
		for _, ev := range all {
			// No password hash, token or object key reaches the trail.
			for _, secret := range []string{"secret", "argon", "password_hash", e.ObjectKey} {
				if bytes.Contains(ev.Data, []byte(secret)) {
					t.Errorf("%s details hold %q: %s", ev.Action, secret, ev.Data)
				}
			}
		}
		byAction := func(action string, nth int) map[string]any {
			t.Helper()
			for _, ev := range all {
				if ev.Action == action {
					if nth == 0 {
						return auditData(t, ev)
					}
					nth--
				}
			}
			t.Fatalf("no %s event", action)
			return nil
		}
		tests := []struct {
			name         string
			action       string
			nth          int
			path, expect string // a JSON path in the details and its value, encoded
		}{
			{"CreateRole", "user.create", 1, "role", `"inspector"`},
			{"CreateTownships", "user.create", 1, "townships", `["130227101"]`},
			{"UpdateName", "user.update", 0, "changes.display_name", `{"new":"Inspector Wang","old":""}`},
			{"UpdateTownships", "user.update", 0, "changes.townships", `{"new":["130227102"],"old":["130227101"]}`},
			{"UpdateUnchangedLeftOut", "user.update", 0, "changes.phone", `null`},
			{"Password", "user.password", 0, "username", `"audit.insp"`},
			{"ImportCount", "townships.import", 0, "count", `1`},
			{"ImportKind", "reaches.import", 0, "kind", `"reaches"`},
			{"ChiefsFirstOld", "reach.chiefs", 0, "old", `[]`},
			{"ChiefsFirstNew", "reach.chiefs", 0, "new.0.level", `"village"`},
			{"ChiefsSecondOld", "reach.chiefs", 1, "old.0.level", `"village"`},
			{"ChiefsSecondNew", "reach.chiefs", 1, "new.0.level", `"county"`},
			{"UploadHash", "evidence.upload", 0, "sha256", `"` + e.SHA256 + `"`},
			{"UploadSize", "evidence.upload", 0, "size", `2345678`},
			{"UploadTownship", "evidence.upload", 0, "township_code", `"130227101"`},
			{"Review", "evidence.review", 0, "decision", `"accepted"`},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				var v any = byAction(tc.action, tc.nth)
				for _, k := range strings.Split(tc.path, ".") {
					switch c := v.(type) {
					case map[string]any:
						v = c[k]
					case []any:
						i, err := strconv.Atoi(k)
						if err != nil || i >= len(c) {
							t.Fatalf("%s: index %d of %d", tc.path, i, len(c))
						}
						v = c[i]
					default:
						t.Fatalf("%s: %s of %T", tc.path, k, v)
					}
				}
				if got, _ := json.Marshal(v); string(got) != tc.expect {
					t.Errorf("%s %s = %s, want %s", tc.action, tc.path, got, tc.expect)
				}
			})
		}
	})

	t.Run("Filters", func(t *testing.T) {
		// Events 1 to 8 happen at Clock(), 9 an hour later, 10 and 11
		// another hour later.
		tests := []struct {
			name string
			f    fieldwatch.AuditFilter
			want []int64 // seqs
		}{
			{"All", fieldwatch.AuditFilter{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
			{"After", fieldwatch.AuditFilter{After: 9}, []int64{10, 11}},
			{"Limit", fieldwatch.AuditFilter{After: 2, Limit: 3}, []int64{3, 4, 5}},
			{"Action", fieldwatch.AuditFilter{Action: ptr("user.create")}, []int64{1, 2, 3}},
			{"ActionAfter", fieldwatch.AuditFilter{Action: ptr("user.create"), After: 1, Limit: 1}, []int64{2}},
			{"Object", fieldwatch.AuditFilter{ObjectType: ptr("user"), ObjectID: ptr(insp.ID)}, []int64{2, 4, 5}},
			{"ObjectType", fieldwatch.AuditFilter{ObjectType: ptr("evidence")}, []int64{10, 11}},
			{"Actor", fieldwatch.AuditFilter{ActorID: ptr(insp.ID)}, []int64{10}},
			{"ActorAdmin", fieldwatch.AuditFilter{ActorID: ptr(admin.ID), ObjectType: ptr("reach")}, []int64{8, 9}},
			{"System", fieldwatch.AuditFilter{ActorID: ptr("")}, []int64{1}},
			{"FromInclusive", fieldwatch.AuditFilter{From: &all[9].At}, []int64{10, 11}},
			{"ToExclusive", fieldwatch.AuditFilter{To: &all[9].At}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
			{"FromTo", fieldwatch.AuditFilter{From: &all[8].At, To: &all[9].At}, []int64{9}},
			{"NoMatch", fieldwatch.AuditFilter{Action: ptr("case.transition")}, nil},
			{"UnknownActor", fieldwatch.AuditFilter{ActorID: ptr(uuid.NewString())}, nil},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				got := mustAudit(t, s, tc.f)
				seqs := []int64{}
				for _, ev := range got {
					seqs = append(seqs, ev.Seq)
				}
				if !slices.Equal(seqs, tc.want) {
					t.Errorf("AuditQuery(%s) seqs = %v, want %v", tc.name, seqs, tc.want)
				}
			})
		}
		if _, err := s.AuditQuery(ctx, fieldwatch.AuditFilter{Action: ptr("a\x00b")}); err == nil {
			t.Error("AuditQuery with a NUL in a filter: no error")
		}
	})

	t.Run("Head", func(t *testing.T) {
		seq, h, at, err := s.AuditHead(ctx)
		last := all[len(all)-1]
		if err != nil || seq != last.Seq || !bytes.Equal(h, last.Hash) || !at.Equal(last.At) {
			t.Fatalf("AuditHead = %d, %x, %v, %v; want %d, %x, %v", seq, h, at, err, last.Seq, last.Hash, last.At)
		}
		r, err := s.VerifyAuditAgainst(ctx, &store.AuditAnchor{Seq: seq, Hash: h})
		if err != nil || r.FirstBroken != 0 || r.Checked != len(all) || r.Last != seq {
			t.Fatalf("VerifyAuditAgainst(head) = %+v, %v", r, err)
		}
		// An older head holds too: the chain only grew since.
		r, err = s.VerifyAuditAgainst(ctx, &store.AuditAnchor{Seq: all[3].Seq, Hash: all[3].Hash})
		if err != nil || r.FirstBroken != 0 {
			t.Fatalf("VerifyAuditAgainst(older head) = %+v, %v", r, err)
		}
	})

	// Each tampering on a store of its own, with the real actions' trail.
	t.Run("Tamper", func(t *testing.T) {
		tests := []struct {
			name   string
			how    store.AuditTamper
			seq    int64
			broken int64
			reason string
		}{
			{"AlterFirst", store.TamperAlter, 1, 1, "contents"},
			{"AlterMiddle", store.TamperAlter, 6, 6, "contents"},
			{"DeleteMiddle", store.TamperDelete, 4, 5, "entry 4 is missing"},
			{"SwapMiddle", store.TamperSwap, 7, 7, "prev_hash"},
			{"TruncateTail", store.TamperTruncate, 9, 9, "entries 9 to 11 are missing"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				s := migrated(t, open(t))
				ctx := t.Context()
				auditActions(t, s)
				seq, h, _, err := s.AuditHead(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.TamperAuditForTest(ctx, tc.how, tc.seq); err != nil {
					t.Fatalf("TamperAuditForTest: %v", err)
				}
				r, err := s.VerifyAuditAgainst(ctx, &store.AuditAnchor{Seq: seq, Hash: h})
				if err != nil || r.FirstBroken != tc.broken || !strings.Contains(r.Reason, tc.reason) {
					t.Fatalf("VerifyAuditAgainst = %+v, %v; want entry %d (%q)", r, err, tc.broken, tc.reason)
				}
				// Without the head only a cut tail goes unseen.
				broken, _, err := s.VerifyAudit(ctx)
				if want := map[bool]int64{true: 0, false: tc.broken}[tc.how == store.TamperTruncate]; err != nil || broken != want {
					t.Fatalf("VerifyAudit = %d, %v; want %d", broken, err, want)
				}
			})
		}
	})

	t.Run("NoActorIsSystem", func(t *testing.T) {
		if got, ok := fieldwatch.ActorFromContext(context.Background()); ok || got.UserID != "" {
			t.Fatalf("ActorFromContext(empty context) = %+v, %v", got, ok)
		}
	})
}
