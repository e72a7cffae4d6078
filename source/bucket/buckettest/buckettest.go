package buckettest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/gitopskit/gitopskit/source/bucket"
)

// DefaultPageSize is the number of keys per listing page, as S3 serves them.
const DefaultPageSize = 1000

// Provider is an in-memory bucket.Provider. The zero value is an empty
// bucket ready for use; it is safe for concurrent use.
type Provider struct {
	// PageSize is the number of keys per listing page; zero means
	// DefaultPageSize.
	PageSize int
	// Fail, when set, is called before every operation ("list" with the
	// prefix, or "get" with the key); a non-nil error is returned as the
	// operation's error.
	Fail func(op, key string) error

	mu      sync.Mutex
	objects map[string]object
	gets    int
	pages   int
}

type object struct {
	data []byte
	etag string
}

var _ bucket.Provider = (*Provider)(nil)

// New returns a Provider holding the given objects (key → content).
func New(objects map[string]string) *Provider {
	p := &Provider{}
	for k, v := range objects {
		p.Put(k, []byte(v))
	}
	return p
}

// Put stores data under key and returns its ETag: the hex MD5 of the
// content, as S3 gives a single-part upload.
func (p *Provider) Put(key string, data []byte) string {
	sum := md5.Sum(data)
	etag := hex.EncodeToString(sum[:])
	p.PutWithETag(key, data, etag)
	return etag
}

// PutWithETag stores data under key with the given ETag.
func (p *Provider) PutWithETag(key string, data []byte, etag string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.objects == nil {
		p.objects = map[string]object{}
	}
	p.objects[key] = object{data: bytes.Clone(data), etag: etag}
}

// Delete removes key.
func (p *Provider) Delete(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.objects, key)
}

// Gets returns the number of Get calls so far.
func (p *Provider) Gets() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gets
}

// Pages returns the number of listing pages served so far.
func (p *Provider) Pages() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pages
}

// List implements bucket.Provider, page by page in key order.
func (p *Provider) List(ctx context.Context, prefix string, visit func(bucket.Object) error) error {
	size := p.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.Fail != nil {
			if err := p.Fail("list", prefix); err != nil {
				return err
			}
		}
		page, more := p.page(prefix, after, size)
		for _, o := range page {
			if err := visit(o); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		after = page[len(page)-1].Key
	}
}

// page returns up to size objects under prefix after the key after.
func (p *Provider) page(prefix, after string, size int) ([]bucket.Object, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pages++
	keys := make([]string, 0, len(p.objects))
	for k := range p.objects {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	more := len(keys) > size
	if more {
		keys = keys[:size]
	}
	out := make([]bucket.Object, len(keys))
	for i, k := range keys {
		o := p.objects[k]
		out[i] = bucket.Object{Key: k, ETag: o.etag, Size: int64(len(o.data))}
	}
	return out, more
}

// Get implements bucket.Provider. A missing key is an error wrapping
// bucket.ErrObjectNotFound.
func (p *Provider) Get(ctx context.Context, key string) (io.ReadCloser, bucket.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, bucket.Object{}, err
	}
	if p.Fail != nil {
		if err := p.Fail("get", key); err != nil {
			return nil, bucket.Object{}, err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gets++
	o, ok := p.objects[key]
	if !ok {
		return nil, bucket.Object{}, fmt.Errorf("get %q: %w", key, bucket.ErrObjectNotFound)
	}
	return io.NopCloser(bytes.NewReader(o.data)), bucket.Object{Key: key, ETag: o.etag, Size: int64(len(o.data))}, nil
}
