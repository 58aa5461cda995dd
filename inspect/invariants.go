package inspect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fieldwatch/fieldwatch/media"
)

// InvariantStore is what the invariant checker reads.
type InvariantStore interface {
	ListEvidence(ctx context.Context, f EvidenceFilter) ([]Evidence, error)
	EvidenceSHA256Exists(ctx context.Context, sha256 string) (bool, error)
}

// InvariantBlobs is what the invariant checker reads of the photo store.
type InvariantBlobs interface {
	Get(ctx context.Context, key string) (io.ReadCloser, media.Object, error)
	List(ctx context.Context, prefix string, fn func(media.Object) error) error
}

// InvariantReport says what CheckInvariants looked at and what it found.
type InvariantReport struct {
	Evidence int      // rows checked
	Objects  int      // evidence objects listed
	Problems []string // one line per violation; empty when all hold
}

// CheckInvariants verifies the promise made to every phone that got a
// 201 (RELIABILITY, "the invariant checker"):
//
//   - every stored evidence row has an object whose recomputed SHA-256 and
//     size equal the row's;
//   - every evidence object has a row (run it after a reconcile pass, which
//     removes orphans older than its grace period).
//
// At most one stored evidence per (uploader, Idempotency-Key) is enforced
// by the submissions table's primary key, so it cannot be violated. It
// reads every object, so it is an operator's and a test's tool, not a
// request-path one.
func CheckInvariants(ctx context.Context, st InvariantStore, blobs InvariantBlobs) (InvariantReport, error) {
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
	err := blobs.List(ctx, "evidence/", func(o media.Object) error {
		rep.Objects++
		sha := o.Key[strings.LastIndexByte(o.Key, '/')+1:]
		ok, err := st.EvidenceSHA256Exists(ctx, sha)
		if err != nil {
			return err
		}
		if !ok {
			rep.Problems = append(rep.Problems, fmt.Sprintf("object %s (%s old) has no evidence row", o.Key, time.Since(o.ModTime).Round(time.Second)))
		}
		return nil
	})
	return rep, err
}

func checkObject(ctx context.Context, blobs InvariantBlobs, e Evidence) string {
	rc, _, err := blobs.Get(ctx, e.ObjectKey)
	if errors.Is(err, media.ErrNotExist) {
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
