package segments

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
)

const cacheShards = 64

// entry is one cached answer: the decoded profile record (or its absence) and the
// user's frequency counters. Entries are immutable once published, except for
// the refreshing flag. A refresh replaces the entry with a new one, so an
// entry's identity is its version: see replace.
type entry struct {
	rec       record
	fc        []fcCount
	found     bool
	expires   int64 // unix ns
	refreshAt int64 // unix ns; a hit from here on refreshes the entry ahead of expires
	// refreshing is set by the hit that starts a refresh, so at most one is in
	// flight per entry. It is cleared only when the refresh failed or was
	// dropped (the entry stays and a later hit may try again); a refresh that
	// answered leaves it set, since its entry has been replaced or dropped.
	refreshing atomic.Bool
}

// cache is a bounded, sharded in-process cache of lookup answers. A full shard
// samples four entries from a random point (Go's map iteration order) and
// evicts the one expiring first, which keeps bookkeeping off the hit path. Each shard counts invalidations so that an
// answer fetched before an invalidation is not stored after it.
type cache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu    sync.RWMutex
	m     map[string]*entry
	gen   uint64
	limit int
	_     [40]byte // keep shards on separate cache lines
}

func newCache(size int) *cache {
	c := &cache{seed: maphash.MakeSeed()}
	per := max(size/cacheShards, 1)
	for i := range c.shards {
		c.shards[i].m = make(map[string]*entry, min(per, 1024))
		c.shards[i].limit = per
	}
	return c
}

func (c *cache) shard(user string) *cacheShard {
	return &c.shards[maphash.String(c.seed, user)%cacheShards]
}

// get returns the live entry for user, or nil.
func (c *cache) get(user string, now int64) *entry {
	sh := c.shard(user)
	sh.mu.RLock()
	e := sh.m[user]
	sh.mu.RUnlock()
	if e == nil || now >= e.expires {
		return nil
	}
	return e
}

// generation returns the shard's invalidation count, to pass to put.
func (c *cache) generation(user string) uint64 {
	sh := c.shard(user)
	sh.mu.RLock()
	g := sh.gen
	sh.mu.RUnlock()
	return g
}

// put stores e for user unless user's shard saw an invalidation since gen.
func (c *cache) put(user string, gen uint64, e *entry, now int64) {
	sh := c.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen {
		return
	}
	if _, ok := sh.m[user]; !ok && len(sh.m) >= sh.limit {
		// Sample a few entries from a random point and evict the one that
		// expires first (an expired one at once).
		var victim string
		oldest, n := int64(1<<63-1), 0
		for k, v := range sh.m {
			if v.expires < oldest {
				victim, oldest = k, v.expires
			}
			if n++; n == 4 || oldest <= now {
				break
			}
		}
		delete(sh.m, victim)
	}
	// The caller's string may alias a request buffer; the map keeps its own copy.
	sh.m[strings.Clone(user)] = e
}

// replace stores e for user in place of old, and reports whether it did. It
// does not when old is no longer user's entry: an invalidation (or flush)
// removed it, eviction made room with it, or it expired and a miss replaced
// it. Since every invalidation removes the entry it finds, a refresh asked for
// before an invalidation never stores its answer after it. Replacing an entry
// in place keeps the shard's size. user must not alias a request buffer: the
// map keeps it as the key.
func (c *cache) replace(user string, old, e *entry) bool {
	sh := c.shard(user)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[user] != old {
		return false
	}
	sh.m[user] = e
	return true
}

// invalidate drops user's entry and fences off answers already in flight.
func (c *cache) invalidate(user string) {
	sh := c.shard(user)
	sh.mu.Lock()
	delete(sh.m, user)
	sh.gen++
	sh.mu.Unlock()
}

// flush drops every entry.
func (c *cache) flush() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.gen++
		sh.mu.Unlock()
	}
}

// len returns the number of entries, live or expired.
func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
