package fluxadapter

import (
	"context"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"
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
