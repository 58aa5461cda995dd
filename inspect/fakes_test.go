package inspect_test

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

	"github.com/fieldwatch/fieldwatch/inspect"
)

// errNotFound and errConflict are what the fakes return, wrapped the way
// a real store wraps the domain's errors.
var (
	errNotFound = fmt.Errorf("fake: %w", inspect.ErrNotFound)
	errConflict = fmt.Errorf("fake: %w", inspect.ErrConflict)
)

type subKey struct{ user, key string }

// fakeEvidence keeps submissions, evidence, direct-upload sessions and
// relink audit events: the upload path's, the reconciler's, the
// invariant checker's and the thumbnail worker's persistence.
type fakeEvidence struct {
	mu       sync.Mutex
	subs     map[subKey]*inspect.Submission
	marks    map[subKey]string // object hash a pending attempt is storing
	evidence []inspect.Evidence
	uploads  map[string]inspect.Upload
	audit    []inspect.AuditEvent
	attempts int
	// fail, when it returns an error for a method's name, makes that
	// call fail with it.
	fail func(method string) error
}

func newFakeEvidence() *fakeEvidence {
	return &fakeEvidence{subs: map[subKey]*inspect.Submission{}, marks: map[subKey]string{}, uploads: map[string]inspect.Upload{}}
}

func (f *fakeEvidence) failing(method string) error {
	if f.fail == nil {
		return nil
	}
	return f.fail(method)
}

func (f *fakeEvidence) ClaimSubmission(_ context.Context, userID, key string, now, staleBefore time.Time) (inspect.Submission, bool, error) {
	if err := f.failing("ClaimSubmission"); err != nil {
		return inspect.Submission{}, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := subKey{userID, key}
	s := f.subs[k]
	switch {
	case s == nil:
		s = &inspect.Submission{UserID: userID, Key: key, State: inspect.SubmissionPending, CreatedAt: now}
		f.subs[k] = s
	case s.State == inspect.SubmissionPending && s.UpdatedAt.Before(staleBefore):
		delete(f.marks, k) // taken over
	default:
		return *s, false, nil
	}
	f.attempts++
	s.Attempt, s.UpdatedAt = fmt.Sprintf("attempt-%d", f.attempts), now
	return *s, true, nil
}

// held returns the pending submission attempt holds, or nil.
func (f *fakeEvidence) held(userID, key, attempt string) *inspect.Submission {
	s := f.subs[subKey{userID, key}]
	if s == nil || s.State != inspect.SubmissionPending || s.Attempt != attempt {
		return nil
	}
	return s
}

func (f *fakeEvidence) HeartbeatSubmission(_ context.Context, userID, key, attempt string, now time.Time) error {
	if err := f.failing("HeartbeatSubmission"); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.held(userID, key, attempt)
	if s == nil {
		return errNotFound
	}
	s.UpdatedAt = now
	return nil
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

func (f *fakeEvidence) CommitEvidence(_ context.Context, e *inspect.Evidence, key, attempt string, fingerprint []byte) error {
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
			e.Flags = append(e.Flags, inspect.FlagDuplicateOf)
			break
		}
	}
	f.evidence = append(f.evidence, *e)
	s.State, s.EvidenceID, s.Fingerprint = inspect.SubmissionStored, e.ID, fingerprint
	delete(f.marks, subKey{e.UploaderID, key})
	return nil
}

// add stores evidence as a commit would, without a submission.
func (f *fakeEvidence) add(es ...inspect.Evidence) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range es {
		if e.ID == "" {
			e.ID = fmt.Sprintf("ev-%03d", len(f.evidence)+1)
		}
		f.evidence = append(f.evidence, e)
	}
}

func (f *fakeEvidence) EvidenceByID(_ context.Context, id string) (inspect.Evidence, error) {
	if err := f.failing("EvidenceByID"); err != nil {
		return inspect.Evidence{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.evidence {
		if e.ID == id {
			return e, nil
		}
	}
	return inspect.Evidence{}, errNotFound
}

// ListEvidence pages newest first by (ReceivedAt, ID); it honours only
// the keyset and the limit, which is all the domain sets.
func (f *fakeEvidence) ListEvidence(_ context.Context, flt inspect.EvidenceFilter) ([]inspect.Evidence, error) {
	if err := f.failing("ListEvidence"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	all := slices.Clone(f.evidence)
	slices.SortFunc(all, func(a, b inspect.Evidence) int {
		return cmp.Or(b.ReceivedAt.Compare(a.ReceivedAt), cmp.Compare(b.ID, a.ID))
	})
	out := []inspect.Evidence{}
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
	return slices.ContainsFunc(f.evidence, func(e inspect.Evidence) bool { return e.SHA256 == sha256 }), nil
}

func (f *fakeEvidence) StaleSubmissions(_ context.Context, staleBefore time.Time, limit int) ([]inspect.Submission, error) {
	if err := f.failing("StaleSubmissions"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []inspect.Submission
	for _, s := range f.subs {
		if s.State == inspect.SubmissionPending && s.UpdatedAt.Before(staleBefore) && len(out) < limit {
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
	if slices.ContainsFunc(f.evidence, func(e inspect.Evidence) bool { return e.SHA256 == sha256 }) {
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

func (f *fakeEvidence) ExpiredUploads(_ context.Context, before time.Time, limit int) ([]inspect.Upload, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []inspect.Upload
	for _, u := range f.uploads {
		if u.ExpiresAt.Before(before) && len(out) < limit {
			out = append(out, u)
		}
	}
	return out, nil
}

func (f *fakeEvidence) UploadByID(_ context.Context, id string) (inspect.Upload, error) {
	if err := f.failing("UploadByID"); err != nil {
		return inspect.Upload{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.uploads[id]
	if !ok {
		return inspect.Upload{}, errNotFound
	}
	return u, nil
}

func (f *fakeEvidence) DeleteUpload(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.uploads, id)
	return nil
}

func (f *fakeEvidence) CountUploads(_ context.Context, now time.Time) (inspect.UploadCounts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var c inspect.UploadCounts
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
	return f.update(id, func(e *inspect.Evidence) {
		e.Thumbnails, e.ThumbnailTries = slices.Clone(sizes), inspect.ThumbnailTries{}
	})
}

func (f *fakeEvidence) SetThumbnailTries(_ context.Context, id string, tr inspect.ThumbnailTries) error {
	return f.update(id, func(e *inspect.Evidence) { e.ThumbnailTries = tr })
}

func (f *fakeEvidence) EvidenceNeedingThumbnails(_ context.Context, sizes []int, now time.Time, limit int) ([]inspect.Evidence, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []inspect.Evidence
	for _, e := range f.evidence {
		tr := e.ThumbnailTries
		if e.ThumbnailState() != inspect.ThumbnailPending || tr.GaveUp != "" || (tr.NextAt != nil && tr.NextAt.After(now)) {
			continue
		}
		if len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (f *fakeEvidence) RelinkEvidence(_ context.Context, id string, r inspect.Responsibility, ev inspect.AuditEvent) error {
	f.mu.Lock()
	f.audit = append(f.audit, ev)
	f.mu.Unlock()
	return f.update(id, func(e *inspect.Evidence) {
		e.Responsibility, e.TownshipCode, e.ReachCode = &r, r.TownshipCode, r.ReachCode
	})
}

func (f *fakeEvidence) update(id string, fn func(*inspect.Evidence)) error {
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

func (f *fakeEvidence) get(id string) inspect.Evidence {
	e, _ := f.EvidenceByID(context.Background(), id)
	return e
}

// fakePlaces keeps versioned townships and reaches, chief assignments
// and users.
type fakePlaces struct {
	mu          sync.Mutex
	townships   []inspect.Township
	reaches     []inspect.Reach
	assignments []inspect.ChiefAssignment
	users       map[string]inspect.User
	batch       int64
}

func newFakePlaces(users ...inspect.User) *fakePlaces {
	p := &fakePlaces{users: map[string]inspect.User{}}
	for _, u := range users {
		p.users[u.ID] = u
	}
	return p
}

func inForce(from time.Time, to *time.Time, at time.Time) bool {
	return !from.After(at) && (to == nil || at.Before(*to))
}

func (p *fakePlaces) ImportTownships(_ context.Context, ts []inspect.Township, from time.Time) (int64, error) {
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

func (p *fakePlaces) ImportReaches(_ context.Context, rs []inspect.Reach, from time.Time) (int64, error) {
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

func (p *fakePlaces) Townships(_ context.Context, at time.Time) ([]inspect.Township, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []inspect.Township
	for _, t := range p.townships {
		if inForce(t.EffectiveFrom, t.EffectiveTo, at) {
			out = append(out, t)
		}
	}
	return out, nil
}

func (p *fakePlaces) TownshipByCode(ctx context.Context, code string, at time.Time) (inspect.Township, error) {
	ts, _ := p.Townships(ctx, at)
	for _, t := range ts {
		if t.Code == code {
			return t, nil
		}
	}
	return inspect.Township{}, errNotFound
}

// QueryReaches honours At only, which is all the domain sets.
func (p *fakePlaces) QueryReaches(_ context.Context, q inspect.ReachQuery) ([]inspect.Reach, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []inspect.Reach
	for _, r := range p.reaches {
		if inForce(r.EffectiveFrom, r.EffectiveTo, q.At) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (p *fakePlaces) ReachByCode(ctx context.Context, code string, at time.Time) (inspect.Reach, error) {
	rs, _ := p.QueryReaches(ctx, inspect.ReachQuery{At: at})
	for _, r := range rs {
		if r.Code == code {
			return r, nil
		}
	}
	return inspect.Reach{}, errNotFound
}

func (p *fakePlaces) SetReachChiefs(_ context.Context, reach string, as []inspect.ChiefAssignment, now time.Time) error {
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

func (p *fakePlaces) ChiefsAt(_ context.Context, reach string, at time.Time) ([]inspect.ChiefRef, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []inspect.ChiefRef
	for _, a := range p.assignments {
		if a.ReachCode == reach && inForce(a.ValidFrom, a.ValidTo, at) {
			out = append(out, inspect.ChiefRef{UserID: a.UserID, Name: p.users[a.UserID].DisplayName, Level: a.Level})
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

func (p *fakePlaces) ChiefAssignmentsDuring(_ context.Context, from, to time.Time) ([]inspect.ChiefAssignment, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []inspect.ChiefAssignment
	for _, a := range p.assignments {
		if a.ValidFrom.Before(to) && (a.ValidTo == nil || a.ValidTo.After(from)) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (p *fakePlaces) UserByID(_ context.Context, id string) (inspect.User, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.users[id]
	if !ok {
		return inspect.User{}, errNotFound
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
	cases  map[string]inspect.Case
	events map[string][]inspect.CaseEvent
	keys   map[subKey]struct {
		caseID string
		fp     []byte
	}
	// beforeUpdate, when set, runs at the start of UpdateCase: a
	// concurrent writer's chance to get in first.
	beforeUpdate func(c inspect.Case)
	updateErr    error
}

func newFakeCases() *fakeCases {
	return &fakeCases{cases: map[string]inspect.Case{}, events: map[string][]inspect.CaseEvent{}, keys: map[subKey]struct {
		caseID string
		fp     []byte
	}{}}
}

func (f *fakeCases) CreateCase(_ context.Context, c *inspect.Case, ev inspect.CaseEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c.ID, c.Version = fmt.Sprintf("case-%d", len(f.cases)+1), 1
	f.cases[c.ID] = *c
	f.appendEvents(c.ID, ev)
	return nil
}

func (f *fakeCases) appendEvents(id string, evs ...inspect.CaseEvent) {
	for _, ev := range evs {
		ev.Seq = int64(len(f.events[id]) + 1)
		f.events[id] = append(f.events[id], ev)
	}
}

func (f *fakeCases) CaseByID(_ context.Context, id string) (inspect.Case, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.cases[id]
	if !ok {
		return inspect.Case{}, errNotFound
	}
	return c, nil
}

// ListCases honours the scope and the state.
func (f *fakeCases) ListCases(_ context.Context, flt inspect.CaseFilter) ([]inspect.Case, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []inspect.Case
	for _, c := range f.cases {
		if flt.Scope.SeesCase(c) && (flt.State == "" || c.State == flt.State) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b inspect.Case) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (f *fakeCases) CaseEvents(_ context.Context, id string) ([]inspect.CaseEvent, error) {
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

func (f *fakeCases) UpdateCase(_ context.Context, c inspect.Case, evs []inspect.CaseEvent, key inspect.CaseKey) error {
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
func (f *fakeCases) bump(id string, fn func(*inspect.Case)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.cases[id]
	fn(&c)
	c.Version++
	f.cases[id] = c
}

func (f *fakeCases) AddCaseEvent(_ context.Context, caseID string, ev *inspect.CaseEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appendEvents(caseID, *ev)
	ev.Seq = int64(len(f.events[caseID]))
	return nil
}

func (f *fakeCases) CasesOwingAction(_ context.Context) ([]inspect.Case, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []inspect.Case
	for _, c := range f.cases {
		switch c.State {
		case inspect.CaseOpen, inspect.CaseInProgress, inspect.CaseReturned, inspect.CaseReopened:
			if c.Escalation != inspect.EscalationCounty {
				out = append(out, c)
			}
		}
	}
	slices.SortFunc(out, func(a, b inspect.Case) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// fakePatrols keeps patrols; with places it is a PatrolStore.
type fakePatrols struct {
	*fakePlaces
	mu      sync.Mutex
	patrols []inspect.Patrol
	keys    map[subKey][]byte
	// createErr, when set, fails the next CreatePatrol after raceKey
	// stored a patrol under the same key, as a concurrent retry would.
	raceKey bool
}

func (f *fakePatrols) CreatePatrol(_ context.Context, p *inspect.Patrol, key string, fp []byte) error {
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

func (f *fakePatrols) PatrolByKey(_ context.Context, userID, key string) (inspect.Patrol, []byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fp, ok := f.keys[subKey{userID, key}]
	if !ok {
		return inspect.Patrol{}, nil, false, nil
	}
	for i := len(f.patrols) - 1; i >= 0; i-- {
		if f.patrols[i].ChiefID == userID {
			return f.patrols[i], fp, true, nil
		}
	}
	return inspect.Patrol{}, nil, false, nil
}

func (f *fakePatrols) PatrolByID(_ context.Context, id string) (inspect.Patrol, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.patrols {
		if p.ID == id {
			return p, nil
		}
	}
	return inspect.Patrol{}, errNotFound
}

// ListPatrols honours Valid, From, To, the scope, the keyset and the
// limit, newest first.
func (f *fakePatrols) ListPatrols(_ context.Context, flt inspect.PatrolFilter) ([]inspect.Patrol, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	all := slices.Clone(f.patrols)
	slices.SortFunc(all, func(a, b inspect.Patrol) int {
		return cmp.Or(b.StartedAt.Compare(a.StartedAt), cmp.Compare(b.ID, a.ID))
	})
	out := []inspect.Patrol{}
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
	facts   inspect.MonthFacts
	letters []inspect.Letter
	frozen  map[string]inspect.Assessment
}

func (f *fakeAssessments) MonthFacts(context.Context, time.Time, time.Time) (inspect.MonthFacts, error) {
	return f.facts, nil
}

func (f *fakeAssessments) CreateLetter(_ context.Context, l *inspect.Letter) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	l.ID = fmt.Sprintf("letter-%d", len(f.letters)+1)
	f.letters = append(f.letters, *l)
	return nil
}

func (f *fakeAssessments) LettersOf(_ context.Context, township string) ([]inspect.Letter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []inspect.Letter
	for _, l := range f.letters {
		if l.TownshipCode == township {
			out = append(out, l)
		}
	}
	return out, nil
}

func (f *fakeAssessments) LettersInForce(_ context.Context, year int) (map[string]*inspect.Letter, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]*inspect.Letter{}
	for _, l := range f.letters {
		if l.Year == year {
			out[l.TownshipCode] = &l
		}
	}
	return out, nil
}

func (f *fakeAssessments) FrozenAssessment(_ context.Context, month string) (inspect.Assessment, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.frozen[month]
	return a, ok, nil
}

func (f *fakeAssessments) FreezeAssessment(_ context.Context, a inspect.Assessment) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.frozen == nil {
		f.frozen = map[string]inspect.Assessment{}
	}
	if _, ok := f.frozen[a.Month]; ok {
		return errConflict
	}
	f.frozen[a.Month] = a
	return nil
}
