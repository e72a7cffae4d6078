package helmrelease

import (
	"errors"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"

	"github.com/gitopskit/gitopskit/reconcile"
)

// CheckNamespaceRefs returns an error wrapping reconcile.ErrAccessDenied
// that names each reference of obj to another namespace: the source of
// spec.chart (spec.chart.spec.sourceRef), spec.chartRef and the entries
// of spec.dependsOn, reconcile.DependsOnAnnotation and
// ValuesFromSourceAnnotation (malformed annotations are not checked here:
// the reconciler reports them otherwise). It
// is what Reconciler.NoCrossNamespaceRefs (Flux's
// --no-cross-namespace-refs) refuses. spec.valuesFrom has no namespace in
// Flux's API: values always come from the HelmRelease's own namespace.
func CheckNamespaceRefs(obj *helmv2.HelmRelease) error {
	var errs []error
	if c := obj.Spec.Chart; c != nil {
		ref := c.Spec.SourceRef
		errs = append(errs, reconcile.CheckSameNamespace("spec.chart.spec.sourceRef", ref.Kind+"/"+ref.Name, obj.Namespace, ref.Namespace))
	}
	if ref := obj.Spec.ChartRef; ref != nil {
		errs = append(errs, reconcile.CheckSameNamespace("spec.chartRef", ref.Kind+"/"+ref.Name, obj.Namespace, ref.Namespace))
	}
	for i, d := range obj.Spec.DependsOn {
		errs = append(errs, reconcile.CheckSameNamespace(fmt.Sprintf("spec.dependsOn[%d]", i), helmv2.HelmReleaseKind+"/"+d.Name, obj.Namespace, d.Namespace))
	}
	if ref, _, ok, err := ValuesSource(obj); ok && err == nil {
		errs = append(errs, reconcile.CheckSameNamespace("metadata.annotations["+ValuesFromSourceAnnotation+"]", ref.Kind+"/"+ref.Name, obj.Namespace, ref.Namespace))
	}
	extra, _ := reconcile.ParseDependsOn(obj.GetAnnotations()[reconcile.DependsOnAnnotation])
	for _, d := range extra {
		errs = append(errs, reconcile.CheckSameNamespace("metadata.annotations["+reconcile.DependsOnAnnotation+"]", d.Kind+"/"+d.Ref.Name, obj.Namespace, d.Ref.Namespace))
	}
	return errors.Join(errs...)
}
