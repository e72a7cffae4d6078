package helmrelease

import (
	"context"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/reconcile"
)

// Dependencies maps a HelmRelease's spec.dependsOn and the entries of its
// reconcile.DependsOnAnnotation to the unit reconcile.CheckDependencies
// checks. HelmRelease entries of the annotation are checked exactly as
// spec.dependsOn entries (their Kind is left empty); Kustomization entries
// keep their Kind. The error names a malformed annotation entry.
func Dependencies(obj *helmv2.HelmRelease) (reconcile.Unit, error) {
	unit := reconcile.Unit{Ref: reconcile.UnitRef{Namespace: obj.Namespace, Name: obj.Name}}
	for _, d := range obj.Spec.DependsOn {
		unit.DependsOn = append(unit.DependsOn, reconcile.Dependency{Ref: reconcile.UnitRef{Namespace: d.Namespace, Name: d.Name}, ReadyExpr: d.ReadyExpr})
	}
	err := reconcile.AddAnnotatedDependencies(&unit, obj.GetAnnotations(), helmv2.HelmReleaseKind)
	return unit, err
}

// checkDependencies applies Flux's rules through reconcile.ObjectReadiness:
// every HelmRelease depended upon is Ready at its current generation, or
// satisfies its readyExpr; every Kustomization depended upon is Ready at
// its current generation (a HelmRelease reads no Kustomization source, so
// Flux's same-source revision rule never applies).
func (r *Reconciler) checkDependencies(ctx context.Context, unit reconcile.Unit) error {
	return reconcile.CheckDependencies(ctx, unit, reconcile.KindReadiness{
		"": reconcile.ObjectReadiness{
			Reader: r.Client,
			GVK:    helmv2.GroupVersion.WithKind(helmv2.HelmReleaseKind),
			New:    func() client.Object { return &helmv2.HelmRelease{} },
		},
		kustomizev1.KustomizationKind: reconcile.ObjectReadiness{
			Reader: r.Client,
			GVK:    kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind),
			New:    func() client.Object { return &kustomizev1.Kustomization{} },
		},
	})
}

// dependencyKeys are the dependsOn index values of a HelmRelease:
// "<Kind>/<namespace>/<name>" of each dependency, from spec.dependsOn and
// from a well-formed annotation.
func dependencyKeys(hr *helmv2.HelmRelease) []string {
	unit, _ := Dependencies(hr)
	return reconcile.DependencyKeys(unit, helmv2.HelmReleaseKind)
}
