package notification

import (
	"context"
	"errors"
	"fmt"
	"time"

	notifyv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/notify/receiver"
	"github.com/gitopskit/gitopskit/reconcile"
)

// ReceiverReconciler reconciles Receiver objects as Flux does: it reads the
// token from the Receiver's Secret, checks the spec, and publishes the
// webhook path in .status.webhookPath with a Ready condition. It also
// serves as the webhook server's receiver.Lookup, Resolver and
// RequestFunc.
type ReceiverReconciler struct {
	// Client reads Receivers, their Secrets and the objects they list, and
	// annotates those objects.
	Client client.Client
	// Now stamps reconcile requests; nil means time.Now.
	Now func() time.Time
}

// Reconcile brings one Receiver's status up to date.
func (r *ReceiverReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	l := &reconcile.Lifecycle[*notifyv1.Receiver]{
		Client:    r.Client,
		New:       func() *notifyv1.Receiver { return &notifyv1.Receiver{} },
		Finalizer: notifyv1.NotificationFinalizer,
		Run: func(ctx context.Context, obj *notifyv1.Receiver, _ *reconcile.StatusPatcher) (ctrl.Result, error) {
			return r.reconcile(ctx, obj)
		},
		Suspended: func(obj *notifyv1.Receiver) bool { return obj.Spec.Suspend },
		Observe: func(obj *notifyv1.Receiver) {
			fluxadapter.Observed(obj, &obj.Status.ObservedGeneration, &obj.Status.ReconcileRequestStatus)
		},
	}
	return l.Reconcile(ctx, req)
}

func (r *ReceiverReconciler) reconcile(ctx context.Context, obj *notifyv1.Receiver) (ctrl.Result, error) {
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	rcv, err := r.receiver(ctx, obj)
	if err != nil {
		cond.Failed(notifyv1.TokenNotFoundReason, "%s", err.Error())
		return ctrl.Result{}, err
	}
	if err := rcv.Validate(); err != nil {
		// Retrying cannot help until the spec or the Secret changes.
		cond.Failed(notifyv1.ValidationFailedReason, "%s", err.Error())
		cond.Stalled(notifyv1.ValidationFailedReason, "%s", err.Error())
		return ctrl.Result{}, nil
	}
	cond.Delete(meta.StalledCondition)
	obj.Status.WebhookPath = rcv.WebhookPath()
	cond.Ready(meta.SucceededReason, "Receiver initialized for path: %s", obj.Status.WebhookPath)
	// As in Flux, spec.interval (10m by default) re-reads the Secret.
	return ctrl.Result{RequeueAfter: obj.GetInterval()}, nil
}

// receiver reads obj's Secret and converts obj.
func (r *ReceiverReconciler) receiver(ctx context.Context, obj *notifyv1.Receiver) (*receiver.Receiver, error) {
	var data map[string][]byte
	if ref := obj.Spec.SecretRef; ref != nil {
		var err error
		if data, err = fluxadapter.SecretData(ctx, r.Client, obj.Namespace, ref.Name); err != nil {
			return nil, fmt.Errorf("unable to read token from secret '%s/%s': %w", obj.Namespace, ref.Name, err)
		}
	} else if obj.Spec.Type != string(receiver.GenericOIDC) {
		return nil, errors.New("secretRef is required for this receiver type")
	}
	rcv := Receiver(obj, string(data["token"]))
	rcv.Email, rcv.Audience = string(data["email"]), string(data["audience"])
	return rcv, nil
}

// Receiver finds the Ready Receiver served at path (receiver.Lookup).
func (r *ReceiverReconciler) Receiver(ctx context.Context, path string) (*receiver.Receiver, error) {
	var list notifyv1.ReceiverList
	if err := r.Client.List(ctx, &list, client.MatchingFields{WebhookPathIndex: path}); err != nil {
		return nil, err
	}
	if len(list.Items) == 0 {
		return nil, receiver.ErrNotFound
	}
	obj := &list.Items[0]
	c := reconcile.Conditions{List: &obj.Status.Conditions}
	if !c.IsTrue(meta.ReadyCondition) {
		return nil, fmt.Errorf("%w: Receiver is not ready", receiver.ErrUnavailable)
	}
	rcv, err := r.receiver(ctx, obj)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", receiver.ErrUnavailable, err)
	}
	// A path computed from an older token no longer matches.
	if rcv.WebhookPath() != path {
		return nil, receiver.ErrNotFound
	}
	return rcv, nil
}

// Resolve reads the objects a Receiver's resource designates
// (receiver.Resolver).
func (r *ReceiverReconciler) Resolve(ctx context.Context, ref receiver.Resource) ([]receiver.Object, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, err
	}
	gvk := gv.WithKind(ref.Kind)
	if ref.Name != "*" {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, u); err != nil {
			return nil, err
		}
		return []receiver.Object{object(u)}, nil
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(ref.Kind + "List"))
	if err := r.Client.List(ctx, list, client.InNamespace(ref.Namespace),
		client.MatchingLabelsSelector{Selector: labels.SelectorFromSet(ref.MatchLabels)}); err != nil {
		return nil, err
	}
	out := make([]receiver.Object, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, object(&list.Items[i]))
	}
	return out, nil
}

// Request sets reconcile.fluxcd.io/requestedAt on each object
// (receiver.RequestFunc).
func (r *ReceiverReconciler) Request(ctx context.Context, _ *receiver.Receiver, objects []receiver.Object) error {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	at := now().Format(time.RFC3339Nano)
	var errs []error
	for _, o := range objects {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(o.APIVersion)
		u.SetKind(o.Kind)
		u.SetNamespace(o.Namespace)
		u.SetName(o.Name)
		patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, meta.ReconcileRequestAnnotation, at)
		if err := r.Client.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			errs = append(errs, fmt.Errorf("annotating %s %s/%s: %w", o.Kind, o.Namespace, o.Name, err))
		}
	}
	return errors.Join(errs...)
}

func object(u *unstructured.Unstructured) receiver.Object {
	return receiver.Object{
		APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName(),
		Labels: u.GetLabels(), Annotations: u.GetAnnotations(),
	}
}

// WebhookPathIndex is the field index of Receivers by .status.webhookPath.
const WebhookPathIndex = ".status.webhookPath"

func webhookPathOf(o client.Object) []string {
	if p := o.(*notifyv1.Receiver).Status.WebhookPath; p != "" {
		return []string{p}
	}
	return nil
}

// SecretRefIndex is the field index of Receivers by the name of the Secret
// in their spec.secretRef.
const SecretRefIndex = ".spec.secretRef.name"

func secretRefOf(o client.Object) []string {
	if ref := o.(*notifyv1.Receiver).Spec.SecretRef; ref != nil {
		return []string{ref.Name}
	}
	return nil
}

// forSecret enqueues the Receivers that read their token from s.
func (r *ReceiverReconciler) forSecret(ctx context.Context, s client.Object) []ctrl.Request {
	var list notifyv1.ReceiverList
	if err := r.Client.List(ctx, &list, client.InNamespace(s.GetNamespace()), client.MatchingFields{SecretRefIndex: s.GetName()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the Receivers of a Secret", "secret", s.GetName(), "namespace", s.GetNamespace())
		return nil
	}
	out := make([]ctrl.Request, 0, len(list.Items))
	for _, rcv := range list.Items {
		out = append(out, ctrl.Request{NamespacedName: types.NamespacedName{Namespace: rcv.Namespace, Name: rcv.Name}})
	}
	return out
}
