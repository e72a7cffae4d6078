package fluxadapter_test

import (
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/reconcile"
)

// A source controller writes its stored artifact into the status; a
// consumer reads it back to fetch it.
func Example() {
	stored := artifact.Artifact{Path: "gitrepository/default/app/abc.tar.gz", Revision: "main@sha1:abc", Digest: "sha256:0123", Size: 42}
	status := fluxadapter.MetaArtifact(stored)
	back := fluxadapter.Artifact(status)
	fmt.Println(status.Revision, *status.Size, back.Path)
	// Output:
	// main@sha1:abc 42 gitrepository/default/app/abc.tar.gz
}

// The inventory a Manager's Sync returns goes into a Kustomization's
// status, and from there into the next Sync.
func ExampleResourceInventory() {
	inv := reconcile.NewInventory(reconcile.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "apps", Name: "web"})
	status := fluxadapter.ResourceInventory(inv)
	fmt.Println(status.Entries[0].ID, len(fluxadapter.Inventory(status).Entries))
	// Output:
	// apps_web__ConfigMap 1
}

// Observed is a Lifecycle's Observe hook for a Flux kind.
func ExampleObserved() {
	obj := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{
		Generation:  3,
		Annotations: map[string]string{meta.ReconcileRequestAnnotation: "2026-01-02T03:04:05Z"},
	}}
	fluxadapter.Observed(obj, &obj.Status.ObservedGeneration, &obj.Status.ReconcileRequestStatus)
	fmt.Println(obj.Status.ObservedGeneration, obj.Status.LastHandledReconcileAt)
	// Output:
	// 3 2026-01-02T03:04:05Z
}
