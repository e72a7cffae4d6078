package gitrepository

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/source"
)

// lastRecorder is a source that records the last revision it is offered
// and fetches nothing.
type lastRecorder struct{ last string }

func (s *lastRecorder) Fetch(_ context.Context, _, last string) (source.Snapshot, error) {
	s.last = last
	return source.Snapshot{}, errors.New("not fetching")
}

// Whoever can write a GitRepository's status must not be able to make its
// finalizer, or its garbage collection, delete anything but the object's
// own artifacts.
func TestFinalizerIgnoresStatusPath(t *testing.T) {
	for _, statusPath := range []string{
		"gitrepository/victims/other/v.tar.gz",
		"gitrepository/victims/x.tar.gz",
		"gitrepository/x.tar.gz",
		"../../../etc/passwd",
		"gitrepository/tenant/app/../../victims/other/v.tar.gz",
		".",
		"",
	} {
		dir := t.TempDir()
		files := []string{
			"store/gitrepository/tenant/app/own.tar.gz",
			"store/gitrepository/victims/other/v.tar.gz",
			"store/gitrepository/victims/other/w.tar.gz",
			"store/ocirepository/tenant/app/o.tar.gz",
			"outside.txt",
		}
		for _, f := range files {
			full := filepath.Join(dir, filepath.FromSlash(f))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		store, err := artifact.NewStore(filepath.Join(dir, "store"), "")
		if err != nil {
			t.Fatal(err)
		}
		r := &Reconciler{Store: store}
		obj := &sourcev1.GitRepository{
			ObjectMeta: metav1.ObjectMeta{Namespace: "tenant", Name: "app"},
			Status:     sourcev1.GitRepositoryStatus{Artifact: &meta.Artifact{Path: statusPath, Revision: "main@sha1:" + strings.Repeat("a", 40)}},
		}
		// The status artifact is offered to the source as the last
		// revision only when it is the object's own.
		if canSkip(obj) {
			last := fluxadapter.Artifact(obj.Status.Artifact)
			src := &lastRecorder{}
			_, _ = store.Refresh(context.Background(), objectKey(obj), src, artifact.RefreshOptions{Last: &last, TempDir: t.TempDir()})
			if src.last != "" {
				t.Errorf("status path %q: Refresh trusts another object's artifact", statusPath)
			}
		}
		// No finalizer on obj: finalize only removes artifacts.
		if err := r.finalize(context.Background(), obj); err != nil {
			t.Fatalf("status path %q: finalize: %v", statusPath, err)
		}
		for _, f := range files {
			_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f)))
			own := strings.HasPrefix(f, "store/gitrepository/tenant/app/")
			if own && err == nil {
				t.Errorf("status path %q: %s was not removed", statusPath, f)
			}
			if !own && err != nil {
				t.Errorf("status path %q: %s was removed: %v", statusPath, f, err)
			}
		}
	}
}
