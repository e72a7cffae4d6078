package artifact

import (
	"bufio"
	"context"
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

// Store keeps artifacts as files under a root directory. It is safe for
// concurrent use; writes of the same path are serialised and atomic (a
// reader sees either the old or the new file).
type Store struct {
	root    string
	baseURL string
	records int
	ttl     time.Duration
	now     func() time.Time

	mu    sync.Mutex
	locks map[string]*pathLock
}

type pathLock struct {
	mu   sync.Mutex
	refs int
}

// StoreOption configures a Store.
type StoreOption func(*Store)

// WithRetention sets how many artifacts per object GarbageCollect keeps
// (records, at least 1) and how long superseded ones may live (ttl). Zero
// values keep DefaultRetentionRecords and DefaultRetentionTTL.
func WithRetention(records int, ttl time.Duration) StoreOption {
	return func(s *Store) {
		if records > 0 {
			s.records = records
		}
		if ttl > 0 {
			s.ttl = ttl
		}
	}
}

// WithClock replaces time.Now, for tests of retention.
func WithClock(now func() time.Time) StoreOption {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// NewStore returns a Store rooted at the existing directory root whose
// artifacts are downloadable under baseURL (for example
// "http://source-controller.flux-system.svc"; a bare host name gets
// "http://"). baseURL may be empty when URLs are not needed.
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
		o(s)
	}
	return s, nil
}

// Root returns the absolute store directory.
func (s *Store) Root() string { return s.root }

// NewArtifact returns the Artifact for an object's file, with Path, URL and
// Revision set; it writes nothing.
func (s *Store) NewArtifact(kind, namespace, name, revision, filename string) Artifact {
	p := ArtifactPath(kind, namespace, name, filename)
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

// LocalPath returns the file behind a, refusing paths that are absolute,
// contain `..`, hidden components or backslashes.
func (s *Store) LocalPath(a Artifact) (string, error) {
	rel, err := cleanStorePath(a.Path)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.root, filepath.FromSlash(rel)), nil
}

func cleanStorePath(p string) (string, error) {
	if p == "" {
		return "", errors.New("artifact path is empty")
	}
	clean, err := cleanEntryName(p)
	if err != nil || clean == "." {
		return "", fmt.Errorf("artifact path %q is not a relative path inside the store", truncate(p, 256))
	}
	for _, part := range strings.Split(clean, "/") {
		if strings.HasPrefix(part, ".") {
			return "", fmt.Errorf("artifact path %q has a hidden component", truncate(p, 256))
		}
	}
	return clean, nil
}

// Lock serialises writers of a's path within this Store; call the returned
// function to release it.
func (s *Store) Lock(a Artifact) func() {
	key := a.Path
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

// Archive packs dir (see Pack) into the file at a.Path, replacing it
// atomically, and returns a with Digest, Size and LastUpdateTime set.
func (s *Store) Archive(ctx context.Context, a Artifact, dir string, opts PackOptions) (Artifact, error) {
	var res PackResult
	out, err := s.write(ctx, a, func(w io.Writer) error {
		var err error
		res, err = Pack(ctx, w, dir, opts)
		return err
	})
	if err != nil {
		return a, err
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("archived artifact", "path", out.Path, "digest", out.Digest, "files", res.Files, "size", out.Size)
	return out, nil
}

// Copy writes everything read from r to the file at a.Path, replacing it
// atomically, and returns a with Digest, Size and LastUpdateTime set.
func (s *Store) Copy(ctx context.Context, a Artifact, r io.Reader) (Artifact, error) {
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
// content-addressed file of the object kind/namespace/name
// (`<sha256 hex of the archive>.tar.gz`), so an unchanged tree maps to the
// same file and URL. The artifact carries the snapshot's revision and a copy
// of its metadata.
func (s *Store) ArchiveSnapshot(ctx context.Context, kind, namespace, name, dir string, snap source.Snapshot, opts PackOptions) (Artifact, error) {
	if _, err := source.ParseRevision(snap.Revision); err != nil {
		return Artifact{}, fmt.Errorf("artifact store: snapshot revision: %w", err)
	}
	a := s.NewArtifact(kind, namespace, name, snap.Revision, "pending.tar.gz")
	if len(snap.Metadata) > 0 {
		a.Metadata = make(map[string]string, len(snap.Metadata))
		for k, v := range snap.Metadata {
			a.Metadata[k] = v
		}
	}
	a, err := s.writeNamed(ctx, a, func(w io.Writer) error {
		_, err := Pack(ctx, w, dir, opts)
		return err
	}, func(digest string) string {
		return strings.TrimPrefix(digest, "sha256:") + ".tar.gz"
	})
	if err != nil {
		return a, err
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("archived snapshot", "path", a.Path, "revision", a.Revision, "digest", a.Digest)
	return a, nil
}

func (s *Store) write(ctx context.Context, a Artifact, fill func(io.Writer) error) (Artifact, error) {
	return s.writeNamed(ctx, a, fill, nil)
}

// writeNamed writes through a temporary file; when rename is set, the final
// file name is derived from the content digest.
func (s *Store) writeNamed(ctx context.Context, a Artifact, fill func(io.Writer) error, rename func(digest string) string) (_ Artifact, err error) {
	local, err := s.LocalPath(a)
	if err != nil {
		return a, err
	}
	if err := ctx.Err(); err != nil {
		return a, err
	}
	unlock := s.Lock(a)
	defer unlock()
	if err := os.MkdirAll(filepath.Dir(local), 0o750); err != nil {
		return a, fmt.Errorf("artifact store: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(local), tempPrefix+filepath.Base(local)+"-*")
	if err != nil {
		return a, fmt.Errorf("artifact store: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	d, _ := NewDigester("sha256")
	bw := bufio.NewWriterSize(tmp, 256<<10)
	cw := &countWriter{w: io.MultiWriter(bw, d)}
	if err := fill(cw); err != nil {
		return a, fmt.Errorf("artifact store: writing %s: %w", a.Path, err)
	}
	if err := bw.Flush(); err != nil {
		return a, fmt.Errorf("artifact store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return a, fmt.Errorf("artifact store: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return a, fmt.Errorf("artifact store: %w", err)
	}
	a.Digest = d.Digest()
	if rename != nil {
		a.Path = path.Join(path.Dir(a.Path), rename(a.Digest))
		a.URL = ""
		local = filepath.Join(filepath.Dir(local), filepath.Base(a.Path))
	}
	if err := os.Rename(tmp.Name(), local); err != nil {
		return a, fmt.Errorf("artifact store: %w", err)
	}
	a.Size = cw.n
	a.LastUpdateTime = s.now().UTC().Truncate(time.Second)
	if a.URL == "" {
		a.URL = s.URLFor(a.Path)
	}
	return a, nil
}

// Exists reports whether a's file is present as a regular file.
func (s *Store) Exists(a Artifact) bool {
	local, err := s.LocalPath(a)
	if err != nil {
		return false
	}
	fi, err := os.Lstat(local)
	return err == nil && fi.Mode().IsRegular()
}

// Open opens a's file for reading. A missing file is ErrNotFound.
func (s *Store) Open(a Artifact) (*os.File, error) {
	rel, err := cleanStorePath(a.Path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenInRoot(s.root, filepath.FromSlash(rel))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, rel)
	}
	if err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
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

// Remove deletes a's file; a missing file is not an error.
func (s *Store) Remove(a Artifact) error {
	local, err := s.LocalPath(a)
	if err != nil {
		return err
	}
	if err := os.Remove(local); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("artifact store: %w", err)
	}
	return nil
}

// RemoveAll deletes the directory holding a's file and every artifact of
// the same object in it.
func (s *Store) RemoveAll(a Artifact) error {
	local, err := s.LocalPath(a)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Dir(local)); err != nil {
		return fmt.Errorf("artifact store: %w", err)
	}
	return nil
}

// GarbageCollect deletes superseded files next to current (the same
// object's directory): every file older than the retention TTL, then the
// oldest ones until at most the retention record count remain. current is
// never deleted. It returns the store paths it removed.
func (s *Store) GarbageCollect(ctx context.Context, current Artifact) ([]string, error) {
	local, err := s.LocalPath(current)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(local)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("artifact store: %w", err)
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
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if strings.HasPrefix(e.Name(), ".") {
			// In-flight temporary files are left alone until they are stale.
			if strings.HasPrefix(e.Name(), tempPrefix) && now.Sub(fi.ModTime()) > s.ttl {
				garbage = append(garbage, e.Name())
			}
			continue
		}
		if e.Name() == filepath.Base(local) {
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
	relDir := path.Dir(current.Path)
	var removed []string
	var errs []error
	for _, name := range garbage {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
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

// Handler serves the store's files read-only over HTTP: GET and HEAD of
// `/<store path>` (mount it with http.StripPrefix to serve under a prefix).
// Directories, hidden files and paths leaving the root answer 404; range and
// conditional requests are supported.
func (s *Store) Handler() http.Handler {
	return http.HandlerFunc(s.serve)
}

func (s *Store) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rel, err := cleanStorePath(strings.TrimPrefix(r.URL.Path, "/"))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	f, err := os.OpenInRoot(s.root, filepath.FromSlash(rel))
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
	if strings.HasSuffix(rel, ".tar.gz") || strings.HasSuffix(rel, ".tgz") {
		w.Header().Set("Content-Type", "application/gzip")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, path.Base(rel), fi.ModTime(), f)
}
