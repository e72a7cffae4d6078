package kustomization

import (
	"context"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/reconcile"
)

// Dependencies maps a Kustomization's spec.dependsOn and the entries of
// its reconcile.DependsOnAnnotation to the unit reconcile.CheckDependencies
// checks. Kustomization entries of the annotation are checked exactly as
// spec.dependsOn entries (their Kind is left empty); HelmRelease entries
// keep their Kind. The error names a malformed annotation entry.
func Dependencies(obj *kustomizev1.Kustomization) (reconcile.Unit, error) {
	unit := DependencyUnit(obj)
	err := reconcile.AddAnnotatedDependencies(&unit, obj.GetAnnotations(), kustomizev1.KustomizationKind)
	return unit, err
}

// checkDependencies applies Flux's rule through reconcile.ObjectReadiness:
// every Kustomization depended upon is Ready at its current generation
// and, when it reads the same source, has applied the source's current
// revision (a readyExpr replaces that check); a HelmRelease depended upon
// is Ready at its current generation, as helm-controller requires.
func (r *Reconciler) checkDependencies(ctx context.Context, unit reconcile.Unit, revision string) error {
	return reconcile.CheckDependencies(ctx, unit, reconcile.KindReadiness{
		"": reconcile.ObjectReadiness{
			Reader:   r.Client,
			GVK:      kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind),
			New:      func() client.Object { return &kustomizev1.Kustomization{} },
			Revision: reconcile.RevisionRule{Revision: revision},
		},
		helmv2.HelmReleaseKind: reconcile.ObjectReadiness{
			Reader: r.Client,
			GVK:    helmv2.GroupVersion.WithKind(helmv2.HelmReleaseKind),
			New:    func() client.Object { return &helmv2.HelmRelease{} },
		},
	})
}

// dependencyKeys are the dependsOn index values of a Kustomization:
// "<Kind>/<namespace>/<name>" of each dependency, from spec.dependsOn and
// from a well-formed annotation.
func dependencyKeys(k *kustomizev1.Kustomization) []string {
	unit, _ := Dependencies(k)
	return reconcile.DependencyKeys(unit, kustomizev1.KustomizationKind)
}
