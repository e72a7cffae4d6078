package helmchart_test

import (
	"fmt"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/helmchart"
)

// The version a HelmChart built from a Git directory gets with
// reconcileStrategy Revision and values files, and how its build is
// reported.
func ExampleVersionMetadata() {
	obj := &sourcev1.HelmChart{
		ObjectMeta: metav1.ObjectMeta{Generation: 3},
		Spec: sourcev1.HelmChartSpec{
			Chart:             "charts/podinfo",
			SourceRef:         sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
			ReconcileStrategy: sourcev1.ReconcileStrategyRevision,
			ValuesFiles:       []string{"charts/podinfo/values.yaml", "env/prod.yaml"},
		},
	}
	vm := helmchart.VersionMetadata(obj, "main@sha1:4fa8e4c7b1b3a0a9d1c5f8b8e0d0c1f2a3b4c5d6")
	packaged := helmchart.Packaged(obj, vm)
	fmt.Println(vm)
	fmt.Println(helmchart.Reason(packaged))
	fmt.Println(helmchart.Summary(packaged, "podinfo", "6.5.0+"+vm, obj.Spec.ValuesFiles))
	// Output:
	// 4fa8e4c7b1b3.3
	// ChartPackageSucceeded
	// packaged 'podinfo' chart with version '6.5.0+4fa8e4c7b1b3.3' and merged values files [charts/podinfo/values.yaml env/prod.yaml]
}
