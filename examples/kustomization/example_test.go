package kustomization_test

import (
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"

	"github.com/gitopskit/gitopskit/examples/kustomization"
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
