package helmrelease

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
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/reconcile"
)

// Field indexes on HelmReleases.
const (
	chartIndex     = ".metadata.chartSource"
	valuesIndex    = ".metadata.valuesSource"
	dependsOnIndex = ".metadata.dependsOn"
)

// Options tunes SetupWithManager. The zero value runs one reconcile at a time.
type Options = fluxadapter.ControllerOptions

// SetupWithManager registers the reconciler with mgr: HelmReleases are
// reconciled when their spec or annotations change, when the artifact of
// their chart (the HelmChart of spec.chart, the OCIRepository or HelmChart
// of spec.chartRef, with AllowExternalArtifact its ExternalArtifact) or
// of their ValuesFromSourceAnnotation source changes, and when a HelmRelease they depend on (or a
// Kustomization of the reconcile.DependsOnAnnotation) becomes ready.
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
	if err := idx.IndexField(ctx, &helmv2.HelmRelease{}, chartIndex, func(o client.Object) []string {
		return []string{ChartSourceKey(o.(*helmv2.HelmRelease))}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &helmv2.HelmRelease{}, valuesIndex, func(o client.Object) []string {
		if k := valuesSourceKey(o.(*helmv2.HelmRelease)); k != "" {
			return []string{k}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &helmv2.HelmRelease{}, dependsOnIndex, func(o client.Object) []string {
		return dependencyKeys(o.(*helmv2.HelmRelease))
	}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("helmrelease").
		For(&helmv2.HelmRelease{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&helmv2.HelmRelease{}, handler.EnqueueRequestsFromMapFunc(r.dependents), builder.WithPredicates(fluxadapter.DependencyReady())).
		Watches(&kustomizev1.Kustomization{}, handler.EnqueueRequestsFromMapFunc(r.dependents), builder.WithPredicates(fluxadapter.DependencyReady())).
		Watches(&sourcev1.HelmChart{}, handler.EnqueueRequestsFromMapFunc(r.forChart(sourcev1.HelmChartKind)), builder.WithPredicates(fluxadapter.ArtifactChanged())).
		Watches(&sourcev1.OCIRepository{}, handler.EnqueueRequestsFromMapFunc(r.forChart(sourcev1.OCIRepositoryKind)), builder.WithPredicates(fluxadapter.ArtifactChanged())).
		Watches(&sourcev1.GitRepository{}, handler.EnqueueRequestsFromMapFunc(r.forChart(sourcev1.GitRepositoryKind)), builder.WithPredicates(fluxadapter.ArtifactChanged())).
		Watches(&sourcev1.Bucket{}, handler.EnqueueRequestsFromMapFunc(r.forChart(sourcev1.BucketKind)), builder.WithPredicates(fluxadapter.ArtifactChanged()))
	if r.AllowExternalArtifact {
		b = b.Watches(&sourcev1.ExternalArtifact{}, handler.EnqueueRequestsFromMapFunc(r.forChart(sourcev1.ExternalArtifactKind)), builder.WithPredicates(fluxadapter.ArtifactChanged()))
	}
	return b.WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles, SkipNameValidation: &opts.SkipNameValidation}).
		Complete(r)
}

// ChartSourceKey is "<kind>/<namespace>/<name>" of the chart source of obj:
// the HelmChart its spec.chart creates, or its spec.chartRef.
func ChartSourceKey(obj *helmv2.HelmRelease) string {
	if ref := obj.Spec.ChartRef; ref != nil {
		ns := ref.Namespace
		if ns == "" {
			ns = obj.Namespace
		}
		return fmt.Sprintf("%s/%s/%s", ref.Kind, ns, ref.Name)
	}
	if obj.Spec.Chart != nil {
		return fmt.Sprintf("%s/%s/%s", sourcev1.HelmChartKind, obj.Spec.Chart.GetNamespace(obj.Namespace), obj.GetHelmChartName())
	}
	return ""
}

// forChart enqueues the HelmReleases whose chart source or values source
// (ValuesFromSourceAnnotation) is o, of kind.
func (r *Reconciler) forChart(kind string) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []ctrlreconcile.Request {
		key := fmt.Sprintf("%s/%s/%s", kind, o.GetNamespace(), o.GetName())
		reqs := r.list(ctx, client.MatchingFields{chartIndex: key})
		seen := make(map[ctrlreconcile.Request]bool, len(reqs))
		for _, q := range reqs {
			seen[q] = true
		}
		for _, q := range r.list(ctx, client.MatchingFields{valuesIndex: key}) {
			if !seen[q] {
				reqs = append(reqs, q)
			}
		}
		return reqs
	}
}

// dependents enqueues the HelmReleases that depend on o, a HelmRelease or
// a Kustomization.
func (r *Reconciler) dependents(ctx context.Context, o client.Object) []ctrlreconcile.Request {
	kind := helmv2.HelmReleaseKind
	if _, ok := o.(*kustomizev1.Kustomization); ok {
		kind = kustomizev1.KustomizationKind
	}
	return r.list(ctx, client.MatchingFields{dependsOnIndex: reconcile.DependencyKey(kind, o.GetNamespace(), o.GetName())})
}

func (r *Reconciler) list(ctx context.Context, sel client.MatchingFields) []ctrlreconcile.Request {
	return fluxadapter.Requests(ctx, r.Client, &helmv2.HelmReleaseList{}, sel)
}
