package clustertest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/reconcile"
)

var ksGVK = schema.GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"}

func setKsStatus(t *testing.T, ns, name, ready string, observed int64, revision string) {
	t.Helper()
	ctx := context.Background()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ksGVK)
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	u.Object["status"] = map[string]any{
		"observedGeneration":  observed,
		"lastAppliedRevision": revision,
		"conditions": []any{map[string]any{
			"type": "Ready", "status": ready, "reason": "ReconciliationSucceeded", "message": "Applied revision: " + revision,
			"lastTransitionTime": time.Now().UTC().Format(time.RFC3339), "observedGeneration": observed,
		}},
	}
	if err := env.Client.Status().Update(ctx, u); err != nil {
		t.Fatal(err)
	}
}

// Kustomizations depending on each other, checked against the real API
// server with the built-in check and with readyExpr.
func TestDependencyReadiness(t *testing.T) {
	ns := uniqueNS("deps")
	ctx := ctxT(t, time.Minute)
	ks := `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: NAME, namespace: NS}
spec:
  interval: 5m
  prune: true
  path: ./NAME
  sourceRef: {kind: GitRepository, name: repo}
`
	createAll(t, objects(t, ns, "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS}"))
	for _, n := range []string{"infra", "apps", "db"} {
		createAll(t, objects(t, ns, strings.ReplaceAll(ks, "NAME", n)))
	}
	units := []reconcile.Unit{
		{Ref: reconcile.UnitRef{Namespace: ns, Name: "apps"}, DependsOn: []reconcile.Dependency{
			{Ref: reconcile.UnitRef{Name: "infra"}},
			{Ref: reconcile.UnitRef{Name: "db"}, ReadyExpr: "dep.status.lastAppliedRevision == 'main@sha1:2' && self.spec.path == './apps'"},
		}},
		{Ref: reconcile.UnitRef{Namespace: ns, Name: "infra"}},
		{Ref: reconcile.UnitRef{Namespace: ns, Name: "db"}, DependsOn: []reconcile.Dependency{{Ref: reconcile.UnitRef{Name: "infra"}}}},
	}
	g, err := reconcile.NewGraph(units)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Order(); got[0].Name != "infra" || got[2].Name != "apps" {
		t.Errorf("order %v", got)
	}
	checker := reconcile.ObjectReadiness{Reader: env.Client, GVK: ksGVK}
	apps := reconcile.Unit{Ref: units[0].Ref, DependsOn: g.DependsOn(units[0].Ref)}

	// Nothing reconciled yet: both dependencies are not ready.
	err = reconcile.CheckDependencies(ctx, apps, checker)
	var nr *reconcile.DependencyNotReadyError
	if !errors.As(err, &nr) || len(nr.Reasons) != 2 {
		t.Fatalf("want two dependencies not ready, got %v", err)
	}
	setKsStatus(t, ns, "infra", "True", 1, "main@sha1:1")
	setKsStatus(t, ns, "db", "True", 1, "main@sha1:1")
	err = reconcile.CheckDependencies(ctx, apps, checker)
	if !errors.As(err, &nr) || len(nr.Reasons) != 1 || nr.Reasons[reconcile.UnitRef{Namespace: ns, Name: "db"}] == nil {
		t.Fatalf("want db not ready by readyExpr, got %v", err)
	}
	if !strings.Contains(err.Error(), "readyExpr") {
		t.Errorf("error does not name the readyExpr: %v", err)
	}
	setKsStatus(t, ns, "db", "False", 1, "main@sha1:2")
	if err := reconcile.CheckDependencies(ctx, apps, checker); err != nil {
		t.Errorf("readyExpr replaces the built-in check, yet: %v", err)
	}
	// A stale observedGeneration makes the built-in check fail.
	setKsStatus(t, ns, "infra", "True", 0, "main@sha1:1")
	if err := reconcile.CheckDependencies(ctx, apps, checker); err == nil || !strings.Contains(err.Error(), "generation") {
		t.Errorf("stale dependency accepted: %v", err)
	}
	// A missing dependency is reported, not fatal.
	missing := reconcile.Unit{Ref: apps.Ref, DependsOn: []reconcile.Dependency{{Ref: reconcile.UnitRef{Namespace: ns, Name: "nope"}}}}
	if err := reconcile.CheckDependencies(ctx, missing, checker); !errors.As(err, &nr) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("missing dependency: %v", err)
	}
}

// Flux's same-source rule against real Kustomizations: a dependency reading
// the dependent's source must have applied the revision about to be
// applied; one reading another source is not held to it.
func TestDependencyRevisionRule(t *testing.T) {
	ns := uniqueNS("deprev")
	ctx := ctxT(t, time.Minute)
	ks := `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: NAME, namespace: NS}
spec:
  interval: 5m
  prune: true
  path: ./NAME
  sourceRef: {kind: GitRepository, name: SRC}
`
	createAll(t, objects(t, ns, "apiVersion: v1\nkind: Namespace\nmetadata: {name: NS}"))
	for name, src := range map[string]string{"apps": "repo", "infra": "repo", "crds": "other"} {
		createAll(t, objects(t, ns, strings.NewReplacer("NAME", name, "SRC", src).Replace(ks)))
	}
	const (
		rev1 = "main@sha1:1111111111111111111111111111111111111111"
		rev2 = "main@sha1:2222222222222222222222222222222222222222"
	)
	setKsStatus(t, ns, "infra", "True", 1, rev1)
	setKsStatus(t, ns, "crds", "True", 1, rev1)
	apps := reconcile.Unit{Ref: reconcile.UnitRef{Namespace: ns, Name: "apps"}, DependsOn: []reconcile.Dependency{
		{Ref: reconcile.UnitRef{Name: "infra"}}, {Ref: reconcile.UnitRef{Name: "crds"}},
	}}
	checker := reconcile.ObjectReadiness{Reader: env.Client, GVK: ksGVK, Revision: reconcile.RevisionRule{Revision: rev2}}

	err := reconcile.CheckDependencies(ctx, apps, checker)
	var nr *reconcile.DependencyNotReadyError
	if !errors.As(err, &nr) || len(nr.Reasons) != 1 {
		t.Fatalf("want only infra held back, got %v", err)
	}
	if reason := nr.Reasons[reconcile.UnitRef{Namespace: ns, Name: "infra"}]; reason == nil || !strings.Contains(reason.Error(), rev1) {
		t.Errorf("infra's reason should name the revision it applied: %v", reason)
	}
	// Without the rule (zero RevisionRule) both are ready.
	if err := reconcile.CheckDependencies(ctx, apps, reconcile.ObjectReadiness{Reader: env.Client, GVK: ksGVK}); err != nil {
		t.Errorf("without the revision rule: %v", err)
	}
	// Flux's legacy revision form counts as the same revision.
	setKsStatus(t, ns, "infra", "True", 1, "main/2222222222222222222222222222222222222222")
	if err := reconcile.CheckDependencies(ctx, apps, checker); err != nil {
		t.Errorf("after infra applied %s: %v", rev2, err)
	}
}
