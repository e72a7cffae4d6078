package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"time"
)

// DefaultDedupWindow is Flux's rate-limit interval for identical events.
const DefaultDedupWindow = 5 * time.Minute

// DedupKey returns the key under which Flux's event server recognizes
// identical events: a SHA-256 (hex) over the involved object's name,
// namespace and kind, the message, and, when present, the object group's
// originRevision, revision and token metadata. Severity, reason, timestamp
// and the reporting controller are not part of it. Bare metadata keys count
// as the object group's (see Normalize).
func DedupKey(e Event) string {
	var b strings.Builder
	b.WriteString("event/name=")
	b.WriteString(e.InvolvedObject.Name)
	b.WriteString("/namespace=")
	b.WriteString(e.InvolvedObject.Namespace)
	b.WriteString("/kind=")
	b.WriteString(e.InvolvedObject.Kind)
	b.WriteString("/message=")
	b.WriteString(e.Message)
	for _, k := range [...]string{MetaOriginRevisionKey, MetaRevisionKey, MetaTokenKey} {
		if v, ok := objectMeta(e, k); ok {
			b.WriteString("/")
			b.WriteString(k)
			b.WriteString("=")
			b.WriteString(v)
		}
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// Deduplicator drops events identical (same DedupKey) to one already let
// through in the current window, as Flux's event server does with its
// rate limiter (which answers 429): windows are counted from the first
// time a key is seen, so the first identical event of each later window
// passes again. Keys idle for two windows are forgotten. Safe for
// concurrent use.
type Deduplicator struct {
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	seen      map[string]*dedupBucket
	lastSweep time.Time
}

type dedupBucket struct {
	start    time.Time
	lastTick int64
}

// NewDeduplicator returns a Deduplicator with the given window
// (DefaultDedupWindow if not positive) and clock (time.Now if nil).
func NewDeduplicator(window time.Duration, now func() time.Time) *Deduplicator {
	if window <= 0 {
		window = DefaultDedupWindow
	}
	if now == nil {
		now = time.Now
	}
	return &Deduplicator{window: window, now: now, seen: make(map[string]*dedupBucket)}
}

// Allow reports whether e passes: true for the first event with its key in
// the current window, false for a duplicate.
func (d *Deduplicator) Allow(e Event) bool {
	return d.AllowKey(DedupKey(e))
}

// AllowKey is Allow for a key computed by DedupKey.
func (d *Deduplicator) AllowKey(key string) bool {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if now.Sub(d.lastSweep) >= d.window {
		d.sweep(now)
	}
	b, ok := d.seen[key]
	if !ok || d.stale(b, now) {
		d.seen[key] = &dedupBucket{start: now}
		return true
	}
	tick := int64(now.Sub(b.start) / d.window)
	if tick > b.lastTick {
		b.lastTick = tick
		return true
	}
	return false
}

// Len returns how many keys are remembered.
func (d *Deduplicator) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.seen)
}

func (d *Deduplicator) stale(b *dedupBucket, now time.Time) bool {
	last := b.start.Add(time.Duration(b.lastTick) * d.window)
	return now.Sub(last) > 2*d.window || now.Before(b.start)
}

func (d *Deduplicator) sweep(now time.Time) {
	for k, b := range d.seen {
		if d.stale(b, now) {
			delete(d.seen, k)
		}
	}
	d.lastSweep = now
}
