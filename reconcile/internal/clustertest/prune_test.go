package clustertest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/reconcile"
)

func createAll(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("create %s: %v", reconcile.RefOf(o), err)
		}
	}
}

func TestSyncPruneOwnershipAndPolicy(t *testing.T) {
	ns := uniqueNS("prune")
	m := newManager(t, nil, reconcile.Options{Owner: reconcile.Owner{Name: "app", Namespace: "flux-system"}})
	ctx := ctxT(t, time.Minute)
	createAll(t, objects(t, ns, `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: foreign, namespace: NS}
data: {a: b}`))
	v1 := objects(t, ns, `
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: NS}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: keep
  namespace: NS
  annotations: {kustomize.toolkit.fluxcd.io/prune: disabled}
---
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: NS}
stringData: {k: v}`)
	res, err := m.Sync(ctx, v1, reconcile.Inventory{}, reconcile.SyncOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inventory.Len() != 4 {
		t.Fatalf("inventory %v", res.Inventory)
	}
	// An inventory that (wrongly) lists an object owned by nobody.
	previous := res.Inventory.Union(reconcile.NewInventory(cm(ns, "foreign"), cm(ns, "already-gone")))

	v2 := objects(t, ns, `
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: NS}`)
	res, err = m.Sync(ctx, v2, previous, reconcile.SyncOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]reconcile.Action{
		"ConfigMap/" + ns + "/a": reconcile.Unchanged, "ConfigMap/" + ns + "/b": reconcile.Deleted,
		"Secret/" + ns + "/s": reconcile.Deleted, "ConfigMap/" + ns + "/keep": reconcile.Skipped,
		"ConfigMap/" + ns + "/foreign": reconcile.Skipped, "ConfigMap/" + ns + "/already-gone": reconcile.Deleted,
	}
	if diff := cmp.Diff(want, actions(res.ChangeSet)); diff != "" {
		t.Errorf("sync actions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(reconcile.NewInventory(cm(ns, "a")), res.Inventory); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}
	for name, exists := range map[string]bool{"a": true, "b": false, "keep": true, "foreign": true} {
		if _, ok := get(t, cm(ns, name)); ok != exists {
			t.Errorf("ConfigMap %s exists=%v, want %v", name, ok, exists)
		}
	}
	for _, e := range res.ChangeSet.Filter(reconcile.Skipped) {
		if e.Reason == "" {
			t.Errorf("%s skipped without a reason", e.Ref)
		}
	}

	// Without an owner nothing can be pruned.
	anon := newManager(t, nil, reconcile.Options{})
	if _, err := anon.Prune(ctx, res.Inventory, reconcile.Inventory{}); !errors.Is(err, reconcile.ErrNoOwner) {
		t.Errorf("prune without owner: %v", err)
	}
}

// A failure halfway through an apply leaves the inventory describing
// exactly what exists: nothing lost from tracking, nothing pruned.
func TestPartialApplyFailureKeepsInventory(t *testing.T) {
	ns := uniqueNS("partial")
	m := newManager(t, nil, reconcile.Options{Owner: reconcile.Owner{Name: "app", Namespace: "flux-system"}})
	ctx := ctxT(t, time.Minute)
	first, err := m.Sync(ctx, objects(t, ns, `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: NS}`), reconcile.Inventory{}, reconcile.SyncOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	// Next revision: drops b, adds c and d, and one object the API server rejects.
	res, err := m.Sync(ctx, objects(t, ns, `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: d, namespace: NS}
---
apiVersion: v1
kind: Service
metadata: {name: broken, namespace: NS}
spec:
  ports: [{port: 99999}]`), first.Inventory, reconcile.SyncOptions{Prune: true})
	var ae *reconcile.ApplyError
	if !errors.As(err, &ae) || ae.Ref.Name != "broken" {
		t.Fatalf("want an ApplyError for the Service, got %v", err)
	}
	ns0 := reconcile.ObjectRef{Version: "v1", Kind: "Namespace", Name: ns}
	want := reconcile.NewInventory(ns0, cm(ns, "a"), cm(ns, "b"), cm(ns, "c"), cm(ns, "d"))
	if diff := cmp.Diff(want, res.Inventory); diff != "" {
		t.Errorf("inventory after failure (-want +got):\n%s", diff)
	}
	// Everything in the inventory exists, and every owned object is in it.
	refs, _ := res.Inventory.Refs()
	for _, r := range refs {
		if _, ok := get(t, r); !ok {
			t.Errorf("%s is in the inventory but does not exist", r)
		}
	}
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("v1")
	list.SetKind("ConfigMapList")
	if err := env.Client.List(ctx, list, client.InNamespace(ns), client.MatchingLabels(m.OwnerLabels())); err != nil {
		t.Fatal(err)
	}
	for _, o := range list.Items {
		if !res.Inventory.Contains(reconcile.RefOf(&o)) {
			t.Errorf("%s exists but is not tracked", reconcile.RefOf(&o))
		}
	}
}

func TestPruneFailureStaysInInventory(t *testing.T) {
	ns := uniqueNS("prunefail")
	ctx := ctxT(t, time.Minute)
	// A service account allowed to read and apply ConfigMaps but not to delete them.
	createAll(t, objects(t, ns, `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: deployer, namespace: NS}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: no-delete, namespace: NS}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list, watch, create, patch, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: no-delete, namespace: NS}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: no-delete}
subjects: [{kind: ServiceAccount, name: deployer, namespace: NS}]`))
	cfg, err := reconcile.ImpersonateServiceAccount(env.Config, ns, "deployer")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newClient(t, cfg)
	m := newManager(t, c, reconcile.Options{Owner: reconcile.Owner{Name: "app", Namespace: ns}})
	first, err := m.Sync(ctx, objects(t, ns, `
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: NS}`), reconcile.Inventory{}, reconcile.SyncOptions{Prune: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := m.Sync(ctx, objects(t, ns, `
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: NS}`), first.Inventory, reconcile.SyncOptions{Prune: true})
	var pe *reconcile.PruneError
	if !errors.As(err, &pe) || !apierrors.IsForbidden(err) {
		t.Fatalf("want a forbidden PruneError, got %v", err)
	}
	if diff := cmp.Diff(reconcile.NewInventory(cm(ns, "a"), cm(ns, "b")), res.Inventory); diff != "" {
		t.Errorf("failed deletion left the inventory (-want +got):\n%s", diff)
	}
	if _, ok := get(t, cm(ns, "b")); !ok {
		t.Error("b is gone")
	}
}

func TestImpersonationDenied(t *testing.T) {
	ns := uniqueNS("denied")
	ctx := ctxT(t, time.Minute)
	createAll(t, objects(t, ns, `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: nobody, namespace: NS}`))
	cfg, err := reconcile.ImpersonateServiceAccount(env.Config, ns, "nobody")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newClient(t, cfg)
	m := newManager(t, c, reconcile.Options{Owner: reconcile.Owner{Name: "app", Namespace: ns}})
	cs, err := m.Apply(ctx, objects(t, ns, `
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: NS}`))
	if err == nil {
		t.Fatal("apply as an unprivileged service account succeeded")
	}
	if !apierrors.IsForbidden(err) {
		t.Errorf("error is not Forbidden: %v", err)
	}
	for _, s := range []string{"forbidden", "system:serviceaccount:" + ns + ":nobody", "ConfigMap/" + ns + "/a"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q: %v", s, err)
		}
	}
	if cs.Len() != 0 {
		t.Errorf("change set for a denied apply: %v", cs.Entries)
	}
}

func TestRemoteClusterFromSecret(t *testing.T) {
	ns := uniqueNS("remote")
	ctx := ctxT(t, time.Minute)
	kc, err := osReadFile(env.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	secret := objects(t, ns, `
apiVersion: v1
kind: Secret
metadata: {name: kubeconfig, namespace: default}`)[0]
	secret.Object["data"] = map[string]any{"value": b64(kc)}
	secret.SetName("kubeconfig-" + ns)
	createAll(t, []*unstructured.Unstructured{secret})
	var typed corev1Secret
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: secret.GetName()}, &typed); err != nil {
		t.Fatal(err)
	}
	data, err := reconcile.KubeConfigFromSecret(&typed, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := reconcile.RESTConfigFromKubeConfig(data, reconcile.KubeConfigOptions{QPS: 50, Burst: 100})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := newClient(t, cfg)
	m := newManager(t, c, reconcile.Options{Owner: reconcile.Owner{Name: "remote", Namespace: "default"}})
	cs, err := m.Apply(ctx, objects(t, ns, `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: NS}`))
	if err != nil || len(cs.Filter(reconcile.Created)) != 2 {
		t.Fatalf("remote apply: %v %v", cs.Entries, err)
	}
}

func TestFinalizePolicies(t *testing.T) {
	ns := uniqueNS("final")
	m := newManager(t, nil, reconcile.Options{Owner: reconcile.Owner{Name: "app", Namespace: "flux-system"}})
	ctx := ctxT(t, time.Minute)
	apply := func() reconcile.Inventory {
		t.Helper()
		_, err := m.Apply(ctx, objects(t, ns, `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: NS}`))
		if err != nil {
			t.Fatal(err)
		}
		return reconcile.NewInventory(cm(ns, "a"))
	}
	inv := apply()
	for _, tt := range []struct {
		opts    reconcile.FinalizeOptions
		deleted bool
	}{
		{reconcile.FinalizeOptions{}, false},
		{reconcile.FinalizeOptions{Policy: reconcile.Orphan, Prune: true}, false},
		{reconcile.FinalizeOptions{Policy: reconcile.MirrorPrune, Prune: true}, true},
		{reconcile.FinalizeOptions{Policy: reconcile.Delete}, true},
		{reconcile.FinalizeOptions{Policy: reconcile.WaitForTermination, Timeout: 30 * time.Second}, true},
	} {
		inv = apply()
		cs, err := m.Finalize(ctx, inv, tt.opts)
		if err != nil {
			t.Fatalf("%+v: %v", tt.opts, err)
		}
		if _, exists := get(t, cm(ns, "a")); exists == tt.deleted {
			t.Errorf("%+v: exists=%v", tt.opts, exists)
		}
		if got := len(cs.Filter(reconcile.Deleted)) == 1; got != tt.deleted {
			t.Errorf("%+v: change set %v", tt.opts, cs.Entries)
		}
	}
	if _, err := m.Finalize(ctx, inv, reconcile.FinalizeOptions{Policy: "Sometimes"}); err == nil || !strings.Contains(err.Error(), "Sometimes") {
		t.Errorf("unknown policy: %v", err)
	}
}

func TestConflictImmutableAndPolicies(t *testing.T) {
	ns := uniqueNS("conflict")
	m := newManager(t, nil, reconcile.Options{Owner: reconcile.Owner{Name: "app", Namespace: "flux-system"}, FieldManager: "gitopskit-test"})
	ctx := ctxT(t, time.Minute)
	set := `
apiVersion: v1
kind: Namespace
metadata: {name: NS}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: shared, namespace: NS}
data: {owner: gitops}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: frozen, namespace: NS}
immutable: true
data: {v: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: seeded
  namespace: NS
  annotations: {kustomize.toolkit.fluxcd.io/ssa: IfNotPresent}
data: {v: seed}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ignored
  namespace: NS
  annotations: {kustomize.toolkit.fluxcd.io/ssa: Ignore}
data: {v: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
`
	cs, err := m.Apply(ctx, objects(t, ns, set))
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(cs)["ConfigMap/"+ns+"/ignored"]; got != reconcile.Skipped {
		t.Errorf("ssa: Ignore gave %s", got)
	}
	if _, ok := get(t, cm(ns, "ignored")); ok {
		t.Error("ssa: Ignore object was created")
	}

	// Another field manager takes the field with a forced server-side apply.
	other := cm(ns, "shared").Unstructured()
	other.Object["data"] = map[string]any{"owner": "someone-else"}
	if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(other), client.FieldOwner("other-tool"), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
	// Someone edits the IfNotPresent object; it is left alone.
	seeded, _ := get(t, cm(ns, "seeded"))
	seeded.Object["data"] = map[string]any{"v": "edited"}
	if err := env.Client.Update(ctx, seeded); err != nil {
		t.Fatal(err)
	}
	// HPA-like replica changes are excluded from drift by an ignore rule.
	waitObserved(t, ns, "web") // the deployment controller's own write first
	depRef := reconcile.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: ns, Name: "web"}
	// kube-controller-manager writes the Deployment too: retry on conflicts.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep, _ := get(t, depRef)
		_ = unstructured.SetNestedField(dep.Object, int64(2), "spec", "replicas")
		return env.Client.Update(ctx, dep, client.FieldOwner("autoscaler"))
	}); err != nil {
		t.Fatal(err)
	}
	withRules := newManager(t, nil, reconcile.Options{
		Owner: reconcile.Owner{Name: "app", Namespace: "flux-system"}, FieldManager: "gitopskit-test",
		IgnoreRules: []reconcile.IgnoreRule{{Paths: []string{"/spec/replicas"}, Target: &reconcile.Selector{Kind: "Deployment"}}},
	})
	cs, err = withRules.Apply(ctx, objects(t, ns, set))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]reconcile.Action{
		"Namespace/" + ns: reconcile.Unchanged, "ConfigMap/" + ns + "/shared": reconcile.Configured,
		"ConfigMap/" + ns + "/frozen": reconcile.Unchanged, "ConfigMap/" + ns + "/seeded": reconcile.Skipped,
		"ConfigMap/" + ns + "/ignored": reconcile.Skipped, "Deployment/" + ns + "/web": reconcile.Unchanged,
	}
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Errorf("second apply (-want +got):\n%s", diff)
	}
	shared, _ := get(t, cm(ns, "shared"))
	if v, _, _ := unstructured.NestedString(shared.Object, "data", "owner"); v != "gitops" {
		t.Errorf("conflicting field not taken back: %q", v)
	}
	for _, mf := range shared.GetManagedFields() {
		if mf.Manager == "other-tool" && strings.Contains(mf.FieldsV1.GetRawString(), "owner") {
			t.Errorf("other-tool still owns data.owner: %s", mf.FieldsV1.GetRawString())
		}
	}
	if s, _ := get(t, cm(ns, "seeded")); s.Object["data"].(map[string]any)["v"] != "edited" {
		t.Error("IfNotPresent object was overwritten")
	}
	dep, _ := get(t, depRef)
	if r, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas"); r != 2 {
		t.Errorf("ignored field was reverted: replicas=%d", r)
	}

	// Immutable field change: an error without force ...
	frozen := strings.Replace(set, `data: {v: "1"}`+"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: seeded", `data: {v: "2"}`+"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: seeded", 1)
	if frozen == set {
		t.Fatal("test set not changed")
	}
	before, _ := get(t, cm(ns, "frozen"))
	_, err = m.Apply(ctx, objects(t, ns, frozen))
	if err == nil || !strings.Contains(err.Error(), "ConfigMap/"+ns+"/frozen") || !strings.Contains(err.Error(), "immutable") {
		t.Fatalf("immutable change without force: %v", err)
	}
	// ... and a delete-and-recreate with the force annotation.
	forced := strings.Replace(frozen, "name: frozen, namespace: NS}", "name: frozen, namespace: NS, annotations: {kustomize.toolkit.fluxcd.io/force: enabled}}", 1)
	cs, err = m.Apply(ctx, objects(t, ns, forced))
	if err != nil {
		t.Fatalf("forced apply: %v", err)
	}
	after, _ := get(t, cm(ns, "frozen"))
	if after.GetUID() == before.GetUID() || after.Object["data"].(map[string]any)["v"] != "2" {
		t.Errorf("object not recreated: uid %s -> %s, data %v", before.GetUID(), after.GetUID(), after.Object["data"])
	}
	if a := actions(cs)["ConfigMap/"+ns+"/frozen"]; a != reconcile.Created && a != reconcile.Configured {
		t.Errorf("forced recreate reported %s", a)
	}
	// The Manager-wide Force option does the same without the annotation.
	forceAll := newManager(t, nil, reconcile.Options{Owner: reconcile.Owner{Name: "app", Namespace: "flux-system"}, FieldManager: "gitopskit-test", Force: true})
	if _, err := forceAll.Apply(ctx, objects(t, ns, set)); err != nil {
		t.Fatalf("Force option: %v", err)
	}
	if f, _ := get(t, cm(ns, "frozen")); f.Object["data"].(map[string]any)["v"] != "1" {
		t.Error("Force option did not recreate")
	}
}

// A tenant's set with one object outside its namespace and one
// cluster-scoped object is refused whole: nothing is written, not even the
// objects that were in the namespace.
func TestTenancyRefusesBeforeApplying(t *testing.T) {
	ns, other := uniqueNS("tenant"), uniqueNS("victim")
	ctx := ctxT(t, time.Minute)
	createAll(t, objects(t, ns, "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS}"))
	createAll(t, objects(t, other, "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS}"))
	c, wc := newClient(t, nil)
	m := newManager(t, c, reconcile.Options{
		Owner:   reconcile.Owner{Name: "tenant", Namespace: ns},
		Tenancy: reconcile.Tenancy{Namespace: ns},
	})
	set := objects(t, ns, `
apiVersion: v1
kind: ConfigMap
metadata: {name: mine, namespace: NS}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: child, namespace: NS}
spec: {interval: 1m, prune: true, sourceRef: {kind: GitRepository, name: fleet}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: moved, namespace: OTHER}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: NS-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: default, namespace: NS}]`)
	set[2].SetNamespace(other)
	res, err := m.Sync(ctx, set, reconcile.Inventory{}, reconcile.SyncOptions{Prune: true})
	var te *reconcile.TenancyError
	if !errors.As(err, &te) || len(te.Refused) != 2 {
		t.Fatalf("want a TenancyError refusing 2 objects, got %v", err)
	}
	for _, want := range []string{"ConfigMap/" + other + "/moved", "ClusterRoleBinding/" + ns + "-admin: cluster-scoped"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if res.ChangeSet.Len() != 0 || res.Inventory.Len() != 0 || wc.writes.Load() != 0 {
		t.Errorf("refused set changed something: %v, inventory %v, %d writes", res.ChangeSet.Entries, res.Inventory, wc.writes.Load())
	}
	if _, found := get(t, cm(ns, "mine")); found {
		t.Error("an object of the refused set was applied")
	}
	if _, err := m.Diff(ctx, set); !errors.As(err, &te) {
		t.Errorf("Diff: want a TenancyError, got %v", err)
	}
	// Within the namespace, custom kinds included, the set applies.
	cs, err := m.Apply(ctx, set[:2])
	if err != nil || len(cs.Filter(reconcile.Created)) != 2 {
		t.Fatalf("tenant's own objects: %v %v", cs.Entries, err)
	}
}
