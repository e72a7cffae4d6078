package fluxadapter_test

import (
	"context"
	"errors"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/reconcile"
)

func TestArtifactRoundTrip(t *testing.T) {
	a := artifact.Artifact{
		Path: "gitrepository/ns/app/x.tar.gz", URL: "http://store/gitrepository/ns/app/x.tar.gz",
		Revision: "main@sha1:1234", Digest: "sha256:abcd", Size: 7,
		LastUpdateTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Metadata:       map[string]string{"k": "v"},
	}
	if diff := cmp.Diff(a, fluxadapter.Artifact(fluxadapter.MetaArtifact(a))); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got := fluxadapter.Artifact(nil); !cmp.Equal(got, artifact.Artifact{}) {
		t.Errorf("Artifact(nil) = %+v, want zero", got)
	}
	if got := fluxadapter.Artifact(&meta.Artifact{Revision: "r"}); got.Size != 0 || got.Revision != "r" {
		t.Errorf("Artifact without size = %+v", got)
	}
}

func TestInventoryRoundTrip(t *testing.T) {
	inv := reconcile.Inventory{Entries: []reconcile.InventoryEntry{{ID: "a_b_apps_Deployment", Version: "v1"}, {ID: "a_c__ConfigMap", Version: "v1"}}}
	if diff := cmp.Diff(inv, fluxadapter.Inventory(fluxadapter.ResourceInventory(inv))); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got := fluxadapter.Inventory(nil); len(got.Entries) != 0 {
		t.Errorf("Inventory(nil) = %+v", got)
	}
	if got := fluxadapter.ResourceInventory(reconcile.Inventory{}); got == nil || got.Entries == nil || len(got.Entries) != 0 {
		t.Errorf("ResourceInventory(empty) = %#v, want an empty non-nil list", got)
	}
}

func TestObservedWithoutRequest(t *testing.T) {
	obj := &kustomizev1.Kustomization{}
	obj.Generation = 2
	obj.Status.LastHandledReconcileAt = "before"
	fluxadapter.Observed(obj, &obj.Status.ObservedGeneration, &obj.Status.ReconcileRequestStatus)
	if obj.Status.ObservedGeneration != 2 || obj.Status.LastHandledReconcileAt != "before" {
		t.Errorf("status = %+v", obj.Status)
	}
}

func TestSource(t *testing.T) {
	ctx := context.Background()
	s, err := fluxscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(
		&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "fleet"},
			Status: sourcev1.GitRepositoryStatus{Artifact: &meta.Artifact{Revision: "main@sha1:abc"}}},
		&sourcev1.Bucket{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "site"}},
	).Build()

	src, err := fluxadapter.Source(ctx, c, kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "fleet", Namespace: "flux-system"}, "apps")
	if err != nil || src.GetArtifact() == nil || src.GetArtifact().Revision != "main@sha1:abc" {
		t.Errorf("GitRepository in another namespace = %v, %v", src, err)
	}
	if _, err := fluxadapter.Source(ctx, c, kustomizev1.CrossNamespaceSourceReference{Kind: "Bucket", Name: "site"}, "apps"); err != nil {
		t.Errorf("Bucket in the object's namespace: %v", err)
	}
	_, err = fluxadapter.Source(ctx, c, kustomizev1.CrossNamespaceSourceReference{Kind: "OCIRepository", Name: "gone"}, "apps")
	var nf *fluxadapter.SourceNotFoundError
	if !errors.As(err, &nf) || err.Error() != "Source 'OCIRepository/gone' not found" {
		t.Errorf("missing source = %v", err)
	}
	if _, err := fluxadapter.Source(ctx, c, kustomizev1.CrossNamespaceSourceReference{Kind: "HelmChart", Name: "x"}, "apps"); err == nil {
		t.Error("unsupported kind: want an error")
	}
}
