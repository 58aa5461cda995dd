package fieldwatch

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// AuditEvent is one entry of the tamper-evident audit trail. Entries are
// hash-chained: each Hash covers the previous entry's Hash and this
// entry's fields, so changing or removing any entry breaks every later
// link, and a verifier can name the first broken one.
type AuditEvent struct {
	Seq        int64     // position in the chain, assigned by the store
	At         time.Time // UTC
	ActorID    string    // user id, "" for the system
	Action     string    // e.g. "evidence.relink"
	ObjectType string    // e.g. "evidence"
	ObjectID   string
	Data       []byte // JSON: what changed (old and new)
	PrevHash   []byte
	Hash       []byte
}

// ChainHash is the hash of e linked after prev: SHA-256 over prev and the
// length-prefixed fields, so no two different events encode alike.
func (e AuditEvent) ChainHash(prev []byte) []byte {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field(prev)
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], uint64(e.Seq))
	field(seq[:])
	field([]byte(e.At.UTC().Format(time.RFC3339Nano)))
	field([]byte(e.ActorID))
	field([]byte(e.Action))
	field([]byte(e.ObjectType))
	field([]byte(e.ObjectID))
	field(e.Data)
	return h.Sum(nil)
}

// AuditFilter selects audit events for a listing, in chain (seq) order.
// Nil fields do not filter; filters combine with AND.
type AuditFilter struct {
	After      int64 // only events with a larger Seq (keyset pagination)
	Action     *string
	ObjectType *string
	ObjectID   *string
	ActorID    *string    // "" selects the system's events
	From, To   *time.Time // At in [From, To)
	Limit      int
}
