package kustomize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitopskit/gitopskit/internal/yamlguard"
)

// ErrOutsideRoot reports a file access that would leave the build root,
// directly or through a symbolic link. It is wrapped in a *PathError.
var ErrOutsideRoot = errors.New("path escapes the root")

// PathError names the path (relative to the build root where possible) at
// fault and wraps the reason.
type PathError struct {
	Path string
	Err  error
}

// Error implements error.
func (e *PathError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }

// Unwrap returns the reason.
func (e *PathError) Unwrap() error { return e.Err }

// readHook inspects a file read through the confined file system before it is
// handed to kustomize; an error aborts the read.
type readHook func(absPath string, data []byte) error

// confinedFS is a kustomize file system that only reads below root (after
// resolving symbolic links) and keeps every write in memory, so the caller's
// tree is never modified.
type confinedFS struct {
	root  string // absolute, symlink-free
	extra []string
	hook  readHook
	// rewrite, when set, may replace what a read returns (after hook).
	rewrite func(absPath string, data []byte) ([]byte, error)
	mu      sync.RWMutex
	overlay map[string][]byte   // files written during the build
	dirs    map[string]struct{} // directories created during the build
	hookErr error               // first error of hook; kustomize may swallow it
	files   []string            // files read, resolved, in the order first read
	fileSet map[string]struct{} // the entries of files

	// Set for builds (not for generation): ReadFile honours ctx and
	// stops a build that reads too much.
	ctx       context.Context
	limits    readLimits
	reads     int
	docs      int
	readBytes int64
}

// readLimits bound what one build may read. A kustomization that includes
// the same bases over and over (each level twice, say) makes kustomize read
// them an exponential number of times, and kustomize's own work grows
// faster than the objects it holds; counting reads stops such a build
// while it is still reading, long before the object count is known.
type readLimits struct {
	reads int   // files read
	docs  int   // YAML documents read from files other than kustomizations
	bytes int64 // bytes read
}

// readLimitsFor derives the read bounds from the object bound (negative:
// none but the byte bound).
func readLimitsFor(maxObjects int) readLimits {
	l := readLimits{bytes: 1 << 30}
	if maxObjects > 0 {
		l.docs = 2*maxObjects + 1000
		l.reads = 10*maxObjects + 10_000
	}
	return l
}

// ErrBuildTooLarge reports a build that would produce more objects, or read
// more files or bytes, than its limits allow.
var ErrBuildTooLarge = errors.New("build exceeds its limits")

// fail records err as the build's first failure (kustomize may swallow the
// error a read returns) and returns it.
func (f *confinedFS) fail(err error) error {
	f.mu.Lock()
	if f.hookErr == nil {
		f.hookErr = err
	}
	f.mu.Unlock()
	return err
}

// account checks ctx and the read bounds before a file of n bytes is
// handed to kustomize.
func (f *confinedFS) account(abs string, data []byte) error {
	if f.ctx == nil {
		return nil
	}
	if err := f.ctx.Err(); err != nil {
		return f.fail(fmt.Errorf("reading %s: %w", f.rel(abs), err))
	}
	docs := 0
	if !isKustomizationName(filepath.Base(abs)) {
		docs = 1 + bytes.Count(data, []byte("\n---"))
	}
	f.mu.Lock()
	f.reads++
	f.docs += docs
	f.readBytes += int64(len(data))
	reads, ndocs, total := f.reads, f.docs, f.readBytes
	f.mu.Unlock()
	l := f.limits
	switch {
	case l.reads > 0 && reads > l.reads:
		return f.fail(fmt.Errorf("%w: more than %d file reads (bases included too many times?); raise Options.MaxObjects", ErrBuildTooLarge, l.reads))
	case l.docs > 0 && ndocs > l.docs:
		return f.fail(fmt.Errorf("%w: more than %d YAML documents read (bases included too many times?); raise Options.MaxObjects", ErrBuildTooLarge, l.docs))
	case l.bytes > 0 && total > l.bytes:
		return f.fail(fmt.Errorf("%w: more than %d bytes read", ErrBuildTooLarge, l.bytes))
	}
	return nil
}

// firstHookErr returns the first error the read hook raised.
func (f *confinedFS) firstHookErr() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.hookErr
}

var _ filesys.FileSystem = (*confinedFS)(nil)

func newConfinedFS(root string) (*confinedFS, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("kustomize: root %q: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("kustomize: root %q: %w", root, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("kustomize: root %q: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("kustomize: root %q is not a directory", root)
	}
	return &confinedFS{root: real, overlay: map[string][]byte{}, dirs: map[string]struct{}{}}, nil
}

// rel returns p relative to the root for messages.
func (f *confinedFS) rel(p string) string {
	if r, err := filepath.Rel(f.root, p); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return p
}

func within(root, p string) bool {
	return p == root || strings.HasPrefix(p, root+string(filepath.Separator))
}

func (f *confinedFS) allowed(p string) bool {
	if within(f.root, p) {
		return true
	}
	for _, e := range f.extra {
		if within(e, p) {
			return true
		}
	}
	return false
}

// fluxPath reads a build path as Flux reads spec.path: relative to the
// root, with or without a leading "./" or "/". An absolute path already
// inside the root is taken as it is.
func (f *confinedFS) fluxPath(p string) string {
	if !filepath.IsAbs(p) || within(f.root, filepath.Clean(p)) {
		return p
	}
	return "." + string(filepath.Separator) + strings.TrimLeft(p, string(filepath.Separator))
}

// resolve turns p into an absolute, symlink-free path and checks that it
// stays inside the root. Paths that do not exist yet are resolved through
// their longest existing parent.
func (f *confinedFS) resolve(p string) (string, error) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(f.root, p)
	}
	p = filepath.Clean(p)
	if !f.allowed(p) {
		return "", &PathError{Path: p, Err: ErrOutsideRoot}
	}
	real, err := evalExisting(p)
	if err != nil {
		return "", &PathError{Path: f.rel(p), Err: err}
	}
	if !f.allowed(real) {
		return "", &PathError{Path: f.rel(p), Err: ErrOutsideRoot}
	}
	return real, nil
}

// evalExisting resolves symbolic links in the existing prefix of p.
func evalExisting(p string) (string, error) {
	real, err := filepath.EvalSymlinks(p)
	if err == nil {
		return real, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	parent := filepath.Dir(p)
	if parent == p {
		return p, nil
	}
	rp, err := evalExisting(parent)
	if err != nil {
		return "", err
	}
	return filepath.Join(rp, filepath.Base(p)), nil
}

func (f *confinedFS) overlayFile(p string) ([]byte, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	b, ok := f.overlay[p]
	return b, ok
}

func (f *confinedFS) overlayDir(p string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	_, ok := f.dirs[p]
	return ok
}

// put stores a file in the in-memory overlay.
func (f *confinedFS) put(p string, data []byte) error {
	r, err := f.resolve(p)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.overlay[r] = append([]byte(nil), data...)
	return nil
}

// Create implements filesys.FileSystem; the file lives in memory.
func (f *confinedFS) Create(path string) (filesys.File, error) {
	r, err := f.resolve(path)
	if err != nil {
		return nil, err
	}
	if err := f.put(r, nil); err != nil {
		return nil, err
	}
	return &memFile{fs: f, path: r}, nil
}

// Mkdir implements filesys.FileSystem; the directory lives in memory.
func (f *confinedFS) Mkdir(path string) error { return f.MkdirAll(path) }

// MkdirAll implements filesys.FileSystem; the directories live in memory.
func (f *confinedFS) MkdirAll(path string) error {
	r, err := f.resolve(path)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for d := r; within(f.root, d) && d != f.root; d = filepath.Dir(d) {
		f.dirs[d] = struct{}{}
	}
	return nil
}

// RemoveAll implements filesys.FileSystem; only in-memory entries can be removed.
func (f *confinedFS) RemoveAll(path string) error {
	r, err := f.resolve(path)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.overlay {
		if within(r, k) {
			delete(f.overlay, k)
		}
	}
	for k := range f.dirs {
		if within(r, k) {
			delete(f.dirs, k)
		}
	}
	return nil
}

// Open implements filesys.FileSystem.
func (f *confinedFS) Open(path string) (filesys.File, error) {
	b, err := f.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, _ := f.resolve(path)
	return &memFile{fs: f, path: r, r: bytes.NewReader(b), readOnly: true}, nil
}

// IsDir implements filesys.FileSystem.
func (f *confinedFS) IsDir(path string) bool {
	r, err := f.resolve(path)
	if err != nil {
		return false
	}
	if f.overlayDir(r) {
		return true
	}
	fi, err := os.Stat(r)
	return err == nil && fi.IsDir()
}

// ReadDir implements filesys.FileSystem: the names in the directory.
func (f *confinedFS) ReadDir(path string) ([]string, error) {
	r, err := f.resolve(path)
	if err != nil {
		return nil, err
	}
	names := map[string]struct{}{}
	entries, derr := os.ReadDir(r)
	for _, e := range entries {
		names[e.Name()] = struct{}{}
	}
	f.mu.RLock()
	for k := range f.overlay {
		if filepath.Dir(k) == r {
			names[filepath.Base(k)] = struct{}{}
		}
	}
	for k := range f.dirs {
		if filepath.Dir(k) == r {
			names[filepath.Base(k)] = struct{}{}
		}
	}
	f.mu.RUnlock()
	if derr != nil && len(names) == 0 && !f.overlayDir(r) {
		return nil, &PathError{Path: f.rel(r), Err: derr}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// CleanedAbs implements filesys.FileSystem.
func (f *confinedFS) CleanedAbs(path string) (filesys.ConfirmedDir, string, error) {
	r, err := f.resolve(path)
	if err != nil {
		return "", "", err
	}
	if f.IsDir(r) {
		return filesys.ConfirmedDir(r), "", nil
	}
	if !f.Exists(r) {
		return "", "", &PathError{Path: f.rel(r), Err: fs.ErrNotExist}
	}
	return filesys.ConfirmedDir(filepath.Dir(r)), filepath.Base(r), nil
}

// Exists implements filesys.FileSystem.
func (f *confinedFS) Exists(path string) bool {
	r, err := f.resolve(path)
	if err != nil {
		return false
	}
	if _, ok := f.overlayFile(r); ok || f.overlayDir(r) {
		return true
	}
	_, err = os.Stat(r)
	return err == nil
}

// Glob implements filesys.FileSystem; matches outside the root are dropped.
func (f *confinedFS) Glob(pattern string) ([]string, error) {
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(f.root, pattern)
	}
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	seen := map[string]struct{}{}
	var out []string
	for _, m := range matches {
		if _, err := f.resolve(m); err != nil {
			continue
		}
		seen[m] = struct{}{}
		out = append(out, m)
	}
	f.mu.RLock()
	for k := range f.overlay {
		if ok, _ := filepath.Match(pattern, k); ok {
			if _, dup := seen[k]; !dup {
				out = append(out, k)
			}
		}
	}
	f.mu.RUnlock()
	if !filesys.IsHiddenFilePath(pattern) {
		out = filesys.RemoveHiddenFiles(out)
	}
	sort.Strings(out)
	return out, nil
}

// ReadFile implements filesys.FileSystem.
func (f *confinedFS) ReadFile(path string) ([]byte, error) {
	r, err := f.resolve(path)
	if err != nil {
		return nil, err
	}
	b, ok := f.overlayFile(r)
	if !ok {
		b, err = os.ReadFile(r)
		if err != nil {
			return nil, &PathError{Path: f.rel(r), Err: unwrapPathErr(err)}
		}
	}
	if err := f.account(r, b); err != nil {
		return nil, err
	}
	if err := yamlguard.Check(b); err != nil {
		return nil, f.fail(&PathError{Path: f.rel(r), Err: err})
	}
	if f.hook != nil {
		if err := f.hook(r, b); err != nil {
			return nil, f.fail(err)
		}
	}
	if f.rewrite != nil {
		if b, err = f.rewrite(r, b); err != nil {
			return nil, f.fail(err)
		}
	}
	f.noteRead(r)
	return b, nil
}

// noteRead records that the file at the resolved path r was read.
func (f *confinedFS) noteRead(r string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.fileSet[r]; ok {
		return
	}
	if f.fileSet == nil {
		f.fileSet = map[string]struct{}{}
	}
	f.fileSet[r] = struct{}{}
	f.files = append(f.files, r)
}

// readFiles returns the resolved paths of the files read so far, in the
// order they were first read.
func (f *confinedFS) readFiles() []string {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return append([]string(nil), f.files...)
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// WriteFile implements filesys.FileSystem; the data stays in memory.
func (f *confinedFS) WriteFile(path string, data []byte) error { return f.put(path, data) }

// Walk implements filesys.FileSystem over the on-disk tree, refusing to
// enter anything outside the root.
func (f *confinedFS) Walk(path string, walkFn filepath.WalkFunc) error {
	r, err := f.resolve(path)
	if err != nil {
		return err
	}
	return filepath.Walk(r, walkFn)
}

// memFile is an in-memory file of the overlay.
type memFile struct {
	fs       *confinedFS
	path     string
	buf      bytes.Buffer
	r        *bytes.Reader
	readOnly bool
}

func (m *memFile) Read(p []byte) (int, error) {
	if m.r == nil {
		return 0, io.EOF
	}
	return m.r.Read(p)
}

func (m *memFile) Write(p []byte) (int, error) {
	if m.readOnly {
		return 0, &PathError{Path: m.fs.rel(m.path), Err: errors.New("file opened read-only")}
	}
	return m.buf.Write(p)
}

func (m *memFile) Close() error {
	if m.readOnly {
		return nil
	}
	return m.fs.put(m.path, m.buf.Bytes())
}

func (m *memFile) Stat() (os.FileInfo, error) {
	size := int64(m.buf.Len())
	if m.r != nil {
		size = m.r.Size()
	}
	return memInfo{name: filepath.Base(m.path), size: size}, nil
}

type memInfo struct {
	name string
	size int64
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() os.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
