package ocirepository

import (
	"context"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source/oci"
)

// Reconciler reconciles OCIRepository objects: reconcile.Lifecycle does
// the kind-independent steps (finalizer, suspension, status patch),
// artifact.Store.Refresh fetches, packs, stores and garbage-collects,
// fluxadapter.SourceStatus writes Flux's conditions and Events; what is
// left here is the OCIRepository's own: its credentials, TLS and proxy
// Secrets, its status fields and, for the layer operation "copy", storing
// the selected layer's blob as it is (the artifact's digest is the blob's)
// instead of a tar.gz of the extracted layer.
type Reconciler struct {
	// Client reads and patches objects and reads Secrets.
	Client client.Client
	// Store keeps the artifacts; its base URL is what status.artifact.url
	// points at.
	Store *artifact.Store
	// Recorder records Kubernetes Events; nil means the manager's recorder
	// (SetupWithManager) or none.
	Recorder reconcile.EventRecorder
	// TempDir holds fetched trees while they are packed; "" means
	// os.TempDir().
	TempDir string
	// TrustedRoot is the Sigstore trust root keyless verification
	// (spec.verify without secretRef) uses when the object names no
	// spec.verify.trustedRootSecretRef: parse a trusted_root.json with
	// sigstoreverify.ParseTrustedRoot. Flux fetches the public-good
	// instance's root online; nil here means keyless verification fails
	// unless the object names its own.
	TrustedRoot root.TrustedMaterial
}

// Options tunes SetupWithManager. The zero value runs one reconcile at a time.
type Options = fluxadapter.ControllerOptions

// SetupWithManager registers the reconciler with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return fluxadapter.SetupSourceReconciler(mgr, "ocirepository", &sourcev1.OCIRepository{}, r, &r.Client, &r.Recorder, opts)
}

// Reconcile brings one OCIRepository's artifact up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return fluxadapter.SourceLifecycle(r.Client, r.Store, objectKey, r.reconcile).Reconcile(ctx, req)
}

func (r *Reconciler) reconcile(ctx context.Context, obj *sourcev1.OCIRepository) (ctrl.Result, error) {
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	st := fluxadapter.SourceStatus{Object: obj, Conditions: cond,
		Events: reconcile.Events{Recorder: r.Recorder, RevisionKey: fluxadapter.SourceRevisionAnnotation}}
	if obj.Generation != obj.Status.ObservedGeneration {
		cond.Reconciling(meta.ProgressingReason, "processing object: new generation %d -> %d", obj.Status.ObservedGeneration, obj.Generation)
	}
	if err := Unsupported(obj.Spec); err != nil {
		if obj.Spec.Verify != nil {
			cond.Set(sourcev1.SourceVerifiedCondition, metav1.ConditionFalse, sourcev1.VerificationError, "%s", err.Error())
		}
		return st.Stall("", sourcev1.InvalidProviderConfigurationReason, err)
	}
	repo := Repository(obj.Spec)
	if err := r.verifier(ctx, obj, repo); err != nil {
		return st.RefreshFailed(verifyFailed(obj, err), sourcev1.OCIPullFailedReason)
	}
	for _, s := range []struct {
		ref    *meta.LocalObjectReference
		what   string
		reason string
		apply  func(data map[string][]byte) error
	}{
		{obj.Spec.SecretRef, "", sourcev1.AuthenticationFailedReason, func(d map[string][]byte) error { return Credentials(&repo.Client, d) }},
		{obj.Spec.CertSecretRef, "TLS ", sourcev1.AuthenticationFailedReason, func(d map[string][]byte) error { return TLS(&repo.Client, d) }},
		{obj.Spec.ProxySecretRef, "proxy ", sourcev1.AuthenticationFailedReason, func(d map[string][]byte) error {
			p, err := fluxadapter.ProxyFromSecretData(d)
			repo.Client.Proxy = p.URL()
			return err
		}},
	} {
		if s.ref == nil {
			continue
		}
		data, err := fluxadapter.SecretData(ctx, r.Client, obj.Namespace, s.ref.Name)
		if err == nil {
			if err = s.apply(data); err != nil {
				err = fmt.Errorf("invalid %sSecret %q: %w", s.what, s.ref.Name, err)
			}
		}
		if err != nil {
			return st.Fail(sourcev1.FetchFailedCondition, s.reason, err)
		}
	}

	ignore := ""
	if obj.Spec.Ignore != nil {
		ignore = *obj.Spec.Ignore
	}
	opts := artifact.RefreshOptions{
		Filter:  func(dir string) (artifact.Filter, error) { return artifact.NewIgnoreFilter(dir, ignore) },
		TempDir: r.TempDir,
		Timeout: fluxadapter.DefaultSourceTimeout,
	}
	if obj.Spec.Timeout != nil {
		opts.Timeout = obj.Spec.Timeout.Duration
	}
	if repo.Layer.Operation == oci.LayerCopy {
		// The layer blob itself is the artifact, as in Flux.
		opts.Filter, opts.File = nil, oci.DefaultCopyName
	}
	if canSkip(obj) && (obj.Spec.Verify == nil || verified(obj)) {
		last := fluxadapter.Artifact(obj.Status.Artifact)
		opts.Last = &last
	}
	res, err := r.Store.Refresh(ctx, objectKey(obj), repo, opts)
	if err != nil {
		return st.RefreshFailed(verifyFailed(obj, err), sourcev1.OCIPullFailedReason)
	}
	a := res.Artifact
	if obj.Spec.Verify != nil && !res.Unchanged {
		cond.Set(sourcev1.SourceVerifiedCondition, metav1.ConditionTrue, meta.SucceededReason, "verified signature of revision %s", a.Revision)
	}
	if res.New {
		msg := fmt.Sprintf("stored artifact with revision '%s' from '%s'", a.Revision, obj.Spec.URL)
		if src, rev := a.Metadata[oci.SourceAnnotation], a.Metadata[oci.RevisionAnnotation]; src != "" && rev != "" {
			msg += fmt.Sprintf(", origin source '%s', origin revision '%s'", src, rev)
		}
		st.Events.Normal(obj, a.Revision, fluxadapter.NewArtifactReason, msg)
	}
	if !res.Unchanged {
		obj.Status.ObservedIgnore = obj.Spec.Ignore
		obj.Status.ObservedLayerSelector = obj.Spec.LayerSelector.DeepCopy()
	}
	obj.Status.Artifact = fluxadapter.MetaArtifact(a)
	st.Stored(fmt.Sprintf("stored artifact for digest '%s'", a.Revision))
	return ctrl.Result{RequeueAfter: obj.Spec.Interval.Duration}, nil
}

// objectKey names obj's artifacts in the store.
func objectKey(obj *sourcev1.OCIRepository) artifact.ObjectKey {
	return artifact.ObjectKey{Kind: sourcev1.OCIRepositoryKind, Namespace: obj.Namespace, Name: obj.Name}
}
