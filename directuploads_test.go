package fieldwatch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/fieldwatch/fieldwatch/blob"
)

// duStore is an in-memory DirectUploadStore.
type duStore struct {
	uploads  map[string]Upload
	limits   []UploadLimits
	finished map[string][2]time.Time // id → at, keepUntil
	create   error                   // CreateUpload fails with it
	finish   error                   // FinishUpload fails with it
}

func newDUStore() *duStore {
	return &duStore{uploads: map[string]Upload{}, finished: map[string][2]time.Time{}}
}

func (s *duStore) CreateUpload(_ context.Context, u *Upload, lim UploadLimits) error {
	s.limits = append(s.limits, lim)
	if s.create != nil {
		return s.create
	}
	s.uploads[u.ID] = *u
	return nil
}

func (s *duStore) UploadByID(_ context.Context, id string) (Upload, error) {
	u, ok := s.uploads[id]
	if !ok {
		return Upload{}, fmt.Errorf("upload %s: %w", id, ErrNotFound)
	}
	return u, nil
}

func (s *duStore) FinishUpload(_ context.Context, id string, at, keepUntil time.Time) error {
	if s.finish != nil {
		return s.finish
	}
	s.finished[id] = [2]time.Time{at, keepUntil}
	return nil
}

// duBlobs is an in-memory DirectUploadBlobs that checks size and SHA-256
// on Put, as the real stores do.
type duBlobs struct {
	objects map[string][]byte
	presign bool  // false: like the directory store, it cannot sign URLs
	put     error // Put fails with it
	deleted []string
}

func (b *duBlobs) PresignPut(_ context.Context, key string, ttl time.Duration) (string, error) {
	if !b.presign {
		return "", blob.ErrUnsupported
	}
	return fmt.Sprintf("https://s3.example/%s?ttl=%s", key, ttl), nil
}

func (b *duBlobs) Put(_ context.Context, key string, r io.Reader, size int64, opts blob.PutOptions) (blob.Object, error) {
	if b.put != nil {
		return blob.Object{}, b.put
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return blob.Object{}, err
	}
	if int64(len(data)) != size {
		return blob.Object{}, blob.ErrSizeMismatch
	}
	if sum := sha256.Sum256(data); !bytes.Equal(sum[:], opts.SHA256) {
		return blob.Object{}, blob.ErrChecksumMismatch
	}
	b.objects[key] = data
	return blob.Object{Key: key, Size: size}, nil
}

func (b *duBlobs) Stat(_ context.Context, key string) (blob.Object, error) {
	data, ok := b.objects[key]
	if !ok {
		return blob.Object{}, blob.ErrNotExist
	}
	return blob.Object{Key: key, Size: int64(len(data))}, nil
}

func (b *duBlobs) Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error) {
	o, err := b.Stat(ctx, key)
	if err != nil {
		return nil, o, err
	}
	return io.NopCloser(bytes.NewReader(b.objects[key])), o, nil
}

func (b *duBlobs) Delete(_ context.Context, key string) error {
	b.deleted = append(b.deleted, key)
	delete(b.objects, key)
	return nil
}

// duIntake receives into real spool files and records what it submits.
// duIntake receives through the real Intake (its spool, hash and size
// limit) and records what would be submitted or replayed.
type duIntake struct {
	*Intake
	submitted []EvidenceMeta
	replayed  int
}

func (in *duIntake) Replay(_ context.Context, c *Claim, photoSHA256 string, rawMeta []byte) (Evidence, error) {
	in.replayed++
	return Evidence{ID: c.previous.EvidenceID, SHA256: photoSHA256}, nil
}

func (in *duIntake) Submit(_ context.Context, c *Claim, meta EvidenceMeta, rawMeta []byte, sp *Spool) (Evidence, bool, error) {
	in.submitted = append(in.submitted, meta)
	return Evidence{ID: "e-new", SHA256: sp.SHA256(), Size: sp.Size(), UploaderID: c.userID}, false, nil
}

// duFixture is direct uploads over the fakes, on a clock the test moves.
type duFixture struct {
	now    time.Time
	store  *duStore
	blobs  *duBlobs
	intake *duIntake
	du     *DirectUploads
	claims []string // userID/key of every claim taken
	claim  *Claim   // what the next claim returns
}

func newDUFixture(t *testing.T) *duFixture {
	t.Helper()
	in, err := NewIntake(nil, nil, IntakeConfig{SpoolDir: t.TempDir(), MaxPhotoBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	f := &duFixture{
		now:    time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC),
		store:  newDUStore(),
		blobs:  &duBlobs{objects: map[string][]byte{}},
		intake: &duIntake{Intake: in},
		claim:  &Claim{},
	}
	f.du = NewDirectUploads(f.store, f.blobs, f.intake, DirectUploadsConfig{Clock: func() time.Time { return f.now }})
	return f
}

func (f *duFixture) claimer(_ context.Context, userID, key string) (*Claim, func(), error) {
	f.claims = append(f.claims, userID+"/"+key)
	return f.claim, func() {}, nil
}

var (
	duOwner = Actor{UserID: "u-owner", Role: RoleInspector}
	duOther = Actor{UserID: "u-other", Role: RoleAdmin}
	duPhoto = []byte("\xff\xd8\xff\xe0 not really a photo, but the bytes declared")
)

func duSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (f *duFixture) mustCreate(t *testing.T) Upload {
	t.Helper()
	u, _, err := f.du.Create(t.Context(), duOwner, int64(len(duPhoto)), duSum(duPhoto))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestDirectUploadsCreate(t *testing.T) {
	t.Run("OK_LocalStore", func(t *testing.T) {
		f := newDUFixture(t)
		u, url, err := f.du.Create(t.Context(), duOwner, 100, duSum(duPhoto))
		if err != nil {
			t.Fatal(err)
		}
		if url != "" {
			t.Errorf("url = %q from a store that cannot presign, want empty", url)
		}
		if u.UserID != duOwner.UserID || u.ObjectKey != UploadPrefix+u.ID || u.Size != 100 || !u.CreatedAt.Equal(f.now) {
			t.Errorf("upload = %+v", u)
		}
		if want := f.now.Add(UploadURLTTL + UploadGrace); !u.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt = %s, want %s", u.ExpiresAt, want)
		}
		lim := f.store.limits[0]
		if lim.PerUser != DefaultUploadsPerUser || lim.Total != DefaultUploadsTotal || !lim.OpenSince.Equal(f.now.Add(-UploadURLTTL)) {
			t.Errorf("limits = %+v", lim)
		}
	})
	t.Run("OK_Presigned", func(t *testing.T) {
		f := newDUFixture(t)
		f.blobs.presign = true
		u, url, err := f.du.Create(t.Context(), duOwner, 100, duSum(duPhoto))
		if err != nil {
			t.Fatal(err)
		}
		if want := "https://s3.example/" + u.ObjectKey + "?ttl=" + UploadURLTTL.String(); url != want {
			t.Errorf("url = %q, want %q", url, want)
		}
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		f := newDUFixture(t)
		if _, _, err := f.du.Create(t.Context(), duOwner, f.intake.MaxPhotoBytes()+1, duSum(duPhoto)); !errors.Is(err, ErrTooLarge) {
			t.Errorf("err = %v, want ErrTooLarge", err)
		}
		if len(f.store.limits) != 0 {
			t.Error("a session too large was offered to the store")
		}
	})
	t.Run("ErrUserUploadLimit", func(t *testing.T) {
		f := newDUFixture(t)
		f.store.create = ErrUserUploadLimit
		if _, _, err := f.du.Create(t.Context(), duOwner, 100, duSum(duPhoto)); !errors.Is(err, ErrUserUploadLimit) {
			t.Errorf("err = %v, want ErrUserUploadLimit", err)
		}
	})
}

func TestDirectUploadsPutContent(t *testing.T) {
	wrong := bytes.Clone(duPhoto)
	wrong[0] ^= 1
	tests := []struct {
		name   string
		who    Actor
		after  time.Duration // from the session's creation
		body   []byte
		length int64 // announced; -1: len(body)
		put    error
		want   error
	}{
		{name: "OK", who: duOwner, body: duPhoto, length: -1},
		{name: "ErrNotFound_OtherUser", who: duOther, body: duPhoto, length: -1, want: ErrNotFound},
		{name: "ErrNotFound_URLExpired", who: duOwner, after: UploadURLTTL, body: duPhoto, length: -1, want: ErrNotFound},
		{name: "ErrNotFound_PastDeadline", who: duOwner, after: UploadURLTTL + UploadGrace, body: duPhoto, length: -1, want: ErrNotFound},
		{name: "ErrUploadMismatch_Length", who: duOwner, body: duPhoto[:10], length: 10, want: ErrUploadMismatch},
		{name: "ErrUploadMismatch_Bytes", who: duOwner, body: wrong, length: -1, want: ErrUploadMismatch},
		{name: "StoreFailurePasses", who: duOwner, body: duPhoto, length: -1, put: blob.ErrUnavailable, want: blob.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDUFixture(t)
			u := f.mustCreate(t)
			f.now = f.now.Add(tt.after)
			f.blobs.put = tt.put
			n := tt.length
			if n < 0 {
				n = int64(len(tt.body))
			}
			err := f.du.PutContent(t.Context(), tt.who, u.ID, bytes.NewReader(tt.body), n)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			_, stored := f.blobs.objects[u.ObjectKey]
			if stored != (tt.want == nil) {
				t.Errorf("object stored = %v", stored)
			}
		})
	}
	t.Run("ErrNotFound_Completed", func(t *testing.T) {
		f := newDUFixture(t)
		u := f.mustCreate(t)
		done := f.now
		u.CompletedAt = &done
		f.store.uploads[u.ID] = u
		if err := f.du.PutContent(t.Context(), duOwner, u.ID, bytes.NewReader(duPhoto), int64(len(duPhoto))); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
}

func TestDirectUploadsComplete(t *testing.T) {
	meta := EvidenceMeta{Category: CategoryDustSite, Note: "site 4"}
	complete := func(f *duFixture, who Actor, id string) (Evidence, bool, error) {
		return f.du.Complete(context.Background(), who, Completion{UploadID: id, Key: "k1", Meta: meta, RawMeta: []byte(`{}`)}, f.claimer)
	}
	t.Run("OK", func(t *testing.T) {
		f := newDUFixture(t)
		u := f.mustCreate(t)
		f.blobs.objects[u.ObjectKey] = duPhoto
		// Completion works in the grace after the URL expired: a slow
		// PUT that began in time may end after it.
		f.now = f.now.Add(UploadURLTTL + time.Minute)
		e, replayed, err := complete(f, duOwner, u.ID)
		if err != nil || replayed {
			t.Fatalf("Complete = %+v, %v, %v", e, replayed, err)
		}
		if e.SHA256 != u.SHA256 || len(f.intake.submitted) != 1 {
			t.Fatalf("evidence = %+v, submitted %d", e, len(f.intake.submitted))
		}
		if got := f.intake.submitted[0]; got.SHA256 != u.SHA256 || got.Note != meta.Note {
			t.Errorf("submitted meta = %+v: the declared hash must be checked", got)
		}
		if fin := f.store.finished[u.ID]; !fin[0].Equal(f.now) || !fin[1].Equal(f.now.Add(UploadReplayRetention)) {
			t.Errorf("finished = %v, want now and now+%s", fin, UploadReplayRetention)
		}
		if _, ok := f.blobs.objects[u.ObjectKey]; ok || len(f.blobs.deleted) != 1 {
			t.Error("the temporary object was not deleted")
		}
		if len(f.claims) != 1 || f.claims[0] != duOwner.UserID+"/k1" {
			t.Errorf("claims = %v", f.claims)
		}
	})
	t.Run("OK_FinishAndDeleteFailuresDoNotFail", func(t *testing.T) {
		f := newDUFixture(t)
		u := f.mustCreate(t)
		f.blobs.objects[u.ObjectKey] = duPhoto
		f.store.finish = errors.New("database gone")
		if _, _, err := complete(f, duOwner, u.ID); err != nil {
			t.Fatalf("err = %v: the evidence is committed, the rest is the reconciler's", err)
		}
	})
	t.Run("OK_Replay", func(t *testing.T) {
		f := newDUFixture(t)
		u := f.mustCreate(t)
		f.claim = &Claim{previous: &Submission{EvidenceID: "e-old"}}
		e, replayed, err := complete(f, duOwner, u.ID)
		if err != nil || !replayed || e.ID != "e-old" || f.intake.replayed != 1 {
			t.Fatalf("Complete = %+v, %v, %v; want a replay of e-old", e, replayed, err)
		}
		if len(f.intake.submitted) != 0 {
			t.Error("a replay submitted again")
		}
	})
	// A second completion of one upload under another key must not make
	// a second evidence of the same bytes, nor claim they never arrived.
	t.Run("ErrConflict_CompletedUnderAnotherKey", func(t *testing.T) {
		f := newDUFixture(t)
		u := f.mustCreate(t)
		f.blobs.objects[u.ObjectKey] = duPhoto // its delete failed
		done := f.now
		u.CompletedAt = &done
		f.store.uploads[u.ID] = u
		_, _, err := complete(f, duOwner, u.ID)
		if !errors.Is(err, ErrConflict) || errors.Is(err, ErrUploadNotReceived) {
			t.Fatalf("err = %v, want a conflict", err)
		}
		if len(f.intake.submitted) != 0 {
			t.Error("a completed upload was submitted again")
		}
	})
	tests := []struct {
		name   string
		who    Actor
		after  time.Duration
		object []byte // nil: none arrived
		want   error
	}{
		{"ErrNotFound_OtherUser", duOther, 0, duPhoto, ErrNotFound},
		{"ErrNotFound_PastDeadline", duOwner, UploadURLTTL + UploadGrace, duPhoto, ErrNotFound},
		{"ErrUploadNotReceived", duOwner, 0, nil, ErrUploadNotReceived},
		{"ErrUploadMismatch_Size", duOwner, 0, duPhoto[:5], ErrUploadMismatch},
		{"ErrUploadMismatch_Hash", duOwner, 0, append(bytes.Clone(duPhoto[1:]), 'x'), ErrUploadMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newDUFixture(t)
			u := f.mustCreate(t)
			if tt.object != nil {
				f.blobs.objects[u.ObjectKey] = tt.object
			}
			f.now = f.now.Add(tt.after)
			_, _, err := complete(f, tt.who, u.ID)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if len(f.intake.submitted) != 0 || len(f.store.finished) != 0 {
				t.Error("a refused completion submitted or finished the session")
			}
			if errors.Is(tt.want, ErrNotFound) && len(f.claims) != 0 {
				t.Error("a key was claimed for a session that is not the caller's")
			}
		})
	}
}
