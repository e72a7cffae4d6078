package artifact

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/gitopskit/gitopskit/source"
)

// Default retention applied by Store.GarbageCollect, the same as Flux's
// source-controller defaults.
const (
	// DefaultRetentionRecords is how many artifacts per object are kept.
	DefaultRetentionRecords = 2
	// DefaultRetentionTTL is how long a superseded artifact is kept.
	DefaultRetentionTTL = 60 * time.Second
)

// tempPrefix marks files being written; they are never served and are only
// collected once older than the retention TTL.
const tempPrefix = ".tmp-"

// ErrNotFound is returned when an artifact does not exist (in a store, or
// on the server it is fetched from).
var ErrNotFound = errors.New("artifact not found")

// Store keeps artifacts as files under a root directory, at
// `<kind>/<namespace>/<name>/<file>`. It is safe for concurrent use: the
// writes, removals and garbage collections of one object are serialised by
// a per-object lock, and writes are atomic (a reader sees either the old or
// the new file).
//
// Every path is validated (see ErrInvalidPath) and every file operation
// goes through an os.Root of the store directory, opening one path
// component at a time: a symbolic link planted in the store is never
// followed, so no operation writes, reads or deletes outside the root.
type Store struct {
	root    string
	baseURL string
	records int
	ttl     time.Duration
	now     func() time.Time

	mu    sync.Mutex
	locks map[string]*pathLock

	// gz keeps compressors between the archives the Store packs.
	gz gzipWriters
}

type pathLock struct {
	mu   sync.Mutex
	refs int
}

// StoreOption configures a Store. An invalid option makes NewStore fail
// with an error wrapping ErrInvalidOption.
type StoreOption func(*Store) error

// WithRetention sets how many artifacts per object GarbageCollect keeps
// (records) and how long superseded ones may live (ttl). A zero value keeps
// DefaultRetentionRecords or DefaultRetentionTTL; a negative one is
// invalid.
func WithRetention(records int, ttl time.Duration) StoreOption {
	return func(s *Store) error {
		if records < 0 {
			return fmt.Errorf("retention records %d is negative: %w", records, ErrInvalidOption)
		}
		if ttl < 0 {
			return fmt.Errorf("retention TTL %v is negative: %w", ttl, ErrInvalidOption)
		}
		if records > 0 {
			s.records = records
		}
		if ttl > 0 {
			s.ttl = ttl
		}
		return nil
	}
}

// WithClock replaces time.Now, for tests of retention; a nil now is
// invalid.
func WithClock(now func() time.Time) StoreOption {
	return func(s *Store) error {
		if now == nil {
			return fmt.Errorf("clock is nil: %w", ErrInvalidOption)
		}
		s.now = now
		return nil
	}
}

// NewStore returns a Store rooted at the existing directory root whose
// artifacts are downloadable under baseURL (for example
// "http://source-controller.flux-system.svc"; a bare host name gets
// "http://"). baseURL may be empty when URLs are not needed. An invalid
// option is an error wrapping ErrInvalidOption.
func NewStore(root, baseURL string, opts ...StoreOption) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("artifact store: root %s is not a directory", abs)
	}
	if baseURL != "" {
		if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
			baseURL = "http://" + baseURL
		}
		u, err := url.Parse(baseURL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("artifact store: base URL %q is not an http(s) URL with a host", redactURL(baseURL))
		}
		baseURL = strings.TrimRight(baseURL, "/")
	}
	s := &Store{
		root:    abs,
		baseURL: baseURL,
		records: DefaultRetentionRecords,
		ttl:     DefaultRetentionTTL,
		now:     time.Now,
		locks:   map[string]*pathLock{},
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(s); err != nil {
			return nil, fmt.Errorf("artifact store: %w", err)
		}
	}
	return s, nil
}

// Root returns the absolute store directory.
func (s *Store) Root() string { return s.root }

// NewArtifact returns the Artifact for the file filename of the object
// key, with Path, URL and Revision set; it writes nothing (and validates
// nothing: the store refuses an invalid path when it is used).
func (s *Store) NewArtifact(key ObjectKey, revision, filename string) Artifact {
	p := key.ArtifactPath(filename)
	return Artifact{Path: p, URL: s.URLFor(p), Revision: revision}
}

// URLFor returns the download URL of the store path p, or "" when the store
// has no base URL.
func (s *Store) URLFor(p string) string {
	if s.baseURL == "" {
		return ""
	}
	return s.baseURL + "/" + strings.TrimLeft(p, "/")
}

// LocalPath returns the file name behind a, refusing any path that is not
// `<kind>/<namespace>/<name>/<file>` with valid segments (see
// ErrInvalidPath), so the result always lies inside the store root. It is
// a lexical check only: to read the file, use Open, which also refuses
// symbolic links planted in the store.
func (s *Store) LocalPath(a Artifact) (string, error) {
	sp, err := parseStorePath(a.Path)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.root, sp.key.kind, sp.key.namespace, sp.key.name, sp.file), nil
}

// lockObject serialises the writes, removals and garbage collections of
// one object's directory within this Store; call the returned function to
// release it.
func (s *Store) lockObject(k objectDir) func() {
	key := k.dir()
	s.mu.Lock()
	l := s.locks[key]
	if l == nil {
		l = &pathLock{}
		s.locks[key] = l
	}
	l.refs++
	s.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(s.locks, key)
		}
		s.mu.Unlock()
	}
}

// openObject opens the directory of k's artifacts as an os.Root (see
// openDirs), creating it when create is set.
func (s *Store) openObject(k objectDir, create bool) (*os.Root, error) {
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
	}
	defer root.Close()
	return openDirs(root, k.parts(), create)
}

// Archive packs dir (see Pack) into the file at a.Path, replacing it
// atomically, and returns a with Digest, Size and LastUpdateTime set.
func (s *Store) Archive(ctx context.Context, a Artifact, dir string, opts PackOptions) (Artifact, error) {
	var res PackResult
	out, err := s.write(ctx, a, func(w io.Writer) error {
		var err error
		res, err = pack(ctx, w, dir, opts, &s.gz)
		return err
	})
	if err != nil {
		return a, err
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("archived artifact", "path", out.Path, "digest", out.Digest, "files", res.Files, "size", out.Size)
	return out, nil
}

// Put stores everything read from r as the file at a.Path, replacing it
// atomically (readers see the old or the new content, never a mix), and
// returns a with Digest, Size and LastUpdateTime set.
func (s *Store) Put(ctx context.Context, a Artifact, r io.Reader) (Artifact, error) {
	return s.write(ctx, a, func(w io.Writer) error {
		_, err := io.Copy(w, ctxReader{ctx: ctx, r: r})
		return err
	})
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

// ArchiveSnapshot packs dir, the tree a source fetched as snap, into a
// content-addressed file of the object key (`<sha256 hex of the
// archive>.tar.gz`), so an unchanged tree maps to the same file and URL.
// The artifact carries the snapshot's revision and a copy of its metadata.
func (s *Store) ArchiveSnapshot(ctx context.Context, key ObjectKey, dir string, snap source.Snapshot, opts PackOptions) (Artifact, error) {
	a, _, err := s.archiveSnapshot(ctx, key, dir, snap, opts)
	return a, err
}

// archiveSnapshot is ArchiveSnapshot, also returning what Pack wrote.
func (s *Store) archiveSnapshot(ctx context.Context, key ObjectKey, dir string, snap source.Snapshot, opts PackOptions) (Artifact, PackResult, error) {
	var res PackResult
	a, err := s.storeSnapshot(ctx, key, snap, ".tar.gz", func(w io.Writer) error {
		var err error
		res, err = pack(ctx, w, dir, opts, &s.gz)
		return err
	})
	if err != nil {
		return a, res, err
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("archived snapshot", "path", a.Path, "revision", a.Revision, "digest", a.Digest, "files", res.Files)
	return a, res, nil
}

// storeSnapshot writes what fill writes into a content-addressed file of the
// object key (`<sha256 hex>` plus ext) carrying snap's revision and a copy
// of its metadata.
func (s *Store) storeSnapshot(ctx context.Context, key ObjectKey, snap source.Snapshot, ext string, fill func(io.Writer) error) (Artifact, error) {
	if _, err := source.ParseRevision(snap.Revision); err != nil {
		return Artifact{}, fmt.Errorf("artifact store: snapshot revision: %w", err)
	}
	a := s.NewArtifact(key, snap.Revision, "pending"+ext)
	if len(snap.Metadata) > 0 {
		a.Metadata = make(map[string]string, len(snap.Metadata))
		for k, v := range snap.Metadata {
			a.Metadata[k] = v
		}
	}
	return s.writeNamed(ctx, a, fill, func(digest string) string {
		return strings.TrimPrefix(digest, "sha256:") + ext
	})
}

func (s *Store) write(ctx context.Context, a Artifact, fill func(io.Writer) error) (Artifact, error) {
	return s.writeNamed(ctx, a, fill, nil)
}

// writeNamed writes through a temporary file in the object's directory,
// holding the object's lock so garbage collection and removal of that
// directory wait for it; when rename is set, the final file name is derived
// from the content digest. Every file operation goes through an os.Root of
// the object's directory: a symbolic link planted in the store is neither
// followed nor written through (the rename replaces a link at the target
// name instead).
func (s *Store) writeNamed(ctx context.Context, a Artifact, fill func(io.Writer) error, rename func(digest string) string) (_ Artifact, err error) {
	sp, err := parseStorePath(a.Path)
	if err != nil {
		return a, err
	}
	if err := ctx.Err(); err != nil {
		return a, err
	}
	unlock := s.lockObject(sp.key)
	defer unlock()
	dir, err := s.openObject(sp.key, true)
	if err != nil {
		return a, fmt.Errorf("artifact store: writing %s: %w", sp, err)
	}
	defer dir.Close()
	tmp, tmpName, err := createTemp(dir, tempPrefix+truncateName(sp.file, 64)+"-")
	if err != nil {
		return a, fmt.Errorf("artifact store: writing %s: %w", sp, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = dir.Remove(tmpName)
		}
	}()
	d, _ := NewDigester("sha256")
	bw := bufio.NewWriterSize(tmp, 256<<10)
	cw := &countWriter{w: io.MultiWriter(bw, d)}
	if err := fill(cw); err != nil {
		return a, fmt.Errorf("artifact store: writing %s: %w", sp, err)
	}
	if err := bw.Flush(); err != nil {
		return a, fmt.Errorf("artifact store: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		return a, fmt.Errorf("artifact store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return a, fmt.Errorf("artifact store: %w", err)
	}
	a.Digest = d.Digest()
	file := sp.file
	if rename != nil {
		file = rename(a.Digest)
		if err := validateFile(file); err != nil {
			return a, fmt.Errorf("artifact store: %w", err)
		}
		a.Path = sp.key.dir() + "/" + file
		a.URL = ""
	}
	if err := dir.Rename(tmpName, file); err != nil {
		return a, fmt.Errorf("artifact store: %w", err)
	}
	a.Size = cw.n
	a.LastUpdateTime = s.now().UTC().Truncate(time.Second)
	if a.URL == "" {
		a.URL = s.URLFor(a.Path)
	}
	return a, nil
}

// createTemp creates a new file named prefix plus a random suffix in dir.
func createTemp(dir *os.Root, prefix string) (*os.File, string, error) {
	for range 100 {
		name := prefix + rand.Text()
		f, err := dir.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", fmt.Errorf("creating a temporary file: %w", fs.ErrExist)
}

// truncateName shortens a file name to at most n bytes.
func truncateName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Exists reports whether a's file is present as a regular file.
func (s *Store) Exists(a Artifact) bool {
	sp, err := parseStorePath(a.Path)
	if err != nil {
		return false
	}
	dir, err := s.openObject(sp.key, false)
	if err != nil {
		return false
	}
	defer dir.Close()
	fi, err := dir.Lstat(sp.file)
	return err == nil && fi.Mode().IsRegular()
}

// Open opens a's file for reading. A missing file is ErrNotFound; so is
// anything at that path that is not a regular file (a symbolic link is
// never followed).
func (s *Store) Open(a Artifact) (*os.File, error) {
	sp, err := parseStorePath(a.Path)
	if err != nil {
		return nil, err
	}
	return s.open(sp)
}

func (s *Store) open(sp storePath) (*os.File, error) {
	dir, err := s.openObject(sp.key, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, sp)
	}
	if err != nil {
		return nil, fmt.Errorf("artifact store: opening %s: %w", sp, err)
	}
	defer dir.Close()
	fi, err := dir.Lstat(sp.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, sp)
	}
	if err != nil {
		return nil, fmt.Errorf("artifact store: opening %s: %w", sp, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrNotFound, sp)
	}
	f, err := dir.Open(sp.file)
	if err != nil {
		return nil, fmt.Errorf("artifact store: opening %s: %w", sp, err)
	}
	// The file opened must be the one inspected, not a link swapped in.
	if ofi, err := f.Stat(); err != nil || !os.SameFile(fi, ofi) {
		f.Close()
		return nil, fmt.Errorf("%w: %s changed while being opened", ErrNotFound, sp)
	}
	return f, nil
}

// Verify checks that a's file has a.Digest. A mismatch is a
// *DigestMismatchError.
func (s *Store) Verify(a Artifact) error {
	if a.Digest == "" {
		return fmt.Errorf("%w: artifact %s has no digest", ErrInvalidDigest, a.Path)
	}
	f, err := s.Open(a)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := VerifyDigest(f, a.Digest); err != nil {
		return fmt.Errorf("artifact %s: %w", a.Path, err)
	}
	return nil
}

// Remove deletes a's file; a missing file is not an error. A symbolic link
// at that path is removed itself, never its target.
func (s *Store) Remove(a Artifact) error {
	sp, err := parseStorePath(a.Path)
	if err != nil {
		return err
	}
	unlock := s.lockObject(sp.key)
	defer unlock()
	dir, err := s.openObject(sp.key, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("artifact store: removing %s: %w", sp, err)
	}
	defer dir.Close()
	fi, err := dir.Lstat(sp.file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && fi.IsDir() {
		return fmt.Errorf("artifact store: removing %s: is a directory: %w", sp, ErrInvalidPath)
	}
	if err == nil {
		err = dir.Remove(sp.file)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("artifact store: removing %s: %w", sp, err)
	}
	return nil
}

// RemoveAll deletes every artifact of the object key: the directory
// `<lower-cased kind>/<namespace>/<name>` and all it holds. The path is
// derived from the key only, each field validated as a single path segment
// (see ObjectKey.Validate: kind: ASCII letters; namespace: a DNS-1123
// label; name: a DNS-1123 subdomain), never from an artifact path, so no
// input can widen the deletion beyond that one object; an invalid value is
// an error wrapping ErrInvalidPath and deletes nothing. Nothing stored for
// the object is not an error. A symbolic link on the way is refused, not
// followed.
func (s *Store) RemoveAll(key ObjectKey) error {
	k, err := newObjectDir(key.Kind, key.Namespace, key.Name)
	if err != nil {
		return fmt.Errorf("artifact store: remove all: %w", err)
	}
	unlock := s.lockObject(k)
	defer unlock()
	root, err := os.OpenRoot(s.root)
	if err != nil {
		return fmt.Errorf("artifact store: %w", err)
	}
	defer root.Close()
	parent, err := openDirs(root, []string{k.kind, k.namespace}, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("artifact store: removing %s: %w", k.dir(), err)
	}
	defer parent.Close()
	if err := parent.RemoveAll(k.name); err != nil {
		return fmt.Errorf("artifact store: removing %s: %w", k.dir(), err)
	}
	return nil
}

// GarbageCollect deletes superseded files next to current (the same
// object's directory): every file older than the retention TTL, then the
// oldest ones until at most the retention record count remain. current is
// never deleted. It holds the object's lock, so it never runs while a file
// of the same object is being written. It returns the store paths it
// removed.
func (s *Store) GarbageCollect(ctx context.Context, current Artifact) ([]string, error) {
	sp, err := parseStorePath(current.Path)
	if err != nil {
		return nil, err
	}
	unlock := s.lockObject(sp.key)
	defer unlock()
	dir, err := s.openObject(sp.key, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("artifact store: garbage collection: %w", err)
	}
	defer dir.Close()
	entries, err := readDir(dir)
	if err != nil {
		return nil, fmt.Errorf("artifact store: garbage collection: %w", err)
	}
	type file struct {
		name string
		mod  time.Time
	}
	now := s.now()
	var files []file
	var garbage []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := dir.Lstat(e.Name())
		if err != nil || !fi.Mode().IsRegular() {
			continue // removed or replaced meanwhile
		}
		if strings.HasPrefix(e.Name(), ".") {
			// Temporary files of a crashed writer; live writers hold
			// the lock. They are still left alone until stale.
			if strings.HasPrefix(e.Name(), tempPrefix) && now.Sub(fi.ModTime()) > s.ttl {
				garbage = append(garbage, e.Name())
			}
			continue
		}
		if e.Name() == sp.file {
			continue
		}
		files = append(files, file{e.Name(), fi.ModTime()})
	}
	// Newest first; the current artifact takes one of the kept records.
	sort.Slice(files, func(i, j int) bool {
		if !files[i].mod.Equal(files[j].mod) {
			return files[i].mod.After(files[j].mod)
		}
		return files[i].name > files[j].name
	})
	keep := s.records - 1
	for i, f := range files {
		if i >= keep || now.Sub(f.mod) > s.ttl {
			garbage = append(garbage, f.name)
		}
	}
	sort.Strings(garbage)
	relDir := sp.key.dir()
	var removed []string
	var errs []error
	for _, name := range garbage {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		if err := dir.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, path.Join(relDir, name))
	}
	if len(removed) > 0 {
		logr.FromContextOrDiscard(ctx).V(1).Info("garbage collected artifacts", "dir", relDir, "removed", len(removed))
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("artifact store: garbage collection: %w", err)
	}
	return removed, nil
}

// readDir lists the directory dir is rooted at.
func readDir(dir *os.Root) ([]fs.DirEntry, error) {
	f, err := dir.Open(".")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.ReadDir(-1)
}

// Handler serves the store's files read-only over HTTP: GET and HEAD of
// `/<kind>/<namespace>/<name>/<file>` (mount it with http.StripPrefix to
// serve under a prefix). Any other path, directories, hidden files and
// symbolic links answer 404; range and conditional requests are supported.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

func (s *Store) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL == nil {
		http.NotFound(w, r)
		return
	}
	sp, err := parseStorePath(strings.TrimPrefix(r.URL.Path, "/"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	f, err := s.open(sp)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	if strings.HasSuffix(sp.file, ".tar.gz") || strings.HasSuffix(sp.file, ".tgz") {
		w.Header().Set("Content-Type", "application/gzip")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, sp.file, fi.ModTime(), f)
}
