package clustertest

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/reconcile"
)

func managers(u *unstructured.Unstructured) map[string]bool {
	m := map[string]bool{}
	for _, mf := range u.GetManagedFields() {
		m[mf.Manager+"/"+string(mf.Operation)] = true
	}
	return m
}

// Override (the default) removes kubectl's field managers so that Git is
// the only owner; Merge keeps them. An ssa: Ignore object that was never
// created stays out of the inventory.
func TestOverrideMergeAndIgnoredAbsent(t *testing.T) {
	ns := uniqueNS("merge")
	m := newManager(t, nil, reconcile.Options{Owner: reconcile.Owner{Name: "app", Namespace: "flux-system"}})
	ctx := ctxT(t, time.Minute)
	set := `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: override, namespace: NS}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: merge
  namespace: NS
  annotations: {kustomize.toolkit.fluxcd.io/ssa: Merge}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: never
  namespace: NS
  annotations: {kustomize.toolkit.fluxcd.io/ssa: Ignore}
data: {a: "1"}
`
	res, err := m.Sync(ctx, objects(t, ns, set), reconcile.Inventory{}, reconcile.SyncOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inventory.Contains(cm(ns, "never")) {
		t.Errorf("ignored, absent object in the inventory: %v", res.Inventory)
	}
	if !res.Inventory.Contains(cm(ns, "override")) || !res.Inventory.Contains(cm(ns, "merge")) {
		t.Errorf("inventory lacks applied objects: %v", res.Inventory)
	}
	for _, name := range []string{"override", "merge"} {
		u, _ := get(t, cm(ns, name))
		u.Object["data"] = map[string]any{"a": "1", "b": "kubectl-edit"}
		if err := env.Client.Update(ctx, u, client.FieldOwner("kubectl")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Apply(ctx, objects(t, ns, set)); err != nil {
		t.Fatal(err)
	}
	ov, _ := get(t, cm(ns, "override"))
	if managers(ov)["kubectl/Update"] {
		t.Errorf("Override kept kubectl's manager: %v", managers(ov))
	}
	mg, _ := get(t, cm(ns, "merge"))
	if !managers(mg)["kubectl/Update"] {
		t.Errorf("Merge removed kubectl's manager: %v", managers(mg))
	}
	if v, _, _ := unstructured.NestedString(mg.Object, "data", "b"); v != "kubectl-edit" {
		t.Errorf("Merge lost the kubectl edit: %q", v)
	}
}

// kstatus computes Flux kinds' health from their Ready condition.
func TestWaitFluxKind(t *testing.T) {
	ns := uniqueNS("fluxkind")
	m := newManager(t, nil, reconcile.Options{Owner: reconcile.Owner{Name: "app", Namespace: "flux-system"}})
	ctx := ctxT(t, time.Minute)
	if _, err := m.Apply(ctx, objects(t, ns, `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra, namespace: NS}
spec:
  interval: 5m
  prune: true
  sourceRef: {kind: GitRepository, name: repo}`)); err != nil {
		t.Fatal(err)
	}
	inv := reconcile.NewInventory(reconcile.ObjectRef{Group: ksGVK.Group, Version: ksGVK.Version, Kind: ksGVK.Kind, Namespace: ns, Name: "infra"})
	setKsStatus(t, ns, "infra", "False", 1, "main@sha1:1")
	err := m.Wait(ctx, inv, reconcile.WaitOptions{Timeout: 2 * time.Second})
	if err == nil {
		t.Fatal("a Kustomization with Ready=False counted as healthy")
	}
	setKsStatus(t, ns, "infra", "True", 1, "main@sha1:1")
	if err := m.Wait(ctx, inv, reconcile.WaitOptions{Timeout: 30 * time.Second}); err != nil {
		t.Errorf("ready Kustomization: %v", err)
	}
}
