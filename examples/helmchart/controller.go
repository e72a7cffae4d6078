package helmchart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/examples/helmrepository"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/helm"
)

// Reconciler reconciles HelmChart objects: reconcile.Lifecycle does the
// kind-independent steps (finalizer, suspension, status patch), source/helm
// pulls or builds the chart, the artifact.Store keeps the packaged chart
// as it is and garbage-collects the old ones, fluxadapter.SourceStatus writes the
// Events; what is left here is the HelmChart's own: reading its source,
// the chart's version metadata, Flux's build reasons and status fields.
type Reconciler struct {
	// Client reads and patches objects and reads Secrets and sources.
	Client client.Client
	// Store keeps the artifacts; its base URL is what status.artifact.url
	// and status.url point at.
	Store *artifact.Store
	// Recorder records Kubernetes Events; nil means the manager's recorder
	// (SetupWithManager) or none.
	Recorder reconcile.EventRecorder
	// TempDir holds source artifacts and charts while they are built and
	// stored; "" means os.TempDir().
	TempDir string
	// Cache, when set, serves HelmRepository indexes read recently
	// (share it with the HelmRepository reconciler); nil downloads the
	// index at every pull.
	Cache *helm.IndexCache
	// Fetcher downloads and unpacks GitRepository and Bucket artifacts;
	// nil means the zero artifact.Fetcher.
	Fetcher *artifact.Fetcher
	// TrustedRoot is the Sigstore trust root of keyless verification
	// (spec.verify without secretRef); nil means keyless verification
	// fails.
	TrustedRoot root.TrustedMaterial
}

// Options tunes SetupWithManager. The zero value runs one reconcile at a time.
type Options = fluxadapter.ControllerOptions

// Reconcile brings one HelmChart's artifact up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	l := &reconcile.Lifecycle[*sourcev1.HelmChart]{
		Client:    r.Client,
		New:       func() *sourcev1.HelmChart { return &sourcev1.HelmChart{} },
		Finalizer: sourcev1.SourceFinalizer,
		Run: func(ctx context.Context, obj *sourcev1.HelmChart, _ *reconcile.StatusPatcher) (ctrl.Result, error) {
			return r.reconcile(ctx, obj)
		},
		Finalize: func(_ context.Context, obj *sourcev1.HelmChart) error {
			return fluxadapter.RemoveArtifacts(r.Store, objectKey(obj))
		},
		Suspended: func(obj *sourcev1.HelmChart) bool { return obj.Spec.Suspend },
		Observe: func(obj *sourcev1.HelmChart) {
			fluxadapter.Observed(obj, &obj.Status.ObservedGeneration, &obj.Status.ReconcileRequestStatus)
		},
	}
	return l.Reconcile(ctx, req)
}

func (r *Reconciler) reconcile(ctx context.Context, obj *sourcev1.HelmChart) (ctrl.Result, error) {
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	st := fluxadapter.SourceStatus{Object: obj, Conditions: cond,
		Events: reconcile.Events{Recorder: r.Recorder, RevisionKey: fluxadapter.SourceRevisionAnnotation}}
	if obj.Generation != obj.Status.ObservedGeneration {
		cond.Reconciling(meta.ProgressingReason, "processing object: new generation %d -> %d", obj.Status.ObservedGeneration, obj.Generation)
	}
	// A failed verification is verified again.
	if c := cond.Get(sourcev1.SourceVerifiedCondition); c != nil && c.Status == metav1.ConditionFalse {
		cond.Delete(sourcev1.SourceVerifiedCondition)
	}
	if err := Unsupported(obj.Spec); err != nil {
		return st.Stall("", sourcev1.InvalidProviderConfigurationReason, err)
	}
	src, err := r.source(ctx, obj)
	if err != nil {
		if errors.Is(err, ErrNotSupported) {
			return st.Stall(sourcev1.FetchFailedCondition, "UnsupportedSourceKind", err)
		}
		return st.Fail(sourcev1.FetchFailedCondition, "SourceUnavailable", err)
	}
	repo, isRepo := src.(*sourcev1.HelmRepository)
	ociRepo := isRepo && helmrepository.IsOCI(repo.Spec)
	// spec.verify applies to charts of OCI repositories only, as in Flux.
	verify := ociRepo && obj.Spec.Verify != nil
	if !verify {
		cond.Delete(sourcev1.SourceVerifiedCondition)
	}
	if src.GetArtifact() == nil && !ociRepo {
		msg := fmt.Sprintf("no artifact available for %s source '%s'", obj.Spec.SourceRef.Kind, obj.Spec.SourceRef.Name)
		cond.Set(sourcev1.FetchFailedCondition, metav1.ConditionTrue, "NoSourceArtifact", "%s", msg)
		cond.Failed("NoSourceArtifact", "%s", msg)
		return ctrl.Result{RequeueAfter: obj.GetRequeueAfter()}, nil
	}
	if c := cond.Get(sourcev1.FetchFailedCondition); c != nil && (c.Reason == "NoSourceArtifact" || c.Reason == "SourceUnavailable") {
		cond.Delete(sourcev1.FetchFailedCondition)
	}
	srcRev := ""
	if a := src.GetArtifact(); a != nil {
		obj.Status.ObservedSourceArtifactRevision = a.Revision
		srcRev = a.Revision
	}
	vm := VersionMetadata(obj, srcRev)
	opts := helm.ChartOptions{ValuesFiles: obj.Spec.ValuesFiles, IgnoreMissingValuesFiles: obj.Spec.IgnoreMissingValuesFiles, VersionMetadata: vm}

	var fetcher source.Fetcher
	switch {
	case ociRepo:
		c := &helm.OCIChart{URL: repo.Spec.URL, Name: obj.Spec.Chart, Version: obj.Spec.Version, Options: opts}
		if err := helmrepository.CheckURL(repo.Spec); err != nil {
			return st.Stall(sourcev1.FetchFailedCondition, sourcev1.URLInvalidReason, err)
		}
		if err := helmrepository.Unsupported(repo.Spec); err != nil {
			return st.Stall(sourcev1.FetchFailedCondition, sourcev1.InvalidProviderConfigurationReason, err)
		}
		if c.Client, err = helmrepository.OCIClient(ctx, r.Client, repo); err != nil {
			return st.Fail(sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason, err)
		}
		if c.Verify, err = r.verifier(ctx, obj); err != nil {
			err = fmt.Errorf("failed to verify the signature using provider '%s': %w", obj.Spec.Verify.Provider, err)
			cond.Set(sourcev1.SourceVerifiedCondition, metav1.ConditionFalse, sourcev1.VerificationError, "%s", err.Error())
			return st.Fail("", sourcev1.VerificationError, err)
		}
		fetcher = c
	case isRepo:
		c := &helm.Chart{Name: obj.Spec.Chart, Version: obj.Spec.Version, Options: opts}
		if err := helmrepository.CheckURL(repo.Spec); err != nil {
			return st.Stall(sourcev1.FetchFailedCondition, sourcev1.URLInvalidReason, err)
		}
		if c.Repository, err = helmrepository.Repository(ctx, r.Client, repo, r.Cache); err != nil {
			return st.Fail(sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason, err)
		}
		fetcher = c
	default:
		dir, err := os.MkdirTemp(r.TempDir, "helmchart-source-")
		if err != nil {
			return st.Fail(sourcev1.StorageOperationFailedCondition, sourcev1.DirCreationFailedReason, err)
		}
		defer os.RemoveAll(dir)
		f := r.Fetcher
		if f == nil {
			f = &artifact.Fetcher{}
		}
		if _, err := f.Fetch(ctx, fluxadapter.Artifact(src.GetArtifact()), dir); err != nil {
			return st.Fail(sourcev1.FetchFailedCondition, meta.FailedReason, fmt.Errorf("failed to fetch source artifact: %w", err))
		}
		fetcher = &helm.Build{Root: dir, Path: obj.Spec.Chart, ValuesFiles: opts.ValuesFiles,
			IgnoreMissingValuesFiles: opts.IgnoreMissingValuesFiles, VersionMetadata: vm,
			Repositories: r.dependencyRepository(obj.Namespace), OCIClient: r.dependencyClient(obj.Namespace)}
	}

	var last *artifact.Artifact
	if obj.Status.Artifact != nil && obj.Generation == obj.Status.ObservedGeneration && (!verify || verified(obj)) {
		a := fluxadapter.Artifact(obj.Status.Artifact)
		last = &a
	}
	timeout := fluxadapter.DefaultSourceTimeout
	if isRepo && repo.Spec.Timeout != nil {
		timeout = repo.Spec.Timeout.Duration
	}
	res, err := r.refresh(ctx, objectKey(obj), fetcher, last, timeout)
	if err != nil {
		return r.failed(st, obj, err)
	}
	a := res.Artifact
	packaged := Packaged(obj, vm)
	if !res.Unchanged {
		obj.Status.ObservedChartName = res.Snapshot.Metadata["name"]
		obj.Status.ObservedValuesFiles = nil
		if v := res.Snapshot.Metadata["valuesFiles"]; v != "" && obj.Spec.IgnoreMissingValuesFiles {
			obj.Status.ObservedValuesFiles = strings.Split(v, ",")
		}
		if verify {
			cond.Set(sourcev1.SourceVerifiedCondition, metav1.ConditionTrue, meta.SucceededReason, "verified signature of version %s", a.Revision)
		}
	}
	valuesFiles := obj.Status.ObservedValuesFiles
	if !obj.Spec.IgnoreMissingValuesFiles {
		valuesFiles = obj.Spec.ValuesFiles
	}
	msg := Summary(packaged, obj.Status.ObservedChartName, a.Revision, valuesFiles)
	if res.New {
		st.Events.Normal(obj, a.Revision, Reason(packaged), msg)
	}
	obj.Status.Artifact = fluxadapter.MetaArtifact(a)
	obj.Status.URL = a.URL
	for _, c := range []string{sourcev1.FetchFailedCondition, sourcev1.BuildFailedCondition, sourcev1.StorageOperationFailedCondition, sourcev1.ArtifactOutdatedCondition} {
		cond.Delete(c)
	}
	cond.Set(sourcev1.ArtifactInStorageCondition, metav1.ConditionTrue, Reason(packaged), "%s", msg)
	cond.Ready(Reason(packaged), "%s", msg)
	return ctrl.Result{RequeueAfter: obj.GetRequeueAfter()}, nil
}

// failed records a failed pull or build with Flux's reason and condition
// (helm.FailureOf): BuildFailed or FetchFailed, SourceVerified False for a
// verification failure, AuthenticationFailed for refused credentials,
// Stalled when retrying cannot help.
func (r *Reconciler) failed(st fluxadapter.SourceStatus, obj *sourcev1.HelmChart, err error) (ctrl.Result, error) {
	var serr *artifact.StoreError
	if errors.As(err, &serr) {
		return st.RefreshFailed(err, meta.FailedReason)
	}
	if errors.Is(err, source.ErrAuth) {
		st.Conditions.Delete(sourcev1.BuildFailedCondition)
		return st.Fail(sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason,
			fmt.Errorf("failed to authenticate with the Helm repository: %w", err))
	}
	f := helm.FailureOf(err)
	err = BuildError(f, err)
	condType, other := sourcev1.FetchFailedCondition, sourcev1.BuildFailedCondition
	if f.Build {
		condType, other = other, condType
	}
	st.Conditions.Delete(other)
	if f.Reason == helm.ReasonChartVerificationError || errors.Is(err, source.ErrVerification) && obj.Spec.Verify != nil {
		st.Conditions.Set(sourcev1.SourceVerifiedCondition, metav1.ConditionFalse, sourcev1.VerificationError, "%s", err.Error())
	}
	if f.Persistent {
		return st.Stall(condType, f.Reason, err)
	}
	return st.Fail(condType, f.Reason, err)
}

// source reads the object obj's spec.sourceRef names. A kind other than
// HelmRepository, GitRepository and Bucket wraps ErrNotSupported.
func (r *Reconciler) source(ctx context.Context, obj *sourcev1.HelmChart) (sourcev1.Source, error) {
	ref := obj.Spec.SourceRef
	var src interface {
		sourcev1.Source
		client.Object
	}
	switch ref.Kind {
	case sourcev1.HelmRepositoryKind:
		src = &sourcev1.HelmRepository{}
	case sourcev1.GitRepositoryKind:
		src = &sourcev1.GitRepository{}
	case sourcev1.BucketKind:
		src = &sourcev1.Bucket{}
	default:
		return nil, fmt.Errorf("failed to get source: source kind '%s' is %w: use HelmRepository, GitRepository or Bucket", ref.Kind, ErrNotSupported)
	}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: ref.Name}, src); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("failed to get source: %s '%s/%s' not found", ref.Kind, obj.Namespace, ref.Name)
		}
		return nil, fmt.Errorf("failed to get source: %w", err)
	}
	return src, nil
}

// objectKey names obj's artifacts in the store.
func objectKey(obj *sourcev1.HelmChart) artifact.ObjectKey {
	return artifact.ObjectKey{Kind: sourcev1.HelmChartKind, Namespace: obj.Namespace, Name: obj.Name}
}
