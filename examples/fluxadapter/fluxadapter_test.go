package fluxadapter_test

import (
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
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
