package fluxadapter

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// SourceControllerName is the reporting controller of the source
// reconcilers' Events, as in Flux.
const SourceControllerName = "source-controller"

// SourceRevisionAnnotation carries the revision on a source's Events, as in
// Flux.
const SourceRevisionAnnotation = "source.toolkit.fluxcd.io/revision"

// DefaultSourceTimeout bounds one fetch when a source's spec.timeout is
// unset, as in Flux.
const DefaultSourceTimeout = 60 * time.Second

// NewArtifactReason is the Event reason for a newly stored artifact.
const NewArtifactReason = "NewArtifact"

// SecretData returns the data of the Secret name in namespace.
func SecretData(ctx context.Context, r client.Reader, namespace, name string) (map[string][]byte, error) {
	var s corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s); err != nil {
		return nil, fmt.Errorf("reading Secret %q: %w", name, err)
	}
	return s.Data, nil
}

// TLSData is the content of a Flux certSecretRef Secret.
type TLSData struct {
	// CA is "ca.crt" (or the legacy "caFile"): PEM certificates to trust.
	CA []byte
	// Cert and Key are "tls.crt" and "tls.key" (or "certFile" and
	// "keyFile"): a client certificate and its key, both or neither.
	Cert, Key []byte
}

// TLSFromSecretData reads a Flux certSecretRef Secret's data. A Secret with
// a certificate but no key (or the reverse), or with none of the keys, is
// an error naming the keys, never their values.
func TLSFromSecretData(data map[string][]byte) (TLSData, error) {
	get := func(keys ...string) []byte {
		for _, k := range keys {
			if v := data[k]; len(v) > 0 {
				return v
			}
		}
		return nil
	}
	out := TLSData{CA: get("ca.crt", "caFile"), Cert: get("tls.crt", "certFile"), Key: get("tls.key", "keyFile")}
	if (out.Cert == nil) != (out.Key == nil) {
		return TLSData{}, errors.New("'tls.crt' and 'tls.key' must be set together")
	}
	if out.CA == nil && out.Cert == nil {
		return TLSData{}, errors.New("none of 'ca.crt', 'tls.crt' and 'tls.key' is set")
	}
	return out, nil
}

// ProxyData is the content of a Flux proxySecretRef Secret.
type ProxyData struct {
	// Address is the proxy URL ("address"), for example
	// "http://proxy:3128".
	Address string
	// Username and Password authenticate to the proxy, if set.
	Username, Password string
}

// URL returns Address with Username and Password as its userinfo.
func (p ProxyData) URL() string {
	u, err := url.Parse(p.Address)
	if err != nil || p.Username == "" {
		return p.Address
	}
	u.User = url.UserPassword(p.Username, p.Password)
	return u.String()
}

// ProxyFromSecretData reads a Flux proxySecretRef Secret's data: "address"
// (required, an absolute URL), "username" and "password".
func ProxyFromSecretData(data map[string][]byte) (ProxyData, error) {
	p := ProxyData{Address: string(data["address"]), Username: string(data["username"]), Password: string(data["password"])}
	if p.Address == "" {
		return ProxyData{}, errors.New("invalid proxy Secret: 'address' is not set")
	}
	if u, err := url.Parse(p.Address); err != nil || u.Scheme == "" || u.Host == "" {
		return ProxyData{}, errors.New("invalid proxy Secret: 'address' is not an absolute URL")
	}
	return p, nil
}

// SourceStatus records the outcome of a source reconciliation on a Flux
// source object's conditions and Events, as Flux's source-controller does;
// the GitRepository, OCIRepository and Bucket reconcilers share it.
type SourceStatus struct {
	// Object is the source object the Events are about.
	Object runtime.Object
	// Conditions edits the object's status conditions.
	Conditions reconcile.Conditions
	// Events records the Events.
	Events reconcile.Events
}

// Fail records a failed step: condType (when not "") True with reason, Ready
// False, and a Warning Event. It returns err, so the object is retried
// with backoff.
func (s SourceStatus) Fail(condType, reason string, err error) (ctrl.Result, error) {
	msg := err.Error()
	if condType != "" {
		s.Conditions.Set(condType, metav1.ConditionTrue, reason, "%s", msg)
	}
	s.Conditions.Failed(reason, "%s", msg)
	s.Events.Warning(s.Object, "", reason, msg)
	return ctrl.Result{}, err
}

// Stall records a problem of the spec that retrying cannot fix: condType
// (when not "") True with reason, Stalled, Ready False, and a Warning
// Event. The object is not retried until it changes.
func (s SourceStatus) Stall(condType, reason string, err error) (ctrl.Result, error) {
	msg := err.Error()
	if condType != "" {
		s.Conditions.Set(condType, metav1.ConditionTrue, reason, "%s", msg)
	}
	s.Conditions.Stalled(reason, "%s", msg)
	s.Events.Warning(s.Object, "", reason, msg)
	return ctrl.Result{}, nil
}

// RefreshFailed records an error of artifact.Store.Refresh: a store
// failure is StorageOperationFailed, an authentication failure
// FetchFailed with AuthenticationFailed, a verification failure
// SourceVerified False, a spec the source refuses (reconcile.IsStalling)
// FetchFailed with fetchReason and Stalled, anything else FetchFailed with
// fetchReason, retried.
func (s SourceStatus) RefreshFailed(err error, fetchReason string) (ctrl.Result, error) {
	var serr *artifact.StoreError
	switch {
	case errors.As(err, &serr):
		return s.Fail(sourcev1.StorageOperationFailedCondition, sourcev1.ArchiveOperationFailedReason, err)
	case errors.Is(err, source.ErrVerification):
		s.Conditions.Set(sourcev1.SourceVerifiedCondition, metav1.ConditionFalse, sourcev1.VerificationError, "%s", err.Error())
		return s.Fail("", sourcev1.VerificationError, err)
	case errors.Is(err, source.ErrAuth):
		return s.Fail(sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason, err)
	case reconcile.IsStalling(err):
		return s.Stall(sourcev1.FetchFailedCondition, fetchReason, err)
	default:
		return s.Fail(sourcev1.FetchFailedCondition, fetchReason, err)
	}
}

// Stored records that the object's artifact is in storage: ArtifactInStorage
// and Ready True with msg, the failure conditions removed.
func (s SourceStatus) Stored(msg string) {
	s.Conditions.Set(sourcev1.ArtifactInStorageCondition, metav1.ConditionTrue, meta.SucceededReason, "%s", msg)
	for _, c := range []string{sourcev1.StorageOperationFailedCondition, sourcev1.ArtifactOutdatedCondition, sourcev1.FetchFailedCondition} {
		s.Conditions.Delete(c)
	}
	s.Conditions.Ready(meta.SucceededReason, "%s", msg)
}

// RemoveArtifacts removes every artifact of key from store, the finalizer
// work of a source reconciler. What it deletes is derived from the
// object's kind, namespace and name only: status.artifact.path is writable
// by anyone who can update the status, so it never steers a deletion.
func RemoveArtifacts(store *artifact.Store, key artifact.ObjectKey) error {
	if err := store.RemoveAll(key); err != nil {
		return fmt.Errorf("removing the artifacts of %s/%s: %w", key.Namespace, key.Name, err)
	}
	return nil
}

// EqualString reports whether two optional strings (an observed and a
// desired spec.ignore, say) are equal.
func EqualString(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// ControllerOptions tunes the registration of a reconciler with a manager.
// The zero value runs one reconcile at a time.
type ControllerOptions struct {
	// MaxConcurrentReconciles is the number of parallel reconciles; 0 means 1.
	MaxConcurrentReconciles int
	// SkipNameValidation allows several managers in one process to run
	// the controller (tests); false keeps controller-runtime's check.
	SkipNameValidation bool
}

// SetupSource registers r as the controller name of the source kind obj
// with mgr, reconciling on changes of generation or annotations (a
// reconcile.fluxcd.io/requestedAt request), as Flux's source-controller
// does.
func SetupSource(mgr ctrl.Manager, name string, obj client.Object, r ctrlreconcile.Reconciler, opts ControllerOptions) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named(name).
		For(obj, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
			SkipNameValidation:      &opts.SkipNameValidation,
		}).
		Complete(r)
}

// SourceKind is the set of Flux source kinds SourceLifecycle serves.
type SourceKind interface {
	sourcev1.GitRepository | sourcev1.OCIRepository | sourcev1.Bucket
}

// SourceLifecycle returns the reconcile.Lifecycle of a Flux source object
// of kind O, the steps every source reconciler shares: the source
// finalizer, whose work is RemoveArtifacts of key(obj) in store; no
// reconciling while spec.suspend is set; status.observedGeneration and
// status.lastHandledReconcileAt noted (Observed); and run for what the
// kind adds. The object's status is patched through c.
func SourceLifecycle[O SourceKind, T interface {
	*O
	client.Object
}](c client.Client, store *artifact.Store, key func(T) artifact.ObjectKey, run func(context.Context, T) (ctrl.Result, error)) *reconcile.Lifecycle[T] {
	return &reconcile.Lifecycle[T]{
		Client:    c,
		New:       func() T { return T(new(O)) },
		Finalizer: sourcev1.SourceFinalizer,
		Run: func(ctx context.Context, obj T, _ *reconcile.StatusPatcher) (ctrl.Result, error) {
			return run(ctx, obj)
		},
		Finalize: func(_ context.Context, obj T) error {
			return RemoveArtifacts(store, key(obj))
		},
		Suspended: func(obj T) bool {
			suspended, _, _ := sourceFields(obj)
			return suspended
		},
		Observe: func(obj T) {
			_, generation, request := sourceFields(obj)
			Observed(obj, generation, request)
		},
	}
}

// sourceFields returns the spec.suspend of obj, one of the SourceKind
// objects, and the addresses of its status.observedGeneration and
// reconcile request status.
func sourceFields(obj client.Object) (suspended bool, observedGeneration *int64, request *meta.ReconcileRequestStatus) {
	switch o := obj.(type) {
	case *sourcev1.GitRepository:
		return o.Spec.Suspend, &o.Status.ObservedGeneration, &o.Status.ReconcileRequestStatus
	case *sourcev1.OCIRepository:
		return o.Spec.Suspend, &o.Status.ObservedGeneration, &o.Status.ReconcileRequestStatus
	case *sourcev1.Bucket:
		return o.Spec.Suspend, &o.Status.ObservedGeneration, &o.Status.ReconcileRequestStatus
	}
	panic(fmt.Sprintf("fluxadapter: %T is not a source kind", obj))
}

// SetupSourceReconciler registers r as the controller name of the source
// kind obj with mgr (see SetupSource), first setting *c to mgr's client
// and *recorder to mgr's Event recorder for SourceControllerName where
// they are nil: the SetupWithManager of every source reconciler.
func SetupSourceReconciler(mgr ctrl.Manager, name string, obj client.Object, r ctrlreconcile.Reconciler, c *client.Client, recorder *reconcile.EventRecorder, opts ControllerOptions) error {
	if *c == nil {
		*c = mgr.GetClient()
	}
	if *recorder == nil {
		*recorder = mgr.GetEventRecorder(SourceControllerName)
	}
	return SetupSource(mgr, name, obj, r, opts)
}
