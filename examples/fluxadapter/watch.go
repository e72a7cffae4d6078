package fluxadapter

import (
	"context"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/gitopskit/reconcile"
)

// ArtifactChanged returns the predicate a consumer of sources (a
// Kustomization, a HelmRelease) watches them with: it passes only updates
// of a Flux source whose artifact appeared or changed revision or digest.
func ArtifactChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(sourcev1.Source)
			n, ok2 := e.ObjectNew.(sourcev1.Source)
			if !ok1 || !ok2 || n.GetArtifact() == nil {
				return false
			}
			a := o.GetArtifact()
			return a == nil || a.Revision != n.GetArtifact().Revision || a.Digest != n.GetArtifact().Digest
		},
	}
}

// DependencyReady returns the predicate a controller watches what its
// objects may depend on (Kustomizations, HelmReleases) with: it passes
// only updates that made one Ready at its current generation or, for a
// Ready Kustomization, changed its last applied revision, which is what
// dependents wait for.
func DependencyReady() predicate.Predicate {
	type conditioned interface {
		client.Object
		GetConditions() []metav1.Condition
	}
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(conditioned)
			n, ok2 := e.ObjectNew.(conditioned)
			if !ok1 || !ok2 || !reconcile.IsReady(n.GetConditions(), n.GetGeneration()) {
				return false
			}
			if !reconcile.IsReady(o.GetConditions(), o.GetGeneration()) {
				return true
			}
			ok, isK := o.(*kustomizev1.Kustomization)
			nk, _ := n.(*kustomizev1.Kustomization)
			return isK && nk != nil && ok.Status.LastAppliedRevision != nk.Status.LastAppliedRevision
		},
	}
}

// Requests lists the objects of list (a typed list such as
// kustomizev1.KustomizationList) that opts select, for example through a
// field index, and returns a reconcile request for each: what a watch's
// map function enqueues. A failed list is logged and enqueues nothing.
func Requests(ctx context.Context, c client.Reader, list client.ObjectList, opts ...client.ListOption) []ctrlreconcile.Request {
	if err := c.List(ctx, list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing objects to enqueue")
		return nil
	}
	var out []ctrlreconcile.Request
	_ = apimeta.EachListItem(list, func(o runtime.Object) error {
		if m, err := apimeta.Accessor(o); err == nil {
			out = append(out, ctrlreconcile.Request{NamespacedName: types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()}})
		}
		return nil
	})
	return out
}
