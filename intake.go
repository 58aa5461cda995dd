package fieldwatch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/fieldwatch/fieldwatch/blob"
	"github.com/fieldwatch/fieldwatch/geo"
	"github.com/fieldwatch/fieldwatch/media"
)

// Errors of the upload path. Each leaves nothing stored.
var (
	// ErrInFlight: an upload with the same Idempotency-Key is still being
	// received; retry later.
	ErrInFlight = NewSentinel(EINFLIGHT, "fieldwatch: an upload with this Idempotency-Key is in progress",
		"an upload with this Idempotency-Key is in progress")
	// ErrKeyReused: the Idempotency-Key was used for a different photo or
	// metadata.
	ErrKeyReused = NewSentinel(EKEYREUSED, "fieldwatch: Idempotency-Key already used for a different upload",
		"Idempotency-Key already used for a different upload")
	// ErrDigestMismatch: the photo's SHA-256 differs from the declared one.
	ErrDigestMismatch = NewSentinel(EDIGEST, "fieldwatch: photo SHA-256 does not match the declared sha256",
		"photo SHA-256 does not match the declared sha256")
	// ErrTooLarge: the photo exceeds the configured size limit.
	ErrTooLarge = NewSentinel(ETOOLARGE, "fieldwatch: photo too large", "photo too large")
	// ErrEmptyPhoto: the photo part has no bytes.
	ErrEmptyPhoto = NewSentinel(EINVALID, "fieldwatch: photo is empty", "photo is empty")
	// ErrSpoolWrite: the server could not write the upload to its spool
	// (a full disk, most likely): the server's failure, not the phone's.
	// A full disk is EUNAVAILABLE, anything else EINTERNAL.
	ErrSpoolWrite = errors.New("fieldwatch: cannot write the upload spool")
)

// EvidenceStore is the persistence the upload path needs.
type EvidenceStore interface {
	ClaimSubmission(ctx context.Context, userID, key string, now, staleBefore time.Time) (Submission, bool, error)
	HeartbeatSubmissions(ctx context.Context, claims []SubmissionAttempt, now time.Time) (int, error)
	ReleaseSubmission(ctx context.Context, userID, key, attempt string) error
	MarkSubmissionObject(ctx context.Context, userID, key, attempt, sha256 string, now time.Time) error
	CommitEvidence(ctx context.Context, e *Evidence, key, attempt string, fingerprint []byte) error
	EvidenceByID(ctx context.Context, id string) (Evidence, error)
}

// BlobStore is the photo store as the upload path uses it.
type BlobStore interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, opts blob.PutOptions) (blob.Object, error)
}

// filePutter is a BlobStore that can take over a finished file instead of
// copying it (fileblob.Dir; contract in blobtest.FilePutter): the spool
// file is moved into the photo directory when both are on one file
// system, sparing a copy of every byte, and copied otherwise.
type filePutter interface {
	PutFile(ctx context.Context, key, name string, size int64, opts blob.PutOptions) (blob.Object, error)
}

// IntakeConfig tunes the upload path. Zero values take the defaults.
type IntakeConfig struct {
	MaxPhotoBytes int64         // default 40 MiB
	SpoolDir      string        // temp files while receiving; default os.TempDir()/fieldwatch-spool
	StaleAfter    time.Duration // a pending upload without heartbeat for this long is abandoned by the reconciler; default 5 min
	Heartbeat     time.Duration // how often a live upload says so; default 5 s (at most StaleAfter/5)
	// TakeoverAfter: a claim whose heartbeat is older than this has no
	// live request behind it (its request ended, or its process died), so
	// a retry with the same key may take it over. Default 3 heartbeats:
	// one missed heartbeat is not death, and a phone whose upload got a
	// 503 while the database was down is not locked out for StaleAfter.
	TakeoverAfter time.Duration

	MismatchM   float64        // EXIF vs device distance that raises a flag; default 200 m
	StaleWindow time.Duration  // capture older than this before receipt is flagged; default 72 h
	FutureSkew  time.Duration  // capture after receipt beyond this is flagged; default 5 min
	County      *geo.Box       // when set, positions outside are flagged
	Zone        *time.Location // for EXIF times without offset; default UTC+8 (China)
	MaxPixels   int64          // default media.DefaultMaxPixels

	Clock  func() time.Time
	Logger *slog.Logger
	// Linker, when set, links each evidence to the township and reach
	// that answer for its place (an *Atlas).
	Linker Linker
	// MaxStoring bounds how many uploads store their bytes and commit
	// their row at once; default 16 (DefaultMaxStoring). An upload whose
	// body has arrived waits here with the body in its spool file, costing
	// a file rather than memory, a store connection or a database
	// connection; it waits as long as its request lives. It also bounds
	// the database statements the upload path has in progress at once
	// (claims, links, marks, commits, releases; plus the one heartbeat
	// for all claims), so that however many uploads start or finish
	// together, the rest of the pool stays free for reads.
	MaxStoring int
	// Failpoint, when set, is called at named points of the upload path
	// so fault tests can crash the process there ("after-object-put":
	// bytes stored, row not committed). Production leaves it nil.
	Failpoint func(name string)
}

// Linker works out who answers for evidence at its location.
type Linker interface {
	Link(ctx context.Context, e *Evidence) (*Responsibility, error)
	HasTownships() bool
}

// Intake receives photos and turns them into stored evidence, durably and
// idempotently: claim the key, spool and hash the bytes, check them, store
// them content-addressed with a known size and checksum, commit the row.
type Intake struct {
	cfg   IntakeConfig
	store EvidenceStore
	blobs BlobStore
	now   func() time.Time
	log   *slog.Logger
	// storing holds one token per upload in the store-and-commit stage
	// (IntakeConfig.MaxStoring).
	storing chan struct{}
	// beats holds the claims this process keeps alive (see heartbeats).
	beats heartbeats
	// db holds one token per database call of the upload path in
	// progress (IntakeConfig.MaxStoring; see withDB).
	db chan struct{}
}

// DefaultMaxStoring is IntakeConfig.MaxStoring's default. Storing is
// bounded by the photo store and the database, not by the number of
// phones: 16 at a time keep both busy (a 4 MiB PUT takes a few ms of CPU
// here), leave most of the database pool (25 connections with
// PostgreSQL) to reads, and keep the memory of the PUTs in progress
// small however many bodies finish together: 500 finishing together
// otherwise all store at once.
const DefaultMaxStoring = 16

// NewIntake returns an Intake with defaults filled in; it creates the spool
// directory.
func NewIntake(st EvidenceStore, blobs BlobStore, cfg IntakeConfig) (*Intake, error) {
	if cfg.MaxPhotoBytes <= 0 {
		cfg.MaxPhotoBytes = 40 << 20
	}
	if cfg.SpoolDir == "" {
		cfg.SpoolDir = os.TempDir() + "/fieldwatch-spool"
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 5 * time.Minute
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = min(defaultHeartbeat, cfg.StaleAfter/5)
	}
	if cfg.TakeoverAfter <= 0 {
		cfg.TakeoverAfter = min(3*cfg.Heartbeat, cfg.StaleAfter)
	}
	if cfg.MismatchM <= 0 {
		cfg.MismatchM = 200
	}
	if cfg.StaleWindow <= 0 {
		cfg.StaleWindow = 72 * time.Hour
	}
	if cfg.FutureSkew <= 0 {
		cfg.FutureSkew = 5 * time.Minute
	}
	if cfg.Zone == nil {
		cfg.Zone = time.FixedZone("CST", 8*3600)
	}
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = media.DefaultMaxPixels
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxStoring <= 0 {
		cfg.MaxStoring = DefaultMaxStoring
	}
	if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
		return nil, fmt.Errorf("fieldwatch: spool dir: %w", err)
	}
	return &Intake{cfg: cfg, store: st, blobs: blobs, now: cfg.Clock, log: cfg.Logger,
		storing: make(chan struct{}, cfg.MaxStoring), db: make(chan struct{}, cfg.MaxStoring)}, nil
}

// defaultHeartbeat is IntakeConfig.Heartbeat's default: every 5 s one
// short UPDATE names all the claims this process holds (heartbeats), for
// a takeover after 15 s of silence.
const defaultHeartbeat = 5 * time.Second

// MaxPhotoBytes is the configured photo size limit.
func (in *Intake) MaxPhotoBytes() int64 { return in.cfg.MaxPhotoBytes }

// Claim holds an Idempotency-Key for one upload attempt.
type Claim struct {
	in       *Intake
	userID   string
	key      string
	attempt  string      // this claim's token (Submission.Attempt)
	previous *Submission // a stored submission under this key: the attempt is a retry
	beating  bool        // held pending, in in.beats until committed or released
}

// Claim takes the key for this attempt, or reports that it is in use.
// A key whose upload completed yields a claim for a replay: the body must
// still be read and compared. Release the claim when done.
func (in *Intake) Claim(ctx context.Context, userID, key string) (*Claim, error) {
	now := in.now()
	var (
		sub     Submission
		claimed bool
	)
	err := in.withDB(ctx, "claim the upload", func() (err error) {
		sub, claimed, err = in.store.ClaimSubmission(ctx, userID, key, now, now.Add(-in.cfg.TakeoverAfter))
		return err
	})
	if err != nil {
		return nil, err
	}
	c := &Claim{in: in, userID: userID, key: key, attempt: sub.Attempt}
	switch {
	case claimed:
		c.beating = true
		in.beats.add(in, c)
	case sub.State == SubmissionStored:
		c.previous = &sub
	default:
		return nil, ErrInFlight
	}
	return c, nil
}

// heartbeats keeps this process's claims fresh, so that neither a retry
// nor any replica's reconciler takes a slow upload, still receiving its
// bytes over a weak link, for abandoned. One goroutine beats for all of
// them: every Heartbeat it names every claim held at that moment in one
// UPDATE (HeartbeatSubmissions), so a thousand uploads in flight cost one
// statement and one connection per interval rather than a thousand, and
// leave the database pool to reads. A claim is never silent longer than
// an interval plus one statement, as when each claim beat on its own;
// the goroutine runs only while claims are held.
type heartbeats struct {
	mu      sync.Mutex
	held    map[*Claim]struct{}
	running bool
}

func (h *heartbeats) add(in *Intake, c *Claim) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held == nil {
		h.held = make(map[*Claim]struct{})
	}
	h.held[c] = struct{}{}
	if !h.running {
		h.running = true
		go h.run(in)
	}
}

// remove stops beating for c: after it returns, no heartbeat begun later
// names c (one already sent may still land, and finds the claim stored or
// released, which it leaves alone).
func (h *heartbeats) remove(c *Claim) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.held, c)
}

// snapshot returns the claims held now, or reports that there are none,
// in which case the goroutine ends (a new claim starts another).
func (h *heartbeats) snapshot() ([]SubmissionAttempt, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.held) == 0 {
		h.running = false
		return nil, false
	}
	out := make([]SubmissionAttempt, 0, len(h.held))
	for c := range h.held {
		out = append(out, SubmissionAttempt{UserID: c.userID, Key: c.key, Attempt: c.attempt})
	}
	return out, true
}

func (h *heartbeats) run(in *Intake) {
	t := time.NewTicker(in.cfg.Heartbeat)
	defer t.Stop()
	for range t.C {
		claims, ok := h.snapshot()
		if !ok {
			return
		}
		// Bounded by the interval, so a slow database delays the next
		// beat by at most one interval.
		ctx, cancel := context.WithTimeout(context.Background(), in.cfg.Heartbeat)
		n, err := in.store.HeartbeatSubmissions(ctx, claims, in.now())
		cancel()
		switch {
		case err != nil:
			in.log.Warn("upload heartbeat failed", slog.Int("claims", len(claims)), slog.String("error", err.Error()))
		case n < len(claims):
			// Committed or released since the snapshot, or taken over
			// after a long silence: that attempt's own next statement
			// finds out (MarkSubmissionObject, CommitEvidence).
			in.log.Debug("upload heartbeat: claims no longer held", slog.Int("claims", len(claims)), slog.Int("updated", n))
		}
	}
}

// Release ends the claim. An attempt that did not commit gives its key
// back, so the phone's retry can proceed at once. When the database cannot
// take the release (the very outage that failed the upload, often), it is
// retried in the background until it goes through or the claim's silent
// heartbeat frees it anyway (TakeoverAfter): the phone's retry succeeds as
// soon as the database is back, not StaleAfter later.
func (c *Claim) Release() {
	if !c.beating {
		return
	}
	c.beating = false
	c.in.beats.remove(c)
	if err := c.release(); err == nil {
		return
	}
	go func() {
		var waited time.Duration
		for wait := releaseRetryFirst; ; wait = min(2*wait, releaseRetryMax) {
			<-time.After(wait)
			waited += wait
			err := c.release()
			if err == nil {
				return
			}
			if waited >= c.in.cfg.TakeoverAfter {
				// The claim is free by now: its heartbeat stopped.
				c.in.log.Warn("releasing upload claim", slog.String("user_id", c.userID), slog.String("error", err.Error()))
				return
			}
		}
	}()
}

// Backoff of Release's retries: quick, since a phone may be retrying.
const (
	releaseRetryFirst = 250 * time.Millisecond
	releaseRetryMax   = 2 * time.Second
)

func (c *Claim) release() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.in.withDB(ctx, "release the upload", func() error {
		return c.in.store.ReleaseSubmission(ctx, c.userID, c.key, c.attempt)
	})
}

// withDB runs one database call of the upload path, waiting while
// MaxStoring others are in progress, for as long as ctx lives. A thousand
// uploads that start or finish together thus queue here, each waiting
// for the call before it rather than for a pool connection, and a read
// arriving meanwhile finds a connection free at once. The calls are
// short (a statement or a small transaction), and no call waits for
// another while holding its token, so the queue always moves. Giving up
// is the server's "not now", as in waitToStore.
func (in *Intake) withDB(ctx context.Context, what string, call func() error) error {
	select {
	case in.db <- struct{}{}:
	case <-ctx.Done():
		return Wrap(EUNAVAILABLE, ErrUnavailable.Message,
			fmt.Errorf("fieldwatch: waiting to %s (%d database calls of uploads in progress): %w", what, cap(in.db), ctx.Err()))
	}
	defer func() { <-in.db }()
	return call()
}

// Spool is a photo received into a temporary file, hashed on the way in.
// The file is seekable, so the photo store can retry a PUT with the full
// body; memory use stays at one copy buffer whatever the photo's size.
type Spool struct {
	f    *os.File
	size int64
	sum  [sha256.Size]byte
	head []byte
	// moved: the photo store took the file over (filePutter), so its
	// name is no longer ours to remove.
	moved bool
}

// spoolHead is how many leading bytes are kept in memory for sniffing.
const spoolHead = 512

// Receive copies r into a new spool file, refusing more than the size
// limit with ErrTooLarge. Close the spool when done with it.
func (in *Intake) Receive(ctx context.Context, r io.Reader) (*Spool, error) {
	f, err := os.CreateTemp(in.cfg.SpoolDir, "upload-*.part")
	if err != nil {
		return nil, fmt.Errorf("fieldwatch: spool: %w", err)
	}
	sp := &Spool{f: f}
	h := sha256.New()
	head := &headWriter{max: spoolHead}
	limited := io.LimitReader(r, in.cfg.MaxPhotoBytes+1)
	file := &spoolWriter{f: f}
	n, err := io.CopyBuffer(io.MultiWriter(file, h, head), fillReader{ctxReader{ctx, limited}}, make([]byte, 32<<10))
	if file.err != nil {
		// The copy stopped on our side (a full disk), not the phone's.
		err = fmt.Errorf("%w: %w", ErrSpoolWrite, file.err)
		if errors.Is(file.err, syscall.ENOSPC) || errors.Is(file.err, syscall.EDQUOT) {
			err = Wrap(EUNAVAILABLE, ErrUnavailable.Message, err)
		}
	}
	if err == nil && n > in.cfg.MaxPhotoBytes {
		err = Errorf(ETOOLARGE, "%w: more than %d bytes", ErrTooLarge, in.cfg.MaxPhotoBytes)
	}
	if err != nil {
		sp.Close()
		return nil, err
	}
	sp.size = n
	copy(sp.sum[:], h.Sum(nil))
	sp.head = head.buf
	return sp, nil
}

// Size is the number of bytes received.
func (s *Spool) Size() int64 { return s.size }

// SHA256 is the hex SHA-256 of the bytes received.
func (s *Spool) SHA256() string { return hex.EncodeToString(s.sum[:]) }

// Close removes the spool file.
func (s *Spool) Close() error {
	err := s.f.Close()
	if s.moved {
		return err
	}
	rerr := os.Remove(s.f.Name())
	if errors.Is(rerr, fs.ErrNotExist) {
		rerr = nil // a photo store that failed may have taken it anyway
	}
	return errors.Join(err, rerr)
}

// spoolWriter remembers a failed write, so Receive can tell the server's
// failure from a broken upload.
type spoolWriter struct {
	f   *os.File
	err error
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

type headWriter struct {
	buf []byte
	max int
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - len(w.buf); room > 0 {
		w.buf = append(w.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// fillReader fills the copy buffer before it is written: a multipart
// part hands over at most 4 KiB per read, and writing each of those to the
// spool file would cost a system call per 4 KiB. A slow upload only waits
// as long as it would anyway: it is the same bytes, written later.
type fillReader struct{ r io.Reader }

// Unlike io.ReadFull it passes on the reader's own error unchanged: a
// multipart body cut short ends in io.ErrUnexpectedEOF, which must not be
// mistaken for the end of a whole photo.
func (f fillReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := f.r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// ctxReader stops a copy when the request is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// EvidenceMeta is what the phone says about the photo.
type EvidenceMeta struct {
	Category    Category
	Subcategory string
	Note        string
	CapturedAt  *time.Time
	Device      *DeviceInput
	SHA256      string // declared hex digest, optional
}

// DeviceInput is the phone's position fix as sent.
type DeviceInput struct {
	Lon, Lat  float64
	CRS       geo.CRS // empty means WGS-84
	AccuracyM *float64
	Provider  string
	Mock      bool
}

// IsReplay reports whether the claimed key already completed: Replay
// answers it without the photo's bytes when their hash is known.
func (c *Claim) IsReplay() bool { return c.previous != nil }

// Replay answers a retry of a completed upload whose photo hash is known
// (a direct upload declared it, and it was verified then): the original
// evidence if the request matches, ErrKeyReused if not.
func (in *Intake) Replay(ctx context.Context, c *Claim, photoSHA256 string, rawMeta []byte) (Evidence, error) {
	var sum [sha256.Size]byte
	if b, err := hex.DecodeString(photoSHA256); err != nil || len(b) != sha256.Size {
		return Evidence{}, Errorf(EINVALID, "sha256: not a hex SHA-256")
	} else {
		copy(sum[:], b)
	}
	if c.previous == nil || !bytes.Equal(c.previous.Fingerprint, fingerprint(sum, rawMeta)) {
		return Evidence{}, ErrKeyReused
	}
	return in.store.EvidenceByID(ctx, c.previous.EvidenceID)
}

// Submit turns a claimed, received photo into stored evidence. rawMeta is
// the meta part exactly as received: with the photo's hash it fingerprints
// the request, so a retry is recognised and a reused key is not.
//
// It returns the evidence and whether this answer replays an earlier
// upload.
func (in *Intake) Submit(ctx context.Context, c *Claim, meta EvidenceMeta, rawMeta []byte, sp *Spool) (Evidence, bool, error) {
	fp := fingerprint(sp.sum, rawMeta)
	if c.previous != nil {
		if !bytes.Equal(c.previous.Fingerprint, fp) {
			return Evidence{}, false, ErrKeyReused
		}
		e, err := in.store.EvidenceByID(ctx, c.previous.EvidenceID)
		return e, true, err
	}
	if sp.size == 0 {
		return Evidence{}, false, ErrEmptyPhoto
	}
	if meta.SHA256 != "" && !strings.EqualFold(meta.SHA256, sp.SHA256()) {
		return Evidence{}, false, ErrDigestMismatch
	}
	e, err := in.describe(meta, sp, c.userID)
	if err != nil {
		return Evidence{}, false, err
	}
	release, err := in.waitToStore(ctx)
	if err != nil {
		return Evidence{}, false, err
	}
	defer release()
	// Linked inside the stage: the link reads the database (who answers
	// for the reach), and a thousand bodies that end together must not
	// all read at once.
	if err := in.withDB(ctx, "link the evidence", func() error { return in.link(ctx, &e) }); err != nil {
		return Evidence{}, false, err
	}
	if err := in.storeBytes(ctx, c, &e, sp); err != nil {
		return Evidence{}, false, err
	}
	if in.cfg.Failpoint != nil {
		in.cfg.Failpoint("after-object-put")
	}
	if err := in.withDB(ctx, "commit the evidence", func() error {
		return in.store.CommitEvidence(ctx, &e, c.key, c.attempt, fp)
	}); err != nil {
		return Evidence{}, false, err
	}
	c.beating = false // committed: nothing to release
	in.beats.remove(c)
	return e, false, nil
}

// waitToStore takes a place in the store-and-commit stage, waiting while
// MaxStoring uploads hold one, for as long as ctx lives. Giving up is the
// server's "not now": 503 with Retry-After and nothing stored, or 499 when
// it was the client that left (the error still wraps ctx's).
func (in *Intake) waitToStore(ctx context.Context) (release func(), err error) {
	select {
	case in.storing <- struct{}{}:
		return func() { <-in.storing }, nil
	case <-ctx.Done():
		return nil, Wrap(EUNAVAILABLE, ErrUnavailable.Message,
			fmt.Errorf("fieldwatch: waiting to store the photo (%d uploads storing): %w", cap(in.storing), ctx.Err()))
	}
}

// link records who answers for the evidence's place. Once boundaries are
// loaded, a position outside every township is outside the county.
func (in *Intake) link(ctx context.Context, e *Evidence) error {
	if in.cfg.Linker == nil {
		return nil
	}
	r, err := in.cfg.Linker.Link(ctx, e)
	if err != nil {
		return err
	}
	if r == nil {
		return nil
	}
	e.Responsibility = r
	e.TownshipCode, e.ReachCode = r.TownshipCode, r.ReachCode
	if r.TownshipCode == "" && in.cfg.Linker.HasTownships() && !e.HasFlag(FlagOutsideCounty) {
		e.Flags = append(e.Flags, FlagOutsideCounty)
	}
	return nil
}

// storeBytes puts the spooled bytes under their content address. It first
// marks the submission with the hash, under the lock the reconciler takes
// to delete an orphan, so the object cannot be deleted between this PUT
// and the commit.
//
// The bytes are put even when evidence with the same bytes exists: the
// store's copy may have been lost or damaged (an operator's mistake, a
// restore that missed it, a bug), and a PUT of the same bytes repairs it
// where skipping it would make the loss permanent. A PUT to an existing
// content address replaces it atomically with identical bytes, and a
// failed one leaves it as it was (blob.Bucket.Put).
func (in *Intake) storeBytes(ctx context.Context, c *Claim, e *Evidence, sp *Spool) error {
	err := in.withDB(ctx, "mark the upload", func() error {
		return in.store.MarkSubmissionObject(ctx, c.userID, c.key, c.attempt, e.SHA256, in.now())
	})
	if errors.Is(err, ErrNotFound) {
		// Taken over by a newer attempt of the same key (this request was
		// silent too long), or released: that attempt answers.
		return Wrap(EINFLIGHT, ErrInFlight.Message, fmt.Errorf("%w (this attempt lost its claim)", ErrInFlight))
	}
	if err != nil {
		return err
	}
	// The spool's hash was computed over these very bytes as they were
	// received: the photo store need not hash them again where it can
	// have them checked on its side (Prehashed), nor copy them where it
	// can take the file over.
	opts := blob.PutOptions{SHA256: sp.sum[:], ContentType: e.ContentType, Prehashed: true}
	if fp, ok := in.blobs.(filePutter); ok {
		if _, err := fp.PutFile(ctx, e.ObjectKey, sp.f.Name(), sp.size, opts); err != nil {
			return err
		}
		sp.moved = true
		return nil
	}
	if _, err := sp.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("fieldwatch: rewind spool: %w", err)
	}
	_, err = in.blobs.Put(ctx, e.ObjectKey, sp.f, sp.size, opts)
	return err
}

// ObjectKey is where evidence bytes with this hex SHA-256 live: content
// addressed, so identical bytes are stored once.
func ObjectKey(sha256hex string) string {
	return "evidence/" + sha256hex[:2] + "/" + sha256hex
}

func fingerprint(photo [sha256.Size]byte, rawMeta []byte) []byte {
	m := sha256.Sum256(rawMeta)
	h := sha256.New()
	h.Write(photo[:])
	h.Write(m[:])
	return h.Sum(nil)
}

// CleanText normalises free text from clients: NFC, no control or bidi
// formatting characters (newlines and tabs are kept in notes), trimmed.
// Invalid UTF-8 is an error wrapping ErrInvalid.
func CleanText(field, s string, maxRunes int, multiline bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(EINVALID, "%s: not valid UTF-8", field)
	}
	s = strings.Map(func(r rune) rune {
		if multiline && (r == '\n' || r == '\t') {
			return r
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u200b' || r == '\ufeff' {
			return -1
		}
		return r
	}, norm.NFC.String(s))
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxRunes {
		return "", Errorf(EINVALID, "%s: at most %d characters", field, maxRunes)
	}
	return s, nil
}
