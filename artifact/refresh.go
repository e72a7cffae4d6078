package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/gitopskit/gitopskit/source"
)

// RefreshOptions tunes Store.Refresh. The zero value always downloads,
// packs every file of the fetched tree, works in os.TempDir() and leaves
// the fetch's deadline to ctx.
type RefreshOptions struct {
	// Last is the artifact the object's status records, nil when none. Its
	// revision is offered to the source as the last one (so an origin that
	// has not changed is not downloaded again) only when Last belongs to
	// the key and its file is still in the store; a status naming another
	// object's file is never trusted. Leave it nil when something besides
	// the origin may have changed the artifact (the filter, the options of
	// the source).
	Last *Artifact
	// Filter returns the filter for the tree fetched into dir, for example
	// NewIgnoreFilter(dir, patterns); nil packs every file.
	Filter func(dir string) (Filter, error)
	// Pack tunes packing; its Filter is replaced by the one Filter returns.
	Pack PackOptions
	// File, when not "", names one regular file of the fetched tree
	// (slash-separated, relative to the tree's root) to store as it is
	// instead of packing the tree, as Flux stores the layer an
	// OCIRepository copies (a Helm chart's .tgz, say). The artifact's file
	// is `<sha256 hex of the file>` plus File's extension (".tar.gz" counts
	// as one), its digest the file's; Filter and Pack are not used. A File
	// that is not a local path, or not a regular file of the tree, is a
	// *StoreError.
	File string
	// TempDir holds the fetched tree while it is packed; "" means
	// os.TempDir().
	TempDir string
	// Timeout bounds the fetch; 0 means only ctx does.
	Timeout time.Duration
}

// Refreshed is what Store.Refresh did.
type Refreshed struct {
	// Artifact is the object's current artifact.
	Artifact Artifact
	// Snapshot is what the source fetched; zero when Unchanged.
	Snapshot source.Snapshot
	// Unchanged reports that the source found Last's revision still
	// current: nothing was downloaded and Artifact is Last.
	Unchanged bool
	// New reports that Artifact differs from Last in revision or digest (a
	// new artifact for the object's status and Events).
	New bool
	// Files is the number of regular files stored: those packed into the
	// archive, or 1 with RefreshOptions.File; 0 when Unchanged.
	Files int
}

// StoreError reports that Refresh failed to prepare, filter or archive a
// fetched tree, as opposed to failing to fetch it (whose error, from the
// source, Refresh returns as is).
type StoreError struct {
	// Err is the failure.
	Err error
}

// Error returns Err's text.
func (e *StoreError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *StoreError) Unwrap() error { return e.Err }

// Refresh is the work of a source controller for one object: fetch src
// into a temporary directory, pack the tree (or store RefreshOptions.File)
// into key's current artifact,
// then garbage-collect the key's superseded artifacts (a collection failure
// is logged, not returned). When the source reports source.ErrUnchanged for
// a trusted Last, Last stays the current artifact. A fetch error is
// returned as the source reported it (see source's sentinels); any other
// failure is a *StoreError.
func (s *Store) Refresh(ctx context.Context, key ObjectKey, src source.Fetcher, opts RefreshOptions) (Refreshed, error) {
	ext, err := fileExt(opts.File)
	if err != nil {
		return Refreshed{}, &StoreError{Err: err}
	}
	last := ""
	if opts.Last != nil && s.owns(key, *opts.Last) {
		last = opts.Last.Revision
	}
	work, err := os.MkdirTemp(opts.TempDir, "refresh-")
	if err != nil {
		return Refreshed{}, &StoreError{Err: err}
	}
	defer os.RemoveAll(work)
	dir := filepath.Join(work, "tree")
	fctx := ctx
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	var out Refreshed
	snap, err := src.Fetch(fctx, dir, last)
	switch {
	case last != "" && errors.Is(err, source.ErrUnchanged):
		logr.FromContextOrDiscard(ctx).V(1).Info("no changes since last reconciliation", "revision", last)
		out = Refreshed{Artifact: *opts.Last, Unchanged: true}
	case err != nil:
		return Refreshed{}, err
	default:
		var a Artifact
		files := 1
		if opts.File != "" {
			a, err = s.storeFile(ctx, key, dir, opts.File, ext, snap)
		} else {
			a, files, err = s.packTree(ctx, key, dir, snap, opts)
		}
		if err != nil {
			return Refreshed{}, &StoreError{Err: err}
		}
		prev := opts.Last
		out = Refreshed{Artifact: a, Snapshot: snap, Files: files,
			New: prev == nil || prev.Revision != a.Revision || prev.Digest != a.Digest}
	}
	removed, err := s.GarbageCollect(ctx, out.Artifact)
	if err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "garbage collection of old artifacts failed")
	} else if len(removed) > 0 {
		logr.FromContextOrDiscard(ctx).V(1).Info("garbage collected old artifacts", "paths", removed)
	}
	return out, nil
}

// packTree packs the fetched tree in dir as key's artifact for snap, with
// opts' filter, and returns it with the number of files packed.
func (s *Store) packTree(ctx context.Context, key ObjectKey, dir string, snap source.Snapshot, opts RefreshOptions) (Artifact, int, error) {
	popts := opts.Pack
	if opts.Filter != nil {
		var err error
		if popts.Filter, err = opts.Filter(dir); err != nil {
			return Artifact{}, 0, err
		}
	}
	a, res, err := s.archiveSnapshot(ctx, key, dir, snap, popts)
	return a, res.Files, err
}

// storeFile stores the regular file name of the fetched tree in dir as is,
// as key's artifact for snap. The file is opened through an os.Root of dir,
// so neither name nor a symbolic link in the tree reaches outside it.
func (s *Store) storeFile(ctx context.Context, key ObjectKey, dir, name, ext string, snap source.Snapshot) (Artifact, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Artifact{}, fmt.Errorf("opening the fetched tree: %w", err)
	}
	defer root.Close()
	f, err := root.Open(filepath.FromSlash(name))
	if err != nil {
		return Artifact{}, fmt.Errorf("file %q of the fetched tree: %w", name, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return Artifact{}, fmt.Errorf("file %q of the fetched tree is not a regular file", name)
	}
	a, err := s.storeSnapshot(ctx, key, snap, ext, func(w io.Writer) error {
		_, err := io.Copy(w, ctxReader{ctx: ctx, r: f})
		return err
	})
	if err != nil {
		return a, err
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("stored file of snapshot", "file", name, "path", a.Path, "revision", a.Revision, "digest", a.Digest)
	return a, nil
}

// fileExt checks RefreshOptions.File and returns the extension its artifact
// gets: "" for no File, ".tar.gz" for a name ending so, else the name's
// own extension.
func fileExt(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	if strings.Contains(name, `\`) || !filepath.IsLocal(filepath.FromSlash(name)) {
		return "", fmt.Errorf("file %q is not a local slash-separated path: %w", name, ErrInvalidPath)
	}
	ext := path.Ext(name)
	if strings.HasSuffix(name, ".tar.gz") {
		ext = ".tar.gz"
	}
	if err := validateFile(strings.Repeat("0", 64) + ext); err != nil {
		return "", fmt.Errorf("file %q: %w", name, err)
	}
	return ext, nil
}

// owns reports whether a is one of key's artifacts and its file is in the
// store.
func (s *Store) owns(key ObjectKey, a Artifact) bool {
	return a.Path != "" && a.Path == key.ArtifactPath(path.Base(a.Path)) && s.Exists(a)
}
