package bucket

import (
	"context"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source/bucket"
)

// Reconciler reconciles Bucket objects: reconcile.Lifecycle does the
// kind-independent steps (finalizer, suspension, status patch),
// artifact.Store.Refresh fetches, packs, stores and garbage-collects,
// fluxadapter.SourceStatus writes Flux's conditions and Events; what is
// left here is the Bucket's own: its provider, its Secrets and its status
// fields.
type Reconciler struct {
	// Client reads and patches objects and reads Secrets.
	Client client.Client
	// Store keeps the artifacts; its base URL is what status.artifact.url
	// points at.
	Store *artifact.Store
	// Recorder records Kubernetes Events; nil means the manager's recorder
	// (SetupWithManager) or none.
	Recorder reconcile.EventRecorder
	// TempDir holds downloaded objects while they are packed; "" means
	// os.TempDir().
	TempDir string
	// Limits caps the objects and bytes of one fetch; the zero value takes
	// source/bucket's defaults.
	Limits bucket.Limits
}

// Options tunes SetupWithManager. The zero value runs one reconcile at a time.
type Options = fluxadapter.ControllerOptions

// SetupWithManager registers the reconciler with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return fluxadapter.SetupSourceReconciler(mgr, "bucket", &sourcev1.Bucket{}, r, &r.Client, &r.Recorder, opts)
}

// Reconcile brings one Bucket's artifact up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return fluxadapter.SourceLifecycle(r.Client, r.Store, objectKey, r.reconcile).Reconcile(ctx, req)
}

func (r *Reconciler) reconcile(ctx context.Context, obj *sourcev1.Bucket) (ctrl.Result, error) {
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	st := fluxadapter.SourceStatus{Object: obj, Conditions: cond,
		Events: reconcile.Events{Recorder: r.Recorder, RevisionKey: fluxadapter.SourceRevisionAnnotation}}
	if obj.Generation != obj.Status.ObservedGeneration {
		cond.Reconciling(meta.ProgressingReason, "processing object: new generation %d -> %d", obj.Status.ObservedGeneration, obj.Generation)
	}
	if err := Unsupported(obj.Spec); err != nil {
		return st.Stall("", sourcev1.InvalidProviderConfigurationReason, err)
	}

	provider, release, serr := r.provider(ctx, obj)
	if serr != nil {
		if serr.stall {
			return st.Stall(sourcev1.FetchFailedCondition, serr.reason, serr.err)
		}
		return st.Fail(sourcev1.FetchFailedCondition, serr.reason, serr.err)
	}
	defer release()
	src := &bucket.Bucket{Provider: provider, Prefix: obj.Spec.Prefix, Limits: r.Limits}
	if obj.Spec.Ignore != nil {
		src.Ignore = *obj.Spec.Ignore
	}
	ropts := artifact.RefreshOptions{
		Filter:  func(dir string) (artifact.Filter, error) { return artifact.NewIgnoreFilter(dir, src.Ignore) },
		TempDir: r.TempDir,
		Timeout: fluxadapter.DefaultSourceTimeout,
	}
	if obj.Spec.Timeout != nil {
		ropts.Timeout = obj.Spec.Timeout.Duration
	}
	if canSkip(obj) {
		last := fluxadapter.Artifact(obj.Status.Artifact)
		ropts.Last = &last
	}
	res, err := r.Store.Refresh(ctx, objectKey(obj), src, ropts)
	if err != nil {
		return st.RefreshFailed(err, sourcev1.BucketOperationFailedReason)
	}
	a := res.Artifact
	if res.New {
		st.Events.Normal(obj, a.Revision, fluxadapter.NewArtifactReason,
			fmt.Sprintf("stored artifact with %d fetched files from '%s' bucket", res.Files, obj.Spec.BucketName))
	}
	if !res.Unchanged {
		obj.Status.ObservedIgnore = obj.Spec.Ignore
	}
	obj.Status.Artifact = fluxadapter.MetaArtifact(a)
	st.Stored(fmt.Sprintf("stored artifact: revision '%s'", a.Revision))
	return ctrl.Result{RequeueAfter: obj.Spec.Interval.Duration}, nil
}

// objectKey names obj's artifacts in the store.
func objectKey(obj *sourcev1.Bucket) artifact.ObjectKey {
	return artifact.ObjectKey{Kind: sourcev1.BucketKind, Namespace: obj.Namespace, Name: obj.Name}
}
