package helm

import (
	"container/list"
	"strconv"
	"sync"
	"time"
)

// IndexCache keeps parsed indexes in memory for a while, as Flux's
// --helm-cache-max-size and --helm-cache-ttl do. It is safe for
// concurrent use; share one among the Repositories of a process.
type IndexCache struct {
	ttl     time.Duration
	max     int
	now     func() time.Time
	mu      sync.Mutex
	lru     *list.List
	entries map[string]*list.Element
}

type cacheEntry struct {
	key     string
	ix      *Index
	expires time.Time
}

// CacheOptions configure an IndexCache. The zero value keeps 10 indexes
// for 15 minutes.
type CacheOptions struct {
	// TTL is how long an index is served from the cache; 0 means 15
	// minutes.
	TTL time.Duration
	// MaxEntries bounds the cached indexes; the least recently used goes
	// first. 0 means 10.
	MaxEntries int
	// Now replaces the clock (tests); nil means time.Now.
	Now func() time.Time
}

// NewIndexCache returns an empty cache.
func NewIndexCache(opts CacheOptions) *IndexCache {
	c := &IndexCache{ttl: opts.TTL, max: opts.MaxEntries, now: opts.Now, lru: list.New(), entries: map[string]*list.Element{}}
	if c.ttl <= 0 {
		c.ttl = 15 * time.Minute
	}
	if c.max <= 0 {
		c.max = 10
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Len returns the number of indexes held, expired ones included until
// they are next looked up or pushed out.
func (c *IndexCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// Invalidate drops the index of repository URL u held for any
// credentials.
func (c *IndexCache) Invalidate(u string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, el := range c.entries {
		if k == trimSlash(u) || len(k) > len(trimSlash(u)) && k[:len(trimSlash(u))+1] == trimSlash(u)+"#" {
			c.lru.Remove(el)
			delete(c.entries, k)
		}
	}
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

func (c *IndexCache) get(key string) (*Index, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, key)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e.ix, true
}

func (c *IndexCache) put(key string, ix *Index) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		el.Value = &cacheEntry{key: key, ix: ix, expires: c.now().Add(c.ttl)}
		c.lru.MoveToFront(el)
		return
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, ix: ix, expires: c.now().Add(c.ttl)})
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*cacheEntry).key)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
