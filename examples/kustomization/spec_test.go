package kustomization_test

import (
	"errors"
	"strings"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	fluxkustomize "github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/kustomization"
	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/reconcile"
)

func TestBuildOptions(t *testing.T) {
	spec := kustomizev1.KustomizationSpec{
		NameSuffix: "-v2",
		Patches: []fluxkustomize.Patch{
			{Patch: "- op: add\n  path: /x\n  value: 1\n", Target: &fluxkustomize.Selector{Kind: "ConfigMap", LabelSelector: "a=b"}},
			{Patch: "kind: X"},
		},
		Components:              []string{"../c"},
		IgnoreMissingComponents: true,
		CommonMetadata:          &kustomizev1.CommonMetadata{Annotations: map[string]string{"a": "1"}},
	}
	want := kustomize.Options{
		NameSuffix: "-v2",
		Patches: []kustomize.Patch{
			{Patch: "- op: add\n  path: /x\n  value: 1\n", Target: &kustomize.Selector{Kind: "ConfigMap", LabelSelector: "a=b"}},
			{Patch: "kind: X"},
		},
		Components:              []string{"../c"},
		IgnoreMissingComponents: true,
		CommonAnnotations:       map[string]string{"a": "1"},
	}
	if diff := cmp.Diff(want, kustomization.BuildOptions(spec)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestManagerOptions(t *testing.T) {
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: "flux-system"},
		Spec: kustomizev1.KustomizationSpec{
			Force: true,
			HealthCheckExprs: []fluxkustomize.CustomHealthCheck{{APIVersion: "v1", Kind: "ConfigMap",
				HealthCheckExpressions: fluxkustomize.HealthCheckExpressions{Current: "true"}}},
			Ignore: []kustomizev1.IgnoreRule{{Paths: []string{"/spec/replicas"}, Target: &fluxkustomize.Selector{Kind: "Deployment"}}},
		},
	}
	want := reconcile.Options{
		FieldManager: "kustomize-controller",
		Owner:        reconcile.Owner{Name: "apps", Namespace: "flux-system"},
		Force:        true,
		HealthChecks: []reconcile.HealthCheckExpr{{APIVersion: "v1", Kind: "ConfigMap", Current: "true"}},
		IgnoreRules:  []reconcile.IgnoreRule{{Paths: []string{"/spec/replicas"}, Target: &reconcile.Selector{Kind: "Deployment"}}},
	}
	if diff := cmp.Diff(want, kustomization.ManagerOptions(k)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestHealthCheckInventory(t *testing.T) {
	tests := []struct {
		name    string
		refs    []meta.NamespacedObjectKindReference
		want    []string
		wantErr bool
	}{
		{"defaults namespace", []meta.NamespacedObjectKindReference{
			{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			{APIVersion: "v1", Kind: "Service", Name: "web", Namespace: "other"},
		}, []string{"apps_web_apps_Deployment", "other_web__Service"}, false},
		{"bad apiVersion", []meta.NamespacedObjectKindReference{{APIVersion: "a/b/c", Kind: "X", Name: "x"}}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := kustomization.HealthCheckInventory(tc.refs, "apps")
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tc.wantErr)
			}
			var ids []string
			for _, e := range inv.Entries {
				ids = append(ids, e.ID)
			}
			if diff := cmp.Diff(tc.want, ids); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckNamespaceRefs(t *testing.T) {
	k := &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: "team"}}
	k.Spec.SourceRef = kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "fleet"}
	k.Spec.DependsOn = []kustomizev1.DependencyReference{{Name: "a"}, {Name: "b", Namespace: "team"}}
	if err := kustomization.CheckNamespaceRefs(k); err != nil {
		t.Errorf("same-namespace references refused: %v", err)
	}
	k.Spec.SourceRef.Namespace = "flux-system"
	k.Spec.DependsOn = append(k.Spec.DependsOn, kustomizev1.DependencyReference{Name: "infra", Namespace: "platform"})
	err := kustomization.CheckNamespaceRefs(k)
	if !errors.Is(err, reconcile.ErrAccessDenied) {
		t.Fatalf("want ErrAccessDenied, got %v", err)
	}
	for _, want := range []string{`spec.sourceRef: cannot reach GitRepository/fleet in namespace "flux-system"`, `spec.dependsOn[2]: cannot reach Kustomization/infra in namespace "platform"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "dependsOn[0]") || strings.Contains(err.Error(), "dependsOn[1]") {
		t.Errorf("same-namespace dependencies named: %v", err)
	}
}

func TestDependencyUnit(t *testing.T) {
	obj := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web"},
		Spec: kustomizev1.KustomizationSpec{DependsOn: []kustomizev1.DependencyReference{
			{Name: "infra", Namespace: "flux-system"},
			{Name: "db", ReadyExpr: "dep.status.ready"},
		}},
	}
	want := reconcile.Unit{
		Ref: reconcile.UnitRef{Namespace: "apps", Name: "web"},
		DependsOn: []reconcile.Dependency{
			{Ref: reconcile.UnitRef{Namespace: "flux-system", Name: "infra"}},
			{Ref: reconcile.UnitRef{Name: "db"}, ReadyExpr: "dep.status.ready"},
		},
	}
	if diff := cmp.Diff(want, kustomization.DependencyUnit(obj)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
