package reconcile

import (
	"slices"
	"strings"
	"testing"
)

func TestAddAnnotatedDependencies(t *testing.T) {
	unit := Unit{Ref: UnitRef{Namespace: "apps", Name: "web"}, DependsOn: []Dependency{{Ref: UnitRef{Name: "spec"}}}}
	ann := map[string]string{DependsOnAnnotation: " Kustomization/infra , HelmRelease/db/redis,Kustomization/other/net "}
	if err := AddAnnotatedDependencies(&unit, ann, DependsOnKindKustomization); err != nil {
		t.Fatal(err)
	}
	got := DependencyKeys(unit, DependsOnKindKustomization)
	want := []string{"Kustomization/apps/spec", "Kustomization/apps/infra", "HelmRelease/db/redis", "Kustomization/other/net"}
	if !slices.Equal(got, want) {
		t.Errorf("keys %q, want %q", got, want)
	}
	// Entries of the unit's own kind are checked as spec.dependsOn ones.
	if unit.DependsOn[1].Kind != "" || unit.DependsOn[2].Kind != DependsOnKindHelmRelease {
		t.Errorf("kinds %+v", unit.DependsOn)
	}

	bad := Unit{Ref: UnitRef{Namespace: "apps", Name: "web"}}
	err := AddAnnotatedDependencies(&bad, map[string]string{DependsOnAnnotation: "Kustomization/infra,Deployment/x"}, DependsOnKindHelmRelease)
	if err == nil || !strings.Contains(err.Error(), "Deployment/x") || len(bad.DependsOn) != 0 {
		t.Errorf("unknown kind: %v, %+v", err, bad.DependsOn)
	}
	if err := AddAnnotatedDependencies(&bad, nil, DependsOnKindHelmRelease); err != nil || len(bad.DependsOn) != 0 {
		t.Errorf("no annotation: %v, %+v", err, bad.DependsOn)
	}
}
