package gitrepository

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/internal/fluxstatus"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git"
)

// ControllerName is the reporting controller of Events, as in Flux.
const ControllerName = "source-controller"

// RevisionAnnotation carries the revision on Events, as in Flux.
const RevisionAnnotation = "source.toolkit.fluxcd.io/revision"

// DefaultTimeout bounds one Git operation when spec.timeout is unset.
const DefaultTimeout = 60 * time.Second

// Flux's reasons used by this controller that its API module does not name.
const (
	// NewArtifactReason is the Event reason for a newly stored artifact.
	NewArtifactReason = "NewArtifact"
	// InvalidCommitSignatureReason reports a failed signature verification.
	InvalidCommitSignatureReason = "InvalidCommitSignature"
	// IncludeUnavailableReason reports an included GitRepository without artifact.
	IncludeUnavailableReason = "IncludeUnavailable"
)

// Reconciler reconciles GitRepository objects.
type Reconciler struct {
	// Client reads and patches objects and reads Secrets.
	Client client.Client
	// Store keeps the artifacts; its base URL is what status.artifact.url
	// points at (see StorageServer).
	Store *artifact.Store
	// Fetcher downloads the artifacts of included GitRepositories; nil
	// means a zero artifact.Fetcher.
	Fetcher *artifact.Fetcher
	// Recorder records Kubernetes Events; nil means the manager's recorder
	// (SetupWithManager) or none.
	Recorder fluxstatus.EventRecorder
	// TempDir holds checkouts while they are packed; "" means os.TempDir().
	TempDir string
	// SubmodulesSameHost confines submodules to the host of their parent
	// repository (git.Repository.SubmodulesSameHost); part of the lockdown.
	SubmodulesSameHost bool
}

// Options tunes SetupWithManager. The zero value runs one reconcile at a time.
type Options struct {
	// MaxConcurrentReconciles is the number of parallel reconciles; 0 means 1.
	MaxConcurrentReconciles int
	// SkipNameValidation allows several managers in one process to run
	// this controller (tests); false keeps controller-runtime's check.
	SkipNameValidation bool
}

// SetupWithManager registers the reconciler with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if r.Client == nil {
		r.Client = mgr.GetClient()
	}
	if r.Recorder == nil {
		r.Recorder = mgr.GetEventRecorder(ControllerName)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("gitrepository").
		For(&sourcev1.GitRepository{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
			SkipNameValidation:      &opts.SkipNameValidation,
		}).
		Complete(r)
}

// Reconcile brings one GitRepository's artifact up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &sourcev1.GitRepository{}
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, obj)
	}
	if !controllerutil.ContainsFinalizer(obj, sourcev1.SourceFinalizer) {
		base := obj.DeepCopy()
		controllerutil.AddFinalizer(obj, sourcev1.SourceFinalizer)
		if err := r.Client.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, err
		}
	}
	if obj.Spec.Suspend {
		logf.FromContext(ctx).V(1).Info("reconciliation is suspended")
		return ctrl.Result{}, nil
	}
	base := obj.DeepCopy()
	res, recErr := r.reconcile(ctx, obj)
	obj.Status.ObservedGeneration = obj.Generation
	fluxstatus.HandleRequest(obj.GetAnnotations(), &obj.Status.ReconcileRequestStatus)
	if err := r.Client.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return ctrl.Result{}, errors.Join(recErr, err)
	}
	return res, recErr
}

// failure records a failed step and decides how to retry.
func (r *Reconciler) failure(obj *sourcev1.GitRepository, cond reconcile.Conditions, condType, reason string, err error) (ctrl.Result, error) {
	msg := err.Error()
	if condType != "" {
		cond.Set(condType, metav1.ConditionTrue, reason, "%s", msg)
	}
	cond.Failed(reason, "%s", msg)
	fluxstatus.Event(r.Recorder, obj, RevisionAnnotation, "", corev1.EventTypeWarning, reason, msg)
	return ctrl.Result{}, err
}

func (r *Reconciler) reconcile(ctx context.Context, obj *sourcev1.GitRepository) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	if obj.Generation != obj.Status.ObservedGeneration {
		cond.Reconciling(meta.ProgressingReason, "processing object: new generation %d -> %d", obj.Status.ObservedGeneration, obj.Generation)
	}

	repo := Repository(obj.Spec)
	repo.SubmodulesSameHost = r.SubmodulesSameHost
	if ref := obj.Spec.SecretRef; ref != nil {
		data, err := r.secretData(ctx, obj.Namespace, ref.Name)
		if err != nil {
			return r.failure(obj, cond, sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason, err)
		}
		if repo.Auth, err = git.AuthFromSecretData(data, obj.Spec.URL); err != nil {
			return r.failure(obj, cond, sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason,
				fmt.Errorf("invalid Secret %q: %w", ref.Name, err))
		}
	}
	if ref := obj.Spec.ProxySecretRef; ref != nil {
		data, err := r.secretData(ctx, obj.Namespace, ref.Name)
		if err != nil {
			return r.failure(obj, cond, sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason, err)
		}
		if repo.Proxy, err = git.ProxyFromSecretData(data); err != nil {
			return r.failure(obj, cond, sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason,
				fmt.Errorf("invalid proxy Secret %q: %w", ref.Name, err))
		}
	}
	if v := obj.Spec.Verification; v != nil {
		data, err := r.secretData(ctx, obj.Namespace, v.SecretRef.Name)
		if err != nil {
			cond.Set(sourcev1.SourceVerifiedCondition, metav1.ConditionFalse, InvalidCommitSignatureReason, "%s", err.Error())
			return r.failure(obj, cond, "", sourcev1.AuthenticationFailedReason, err)
		}
		if repo.Verify, err = Verification(v, data); err != nil {
			cond.Set(sourcev1.SourceVerifiedCondition, metav1.ConditionFalse, InvalidCommitSignatureReason, "%s", err.Error())
			return r.failure(obj, cond, "", InvalidCommitSignatureReason, err)
		}
	} else {
		cond.Delete(sourcev1.SourceVerifiedCondition)
	}

	work, err := os.MkdirTemp(r.TempDir, "gitrepository-")
	if err != nil {
		return r.failure(obj, cond, sourcev1.StorageOperationFailedCondition, sourcev1.DirCreationFailedReason, err)
	}
	defer os.RemoveAll(work)

	included, err := r.includes(ctx, obj, work)
	if err != nil {
		cond.Set(sourcev1.IncludeUnavailableCondition, metav1.ConditionTrue, IncludeUnavailableReason, "%s", err.Error())
		return r.failure(obj, cond, "", IncludeUnavailableReason, err)
	}
	cond.Delete(sourcev1.IncludeUnavailableCondition)
	for _, inc := range included {
		repo.Include = append(repo.Include, inc.include)
	}

	last := ""
	if r.canSkip(obj) {
		last = obj.Status.Artifact.Revision
	}
	timeout := DefaultTimeout
	if obj.Spec.Timeout != nil {
		timeout = obj.Spec.Timeout.Duration
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dir := filepath.Join(work, "tree")
	snap, err := repo.Fetch(fctx, dir, last)
	switch {
	case errors.Is(err, source.ErrUnchanged):
		log.V(1).Info("no changes since last reconciliation", "revision", last)
		current := fromStatus(obj.Status.Artifact)
		r.stored(ctx, obj, cond, current)
		return ctrl.Result{RequeueAfter: obj.Spec.Interval.Duration}, nil
	case errors.Is(err, source.ErrVerification):
		cond.Set(sourcev1.SourceVerifiedCondition, metav1.ConditionFalse, InvalidCommitSignatureReason, "%s", err.Error())
		return r.failure(obj, cond, "", InvalidCommitSignatureReason, err)
	case errors.Is(err, source.ErrAuth):
		return r.failure(obj, cond, sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason, err)
	case err != nil:
		var gerr *git.Error
		if !errors.As(err, &gerr) && ctx.Err() == nil {
			// Not an operation failure but a spec the git source refuses
			// (reference, verification mode, sparse paths, URL): retrying
			// cannot help until the object changes.
			cond.Set(sourcev1.FetchFailedCondition, metav1.ConditionTrue, sourcev1.GitOperationFailedReason, "%s", err.Error())
			cond.Stalled(sourcev1.GitOperationFailedReason, "%s", err.Error())
			fluxstatus.Event(r.Recorder, obj, RevisionAnnotation, "", corev1.EventTypeWarning, sourcev1.GitOperationFailedReason, err.Error())
			return ctrl.Result{}, nil
		}
		return r.failure(obj, cond, sourcev1.FetchFailedCondition, sourcev1.GitOperationFailedReason, err)
	}
	cond.Delete(sourcev1.FetchFailedCondition)
	if repo.Verify != nil && snap.Commit != nil {
		msg := fmt.Sprintf("verified signature of commit '%s'", snap.Commit.Hash)
		if snap.Commit.VerifiedBy != "" {
			msg += fmt.Sprintf(" with key '%s'", snap.Commit.VerifiedBy)
		}
		cond.Set(sourcev1.SourceVerifiedCondition, metav1.ConditionTrue, meta.SucceededReason, "%s", msg)
	}

	ignore := ""
	if obj.Spec.Ignore != nil {
		ignore = *obj.Spec.Ignore
	}
	filter, err := artifact.NewIgnoreFilter(dir, ignore)
	if err != nil {
		return r.failure(obj, cond, sourcev1.StorageOperationFailedCondition, sourcev1.ArchiveOperationFailedReason, err)
	}
	a, err := r.Store.ArchiveSnapshot(ctx, objectKey(obj), dir, snap, artifact.PackOptions{Filter: filter})
	if err != nil {
		return r.failure(obj, cond, sourcev1.StorageOperationFailedCondition, sourcev1.ArchiveOperationFailedReason, err)
	}
	prev := obj.Status.Artifact
	if prev == nil || prev.Revision != a.Revision || prev.Digest != a.Digest {
		what := fmt.Sprintf("revision '%s'", a.Revision)
		if snap.Commit != nil {
			what = fmt.Sprintf("commit '%s'", snap.Commit.ShortMessage())
		}
		fluxstatus.Event(r.Recorder, obj, RevisionAnnotation, a.Revision, corev1.EventTypeNormal, NewArtifactReason, "stored artifact for "+what)
	}
	obj.Status.IncludedArtifacts = nil
	for _, inc := range included {
		obj.Status.IncludedArtifacts = append(obj.Status.IncludedArtifacts, inc.artifact)
	}
	obj.Status.ObservedIgnore = obj.Spec.Ignore
	obj.Status.ObservedRecurseSubmodules = obj.Spec.RecurseSubmodules
	obj.Status.ObservedInclude = obj.Spec.Include
	obj.Status.ObservedSparseCheckout = obj.Spec.SparseCheckout
	if v := obj.Spec.Verification; v != nil {
		mode := v.GetMode()
		obj.Status.SourceVerificationMode = &mode
	} else {
		obj.Status.SourceVerificationMode = nil
	}
	r.stored(ctx, obj, cond, a)
	return ctrl.Result{RequeueAfter: obj.Spec.Interval.Duration}, nil
}

// stored records a current artifact and collects superseded ones.
func (r *Reconciler) stored(ctx context.Context, obj *sourcev1.GitRepository, cond reconcile.Conditions, a artifact.Artifact) {
	obj.Status.Artifact = toStatus(a)
	msg := fmt.Sprintf("stored artifact for revision '%s'", a.Revision)
	cond.Set(sourcev1.ArtifactInStorageCondition, metav1.ConditionTrue, meta.SucceededReason, "%s", msg)
	cond.Delete(sourcev1.StorageOperationFailedCondition)
	cond.Delete(sourcev1.ArtifactOutdatedCondition)
	cond.Delete(sourcev1.FetchFailedCondition)
	cond.Ready(meta.SucceededReason, "%s", msg)
	removed, err := r.Store.GarbageCollect(ctx, a)
	if err != nil {
		logf.FromContext(ctx).Error(err, "garbage collection of old artifacts failed")
	} else if len(removed) > 0 {
		logf.FromContext(ctx).V(1).Info("garbage collected old artifacts", "paths", removed)
	}
}

// canSkip reports whether the last artifact may short-circuit the fetch:
// it exists in the store and nothing but the remote can have changed it.
func (r *Reconciler) canSkip(obj *sourcev1.GitRepository) bool {
	st := obj.Status
	if st.Artifact == nil || len(obj.Spec.Include) > 0 || !ownArtifact(obj, st.Artifact) || !r.Store.Exists(fromStatus(st.Artifact)) {
		return false
	}
	if !equalPtr(st.ObservedIgnore, obj.Spec.Ignore) || st.ObservedRecurseSubmodules != obj.Spec.RecurseSubmodules ||
		!equalStrings(st.ObservedSparseCheckout, obj.Spec.SparseCheckout) {
		return false
	}
	if v := obj.Spec.Verification; v != nil {
		return st.SourceVerificationMode != nil && *st.SourceVerificationMode == v.GetMode()
	}
	return st.SourceVerificationMode == nil
}

type includedArtifact struct {
	include  git.Include
	artifact *meta.Artifact
}

// includes downloads the artifacts of the included GitRepositories.
func (r *Reconciler) includes(ctx context.Context, obj *sourcev1.GitRepository, work string) ([]includedArtifact, error) {
	var out []includedArtifact
	f := r.Fetcher
	if f == nil {
		f = &artifact.Fetcher{}
	}
	for i, inc := range obj.Spec.Include {
		var other sourcev1.GitRepository
		key := types.NamespacedName{Namespace: obj.Namespace, Name: inc.GitRepositoryRef.Name}
		if err := r.Client.Get(ctx, key, &other); err != nil {
			return nil, fmt.Errorf("included GitRepository %q: %w", key.Name, err)
		}
		if other.Status.Artifact == nil {
			return nil, fmt.Errorf("included GitRepository %q has no artifact yet", key.Name)
		}
		dir := filepath.Join(work, fmt.Sprintf("include-%d", i))
		if _, err := f.Fetch(ctx, fromStatus(other.Status.Artifact), dir); err != nil {
			return nil, fmt.Errorf("included GitRepository %q: %w", key.Name, err)
		}
		out = append(out, includedArtifact{
			include:  git.Include{Dir: dir, FromPath: inc.GetFromPath(), ToPath: inc.GetToPath()},
			artifact: other.Status.Artifact.DeepCopy(),
		})
	}
	return out, nil
}

// finalize removes the object's artifacts, then its finalizer. What it
// deletes is derived from the object's kind, namespace and name only:
// status.artifact.path is writable by anyone who can update the status, so
// it never steers a deletion.
func (r *Reconciler) finalize(ctx context.Context, obj *sourcev1.GitRepository) error {
	if err := r.Store.RemoveAll(objectKey(obj)); err != nil {
		return fmt.Errorf("removing the artifacts of %s/%s: %w", obj.Namespace, obj.Name, err)
	}
	if controllerutil.ContainsFinalizer(obj, sourcev1.SourceFinalizer) {
		base := obj.DeepCopy()
		controllerutil.RemoveFinalizer(obj, sourcev1.SourceFinalizer)
		return client.IgnoreNotFound(r.Client.Patch(ctx, obj, client.MergeFrom(base)))
	}
	return nil
}

func (r *Reconciler) secretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	var s corev1.Secret
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &s); err != nil {
		return nil, fmt.Errorf("reading Secret %q: %w", name, err)
	}
	return s.Data, nil
}

// objectKey names obj's artifacts in the store.
func objectKey(obj *sourcev1.GitRepository) artifact.ObjectKey {
	return artifact.ObjectKey{Kind: sourcev1.GitRepositoryKind, Namespace: obj.Namespace, Name: obj.Name}
}

// ownArtifact reports whether a status artifact lies in obj's own store
// directory. A status naming another object's file (or no valid path) is
// not trusted: reusing it would let garbage collection run in that
// object's directory.
func ownArtifact(obj *sourcev1.GitRepository, a *meta.Artifact) bool {
	return a.Path == objectKey(obj).ArtifactPath(path.Base(a.Path))
}

func toStatus(a artifact.Artifact) *meta.Artifact {
	size := a.Size
	return &meta.Artifact{
		Path: a.Path, URL: a.URL, Revision: a.Revision, Digest: a.Digest,
		LastUpdateTime: metav1.NewTime(a.LastUpdateTime), Size: &size, Metadata: a.Metadata,
	}
}

func fromStatus(a *meta.Artifact) artifact.Artifact {
	out := artifact.Artifact{
		Path: a.Path, URL: a.URL, Revision: a.Revision, Digest: a.Digest,
		LastUpdateTime: a.LastUpdateTime.Time, Metadata: a.Metadata,
	}
	if a.Size != nil {
		out.Size = *a.Size
	}
	return out
}

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
