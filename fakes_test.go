package fieldwatch_test

// In-memory fakes of the domain's ports, with the SQL store's semantics
// where the domain depends on them (store/submissions.go for claims,
// store/evidence.go for commits, DeleteOrphanObject's callback). They
// keep what the domain's own tests need and no more: filters the domain
// never sets are not implemented.

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// errNotFound and errConflict are what the fakes return, wrapped the way
// a real store wraps the domain's errors.
var (
	errNotFound = fmt.Errorf("fake: %w", fieldwatch.ErrNotFound)
	errConflict = fmt.Errorf("fake: %w", fieldwatch.ErrConflict)
)

type subKey struct{ user, key string }

// fakeEvidence keeps submissions, evidence, direct-upload sessions and
// relink audit events: the upload path's, the reconciler's, the
// invariant checker's and the thumbnail worker's persistence.
type fakeEvidence struct {
	mu       sync.Mutex
	subs     map[subKey]*fieldwatch.Submission
	marks    map[subKey]string // object hash a pending attempt is storing
	evidence []fieldwatch.Evidence
	uploads  map[string]fieldwatch.Upload
	audit    []fieldwatch.AuditEvent
	attempts int
	// fail, when it returns an error for a method's name, makes that
	// call fail with it.
	fail func(method string) error
	// onHeartbeat, when set, sees the claims of every HeartbeatSubmissions
	// call that did not fail, after it updated them.
	onHeartbeat func(claims []fieldwatch.SubmissionAttempt)
}

func newFakeEvidence() *fakeEvidence {
	return &fakeEvidence{subs: map[subKey]*fieldwatch.Submission{}, marks: map[subKey]string{}, uploads: map[string]fieldwatch.Upload{}}
}

func (f *fakeEvidence) failing(method string) error {
	if f.fail == nil {
		return nil
	}
	return f.fail(method)
}

func (f *fakeEvidence) ClaimSubmission(_ context.Context, userID, key string, now, staleBefore time.Time) (fieldwatch.Submission, bool, error) {
	if err := f.failing("ClaimSubmission"); err != nil {
		return fieldwatch.Submission{}, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := subKey{userID, key}
	s := f.subs[k]
	switch {
	case s == nil:
		s = &fieldwatch.Submission{UserID: userID, Key: key, State: fieldwatch.SubmissionPending, CreatedAt: now}
		f.subs[k] = s
	case s.State == fieldwatch.SubmissionPending && s.UpdatedAt.Before(staleBefore):
		delete(f.marks, k) // taken over
	default:
		return *s, false, nil
	}
	f.attempts++
	s.Attempt, s.UpdatedAt = fmt.Sprintf("attempt-%d", f.attempts), now
	return *s, true, nil
}

// held returns the pending submission attempt holds, or nil.
func (f *fakeEvidence) held(userID, key, attempt string) *fieldwatch.Submission {
	s := f.subs[subKey{userID, key}]
	if s == nil || s.State != fieldwatch.SubmissionPending || s.Attempt != attempt {
		return nil
	}
	return s
}

func (f *fakeEvidence) HeartbeatSubmissions(_ context.Context, claims []fieldwatch.SubmissionAttempt, now time.Time) (int, error) {
	if err := f.failing("HeartbeatSubmissions"); err != nil {
		return 0, err
	}
	f.mu.Lock()
	n := 0
	for _, c := range claims {
		if s := f.held(c.UserID, c.Key, c.Attempt); s != nil {
			s.UpdatedAt = now
			n++
		}
	}
	on := f.onHeartbeat
	f.mu.Unlock()
	if on != nil {
		on(claims)
	}
	return n, nil
}

func (f *fakeEvidence) ReleaseSubmission(_ context.Context, userID, key, attempt string) error {
	if err := f.failing("ReleaseSubmission"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held(userID, key, attempt) != nil {
		delete(f.subs, subKey{userID, key})
		delete(f.marks, subKey{userID, key})
	}
	return nil
}

func (f *fakeEvidence) ReleaseStaleSubmission(_ context.Context, userID, key, attempt string, staleBefore time.Time) error {
	if err := f.failing("ReleaseStaleSubmission"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.held(userID, key, attempt); s != nil && s.UpdatedAt.Before(staleBefore) {
		delete(f.subs, subKey{userID, key})
		delete(f.marks, subKey{userID, key})
	}
	return nil
}

func (f *fakeEvidence) MarkSubmissionObject(_ context.Context, userID, key, attempt, sha256 string, now time.Time) error {
	if err := f.failing("MarkSubmissionObject"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.held(userID, key, attempt)
	if s == nil {
		return errNotFound
	}
	s.UpdatedAt = now
	f.marks[subKey{userID, key}] = sha256
	return nil
}

func (f *fakeEvidence) CommitEvidence(_ context.Context, e *fieldwatch.Evidence, key, attempt string, fingerprint []byte) error {
	if err := f.failing("CommitEvidence"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.held(e.UploaderID, key, attempt)
	if s == nil {
		return fmt.Errorf("%w: the claim was lost", errConflict)
	}
	e.ID = fmt.Sprintf("ev-%03d", len(f.evidence)+1)
	for _, o := range f.evidence {
		if o.SHA256 == e.SHA256 && o.DuplicateOf == "" {
			e.DuplicateOf = o.ID
			e.Flags = append(e.Flags, fieldwatch.FlagDuplicateOf)
			break
		}
	}
	f.evidence = append(f.evidence, *e)
	s.State, s.EvidenceID, s.Fingerprint = fieldwatch.SubmissionStored, e.ID, fingerprint
	delete(f.marks, subKey{e.UploaderID, key})
	return nil
}

// add stores evidence as a commit would, without a submission.
func (f *fakeEvidence) add(es ...fieldwatch.Evidence) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range es {
		if e.ID == "" {
			e.ID = fmt.Sprintf("ev-%03d", len(f.evidence)+1)
		}
		f.evidence = append(f.evidence, e)
	}
}

func (f *fakeEvidence) EvidenceByID(_ context.Context, id string) (fieldwatch.Evidence, error) {
	if err := f.failing("EvidenceByID"); err != nil {
		return fieldwatch.Evidence{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.evidence {
		if e.ID == id {
			return e, nil
		}
	}
	return fieldwatch.Evidence{}, errNotFound
}

// ListEvidence pages newest first by (ReceivedAt, ID); it honours only
// the keyset and the limit, which is all the domain sets.
func (f *fakeEvidence) ListEvidence(_ context.Context, flt fieldwatch.EvidenceFilter) ([]fieldwatch.Evidence, error) {
	if err := f.failing("ListEvidence"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	all := slices.Clone(f.evidence)
	slices.SortFunc(all, func(a, b fieldwatch.Evidence) int {
		return cmp.Or(b.ReceivedAt.Compare(a.ReceivedAt), cmp.Compare(b.ID, a.ID))
	})
	out := []fieldwatch.Evidence{}
	for _, e := range all {
		if flt.AfterTime != nil {
			if c := e.ReceivedAt.Compare(*flt.AfterTime); c > 0 || (c == 0 && e.ID >= flt.AfterID) {
				continue
			}
		}
		if len(out) == flt.Limit {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

func (f *fakeEvidence) EvidenceSHA256Exists(_ context.Context, sha256 string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(f.evidence, func(e fieldwatch.Evidence) bool { return e.SHA256 == sha256 }), nil
}

func (f *fakeEvidence) StaleSubmissions(_ context.Context, staleBefore time.Time, limit int) ([]fieldwatch.Submission, error) {
	if err := f.failing("StaleSubmissions"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fieldwatch.Submission
	for _, s := range f.subs {
		if s.State == fieldwatch.SubmissionPending && s.UpdatedAt.Before(staleBefore) && len(out) < limit {
			out = append(out, *s)
		}
	}
	return out, nil
}

// DeleteOrphanObject calls del only when no evidence and no pending
// attempt names the hash, as the store does under its per-hash lock.
func (f *fakeEvidence) DeleteOrphanObject(ctx context.Context, sha256 string, del func(context.Context) error) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.ContainsFunc(f.evidence, func(e fieldwatch.Evidence) bool { return e.SHA256 == sha256 }) {
		return false, nil
	}
	for _, m := range f.marks {
		if m == sha256 {
			return false, nil
		}
	}
	if err := del(ctx); err != nil {
		return false, err
	}
	return true, nil
}

func (f *fakeEvidence) ExpiredUploads(_ context.Context, before time.Time, limit int) ([]fieldwatch.Upload, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fieldwatch.Upload
	for _, u := range f.uploads {
		if u.ExpiresAt.Before(before) && len(out) < limit {
			out = append(out, u)
		}
	}
	return out, nil
}

func (f *fakeEvidence) UploadByID(_ context.Context, id string) (fieldwatch.Upload, error) {
	if err := f.failing("UploadByID"); err != nil {
		return fieldwatch.Upload{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.uploads[id]
	if !ok {
		return fieldwatch.Upload{}, errNotFound
	}
	return u, nil
}

func (f *fakeEvidence) DeleteUpload(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.uploads, id)
	return nil
}

func (f *fakeEvidence) CountUploads(_ context.Context, now time.Time) (fieldwatch.UploadCounts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var c fieldwatch.UploadCounts
	for _, u := range f.uploads {
		switch {
		case u.CompletedAt != nil:
			c.Completed++
		case u.Live(now):
			c.Open++
		default:
			c.Expired++
		}
	}
	return c, nil
}

func (f *fakeEvidence) SetThumbnails(_ context.Context, id string, sizes []int) error {
	if err := f.failing("SetThumbnails"); err != nil {
		return err
	}
	return f.update(id, func(e *fieldwatch.Evidence) {
		e.Thumbnails, e.ThumbnailTries = slices.Clone(sizes), fieldwatch.ThumbnailTries{}
	})
}

func (f *fakeEvidence) SetThumbnailTries(_ context.Context, id string, tr fieldwatch.ThumbnailTries) error {
	return f.update(id, func(e *fieldwatch.Evidence) { e.ThumbnailTries = tr })
}

func (f *fakeEvidence) EvidenceNeedingThumbnails(_ context.Context, sizes []int, now time.Time, limit int) ([]fieldwatch.Evidence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fieldwatch.Evidence
	for _, e := range f.evidence {
		tr := e.ThumbnailTries
		if e.ThumbnailState() != fieldwatch.ThumbnailPending || tr.GaveUp != "" || (tr.NextAt != nil && tr.NextAt.After(now)) {
			continue
		}
		if len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeEvidence) RelinkEvidence(_ context.Context, id string, r fieldwatch.Responsibility, ev fieldwatch.AuditEvent) error {
	f.mu.Lock()
	f.audit = append(f.audit, ev)
	f.mu.Unlock()
	return f.update(id, func(e *fieldwatch.Evidence) {
		e.Responsibility, e.TownshipCode, e.ReachCode = &r, r.TownshipCode, r.ReachCode
	})
}

func (f *fakeEvidence) update(id string, fn func(*fieldwatch.Evidence)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.evidence {
		if f.evidence[i].ID == id {
			fn(&f.evidence[i])
			return nil
		}
	}
	return errNotFound
}

func (f *fakeEvidence) get(id string) fieldwatch.Evidence {
	e, _ := f.EvidenceByID(context.Background(), id)
	return e
}

// fakePlaces keeps versioned townships and reaches, chief assignments
// and users.
type fakePlaces struct {
	mu          sync.Mutex
	townships   []fieldwatch.Township
	reaches     []fieldwatch.Reach
	assignments []fieldwatch.ChiefAssignment
	users       map[string]fieldwatch.User
	batch       int64
}

func newFakePlaces(users ...fieldwatch.User) *fakePlaces {
	p := &fakePlaces{users: map[string]fieldwatch.User{}}
	for _, u := range users {
		p.users[u.ID] = u
	}
	return p
}

func inForce(from time.Time, to *time.Time, at time.Time) bool {
	return !from.After(at) && (to == nil || at.Before(*to))
}

func (p *fakePlaces) ImportTownships(_ context.Context, ts []fieldwatch.Township, from time.Time) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batch++
	for i := range p.townships {
		if p.townships[i].EffectiveTo == nil {
			p.townships[i].EffectiveTo = &from
		}
	}
	for _, t := range ts {
		t.Version, t.EffectiveFrom = p.batch, from
		p.townships = append(p.townships, t)
	}
	return p.batch, nil
}

func (p *fakePlaces) ImportReaches(_ context.Context, rs []fieldwatch.Reach, from time.Time) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batch++
	for i := range p.reaches {
		if p.reaches[i].EffectiveTo == nil {
			p.reaches[i].EffectiveTo = &from
		}
	}
	for _, r := range rs {
		r.Version, r.EffectiveFrom = p.batch, from
		p.reaches = append(p.reaches, r)
	}
	return p.batch, nil
}

func (p *fakePlaces) Townships(_ context.Context, at time.Time) ([]fieldwatch.Township, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []fieldwatch.Township
	for _, t := range p.townships {
		if inForce(t.EffectiveFrom, t.EffectiveTo, at) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (p *fakePlaces) TownshipByCode(ctx context.Context, code string, at time.Time) (fieldwatch.Township, error) {
	ts, _ := p.Townships(ctx, at)
	for _, t := range ts {
		if t.Code == code {
			return t, nil
		}
	}
	return fieldwatch.Township{}, errNotFound
}

// QueryReaches honours At only, which is all the domain sets.
func (p *fakePlaces) QueryReaches(_ context.Context, q fieldwatch.ReachQuery) ([]fieldwatch.Reach, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []fieldwatch.Reach
	for _, r := range p.reaches {
		if inForce(r.EffectiveFrom, r.EffectiveTo, q.At) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (p *fakePlaces) ReachByCode(ctx context.Context, code string, at time.Time) (fieldwatch.Reach, error) {
	rs, _ := p.QueryReaches(ctx, fieldwatch.ReachQuery{At: at})
	for _, r := range rs {
		if r.Code == code {
			return r, nil
		}
	}
	return fieldwatch.Reach{}, errNotFound
}

func (p *fakePlaces) SetReachChiefs(_ context.Context, reach string, as []fieldwatch.ChiefAssignment, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	kept := p.assignments[:0]
	for _, a := range p.assignments {
		switch {
		case a.ReachCode != reach:
		case !a.ValidFrom.Before(now):
			continue // future: replaced
		case a.ValidTo == nil || a.ValidTo.After(now):
			a.ValidTo = &now
		}
		kept = append(kept, a)
	}
	for _, a := range as {
		a.ReachCode = reach
		kept = append(kept, a)
	}
	p.assignments = kept
	return nil
}

func (p *fakePlaces) ChiefsAt(_ context.Context, reach string, at time.Time) ([]fieldwatch.ChiefRef, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []fieldwatch.ChiefRef
	for _, a := range p.assignments {
		if a.ReachCode == reach && inForce(a.ValidFrom, a.ValidTo, at) {
			out = append(out, fieldwatch.ChiefRef{UserID: a.UserID, Name: p.users[a.UserID].DisplayName, Level: a.Level})
		}
	}
	return out, nil
}

func (p *fakePlaces) ReachesOfChief(_ context.Context, userID string, at time.Time) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, a := range p.assignments {
		if a.UserID == userID && inForce(a.ValidFrom, a.ValidTo, at) {
			out = append(out, a.ReachCode)
		}
	}
	return out, nil
}

func (p *fakePlaces) ChiefAssignmentsDuring(_ context.Context, from, to time.Time) ([]fieldwatch.ChiefAssignment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []fieldwatch.ChiefAssignment
	for _, a := range p.assignments {
		if a.ValidFrom.Before(to) && (a.ValidTo == nil || a.ValidTo.After(from)) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (p *fakePlaces) UserByID(_ context.Context, id string) (fieldwatch.User, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.users[id]
	if !ok {
		return fieldwatch.User{}, errNotFound
	}
	return u, nil
}

// atlasStore is the Atlas's persistence: places and evidence.
type atlasStore struct {
	*fakePlaces
	*fakeEvidence
}

// fakeCases keeps cases, their timelines and transition keys.
type fakeCases struct {
	mu     sync.Mutex
	cases  map[string]fieldwatch.Case
	events map[string][]fieldwatch.CaseEvent
	keys   map[subKey]struct {
		caseID string
		fp     []byte
	}
	// beforeUpdate, when set, runs at the start of UpdateCase: a
	// concurrent writer's chance to get in first.
	beforeUpdate func(c fieldwatch.Case)
	updateErr    error
}

func newFakeCases() *fakeCases {
	return &fakeCases{cases: map[string]fieldwatch.Case{}, events: map[string][]fieldwatch.CaseEvent{}, keys: map[subKey]struct {
		caseID string
		fp     []byte
	}{}}
}

func (f *fakeCases) CreateCase(_ context.Context, c *fieldwatch.Case, ev fieldwatch.CaseEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.ID, c.Version = fmt.Sprintf("case-%d", len(f.cases)+1), 1
	f.cases[c.ID] = *c
	f.appendEvents(c.ID, ev)
	return nil
}

func (f *fakeCases) appendEvents(id string, evs ...fieldwatch.CaseEvent) {
	for _, ev := range evs {
		ev.Seq = int64(len(f.events[id]) + 1)
		f.events[id] = append(f.events[id], ev)
	}
}

func (f *fakeCases) CaseByID(_ context.Context, id string) (fieldwatch.Case, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.cases[id]
	if !ok {
		return fieldwatch.Case{}, errNotFound
	}
	return c, nil
}

// ListCases honours the scope and the state.
func (f *fakeCases) ListCases(_ context.Context, flt fieldwatch.CaseFilter) ([]fieldwatch.Case, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fieldwatch.Case
	for _, c := range f.cases {
		if flt.Scope.SeesCase(c) && (flt.State == "" || c.State == flt.State) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b fieldwatch.Case) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (f *fakeCases) CaseEvents(_ context.Context, id string) ([]fieldwatch.CaseEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events[id]), nil
}

func (f *fakeCases) TransitionByKey(_ context.Context, actorID, key string) (string, []byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k, ok := f.keys[subKey{actorID, key}]
	return k.caseID, k.fp, ok, nil
}

func (f *fakeCases) UpdateCase(_ context.Context, c fieldwatch.Case, evs []fieldwatch.CaseEvent, key fieldwatch.CaseKey) error {
	if f.beforeUpdate != nil {
		f.beforeUpdate(c)
	}
	if f.updateErr != nil {
		return f.updateErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cases[c.ID].Version != c.Version-1 {
		return fmt.Errorf("%w: case %s changed", errConflict, c.ID)
	}
	if key.Key != "" {
		if _, taken := f.keys[subKey{key.ActorID, key.Key}]; taken {
			return fmt.Errorf("%w: key taken", errConflict)
		}
		f.keys[subKey{key.ActorID, key.Key}] = struct {
			caseID string
			fp     []byte
		}{c.ID, key.Fingerprint}
	}
	f.cases[c.ID] = c
	f.appendEvents(c.ID, evs...)
	return nil
}

// bump changes a case behind the domain's back, as a concurrent writer.
func (f *fakeCases) bump(id string, fn func(*fieldwatch.Case)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cases[id]
	fn(&c)
	c.Version++
	f.cases[id] = c
}

func (f *fakeCases) AddCaseEvent(_ context.Context, caseID string, ev *fieldwatch.CaseEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appendEvents(caseID, *ev)
	ev.Seq = int64(len(f.events[caseID]))
	return nil
}

func (f *fakeCases) CasesOwingAction(_ context.Context) ([]fieldwatch.Case, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fieldwatch.Case
	for _, c := range f.cases {
		switch c.State {
		case fieldwatch.CaseOpen, fieldwatch.CaseInProgress, fieldwatch.CaseReturned, fieldwatch.CaseReopened:
			if c.Escalation != fieldwatch.EscalationCounty {
				out = append(out, c)
			}
		}
	}
	slices.SortFunc(out, func(a, b fieldwatch.Case) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// fakePatrols keeps patrols; with places it is a PatrolStore.
type fakePatrols struct {
	*fakePlaces
	mu      sync.Mutex
	patrols []fieldwatch.Patrol
	keys    map[subKey][]byte
	// createErr, when set, fails the next CreatePatrol after raceKey
	// stored a patrol under the same key, as a concurrent retry would.
	raceKey bool
}

func (f *fakePatrols) CreatePatrol(_ context.Context, p *fieldwatch.Patrol, key string, fp []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keys == nil {
		f.keys = map[subKey][]byte{}
	}
	k := subKey{p.ChiefID, key}
	if f.raceKey {
		// A concurrent retry with the same key commits first.
		f.raceKey = false
		won := *p
		won.ID = fmt.Sprintf("patrol-%d", len(f.patrols)+1)
		f.patrols = append(f.patrols, won)
		f.keys[k] = fp
	}
	if _, taken := f.keys[k]; taken {
		return fmt.Errorf("%w: key taken", errConflict)
	}
	p.ID = fmt.Sprintf("patrol-%d", len(f.patrols)+1)
	f.patrols = append(f.patrols, *p)
	f.keys[k] = fp
	return nil
}

func (f *fakePatrols) PatrolByKey(_ context.Context, userID, key string) (fieldwatch.Patrol, []byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fp, ok := f.keys[subKey{userID, key}]
	if !ok {
		return fieldwatch.Patrol{}, nil, false, nil
	}
	for i := len(f.patrols) - 1; i >= 0; i-- {
		if f.patrols[i].ChiefID == userID {
			return f.patrols[i], fp, true, nil
		}
	}
	return fieldwatch.Patrol{}, nil, false, nil
}

func (f *fakePatrols) PatrolByID(_ context.Context, id string) (fieldwatch.Patrol, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.patrols {
		if p.ID == id {
			return p, nil
		}
	}
	return fieldwatch.Patrol{}, errNotFound
}

// ListPatrols honours Valid, From, To, the scope, the keyset and the
// limit, newest first.
func (f *fakePatrols) ListPatrols(_ context.Context, flt fieldwatch.PatrolFilter) ([]fieldwatch.Patrol, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := slices.Clone(f.patrols)
	slices.SortFunc(all, func(a, b fieldwatch.Patrol) int {
		return cmp.Or(b.StartedAt.Compare(a.StartedAt), cmp.Compare(b.ID, a.ID))
	})
	out := []fieldwatch.Patrol{}
	for _, p := range all {
		sc := flt.Scope
		switch {
		case flt.Valid != nil && p.Valid != *flt.Valid,
			flt.From != nil && p.StartedAt.Before(*flt.From),
			flt.To != nil && !p.StartedAt.Before(*flt.To),
			!sc.SeesPatrol(p),
			flt.AfterTime != nil && (p.StartedAt.After(*flt.AfterTime) || (p.StartedAt.Equal(*flt.AfterTime) && p.ID >= flt.AfterID)):
			continue
		}
		if flt.Limit > 0 && len(out) == flt.Limit {
			break
		}
		out = append(out, p)
	}
	return out, nil
}

// fakeAssessments keeps letters and frozen assessments; the month's
// facts are set by the test.
type fakeAssessments struct {
	*fakePlaces
	mu      sync.Mutex
	facts   fieldwatch.MonthFacts
	letters []fieldwatch.Letter
	frozen  map[string]fieldwatch.Assessment
}

func (f *fakeAssessments) MonthFacts(context.Context, time.Time, time.Time) (fieldwatch.MonthFacts, error) {
	return f.facts, nil
}

func (f *fakeAssessments) CreateLetter(_ context.Context, l *fieldwatch.Letter) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l.ID = fmt.Sprintf("letter-%d", len(f.letters)+1)
	f.letters = append(f.letters, *l)
	return nil
}

func (f *fakeAssessments) LettersOf(_ context.Context, township string) ([]fieldwatch.Letter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fieldwatch.Letter
	for _, l := range f.letters {
		if l.TownshipCode == township {
			out = append(out, l)
		}
	}
	return out, nil
}

func (f *fakeAssessments) LettersInForce(_ context.Context, year int) (map[string]*fieldwatch.Letter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*fieldwatch.Letter{}
	for _, l := range f.letters {
		if l.Year == year {
			out[l.TownshipCode] = &l
		}
	}
	return out, nil
}

func (f *fakeAssessments) FrozenAssessment(_ context.Context, month string) (fieldwatch.Assessment, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.frozen[month]
	return a, ok, nil
}

func (f *fakeAssessments) FreezeAssessment(_ context.Context, a fieldwatch.Assessment) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frozen == nil {
		f.frozen = map[string]fieldwatch.Assessment{}
	}
	if _, ok := f.frozen[a.Month]; ok {
		return errConflict
	}
	f.frozen[a.Month] = a
	return nil
}
