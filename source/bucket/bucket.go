package bucket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source"
)

// Defaults for Bucket's zero values.
const (
	// DefaultWorkers is the number of parallel downloads when
	// Bucket.Workers is zero.
	DefaultWorkers = 8
	// DefaultMaxObjects caps the objects listed under the prefix.
	DefaultMaxObjects = 100_000
	// DefaultMaxSize caps the bytes downloaded by one Fetch (1 GiB).
	DefaultMaxSize = 1 << 30
	// DefaultMaxObjectSize caps the bytes of one object (256 MiB).
	DefaultMaxObjectSize = 256 << 20
)

// maxIgnoreObjectSize caps the `.sourceignore` object.
const maxIgnoreObjectSize = 1 << 20

// Limits caps what one Fetch accepts. Zero fields take the defaults above;
// a negative field lifts its cap. A bucket over a cap fails with an error
// wrapping ErrLimit, found from the listing before anything is downloaded
// when the listing tells sizes, and enforced on the bytes received too.
type Limits struct {
	// MaxObjects caps the number of objects listed under the prefix,
	// ignored ones included (each costs memory while the index is built).
	MaxObjects int
	// MaxSize caps the total bytes downloaded.
	MaxSize int64
	// MaxObjectSize caps the bytes of each object.
	MaxObjectSize int64
}

func (l Limits) objects() int      { return pick(l.MaxObjects, DefaultMaxObjects) }
func (l Limits) size() int64       { return pick(l.MaxSize, DefaultMaxSize) }
func (l Limits) objectSize() int64 { return pick(l.MaxObjectSize, DefaultMaxObjectSize) }
func pick[T int | int64](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return -1
	}
	return v
}

// Bucket is an object-storage source, Flux's Bucket: configure it, then
// call Fetch. It implements source.Fetcher. A Bucket remembers the
// patterns of the bucket's `.sourceignore` object between calls (keyed by
// its ETag), so it must not be copied after first use; it is safe for
// concurrent use.
type Bucket struct {
	// Provider lists and downloads the objects (see NewS3). Required.
	Provider Provider
	// Prefix restricts the fetch to keys starting with it, as a Flux
	// Bucket's spec.prefix does. Keys keep their prefix in the tree and
	// in the revision.
	Prefix string
	// Ignore holds extra patterns in gitignore syntax, scoped to the
	// bucket's root, as a Flux Bucket's spec.ignore; "" adds none.
	Ignore string
	// Workers bounds the parallel downloads; zero means DefaultWorkers.
	Workers int
	// Limits caps objects and bytes; the zero value takes the defaults.
	Limits Limits

	mu         sync.Mutex
	ignoreETag string
	ignoreText string
}

var _ source.Fetcher = (*Bucket)(nil)

// Fetch lists the objects under Prefix, computes the revision and, unless
// it equals last, downloads the objects into dir (which must be empty or
// absent), each at its key's path.
//
// The revision is Flux's: "sha256:<hex>" of the index of key→ETag lines
// ("<key> <etag>\n", keys sorted), over the listed objects less directory
// markers (keys ending in "/"), the `.sourceignore` object at the bucket's
// root and the keys its patterns and Ignore exclude. When it equals last,
// Fetch returns source.ErrUnchanged (with the Snapshot's Revision set)
// and downloads no object. Of the indexed objects, those that artifact's
// rules exclude from an artifact anyway (the VCS patterns, and when
// neither `.sourceignore` nor Ignore give a pattern, the default
// exclusions; see artifact.NewIgnoreFilter) are not downloaded. The root
// `.sourceignore` is written into dir, where artifact applies it again.
//
// An object that disappears between the listing and its download is left
// out, and one whose ETag changed is indexed with its new ETag, as in
// Flux; the returned revision reflects both.
//
// Every indexed key is checked before anything is downloaded: a key that
// is not a plain relative path below dir fails the fetch with an error
// wrapping ErrUnsafeKey that names it.
func (b *Bucket) Fetch(ctx context.Context, dir, last string) (source.Snapshot, error) {
	if b.Provider == nil {
		return source.Snapshot{}, b.errorf("fetch", "", source.ErrInvalid, "no provider")
	}
	if b.Workers < 0 {
		return source.Snapshot{}, b.errorf("fetch", "", source.ErrInvalid, "Workers is negative")
	}
	if _, err := artifact.ParseIgnore(b.Ignore, ""); err != nil {
		return source.Snapshot{}, b.errorf("fetch", "", source.ErrInvalid, "ignore patterns: %v", err)
	}
	if dir == "" {
		return source.Snapshot{}, b.errorf("fetch", "", source.ErrInvalid, "the destination directory is not named")
	}

	listed, ignoreObj, err := b.list(ctx)
	if err != nil {
		return source.Snapshot{}, err
	}
	ignoreText := ""
	if ignoreObj != nil {
		if ignoreText, err = b.ignorePatterns(ctx, *ignoreObj); err != nil {
			return source.Snapshot{}, err
		}
	}
	fluxIgnore, err := artifact.ParseIgnore(ignoreText+"\n"+b.Ignore, "")
	if err != nil {
		return source.Snapshot{}, b.errorf("fetch", artifact.IgnoreFile, source.ErrInvalid, "%v", err)
	}
	index := make(map[string]Object, len(listed))
	for _, o := range listed {
		if fluxIgnore.Match(o.Key, false) {
			continue
		}
		if why := checkKey(o.Key); why != "" {
			return source.Snapshot{}, b.errorf("fetch", o.Key, ErrUnsafeKey, "%s", why)
		}
		index[o.Key] = o
	}
	rev := Revision(etags(index))
	if last != "" && source.RevisionsEqual(last, rev) {
		return source.Snapshot{Revision: rev}, source.ErrUnchanged
	}

	if err := prepareDir(dir); err != nil {
		return source.Snapshot{}, b.errorf("write", "", source.ErrInvalid, "%v", err)
	}
	if ignoreObj != nil {
		if err := os.WriteFile(filepath.Join(dir, artifact.IgnoreFile), []byte(ignoreText), 0o644); err != nil {
			return source.Snapshot{}, b.errorf("write", artifact.IgnoreFile, nil, "%v", err)
		}
	}
	filter, err := artifact.NewIgnoreFilter(dir, b.Ignore)
	if err != nil {
		return source.Snapshot{}, b.errorf("fetch", "", source.ErrInvalid, "%v", err)
	}
	var (
		todo  []Object
		total int64
	)
	for _, o := range index {
		if filter.Match(o.Key, false) {
			continue
		}
		if max := b.Limits.objectSize(); max >= 0 && o.Size > max {
			return source.Snapshot{}, b.errorf("fetch", o.Key, ErrLimit, "object of %d bytes is over the cap of %d bytes", o.Size, max)
		}
		if o.Size > 0 {
			total += o.Size
		}
		todo = append(todo, o)
	}
	if max := b.Limits.size(); max >= 0 && total > max {
		return source.Snapshot{}, b.errorf("fetch", "", ErrLimit, "%d objects of %d bytes in all are over the cap of %d bytes", len(todo), total, max)
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].Key < todo[j].Key })
	if err := b.download(ctx, dir, todo, index); err != nil {
		return source.Snapshot{}, err
	}
	return source.Snapshot{Revision: Revision(etags(index))}, nil
}

// list returns the objects under the prefix, less directory markers and
// the root `.sourceignore`, and that object if it exists.
func (b *Bucket) list(ctx context.Context) ([]Object, *Object, error) {
	var (
		listed    []Object
		ignoreObj *Object
		max       = b.Limits.objects()
	)
	err := b.Provider.List(ctx, b.Prefix, func(o Object) error {
		if !strings.HasPrefix(o.Key, b.Prefix) {
			return b.errorf("list", o.Key, ErrUnsafeKey, "the listing returned a key outside prefix %q", b.Prefix)
		}
		switch {
		case strings.HasSuffix(o.Key, "/"):
			return nil
		case o.Key == artifact.IgnoreFile:
			ignoreObj = &o
			return nil
		}
		if max >= 0 && len(listed) >= max {
			return b.errorf("list", "", ErrLimit, "more than %d objects under prefix %q", max, b.Prefix)
		}
		listed = append(listed, o)
		return nil
	})
	if err != nil {
		return nil, nil, b.wrap("list", "", err)
	}
	if b.Prefix != "" && !strings.HasPrefix(artifact.IgnoreFile, b.Prefix) {
		// The ignore file lives at the bucket's root, outside the prefix.
		err := b.Provider.List(ctx, artifact.IgnoreFile, func(o Object) error {
			if o.Key == artifact.IgnoreFile {
				ignoreObj = &o
			}
			return nil
		})
		if err != nil {
			return nil, nil, b.wrap("list", artifact.IgnoreFile, err)
		}
	}
	return listed, ignoreObj, nil
}

// ignorePatterns returns the content of the `.sourceignore` object,
// downloading it only when its ETag differs from the one remembered.
func (b *Bucket) ignorePatterns(ctx context.Context, o Object) (string, error) {
	b.mu.Lock()
	if o.ETag != "" && o.ETag == b.ignoreETag {
		text := b.ignoreText
		b.mu.Unlock()
		return text, nil
	}
	b.mu.Unlock()
	rc, got, err := b.Provider.Get(ctx, o.Key)
	if errors.Is(err, ErrObjectNotFound) {
		return "", nil
	}
	if err != nil {
		return "", b.wrap("get", o.Key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxIgnoreObjectSize+1))
	if err != nil {
		return "", b.wrap("get", o.Key, err)
	}
	if len(data) > maxIgnoreObjectSize {
		return "", b.errorf("get", o.Key, ErrLimit, "over the cap of %d bytes", maxIgnoreObjectSize)
	}
	text := string(data)
	if _, err := artifact.ParseIgnore(text, ""); err != nil {
		return "", b.errorf("get", o.Key, source.ErrInvalid, "%v", err)
	}
	b.mu.Lock()
	b.ignoreETag, b.ignoreText = got.ETag, text
	b.mu.Unlock()
	return text, nil
}

// download fetches todo into dir with bounded parallelism, updating index
// for objects that changed or disappeared meanwhile.
func (b *Bucket) download(ctx context.Context, dir string, todo []Object, index map[string]Object) error {
	workers := b.Workers
	if workers == 0 {
		workers = DefaultWorkers
	}
	workers = min(workers, max(len(todo), 1))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		total    atomic.Int64
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(todo) || ctx.Err() != nil {
					return
				}
				o := todo[i]
				got, err := b.getObject(ctx, dir, o, &total)
				mu.Lock()
				switch {
				case errors.Is(err, ErrObjectNotFound):
					delete(index, o.Key)
					err = nil
				case err == nil && got.ETag != o.ETag:
					index[o.Key] = Object{Key: o.Key, ETag: got.ETag, Size: got.Size}
				}
				mu.Unlock()
				if err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = b.wrap("get", "", ctx.Err())
	}
	return firstErr
}

// getObject writes one object below dir and returns its description.
func (b *Bucket) getObject(ctx context.Context, dir string, o Object, total *atomic.Int64) (Object, error) {
	maxObj, maxAll := b.Limits.objectSize(), b.Limits.size()
	rc, got, err := b.Provider.Get(ctx, o.Key)
	if err != nil {
		return Object{}, b.wrap("get", o.Key, err)
	}
	defer rc.Close()
	if maxObj >= 0 && got.Size > maxObj {
		return Object{}, b.errorf("get", o.Key, ErrLimit, "object of %d bytes is over the cap of %d bytes", got.Size, maxObj)
	}
	path := filepath.Join(dir, filepath.FromSlash(o.Key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return Object{}, b.errorf("write", o.Key, nil, "%v", relErr(dir, err))
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return Object{}, b.errorf("write", o.Key, nil, "%v", relErr(dir, err))
	}
	r := io.Reader(rc)
	if maxObj >= 0 {
		r = io.LimitReader(rc, maxObj+1)
	}
	n, err := io.Copy(f, &countingReader{r: r, total: total, max: maxAll})
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	switch {
	case errors.Is(err, errTotal):
		return Object{}, b.errorf("get", o.Key, ErrLimit, "the objects are over the cap of %d bytes in all", maxAll)
	case err != nil:
		return Object{}, b.wrap("get", o.Key, err)
	case maxObj >= 0 && n > maxObj:
		return Object{}, b.errorf("get", o.Key, ErrLimit, "object is over the cap of %d bytes", maxObj)
	}
	got.Key = o.Key
	return got, nil
}

var errTotal = errors.New("total size cap")

// countingReader adds what it reads to a shared total and fails once the
// total passes max (unless max is negative).
type countingReader struct {
	r     io.Reader
	total *atomic.Int64
	max   int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if t := c.total.Add(int64(n)); c.max >= 0 && t > c.max {
		return n, errTotal
	}
	return n, err
}

// relErr shortens the paths in a file-system error to their part below
// dir.
func relErr(dir string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		if rel, rerr := filepath.Rel(dir, pe.Path); rerr == nil {
			return fmt.Errorf("%s %s: %w", pe.Op, filepath.ToSlash(rel), pe.Err)
		}
	}
	return err
}

// prepareDir creates dir or checks that it is empty.
func prepareDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("destination directory %q is not empty", dir)
	}
	return nil
}

// etags returns the key→ETag index of objects.
func etags(objects map[string]Object) map[string]string {
	out := make(map[string]string, len(objects))
	for k, o := range objects {
		out[k] = o.ETag
	}
	return out
}

// Revision returns the revision of a key→ETag index as Flux computes it:
// "sha256:<hex>" of the lines "<key> <etag>\n" in sorted key order. The
// empty index has the digest of the empty string.
func Revision(index map[string]string) string {
	keys := make([]string, 0, len(index))
	for k := range index {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		io.WriteString(h, k)
		io.WriteString(h, " ")
		io.WriteString(h, index[k])
		io.WriteString(h, "\n")
	}
	return source.FormatRevision("", source.SHA256, hex.EncodeToString(h.Sum(nil)))
}

// bucketName names the bucket for errors: the provider's description when
// it has one.
func (b *Bucket) bucketName() string {
	if s, ok := b.Provider.(fmt.Stringer); ok {
		return s.String()
	}
	return ""
}

// errorf builds an *Error.
func (b *Bucket) errorf(op, key string, kind error, format string, args ...any) *Error {
	return &Error{Origin: origin, Op: op, Subject: b.bucketName(), Key: key, Kind: kind,
		Detail: source.RedactDetail(nil, fmt.Sprintf(format, args...))}
}

// wrap passes an *Error through and wraps any other error in one.
func (b *Bucket) wrap(op, key string, err error) error {
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	e := &Error{Origin: origin, Op: op, Subject: b.bucketName(), Key: key, Detail: source.RedactDetail(nil, err.Error())}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		e.Kind, e.Cause = source.ErrNetwork, err
	case errors.Is(err, ErrObjectNotFound):
		e.Kind = ErrObjectNotFound
	case errors.Is(err, source.ErrAuth):
		e.Kind = source.ErrAuth
	case errors.Is(err, source.ErrNotFound):
		e.Kind = source.ErrNotFound
	case errors.Is(err, source.ErrNetwork):
		e.Kind = source.ErrNetwork
	}
	return e
}
