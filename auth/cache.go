package auth

import (
	"sync"
	"time"
)

// expiringCache is a bounded map whose entries each carry the instant they
// stop being served. It backs the verified-token cache of Tokens and the
// user cache of Service: both are read on every authenticated request, so
// a hit takes only a read lock, and nothing runs in the background (time
// is whatever the caller's clock says).
//
// Bound: at most max entries. A put into a full cache first drops the
// expired entries; if that frees nothing, it drops arbitrary entries (Go's
// map order) down to 7/8 of max, so the cost of a sweep is shared by the
// next max/8 puts. An arbitrary victim is as good as the least recently
// used one here: an evicted entry costs one more verification or row
// read, never a wrong answer.
//
// Invalidation: remove advances an epoch; a value read from its
// source before that (begin) is not stored by putSince, so a lookup that
// raced a change cannot put the old state back after the change removed
// it.
type expiringCache[K comparable, V any] struct {
	max int

	mu    sync.RWMutex
	m     map[K]cacheEntry[V]
	epoch uint64
}

type cacheEntry[V any] struct {
	v     V
	until time.Time // served while now is before it
}

func newExpiringCache[K comparable, V any](max int) *expiringCache[K, V] {
	return &expiringCache[K, V]{max: max, m: make(map[K]cacheEntry[V])}
}

// get returns k's value if it is present and now is before its expiry.
func (c *expiringCache[K, V]) get(k K, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// begin returns the epoch to hand to putSince for a value about to be
// read from its source.
func (c *expiringCache[K, V]) begin() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.epoch
}

// put stores v under k until the given instant.
func (c *expiringCache[K, V]) put(k K, v V, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.store(k, v, until, now)
}

// putSince stores v under k unless an entry was removed or the cache
// cleared since epoch was taken with begin; it reports whether it stored.
func (c *expiringCache[K, V]) putSince(epoch uint64, k K, v V, until, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return false
	}
	c.store(k, v, until, now)
	return true
}

func (c *expiringCache[K, V]) store(k K, v V, until, now time.Time) {
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for key, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.max-c.max/8 {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = cacheEntry[V]{v: v, until: until}
}

// remove drops k's entry, and keeps values read before now from being
// stored (putSince).
func (c *expiringCache[K, V]) remove(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.m, k)
}

// len is the number of entries, expired ones included until swept.
func (c *expiringCache[K, V]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
