package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fieldwatch/fieldwatch"
)

// Evidence-cache defaults and limits (WithEvidenceCache).
const (
	DefaultEvidenceCacheTTL = 2 * time.Second
	MaxEvidenceCacheTTL     = time.Minute
	// DefaultEvidenceCacheSize bounds the entries of one replica: a few
	// MiB of decoded rows (an item is one to two KiB in memory).
	DefaultEvidenceCacheSize = 4096
)

// WithEvidenceCache turns on the per-replica evidence cache behind
// Cached.EvidenceByID: a row read is served for ttl from the start of its
// read, at most size rows are kept. ttl 0 or negative leaves it off (every
// read goes to the database); ttl above MaxEvidenceCacheTTL is clamped to
// it; size 0 means DefaultEvidenceCacheSize.
//
// The bound is ttl because evidence rows change rarely and only by
// derived data (thumbnails made or given up, a relink), and this Store
// drops an entry the moment it commits such a change itself: only a
// change made by another replica, or directly in the database, can be
// served late, and by at most ttl.
func WithEvidenceCache(ttl time.Duration, size int) Option {
	return func(s *Store) {
		s.evidenceTTL = min(ttl, MaxEvidenceCacheTTL)
		if size <= 0 {
			size = DefaultEvidenceCacheSize
		}
		s.evidenceSize = size
	}
}

// Cached is the Store whose EvidenceByID answers from the evidence cache
// (WithEvidenceCache) for readers that can take a row up to its TTL old
// when another replica changed it: the archive's reads by id (GET of an
// item, its photo, thumbnail and reviews). Every other method is the
// Store's own. Readers that must see the row as committed now (the
// thumbnail worker, an upload's idempotent replay) use the Store.
//
// Scope is not the cache's business: it caches a row as EvidenceByID
// returns it, and the caller decides on every answer whether its actor
// may see it (fieldwatch.Archive does), so a warm entry never widens
// what anyone sees.
type Cached struct{ *Store }

// Cached returns s with its evidence cache in front of EvidenceByID; with
// the cache off it is s.
func (s *Store) Cached() Cached { return Cached{s} }

// EvidenceByID is Store.EvidenceByID, answered from the evidence cache
// when a read begun less than the TTL ago found the row and no local
// change to it has committed since. Not-found is never cached: evidence
// only ever appears, and a caller asking again after an upload must find
// it. The result is the caller's own copy.
func (c Cached) EvidenceByID(ctx context.Context, id string) (fieldwatch.Evidence, error) {
	s := c.Store
	if s.evidence == nil {
		return s.EvidenceByID(ctx, id)
	}
	cid, ok := parseID(id)
	if !ok {
		return fieldwatch.Evidence{}, fmt.Errorf("store: evidence by id: %w", ErrNotFound)
	}
	return s.cachedEvidence(cid, func() (fieldwatch.Evidence, error) { return s.ScopedEvidenceByID(ctx, cid, nil) })
}

// cachedEvidence answers for cid from the cache, or from read (and
// caches what it found).
func (s *Store) cachedEvidence(cid string, read func() (fieldwatch.Evidence, error)) (fieldwatch.Evidence, error) {
	start := s.now()
	if e, ok := s.evidence.Get(cid, start); ok {
		return cloneEvidence(e), nil
	}
	epoch := s.evidence.Begin()
	e, err := read()
	if err != nil {
		return fieldwatch.Evidence{}, err
	}
	// Served until TTL after the read began, so never more than TTL after
	// a change committed before it; a local change that committed while
	// it ran has moved the epoch, and the row is not stored.
	s.evidence.PutSince(epoch, cid, cloneEvidence(e), start.Add(s.evidenceTTL), start)
	return e, nil
}

// forgetEvidence drops the cached row of evidence id (a canonical id, as
// parseID returns) after this Store wrote to it, and keeps reads that
// began before from storing what they found. Call it once the write has
// committed or failed: before the commit, a read could still cache the
// old row.
func (s *Store) forgetEvidence(cid string) {
	if s.evidence != nil {
		s.evidence.Remove(cid)
	}
}

// cloneEvidence copies e with nothing shared: a cached row is handed to
// many requests, and none may change what the others see.
func cloneEvidence(e fieldwatch.Evidence) fieldwatch.Evidence {
	e.CapturedAt = clonePtr(e.CapturedAt)
	e.Location = clonePtr(e.Location)
	e.EXIF.Position = clonePtr(e.EXIF.Position)
	e.EXIF.AltitudeM = clonePtr(e.EXIF.AltitudeM)
	e.EXIF.GPSTime = clonePtr(e.EXIF.GPSTime)
	e.EXIF.TakenAt = clonePtr(e.EXIF.TakenAt)
	e.EXIF.DirectionDeg = clonePtr(e.EXIF.DirectionDeg)
	e.EXIF.Problems = slices.Clone(e.EXIF.Problems)
	if e.Device != nil {
		d := *e.Device
		d.AccuracyM = clonePtr(d.AccuracyM)
		e.Device = &d
	}
	e.EXIFDeviceDistanceM = clonePtr(e.EXIFDeviceDistanceM)
	e.Flags = slices.Clone(e.Flags)
	if e.Responsibility != nil {
		r := *e.Responsibility
		r.Chiefs = slices.Clone(r.Chiefs)
		r.Candidates = slices.Clone(r.Candidates)
		e.Responsibility = &r
	}
	e.Thumbnails = slices.Clone(e.Thumbnails)
	e.ThumbnailTries.NextAt = clonePtr(e.ThumbnailTries.NextAt)
	return e
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
