package kustomization

import (
	"context"
	"fmt"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	gkreconcile "github.com/gitopskit/gitopskit/reconcile"
)

// Field indexes on Kustomizations.
const (
	sourceIndex    = ".metadata.sourceRef"
	dependsOnIndex = ".metadata.dependsOn"
)

// Options tunes SetupWithManager. The zero value runs one reconcile at a time.
type Options struct {
	// MaxConcurrentReconciles is the number of parallel reconciles; 0 means 1.
	MaxConcurrentReconciles int
	// SkipNameValidation allows several managers in one process to run
	// this controller (tests); false keeps controller-runtime's check.
	SkipNameValidation bool
}

// SetupWithManager registers the reconciler with mgr: Kustomizations are
// reconciled when their spec or annotations change, when the artifact of
// their source changes and when a dependency (a Kustomization, or a
// HelmRelease of the reconcile.DependsOnAnnotation) becomes ready.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.Config == nil {
		r.Config = mgr.GetConfig()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(ControllerName)
	}
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &kustomizev1.Kustomization{}, sourceIndex, func(o client.Object) []string {
		k := o.(*kustomizev1.Kustomization)
		return []string{sourceKey(k.Spec.SourceRef.Kind, sourceNamespace(k), k.Spec.SourceRef.Name)}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &kustomizev1.Kustomization{}, dependsOnIndex, func(o client.Object) []string {
		return dependencyKeys(o.(*kustomizev1.Kustomization))
	}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("kustomization").
		For(&kustomizev1.Kustomization{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&kustomizev1.Kustomization{}, handler.EnqueueRequestsFromMapFunc(r.dependents),
			builder.WithPredicates(fluxadapter.DependencyReady())).
		Watches(&helmv2.HelmRelease{}, handler.EnqueueRequestsFromMapFunc(r.dependents),
			builder.WithPredicates(fluxadapter.DependencyReady())).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
			SkipNameValidation:      &opts.SkipNameValidation,
		})
	for _, src := range []client.Object{&sourcev1.GitRepository{}, &sourcev1.OCIRepository{}, &sourcev1.Bucket{}} {
		b = b.Watches(src, handler.EnqueueRequestsFromMapFunc(r.forSource), builder.WithPredicates(fluxadapter.ArtifactChanged()))
	}
	return b.Complete(r)
}

func sourceNamespace(k *kustomizev1.Kustomization) string {
	if k.Spec.SourceRef.Namespace != "" {
		return k.Spec.SourceRef.Namespace
	}
	return k.Namespace
}

func sourceKey(kind, namespace, name string) string {
	return fmt.Sprintf("%s/%s/%s", kind, namespace, name)
}

// forSource enqueues the Kustomizations reading a source.
func (r *Reconciler) forSource(ctx context.Context, o client.Object) []reconcile.Request {
	kind := ""
	switch o.(type) {
	case *sourcev1.GitRepository:
		kind = sourcev1.GitRepositoryKind
	case *sourcev1.OCIRepository:
		kind = sourcev1.OCIRepositoryKind
	case *sourcev1.Bucket:
		kind = sourcev1.BucketKind
	}
	return r.list(ctx, client.MatchingFields{sourceIndex: sourceKey(kind, o.GetNamespace(), o.GetName())})
}

// dependents enqueues the Kustomizations that depend on o, a
// Kustomization or a HelmRelease.
func (r *Reconciler) dependents(ctx context.Context, o client.Object) []reconcile.Request {
	kind := kustomizev1.KustomizationKind
	if _, ok := o.(*helmv2.HelmRelease); ok {
		kind = helmv2.HelmReleaseKind
	}
	return r.list(ctx, client.MatchingFields{dependsOnIndex: gkreconcile.DependencyKey(kind, o.GetNamespace(), o.GetName())})
}

func (r *Reconciler) list(ctx context.Context, sel client.MatchingFields) []reconcile.Request {
	return fluxadapter.Requests(ctx, r.Client, &kustomizev1.KustomizationList{}, sel)
}
