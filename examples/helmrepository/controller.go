package helmrepository

import (
	"context"
	"errors"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/helm"
)

// IndexationFailedReason is Flux's reason for an index that was fetched
// but does not load.
const IndexationFailedReason = sourcev1.IndexationFailedReason

// Reconciler reconciles HelmRepository objects: reconcile.Lifecycle does
// the kind-independent steps (finalizer, suspension, status patch),
// artifact.Store.Refresh fetches the index and stores it as it is,
// fluxadapter.SourceStatus writes Flux's conditions and Events; what is
// left here is the HelmRepository's own: its Secrets, its status.url and
// the static OCI type.
type Reconciler struct {
	// Client reads and patches objects and reads Secrets.
	Client client.Client
	// Store keeps the artifacts; its base URL is what status.artifact.url
	// and status.url point at.
	Store *artifact.Store
	// Recorder records Kubernetes Events; nil means the manager's recorder
	// (SetupWithManager) or none.
	Recorder reconcile.EventRecorder
	// TempDir holds fetched indexes while they are stored; "" means
	// os.TempDir().
	TempDir string
	// Cache, when set, is refreshed with every index fetched, so that
	// HelmChart reconcilers sharing it read charts without downloading
	// the index again (Flux's --helm-cache-*); nil caches nothing.
	Cache *helm.IndexCache
}

// Options tunes SetupWithManager. The zero value runs one reconcile at a time.
type Options = fluxadapter.ControllerOptions

// SetupWithManager registers the reconciler with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return fluxadapter.SetupSourceReconciler(mgr, "helmrepository", &sourcev1.HelmRepository{}, r, &r.Client, &r.Recorder, opts)
}

// Reconcile brings one HelmRepository's artifact up to date. A repository
// of type "oci" is static, as in Flux: its artifacts, finalizer and status
// are removed once and it is left alone afterwards.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var obj sourcev1.HelmRepository
	if err := r.Client.Get(ctx, req.NamespacedName, &obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if IsOCI(obj.Spec) {
		return ctrl.Result{}, r.static(ctx, &obj)
	}
	l := &reconcile.Lifecycle[*sourcev1.HelmRepository]{
		Client:    r.Client,
		New:       func() *sourcev1.HelmRepository { return &sourcev1.HelmRepository{} },
		Finalizer: sourcev1.SourceFinalizer,
		Run: func(ctx context.Context, obj *sourcev1.HelmRepository, _ *reconcile.StatusPatcher) (ctrl.Result, error) {
			return r.reconcile(ctx, obj)
		},
		Finalize: func(_ context.Context, obj *sourcev1.HelmRepository) error {
			return fluxadapter.RemoveArtifacts(r.Store, objectKey(obj))
		},
		Suspended: func(obj *sourcev1.HelmRepository) bool { return obj.Spec.Suspend },
		Observe: func(obj *sourcev1.HelmRepository) {
			fluxadapter.Observed(obj, &obj.Status.ObservedGeneration, &obj.Status.ReconcileRequestStatus)
		},
	}
	return l.Reconcile(ctx, req)
}

// static turns obj, a HelmRepository of type "oci", into the static object
// Flux keeps: no artifact, no finalizer, an empty status.
func (r *Reconciler) static(ctx context.Context, obj *sourcev1.HelmRepository) error {
	empty := obj.Status.ObservedGeneration == 0 && obj.Status.Conditions == nil && obj.Status.URL == "" &&
		obj.Status.Artifact == nil && obj.Status.LastHandledReconcileAt == ""
	if !controllerutil.ContainsFinalizer(obj, sourcev1.SourceFinalizer) && empty {
		return nil
	}
	if obj.Spec.Suspend && obj.DeletionTimestamp.IsZero() {
		return nil
	}
	if err := fluxadapter.RemoveArtifacts(r.Store, objectKey(obj)); err != nil {
		return err
	}
	if !empty {
		base := obj.DeepCopy()
		obj.Status = sourcev1.HelmRepositoryStatus{}
		if err := r.Client.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("resetting the status of an OCI HelmRepository: %w", err)
		}
	}
	if controllerutil.ContainsFinalizer(obj, sourcev1.SourceFinalizer) {
		base := obj.DeepCopy()
		controllerutil.RemoveFinalizer(obj, sourcev1.SourceFinalizer)
		if err := r.Client.Patch(ctx, obj, client.MergeFrom(base)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("removing the finalizer of an OCI HelmRepository: %w", err)
		}
	}
	return nil
}

func (r *Reconciler) reconcile(ctx context.Context, obj *sourcev1.HelmRepository) (ctrl.Result, error) {
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	st := fluxadapter.SourceStatus{Object: obj, Conditions: cond,
		Events: reconcile.Events{Recorder: r.Recorder, RevisionKey: fluxadapter.SourceRevisionAnnotation}}
	if obj.Generation != obj.Status.ObservedGeneration {
		cond.Reconciling(meta.ProgressingReason, "processing object: new generation %d -> %d", obj.Status.ObservedGeneration, obj.Generation)
	}
	if err := CheckURL(obj.Spec); err != nil {
		return st.Stall(sourcev1.FetchFailedCondition, sourcev1.URLInvalidReason, err)
	}
	repo, err := Repository(ctx, r.Client, obj, r.Cache)
	if err != nil {
		return st.Fail(sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason, err)
	}
	opts := artifact.RefreshOptions{File: helm.IndexFileName, TempDir: r.TempDir, Timeout: fluxadapter.DefaultSourceTimeout}
	if obj.Spec.Timeout != nil {
		opts.Timeout = obj.Spec.Timeout.Duration
	}
	if obj.Status.Artifact != nil {
		last := fluxadapter.Artifact(obj.Status.Artifact)
		opts.Last = &last
	}
	res, err := r.Store.Refresh(ctx, objectKey(obj), repo, opts)
	var serr *artifact.StoreError
	switch {
	case errors.As(err, &serr):
		return st.RefreshFailed(err, meta.FailedReason)
	case errors.Is(err, source.ErrAuth):
		return st.Fail(sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason, fmt.Errorf("failed to fetch Helm repository index: %w", err))
	case errors.Is(err, source.ErrInvalid):
		return st.Fail(sourcev1.FetchFailedCondition, IndexationFailedReason, fmt.Errorf("failed to load Helm repository from index YAML: %w", err))
	case err != nil:
		return st.Fail(sourcev1.FetchFailedCondition, meta.FailedReason, fmt.Errorf("failed to fetch Helm repository index: %w", err))
	}
	a := res.Artifact
	if res.New {
		st.Events.Normal(obj, a.Revision, fluxadapter.NewArtifactReason,
			fmt.Sprintf("stored fetched index of size %s from '%s'", HumanSize(a.Size), obj.Spec.URL))
	}
	obj.Status.Artifact = fluxadapter.MetaArtifact(a)
	obj.Status.URL = a.URL
	st.Stored(fmt.Sprintf("stored artifact: revision '%s'", a.Revision))
	return ctrl.Result{RequeueAfter: obj.GetRequeueAfter()}, nil
}

// HumanSize writes a size in bytes as Flux's Events do: four significant
// digits and a decimal unit ("1.234kB").
func HumanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}

// objectKey names obj's artifacts in the store.
func objectKey(obj *sourcev1.HelmRepository) artifact.ObjectKey {
	return artifact.ObjectKey{Kind: sourcev1.HelmRepositoryKind, Namespace: obj.Namespace, Name: obj.Name}
}
