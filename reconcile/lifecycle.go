package reconcile

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/go-logr/logr"
)

// Lifecycle is the part of a controller's reconciliation that does not
// depend on its kind: it reads the object, adds its finalizer, runs the
// kind's clean-up when the object is being deleted, honours suspension and
// patches the status the kind's work wrote, also when that work failed.
// The kind supplies the rest through the hooks; a controller for a new kind
// (a HelmRelease, a Bucket) writes only Run, Finalize and the one-line
// hooks. Lifecycle implements controller-runtime's reconcile.Reconciler,
// so it can be handed to a controller builder's Complete as is.
//
// One call of Reconcile does, in order:
//
//  1. Get the object; when it no longer exists, call Gone and stop.
//  2. When it is being deleted, call Finalize, then remove Finalizer.
//  3. Add Finalizer when it is missing (a patch of the object).
//  4. When Suspended reports true, stop.
//  5. Call Run, then Observe, then patch the status with what changed
//     since step 1 (or since Run's last StatusPatcher.Patch).
type Lifecycle[T client.Object] struct {
	// Client reads the object and patches it and its status. Required.
	Client client.Client
	// New returns an empty object of the kind. Required.
	New func() T
	// Finalizer is added before the first Run and removed once Finalize
	// succeeds (Flux's finalizers, for example
	// "finalizers.fluxcd.io"); "" means the object gets none.
	Finalizer string
	// Run is the kind's reconciliation. It edits obj's status in memory;
	// Lifecycle patches it afterwards, whatever Run returns. status lets
	// Run publish progress before a slow step. Required.
	Run func(ctx context.Context, obj T, status *StatusPatcher) (ctrlreconcile.Result, error)
	// Finalize cleans up after an object that is being deleted; the
	// finalizer is removed when it returns nil. Nil means nothing to clean.
	Finalize func(ctx context.Context, obj T) error
	// Suspended reports whether the object's reconciliation is suspended
	// (Flux's spec.suspend); nil means never.
	Suspended func(obj T) bool
	// Observe records in obj's status what this reconciliation handled
	// (Flux's status.observedGeneration and lastHandledReconcileAt); it is
	// called after Run, before the status patch. Nil records nothing.
	Observe func(obj T)
	// Gone is called with the key of an object that no longer exists, so
	// per-object state can be dropped. Nil does nothing.
	Gone func(key types.NamespacedName)
}

// Reconcile runs one reconciliation of the object req names.
func (l *Lifecycle[T]) Reconcile(ctx context.Context, req ctrlreconcile.Request) (ctrlreconcile.Result, error) {
	obj := l.New()
	if err := l.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) && l.Gone != nil {
			l.Gone(req.NamespacedName)
		}
		return ctrlreconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return ctrlreconcile.Result{}, l.finalize(ctx, obj)
	}
	if l.Finalizer != "" && !controllerutil.ContainsFinalizer(obj, l.Finalizer) {
		base := obj.DeepCopyObject().(client.Object)
		controllerutil.AddFinalizer(obj, l.Finalizer)
		if err := l.Client.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
			return ctrlreconcile.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
	}
	if l.Suspended != nil && l.Suspended(obj) {
		logr.FromContextOrDiscard(ctx).V(1).Info("reconciliation is suspended")
		return ctrlreconcile.Result{}, nil
	}
	status := &StatusPatcher{client: l.Client, base: obj.DeepCopyObject().(client.Object)}
	res, runErr := l.Run(ctx, obj, status)
	if l.Observe != nil {
		l.Observe(obj)
	}
	if err := status.Patch(ctx, obj); err != nil {
		return ctrlreconcile.Result{}, errors.Join(runErr, err)
	}
	return res, runErr
}

// finalize runs the kind's clean-up and removes the finalizer.
func (l *Lifecycle[T]) finalize(ctx context.Context, obj T) error {
	if l.Finalize != nil {
		if err := l.Finalize(ctx, obj); err != nil {
			return err
		}
	}
	if l.Gone != nil {
		l.Gone(client.ObjectKeyFromObject(obj))
	}
	if l.Finalizer == "" || !controllerutil.ContainsFinalizer(obj, l.Finalizer) {
		return nil
	}
	base := obj.DeepCopyObject().(client.Object)
	controllerutil.RemoveFinalizer(obj, l.Finalizer)
	return client.IgnoreNotFound(l.Client.Patch(ctx, obj, client.MergeFrom(base)))
}

// StatusPatcher patches an object's status with what changed since its
// last patch (a JSON merge patch of the status subresource). Lifecycle
// hands one to Run, starting from the object as it was read.
type StatusPatcher struct {
	client client.Client
	base   client.Object
}

// Patch sends obj's status changes since the last patch to the API server
// and makes obj the base of the next one.
func (p *StatusPatcher) Patch(ctx context.Context, obj client.Object) error {
	if err := p.client.Status().Patch(ctx, obj, client.MergeFrom(p.base)); err != nil {
		return err
	}
	p.base = obj.DeepCopyObject().(client.Object)
	return nil
}
