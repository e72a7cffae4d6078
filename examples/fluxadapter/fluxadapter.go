package fluxadapter

import (
	"context"
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/reconcile"
)

// Artifact converts a status artifact to an artifact.Artifact; nil gives
// the zero Artifact.
func Artifact(a *meta.Artifact) artifact.Artifact {
	if a == nil {
		return artifact.Artifact{}
	}
	out := artifact.Artifact{
		Path: a.Path, URL: a.URL, Revision: a.Revision, Digest: a.Digest,
		LastUpdateTime: a.LastUpdateTime.Time, Metadata: a.Metadata,
	}
	if a.Size != nil {
		out.Size = *a.Size
	}
	return out
}

// MetaArtifact converts an artifact.Artifact to a status artifact.
func MetaArtifact(a artifact.Artifact) *meta.Artifact {
	size := a.Size
	return &meta.Artifact{
		Path: a.Path, URL: a.URL, Revision: a.Revision, Digest: a.Digest,
		LastUpdateTime: metav1.NewTime(a.LastUpdateTime), Size: &size, Metadata: a.Metadata,
	}
}

// Inventory converts a Kustomization's status inventory to a
// reconcile.Inventory; nil gives the empty Inventory.
func Inventory(in *kustomizev1.ResourceInventory) reconcile.Inventory {
	var inv reconcile.Inventory
	if in == nil {
		return inv
	}
	for _, e := range in.Entries {
		inv.Entries = append(inv.Entries, reconcile.InventoryEntry{ID: e.ID, Version: e.Version})
	}
	return inv
}

// ResourceInventory converts a reconcile.Inventory to a Kustomization's
// status inventory; an empty Inventory gives an empty, non-nil list, as
// Flux writes it.
func ResourceInventory(inv reconcile.Inventory) *kustomizev1.ResourceInventory {
	out := &kustomizev1.ResourceInventory{Entries: []kustomizev1.ResourceRef{}}
	for _, e := range inv.Entries {
		out.Entries = append(out.Entries, kustomizev1.ResourceRef{ID: e.ID, Version: e.Version})
	}
	return out
}

// Observed records in a Flux status that obj's current generation was
// reconciled and echoes its reconcile.fluxcd.io/requestedAt annotation
// into lastHandledReconcileAt, so `flux reconcile` sees its request
// handled. It is what a reconcile.Lifecycle's Observe hook calls, for
// example Observed(obj, &obj.Status.ObservedGeneration,
// &obj.Status.ReconcileRequestStatus).
func Observed(obj metav1.Object, observedGeneration *int64, req *meta.ReconcileRequestStatus) {
	*observedGeneration = obj.GetGeneration()
	if v, ok := meta.ReconcileAnnotationValue(obj.GetAnnotations()); ok {
		req.SetLastHandledReconcileRequest(v)
	}
}

// SourceNotFoundError reports a source object that does not exist, worded
// as Flux words it.
type SourceNotFoundError struct {
	// Ref is the reference as Flux prints it, for example
	// "GitRepository/flux-system/fleet".
	Ref string
}

// Error returns Flux's message.
func (e *SourceNotFoundError) Error() string { return fmt.Sprintf("Source '%s' not found", e.Ref) }

// Source reads the source object a Kustomization's spec.sourceRef points
// at: a GitRepository, an OCIRepository, a Bucket or an ExternalArtifact,
// in namespace when the reference names none. A source that does not
// exist is a *SourceNotFoundError.
func Source(ctx context.Context, r client.Reader, ref kustomizev1.CrossNamespaceSourceReference, namespace string) (sourcev1.Source, error) {
	if ref.Namespace != "" {
		namespace = ref.Namespace
	}
	var src interface {
		sourcev1.Source
		client.Object
	}
	switch ref.Kind {
	case sourcev1.GitRepositoryKind:
		src = &sourcev1.GitRepository{}
	case sourcev1.OCIRepositoryKind:
		src = &sourcev1.OCIRepository{}
	case sourcev1.BucketKind:
		src = &sourcev1.Bucket{}
	case sourcev1.ExternalArtifactKind:
		src = &sourcev1.ExternalArtifact{}
	default:
		return nil, fmt.Errorf("source kind '%s' is not supported", ref.Kind)
	}
	if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, src); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &SourceNotFoundError{Ref: ref.String()}
		}
		return nil, fmt.Errorf("unable to get source '%s': %w", ref.String(), err)
	}
	return src, nil
}
