package helmrelease_test

import (
	"fmt"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/helmrelease"
)

// ExampleHelmChartFor shows the HelmChart a HelmRelease's chart template
// creates, and the release options its spec maps to.
func ExampleHelmChartFor() {
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: "apps"},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: 10 * time.Minute},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "podinfo", Version: "6.x",
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: "HelmRepository", Name: "podinfo", Namespace: "flux-system"},
			}},
			Install: &helmv2.Install{CreateNamespace: true},
			Test:    &helmv2.Test{Enable: true, Filters: &[]helmv2.Filter{{Name: "smoke", Exclude: true}}},
		},
	}
	hc := helmrelease.HelmChartFor(hr)
	fmt.Println(hc.Namespace+"/"+hc.Name, hc.Spec.Chart, hc.Spec.Version, hc.Spec.Interval.Duration)
	fmt.Println(helmrelease.ChartSourceKey(hr))
	opts := helmrelease.StepOptions(hr)
	fmt.Println(opts.Install.CRDs, opts.Install.CreateNamespace, opts.Install.Timeout, opts.Upgrade.CRDs, opts.Test.Filters["!name"])
	// Output:
	// flux-system/apps-podinfo podinfo 6.x 10m0s
	// HelmChart/flux-system/apps-podinfo
	// Create true 5m0s Skip [smoke]
}

// ExampleValuesSource reads the annotations that take values files from a
// source artifact.
func ExampleValuesSource() {
	hr := &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: "podinfo", Namespace: "apps", Annotations: map[string]string{
		helmrelease.ValuesFromSourceAnnotation: "GitRepository/flux-system/fleet",
		helmrelease.ValuesFilesAnnotation:      "values/common.yaml,values/prod.yaml",
	}}}
	ref, paths, _, err := helmrelease.ValuesSource(hr)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ref.String(), paths)
	fmt.Println(helmrelease.CheckNamespaceRefs(hr))
	// Output:
	// GitRepository/flux-system/fleet [values/common.yaml values/prod.yaml]
	// access denied: metadata.annotations[gitopskit.io/values-from-source]: cannot reach GitRepository/fleet in namespace "flux-system" from namespace "apps": cross-namespace references are not allowed
}
