package kustomization_test

import (
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/kustomization"
	"github.com/gitopskit/gitopskit/reconcile"
)

// ExampleBuildOptions maps a Kustomization's overrides to the options of
// kustomize.Build.
func ExampleBuildOptions() {
	spec := kustomizev1.KustomizationSpec{
		TargetNamespace: "apps",
		NamePrefix:      "prod-",
		Images:          []kustomize.Image{{Name: "nginx", NewTag: "1.27"}},
		CommonMetadata:  &kustomizev1.CommonMetadata{Labels: map[string]string{"team": "web"}},
	}
	opts := kustomization.BuildOptions(spec)
	fmt.Println(opts.TargetNamespace, opts.NamePrefix, opts.Images[0].NewTag, opts.CommonLabels["team"])
	// Output:
	// apps prod- 1.27 web
}

// ExampleDependencies merges spec.dependsOn with the cross-kind entries of
// the gitopskit.io/depends-on annotation.
func ExampleDependencies() {
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: "prod", Annotations: map[string]string{
			reconcile.DependsOnAnnotation: "HelmRelease/ingress-nginx, Kustomization/platform/crds",
		}},
		Spec: kustomizev1.KustomizationSpec{DependsOn: []kustomizev1.DependencyReference{{Name: "infra"}}},
	}
	unit, err := kustomization.Dependencies(k)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range unit.DependsOn {
		fmt.Printf("%q %q %q\n", d.Kind, d.Ref.Namespace, d.Ref.Name)
	}
	k.Annotations[reconcile.DependsOnAnnotation] = "ConfigMap/settings"
	_, err = kustomization.Dependencies(k)
	fmt.Println(err)
	// Output:
	// "" "" "infra"
	// "HelmRelease" "" "ingress-nginx"
	// "" "platform" "crds"
	// annotation gitopskit.io/depends-on: entry 1 "ConfigMap/settings": unknown kind "ConfigMap" (want Kustomization or HelmRelease)
}
