// Package expiring is the bounded, expiring map behind fieldwatch's
// per-replica caches: the verified-token and user caches of auth and the
// evidence cache of store. It is its own package so that each cache keeps
// one implementation of the bound, the expiry and the guard against a read
// that raced a change, and one set of tests for them.
package expiring

import (
	"sync"
	"time"
)

// Cache is a bounded map whose entries each carry the instant they stop
// being served. Its users read it on every request, so a hit takes only a
// read lock, and nothing runs in the background (time is whatever the
// caller's clock says). It is safe for concurrent use.
//
// Bound: at most max entries. A put into a full cache first drops the
// expired entries; if that frees nothing, it drops arbitrary entries (Go's
// map order) down to 7/8 of max, so the cost of a sweep is shared by the
// next max/8 puts. An arbitrary victim is as good as the least recently
// used one here: an evicted entry costs one more verification or row
// read, never a wrong answer.
//
// Invalidation: Remove advances an epoch; a value read from its
// source before that (Begin) is not stored by PutSince, so a lookup that
// raced a change cannot put the old state back after the change removed
// it.
type Cache[K comparable, V any] struct {
	max int

	mu    sync.RWMutex
	m     map[K]cacheEntry[V]
	epoch uint64
}

type cacheEntry[V any] struct {
	v     V
	until time.Time // served while now is before it
}

// New returns an empty cache of at most size entries (at least 1).
func New[K comparable, V any](size int) *Cache[K, V] {
	return &Cache[K, V]{max: max(size, 1), m: make(map[K]cacheEntry[V])}
}

// Get returns k's value if it is present and now is before its expiry.
func (c *Cache[K, V]) Get(k K, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Begin returns the epoch to hand to PutSince for a value about to be
// read from its source.
func (c *Cache[K, V]) Begin() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.epoch
}

// Put stores v under k until the given instant.
func (c *Cache[K, V]) Put(k K, v V, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.store(k, v, until, now)
}

// PutSince stores v under k unless an entry was removed or the cache
// cleared since epoch was taken with Begin; it reports whether it stored.
func (c *Cache[K, V]) PutSince(epoch uint64, k K, v V, until, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return false
	}
	c.store(k, v, until, now)
	return true
}

func (c *Cache[K, V]) store(k K, v V, until, now time.Time) {
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

// Remove drops k's entry, and keeps values read before now from being
// stored (PutSince).
func (c *Cache[K, V]) Remove(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.m, k)
}

// Len is the number of entries, expired ones included until swept.
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
