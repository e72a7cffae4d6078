package artifact

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"

	"github.com/gitopskit/gitopskit/source"
)

// RefreshOptions tunes Store.Refresh. The zero value always downloads,
// packs every file, works in os.TempDir() and leaves the fetch's deadline
// to ctx.
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
// into a temporary directory, pack the tree into key's current artifact,
// then garbage-collect the key's superseded artifacts (a collection failure
// is logged, not returned). When the source reports source.ErrUnchanged for
// a trusted Last, Last stays the current artifact. A fetch error is
// returned as the source reported it (see source's sentinels); any other
// failure is a *StoreError.
func (s *Store) Refresh(ctx context.Context, key ObjectKey, src source.Fetcher, opts RefreshOptions) (Refreshed, error) {
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
		popts := opts.Pack
		if opts.Filter != nil {
			if popts.Filter, err = opts.Filter(dir); err != nil {
				return Refreshed{}, &StoreError{Err: err}
			}
		}
		a, err := s.ArchiveSnapshot(ctx, key, dir, snap, popts)
		if err != nil {
			return Refreshed{}, &StoreError{Err: err}
		}
		prev := opts.Last
		out = Refreshed{Artifact: a, Snapshot: snap, New: prev == nil || prev.Revision != a.Revision || prev.Digest != a.Digest}
	}
	removed, err := s.GarbageCollect(ctx, out.Artifact)
	if err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "garbage collection of old artifacts failed")
	} else if len(removed) > 0 {
		logr.FromContextOrDiscard(ctx).V(1).Info("garbage collected old artifacts", "paths", removed)
	}
	return out, nil
}

// owns reports whether a is one of key's artifacts and its file is in the
// store.
func (s *Store) owns(key ObjectKey, a Artifact) bool {
	return a.Path != "" && a.Path == key.ArtifactPath(path.Base(a.Path)) && s.Exists(a)
}
