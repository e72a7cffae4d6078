package helmchart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/go-logr/logr"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source"
)

// refreshed is what refresh did.
type refreshed struct {
	// Artifact is the object's current artifact.
	Artifact artifact.Artifact
	// Snapshot is what the chart source reported; zero when Unchanged.
	Snapshot source.Snapshot
	// Unchanged reports that last's version is still current.
	Unchanged bool
	// New reports that Artifact differs from last.
	New bool
}

// refresh fetches src, a chart source of source/helm, into a temporary
// directory and stores the packaged chart it writes as key's artifact,
// "<name>-<version>.tgz" as in Flux, then garbage-collects key's older
// artifacts. last, when it is one of key's artifacts still in the store,
// is offered to src as the last version; timeout bounds the fetch. Store
// failures are *artifact.StoreError; fetch failures are src's.
//
// artifact.Store.Refresh is not used: it takes a snapshot's revision for
// one of source's revision formats, which a chart version ("6.5.0") is not.
func (r *Reconciler) refresh(ctx context.Context, key artifact.ObjectKey, src source.Fetcher, last *artifact.Artifact, timeout time.Duration) (refreshed, error) {
	lastRev := ""
	if last != nil && last.Path == key.ArtifactPath(path.Base(last.Path)) && r.Store.Exists(*last) {
		lastRev = last.Revision
	}
	work, err := os.MkdirTemp(r.TempDir, "helmchart-")
	if err != nil {
		return refreshed{}, &artifact.StoreError{Err: err}
	}
	defer os.RemoveAll(work)
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dir := filepath.Join(work, "chart")
	snap, err := src.Fetch(fctx, dir, lastRev)
	var out refreshed
	switch {
	case lastRev != "" && errors.Is(err, source.ErrUnchanged):
		out = refreshed{Artifact: *last, Unchanged: true}
	case err != nil:
		return refreshed{}, err
	default:
		a, err := r.storeChart(ctx, key, dir, snap)
		if err != nil {
			return refreshed{}, &artifact.StoreError{Err: err}
		}
		out = refreshed{Artifact: a, Snapshot: snap, New: last == nil || last.Revision != a.Revision || last.Digest != a.Digest}
	}
	if removed, err := r.Store.GarbageCollect(ctx, out.Artifact); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "garbage collection of old artifacts failed")
	} else if len(removed) > 0 {
		logr.FromContextOrDiscard(ctx).V(1).Info("garbage collected old artifacts", "paths", removed)
	}
	return out, nil
}

// storeChart stores the packaged chart snap names ("file") in dir as
// key's artifact with snap's revision.
func (r *Reconciler) storeChart(ctx context.Context, key artifact.ObjectKey, dir string, snap source.Snapshot) (artifact.Artifact, error) {
	file := snap.Metadata["file"]
	if file == "" || filepath.Base(file) != file || !filepath.IsLocal(file) {
		return artifact.Artifact{}, fmt.Errorf("packaged chart file %q is not a file name", file)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return artifact.Artifact{}, fmt.Errorf("opening the packaged chart's directory: %w", err)
	}
	defer root.Close()
	f, err := root.Open(file)
	if err != nil {
		return artifact.Artifact{}, fmt.Errorf("packaged chart: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return artifact.Artifact{}, fmt.Errorf("packaged chart %q is not a regular file", file)
	}
	return r.Store.Put(ctx, r.Store.NewArtifact(key, snap.Revision, file), f)
}
