package image

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/examples/ocirepository"
	"github.com/gitopskit/gitopskit/imagepolicy"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
)

// RepositoryReconciler reconciles ImageRepository objects: it scans the
// image's tags with imagepolicy.Scan through source/oci (the
// ImageRepository's secretRef, certSecretRef, proxySecretRef and insecure
// applied as an OCIRepository's), records them in Tags for the ImagePolicy
// reconciler and reports status.lastScanResult, canonicalImageName and
// observedExclusionList as Flux does. A scan is skipped while the last one
// is younger than spec.interval and nothing it depends on changed.
type RepositoryReconciler struct {
	// Client reads and patches objects and reads Secrets; nil means the
	// manager's client (SetupWithManager).
	Client client.Client
	// Recorder records Kubernetes Events; nil means the manager's recorder
	// (SetupWithManager) or none.
	Recorder reconcile.EventRecorder
	// Tags receives the scanned tags. Required.
	Tags *TagStore
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// SetupWithManager registers the reconciler with mgr.
func (r *RepositoryReconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if r.Tags == nil {
		return errors.New("image: RepositoryReconciler.Tags is required")
	}
	defaults(mgr, &r.Client, &r.Recorder, ReflectorControllerName)
	return fluxadapter.SetupSource(mgr, "imagerepository", &imagev1.ImageRepository{}, r, opts)
}

// Reconcile scans one ImageRepository when it is due.
func (r *RepositoryReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	l := &reconcile.Lifecycle[*imagev1.ImageRepository]{
		Client:    r.Client,
		New:       func() *imagev1.ImageRepository { return &imagev1.ImageRepository{} },
		Finalizer: imagev1.ImageFinalizer,
		Run: func(ctx context.Context, obj *imagev1.ImageRepository, _ *reconcile.StatusPatcher) (ctrl.Result, error) {
			return r.reconcile(ctx, obj)
		},
		Finalize: func(_ context.Context, obj *imagev1.ImageRepository) error {
			r.Tags.Delete(client.ObjectKeyFromObject(obj))
			return nil
		},
		Suspended: func(obj *imagev1.ImageRepository) bool { return obj.Spec.Suspend },
		Observe: func(obj *imagev1.ImageRepository) {
			fluxadapter.Observed(obj, &obj.Status.ObservedGeneration, &obj.Status.ReconcileRequestStatus)
		},
		Gone: r.Tags.Delete,
	}
	return l.Reconcile(ctx, req)
}

func (r *RepositoryReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *RepositoryReconciler) reconcile(ctx context.Context, obj *imagev1.ImageRepository) (ctrl.Result, error) {
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	st := status{obj: obj, cond: cond, events: reconcile.Events{Recorder: r.Recorder, RevisionKey: RevisionAnnotation}}
	if obj.Generation != obj.Status.ObservedGeneration {
		cond.Reconciling(meta.ProgressingReason, "processing object: new generation %d -> %d", obj.Status.ObservedGeneration, obj.Generation)
	}
	if err := unsupportedRepository(obj.Spec); err != nil {
		return st.stall(sourcev1.InvalidProviderConfigurationReason, err)
	}
	img, err := imagepolicy.ParseImage(obj.Spec.Image, obj.Spec.Insecure)
	if err != nil {
		return st.stall(imagev1.ImageURLInvalidReason, err)
	}
	if wait, due := r.scanDue(obj, img); !due {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	c, err := RegistryClient(ctx, r.Client, obj)
	if err != nil {
		return st.fail(imagev1.AuthenticationFailedReason, err)
	}
	sctx, cancel := context.WithTimeout(ctx, obj.GetTimeout())
	defer cancel()
	res, err := imagepolicy.Scan(sctx, c, img, imagepolicy.ScanOptions{ExclusionList: obj.Spec.ExclusionList})
	switch {
	case errors.Is(err, source.ErrAuth):
		return st.fail(imagev1.AuthenticationFailedReason, err)
	case errors.Is(err, source.ErrInvalid):
		return st.stall(imagev1.ReadOperationFailedReason, err)
	case err != nil:
		return st.fail(imagev1.ReadOperationFailedReason, err)
	}
	key := client.ObjectKeyFromObject(obj)
	_, _, known := r.Tags.Tags(key)
	changed := obj.Status.LastScanResult == nil || obj.Status.LastScanResult.Revision != res.Revision || !known
	r.Tags.Set(key, res.Revision, res.Tags)
	obj.Status.CanonicalImageName = img.Canonical
	obj.Status.ObservedExclusionList = obj.GetExclusionList()
	obj.Status.LastScanResult = &imagev1.ScanResult{
		Revision: res.Revision, TagCount: res.TagCount,
		ScanTime: metav1.NewTime(res.ScanTime), LatestTags: res.LatestTags,
	}
	msg := fmt.Sprintf("successful scan: found %d tags with checksum %s", res.TagCount, res.Revision)
	cond.Ready(meta.SucceededReason, "%s", msg)
	if changed {
		st.events.Normal(obj, res.Revision, meta.SucceededReason, msg)
	}
	return ctrl.Result{RequeueAfter: obj.Spec.Interval.Duration}, nil
}

// scanDue reports whether obj must be scanned now, or else how long until
// it must: the last scan is older than spec.interval, or there is none, or
// the object is not Ready (a retry after a failure), or its tags are not in
// the store (the controller restarted), or the image, the exclusion list,
// the generation or a reconcile request changed since.
func (r *RepositoryReconciler) scanDue(obj *imagev1.ImageRepository, img imagepolicy.Image) (time.Duration, bool) {
	last := obj.Status.LastScanResult
	if last == nil || obj.Generation != obj.Status.ObservedGeneration ||
		!apimeta.IsStatusConditionTrue(obj.Status.Conditions, meta.ReadyCondition) ||
		obj.Status.CanonicalImageName != img.Canonical ||
		!slices.Equal(obj.Status.ObservedExclusionList, obj.GetExclusionList()) {
		return 0, true
	}
	if v, ok := meta.ReconcileAnnotationValue(obj.GetAnnotations()); ok && v != obj.Status.LastHandledReconcileAt {
		return 0, true
	}
	if rev, _, ok := r.Tags.Tags(client.ObjectKeyFromObject(obj)); !ok || rev != last.Revision {
		return 0, true
	}
	wait := last.ScanTime.Add(obj.Spec.Interval.Duration).Sub(r.now())
	if wait <= 0 {
		return 0, true
	}
	return wait, false
}

// unsupportedRepository refuses, by name, what this controller does not
// implement rather than ignoring it.
func unsupportedRepository(spec imagev1.ImageRepositorySpec) error {
	if spec.Provider != "" && spec.Provider != "generic" {
		return fmt.Errorf("spec.provider '%s' is not supported yet: use 'generic' with a secretRef", spec.Provider)
	}
	if spec.ServiceAccountName != "" {
		return errors.New("spec.serviceAccountName is not supported yet: use a secretRef")
	}
	return nil
}

// RegistryClient returns the oci.Client an ImageRepository's registry is
// reached with: spec.insecure, and the Secrets of spec.secretRef (a
// dockerconfigjson or basic-auth Secret), spec.certSecretRef and
// spec.proxySecretRef, read from its namespace, mapped as an
// OCIRepository's are. Errors name the Secret, never its content.
func RegistryClient(ctx context.Context, r client.Reader, obj *imagev1.ImageRepository) (*oci.Client, error) {
	c := &oci.Client{Insecure: obj.Spec.Insecure}
	for _, s := range []struct {
		ref   *meta.LocalObjectReference
		what  string
		apply func(map[string][]byte) error
	}{
		{obj.Spec.SecretRef, "", func(d map[string][]byte) error { return ocirepository.Credentials(c, d) }},
		{obj.Spec.CertSecretRef, "TLS ", func(d map[string][]byte) error { return ocirepository.TLS(c, d) }},
		{obj.Spec.ProxySecretRef, "proxy ", func(d map[string][]byte) error {
			p, err := fluxadapter.ProxyFromSecretData(d)
			c.Proxy = p.URL()
			return err
		}},
	} {
		if s.ref == nil {
			continue
		}
		data, err := fluxadapter.SecretData(ctx, r, obj.Namespace, s.ref.Name)
		if err == nil {
			if err = s.apply(data); err != nil {
				err = fmt.Errorf("invalid %sSecret %q: %w", s.what, s.ref.Name, err)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// status records the outcome of a reconciliation on an image object's
// conditions and Events.
type status struct {
	obj    client.Object
	cond   reconcile.Conditions
	events reconcile.Events
}

// fail records a failure that is retried with backoff.
func (s status) fail(reason string, err error) (ctrl.Result, error) {
	s.cond.Failed(reason, "%s", err.Error())
	s.events.Warning(s.obj, "", reason, err.Error())
	return ctrl.Result{}, err
}

// stall records a spec that retrying cannot fix until it changes.
func (s status) stall(reason string, err error) (ctrl.Result, error) {
	s.cond.Stalled(reason, "%s", err.Error())
	s.events.Warning(s.obj, "", reason, err.Error())
	return ctrl.Result{}, nil
}

// wait records a dependency that is not ready; a watch brings the object
// back when it changes, so there is no retry.
func (s status) wait(reason string, err error) (ctrl.Result, error) {
	s.cond.NotReady(reason, "%s", err.Error())
	s.cond.Delete(meta.StalledCondition)
	s.cond.Delete(meta.ReconcilingCondition)
	return ctrl.Result{}, nil
}

// defaults sets *c to mgr's client and *recorder to mgr's Event recorder
// for name where they are nil.
func defaults(mgr ctrl.Manager, c *client.Client, recorder *reconcile.EventRecorder, name string) {
	if *c == nil {
		*c = mgr.GetClient()
	}
	if *recorder == nil {
		*recorder = mgr.GetEventRecorder(name)
	}
}

// key returns the namespaced name of a reference, in namespace when it
// names none.
func key(namespace, refNamespace, name string) types.NamespacedName {
	if refNamespace != "" {
		namespace = refNamespace
	}
	return types.NamespacedName{Namespace: namespace, Name: name}
}
