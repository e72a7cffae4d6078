package helmchart

import (
	"context"
	"fmt"
	"strings"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/examples/ocirepository"
	"github.com/gitopskit/gitopskit/source/oci"
)

// SourceIndexKey is the field index of HelmCharts by their source,
// "<kind>/<name>", through which a source's new artifact enqueues the
// HelmCharts built from it.
const SourceIndexKey = ".metadata.helmChartSource"

// SetupWithManager registers the reconciler with mgr: HelmCharts are
// reconciled on changes of generation or annotations, and when the
// artifact revision of the HelmRepository, GitRepository or Bucket they
// are built from changes, as in Flux.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(fluxadapter.SourceControllerName)
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &sourcev1.HelmChart{}, SourceIndexKey, func(o client.Object) []string {
		ref := o.(*sourcev1.HelmChart).Spec.SourceRef
		return []string{ref.Kind + "/" + ref.Name}
	}); err != nil {
		return fmt.Errorf("indexing HelmCharts by source: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("helmchart").
		For(&sourcev1.HelmChart{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
			SkipNameValidation:      &opts.SkipNameValidation,
		})
	for _, src := range []client.Object{&sourcev1.HelmRepository{}, &sourcev1.GitRepository{}, &sourcev1.Bucket{}} {
		b = b.Watches(src, handler.EnqueueRequestsFromMapFunc(r.chartsOf), builder.WithPredicates(revisionChanged{}))
	}
	return b.Complete(r)
}

// chartsOf returns the HelmCharts built from the source o whose observed
// source revision is not its artifact's.
func (r *Reconciler) chartsOf(ctx context.Context, o client.Object) []ctrlreconcile.Request {
	src, ok := o.(sourcev1.Source)
	if !ok || src.GetArtifact() == nil {
		return nil
	}
	var kind string
	switch o.(type) {
	case *sourcev1.HelmRepository:
		kind = sourcev1.HelmRepositoryKind
	case *sourcev1.GitRepository:
		kind = sourcev1.GitRepositoryKind
	case *sourcev1.Bucket:
		kind = sourcev1.BucketKind
	}
	var list sourcev1.HelmChartList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()),
		client.MatchingFields{SourceIndexKey: kind + "/" + o.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the HelmCharts of a source", "source", kind+"/"+o.GetName())
		return nil
	}
	var out []ctrlreconcile.Request
	for i := range list.Items {
		if c := &list.Items[i]; c.Status.ObservedSourceArtifactRevision != src.GetArtifact().Revision {
			out = append(out, ctrlreconcile.Request{NamespacedName: client.ObjectKeyFromObject(c)})
		}
	}
	return out
}

// revisionChanged passes the creation of a source with an artifact and
// updates that change its artifact's revision.
type revisionChanged struct{ predicate.Funcs }

// Create passes a source that has an artifact.
func (revisionChanged) Create(e event.CreateEvent) bool {
	s, ok := e.Object.(sourcev1.Source)
	return ok && s.GetArtifact() != nil
}

// Update passes a change of the artifact's revision.
func (revisionChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(sourcev1.Source)
	n, ok2 := e.ObjectNew.(sourcev1.Source)
	if !ok1 || !ok2 || n.GetArtifact() == nil {
		return false
	}
	return o.GetArtifact() == nil || o.GetArtifact().Revision != n.GetArtifact().Revision
}

// Delete passes nothing.
func (revisionChanged) Delete(event.DeleteEvent) bool { return false }

// Generic passes nothing.
func (revisionChanged) Generic(event.GenericEvent) bool { return false }

// verifier returns the verifier of obj's spec.verify (Unsupported has
// checked its provider): the secretRef's cosign public keys ("*.pub"), or
// keyless against the Reconciler's TrustedRoot; nil without spec.verify.
func (r *Reconciler) verifier(ctx context.Context, obj *sourcev1.HelmChart) (oci.Verifier, error) {
	v := obj.Spec.Verify
	if v == nil {
		return nil, nil
	}
	if v.SecretRef == nil {
		return ocirepository.KeylessVerifier(r.TrustedRoot, v.MatchOIDCIdentity)
	}
	data, err := fluxadapter.SecretData(ctx, r.Client, obj.Namespace, v.SecretRef.Name)
	if err != nil {
		return nil, err
	}
	ver, err := ocirepository.CosignVerifier(data)
	if err != nil {
		return nil, fmt.Errorf("invalid verification Secret %q: %w", v.SecretRef.Name, err)
	}
	return ver, nil
}

// verified reports whether SourceVerified already holds for the artifact
// revision of obj's current generation.
func verified(obj *sourcev1.HelmChart) bool {
	c := apimeta.FindStatusCondition(obj.Status.Conditions, sourcev1.SourceVerifiedCondition)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == obj.Generation &&
		obj.Status.Artifact != nil && strings.HasSuffix(c.Message, " "+obj.Status.Artifact.Revision)
}
