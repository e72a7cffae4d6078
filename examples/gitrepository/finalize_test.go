package gitrepository

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/artifact"
)

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
		if r.canSkip(obj) {
			t.Errorf("status path %q: canSkip trusts another object's artifact", statusPath)
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
