package image

import (
	"context"
	"maps"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// The watches: which changes of one kind bring objects of another back.

// scanChanged passes the updates of an ImageRepository that change what
// its policies see: its scan revision, its readiness or its spec (its
// accessFrom, say).
func scanChanged(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*imagev1.ImageRepository)
	n, ok2 := e.ObjectNew.(*imagev1.ImageRepository)
	if !ok1 || !ok2 {
		return false
	}
	rev := func(r *imagev1.ImageRepository) string {
		if r.Status.LastScanResult == nil {
			return ""
		}
		return r.Status.LastScanResult.Revision
	}
	return rev(o) != rev(n) || o.Generation != n.Generation || apimeta.IsStatusConditionTrue(o.Status.Conditions, meta.ReadyCondition) !=
		apimeta.IsStatusConditionTrue(n.Status.Conditions, meta.ReadyCondition)
}

// policiesOf lists the ImagePolicies referring to an ImageRepository.
func (r *PolicyReconciler) policiesOf(ctx context.Context, o client.Object) []ctrlreconcile.Request {
	var list imagev1.ImagePolicyList
	if err := r.Client.List(ctx, &list, client.MatchingFields{repositoryRefIndex: client.ObjectKeyFromObject(o).String()}); err != nil {
		return nil
	}
	reqs := make([]ctrlreconcile.Request, 0, len(list.Items))
	for _, p := range list.Items {
		reqs = append(reqs, ctrlreconcile.Request{NamespacedName: client.ObjectKeyFromObject(&p)})
	}
	return reqs
}

// latestChanged passes the ImagePolicy updates that change its latestRef.
func latestChanged(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*imagev1.ImagePolicy)
	n, ok2 := e.ObjectNew.(*imagev1.ImagePolicy)
	if !ok1 || !ok2 {
		return false
	}
	return (o.Status.LatestRef == nil) != (n.Status.LatestRef == nil) ||
		(o.Status.LatestRef != nil && *o.Status.LatestRef != *n.Status.LatestRef) ||
		!maps.Equal(o.Labels, n.Labels)
}

func (r *AutomationReconciler) automationsOfSource(ctx context.Context, o client.Object) []ctrlreconcile.Request {
	return r.automations(ctx, client.MatchingFields{sourceRefIndex: client.ObjectKeyFromObject(o).String()})
}

func (r *AutomationReconciler) automationsInNamespace(ctx context.Context, o client.Object) []ctrlreconcile.Request {
	return r.automations(ctx, client.InNamespace(o.GetNamespace()))
}

func (r *AutomationReconciler) automations(ctx context.Context, opts ...client.ListOption) []ctrlreconcile.Request {
	var list imageautov1.ImageUpdateAutomationList
	if err := r.Client.List(ctx, &list, opts...); err != nil {
		return nil
	}
	reqs := make([]ctrlreconcile.Request, 0, len(list.Items))
	for _, a := range list.Items {
		reqs = append(reqs, ctrlreconcile.Request{NamespacedName: client.ObjectKeyFromObject(&a)})
	}
	return reqs
}
