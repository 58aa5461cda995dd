package fieldwatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch/blob"
)

// InvariantStore is what the invariant checker reads.
type InvariantStore interface {
	ListEvidence(ctx context.Context, f EvidenceFilter) ([]Evidence, error)
	EvidenceSHA256Exists(ctx context.Context, sha256 string) (bool, error)
}

// InvariantBlobs is what the invariant checker reads of the photo store.
type InvariantBlobs interface {
	Get(ctx context.Context, key string) (io.ReadCloser, blob.Object, error)
	List(ctx context.Context, prefix string, fn func(blob.Object) error) error
}

// InvariantReport says what CheckInvariants looked at and what it found.
type InvariantReport struct {
	Evidence int      // rows checked
	Objects  int      // evidence objects listed
	Problems []string // one line per violation; empty when all hold
	// Pending lists evidence objects without a row that are younger than
	// the orphan age: an upload between its PUT and its commit, or what a
	// crash left, which the reconciler deletes once it is older. Not a
	// violation: no 201 depends on them.
	Pending []string
}

// InvariantConfig tunes CheckInvariants. Zero values take the defaults.
type InvariantConfig struct {
	// OrphanAge is the reconciler's: an object without a row younger than
	// this is pending, older a violation. Default 1 h.
	OrphanAge time.Duration
	Clock     func() time.Time
}

// CheckInvariants verifies the promise made to every phone that got a
// 201 (docs/reliability.md#invariants):
//
//   - every stored evidence row has an object whose recomputed SHA-256 and
//     size equal the row's;
//   - every evidence object older than the orphan age has a row (run it
//     after a reconcile pass, which removes those orphans); younger ones
//     are reported as pending.
//
// At most one stored evidence per (uploader, Idempotency-Key) is enforced
// by the submissions table's primary key, so it cannot be violated. It
// reads every object, so it is an operator's and a test's tool, not a
// request-path one.
func CheckInvariants(ctx context.Context, st InvariantStore, blobs InvariantBlobs, cfg InvariantConfig) (InvariantReport, error) {
	if cfg.OrphanAge <= 0 {
		cfg.OrphanAge = time.Hour
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	now := cfg.Clock()
	var rep InvariantReport
	f := EvidenceFilter{Limit: 500}
	for {
		page, err := st.ListEvidence(ctx, f)
		if err != nil {
			return rep, err
		}
		for _, e := range page {
			rep.Evidence++
			if p := checkObject(ctx, blobs, e); p != "" {
				rep.Problems = append(rep.Problems, p)
			}
		}
		if len(page) < f.Limit {
			break
		}
		last := page[len(page)-1]
		t := last.ReceivedAt
		f.AfterTime, f.AfterID = &t, last.ID
	}
	err := blobs.List(ctx, "evidence/", func(o blob.Object) error {
		rep.Objects++
		sha := o.Key[strings.LastIndexByte(o.Key, '/')+1:]
		ok, err := st.EvidenceSHA256Exists(ctx, sha)
		if err != nil {
			return err
		}
		switch age := now.Sub(o.ModTime); {
		case ok:
		case age < cfg.OrphanAge:
			rep.Pending = append(rep.Pending, fmt.Sprintf("object %s (%s old) has no evidence row yet", o.Key, age.Round(time.Second)))
		default:
			rep.Problems = append(rep.Problems, fmt.Sprintf("object %s (%s old) has no evidence row", o.Key, age.Round(time.Second)))
		}
		return nil
	})
	return rep, err
}

func checkObject(ctx context.Context, blobs InvariantBlobs, e Evidence) string {
	rc, _, err := blobs.Get(ctx, e.ObjectKey)
	if errors.Is(err, blob.ErrNotExist) {
		return fmt.Sprintf("evidence %s: object %s missing", e.ID, e.ObjectKey)
	}
	if err != nil {
		return fmt.Sprintf("evidence %s: reading %s: %v", e.ID, e.ObjectKey, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Sprintf("evidence %s: reading %s: %v", e.ID, e.ObjectKey, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.SHA256 || n != e.Size {
		return fmt.Sprintf("evidence %s: object %s has sha256 %s and %d bytes, row says %s and %d", e.ID, e.ObjectKey, got, n, e.SHA256, e.Size)
	}
	return ""
}
