package gitrepository

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git"
)

// ControllerName is the reporting controller of Events, as in Flux.
const ControllerName = fluxadapter.SourceControllerName

// RevisionAnnotation carries the revision on Events, as in Flux.
const RevisionAnnotation = fluxadapter.SourceRevisionAnnotation

// DefaultTimeout bounds one Git operation when spec.timeout is unset.
const DefaultTimeout = fluxadapter.DefaultSourceTimeout

// Flux's reasons used by this controller that its API module does not name.
const (
	// NewArtifactReason is the Event reason for a newly stored artifact.
	NewArtifactReason = fluxadapter.NewArtifactReason
	// InvalidCommitSignatureReason reports a failed signature verification.
	InvalidCommitSignatureReason = "InvalidCommitSignature"
	// IncludeUnavailableReason reports an included GitRepository without artifact.
	IncludeUnavailableReason = "IncludeUnavailable"
)

// Reconciler reconciles GitRepository objects: the kind-independent steps
// (finalizer, suspension, status patch) are reconcile.Lifecycle's, fetch,
// pack, store and garbage collection are artifact.Store.Refresh's; what is
// left here is the GitRepository's own: credentials, verification,
// includes and its conditions.
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
	Recorder reconcile.EventRecorder
	// TempDir holds checkouts while they are packed; "" means os.TempDir().
	TempDir string
	// SubmodulesSameHost confines submodules to the host of their parent
	// repository (git.Repository.SubmodulesSameHost); part of the lockdown.
	SubmodulesSameHost bool
}

// Reconcile brings one GitRepository's artifact up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return fluxadapter.SourceLifecycle(r.Client, r.Store, objectKey, r.reconcile).Reconcile(ctx, req)
}

func (r *Reconciler) events() reconcile.Events {
	return reconcile.Events{Recorder: r.Recorder, RevisionKey: RevisionAnnotation}
}

// failure records a failed step and decides how to retry.
func (r *Reconciler) failure(obj *sourcev1.GitRepository, cond reconcile.Conditions, condType, reason string, err error) (ctrl.Result, error) {
	return fluxadapter.SourceStatus{Object: obj, Conditions: cond, Events: r.events()}.Fail(condType, reason, err)
}

// unverified records a failed signature verification.
func (r *Reconciler) unverified(obj *sourcev1.GitRepository, cond reconcile.Conditions, reason string, err error) (ctrl.Result, error) {
	cond.Set(sourcev1.SourceVerifiedCondition, metav1.ConditionFalse, InvalidCommitSignatureReason, "%s", err.Error())
	return r.failure(obj, cond, "", reason, err)
}

func (r *Reconciler) reconcile(ctx context.Context, obj *sourcev1.GitRepository) (ctrl.Result, error) {
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	if obj.Generation != obj.Status.ObservedGeneration {
		cond.Reconciling(meta.ProgressingReason, "processing object: new generation %d -> %d", obj.Status.ObservedGeneration, obj.Generation)
	}

	repo := Repository(obj.Spec)
	repo.SubmodulesSameHost = r.SubmodulesSameHost
	if ref := obj.Spec.SecretRef; ref != nil {
		data, err := r.secretData(ctx, obj.Namespace, ref.Name)
		if err == nil {
			if repo.Auth, err = git.AuthFromSecretData(data, obj.Spec.URL); err != nil {
				err = fmt.Errorf("invalid Secret %q: %w", ref.Name, err)
			}
		}
		if err != nil {
			return r.failure(obj, cond, sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason, err)
		}
	}
	if ref := obj.Spec.ProxySecretRef; ref != nil {
		data, err := r.secretData(ctx, obj.Namespace, ref.Name)
		if err == nil {
			if repo.Proxy, err = git.ProxyFromSecretData(data); err != nil {
				err = fmt.Errorf("invalid proxy Secret %q: %w", ref.Name, err)
			}
		}
		if err != nil {
			return r.failure(obj, cond, sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason, err)
		}
	}
	if v := obj.Spec.Verification; v != nil {
		data, err := r.secretData(ctx, obj.Namespace, v.SecretRef.Name)
		if err != nil {
			return r.unverified(obj, cond, sourcev1.AuthenticationFailedReason, err)
		}
		if repo.Verify, err = Verification(v, data); err != nil {
			return r.unverified(obj, cond, InvalidCommitSignatureReason, err)
		}
	} else {
		cond.Delete(sourcev1.SourceVerifiedCondition)
	}

	var included []*meta.Artifact
	if len(obj.Spec.Include) > 0 {
		work, err := os.MkdirTemp(r.TempDir, "gitrepository-include-")
		if err != nil {
			return r.failure(obj, cond, sourcev1.StorageOperationFailedCondition, sourcev1.DirCreationFailedReason, err)
		}
		defer os.RemoveAll(work)
		if included, err = r.includes(ctx, obj, repo, work); err != nil {
			cond.Set(sourcev1.IncludeUnavailableCondition, metav1.ConditionTrue, IncludeUnavailableReason, "%s", err.Error())
			return r.failure(obj, cond, "", IncludeUnavailableReason, err)
		}
	}
	cond.Delete(sourcev1.IncludeUnavailableCondition)

	ignore := ""
	if obj.Spec.Ignore != nil {
		ignore = *obj.Spec.Ignore
	}
	opts := artifact.RefreshOptions{
		Filter:  func(dir string) (artifact.Filter, error) { return artifact.NewIgnoreFilter(dir, ignore) },
		TempDir: r.TempDir,
		Timeout: DefaultTimeout,
	}
	if obj.Spec.Timeout != nil {
		opts.Timeout = obj.Spec.Timeout.Duration
	}
	if canSkip(obj) {
		last := fluxadapter.Artifact(obj.Status.Artifact)
		opts.Last = &last
	}
	res, err := r.Store.Refresh(ctx, objectKey(obj), repo, opts)
	var serr *artifact.StoreError
	switch {
	case errors.As(err, &serr):
		return r.failure(obj, cond, sourcev1.StorageOperationFailedCondition, sourcev1.ArchiveOperationFailedReason, err)
	case errors.Is(err, source.ErrVerification):
		return r.unverified(obj, cond, InvalidCommitSignatureReason, err)
	case errors.Is(err, source.ErrAuth):
		return r.failure(obj, cond, sourcev1.FetchFailedCondition, sourcev1.AuthenticationFailedReason, err)
	case reconcile.IsStalling(err):
		// Not an operation failure but a spec the git source refuses
		// (reference, verification mode, sparse paths, URL): retrying
		// cannot help until the object changes.
		return fluxadapter.SourceStatus{Object: obj, Conditions: cond, Events: r.events()}.
			Stall(sourcev1.FetchFailedCondition, sourcev1.GitOperationFailedReason, err)
	case err != nil:
		return r.failure(obj, cond, sourcev1.FetchFailedCondition, sourcev1.GitOperationFailedReason, err)
	}
	a := res.Artifact
	if !res.Unchanged {
		if commit := res.Snapshot.Commit; repo.Verify != nil && commit != nil {
			msg := fmt.Sprintf("verified signature of commit '%s'", commit.Hash)
			if commit.VerifiedBy != "" {
				msg += fmt.Sprintf(" with key '%s'", commit.VerifiedBy)
			}
			cond.Set(sourcev1.SourceVerifiedCondition, metav1.ConditionTrue, meta.SucceededReason, "%s", msg)
		}
		if res.New {
			what := fmt.Sprintf("revision '%s'", a.Revision)
			if res.Snapshot.Commit != nil {
				what = fmt.Sprintf("commit '%s'", res.Snapshot.Commit.ShortMessage())
			}
			r.events().Normal(obj, a.Revision, NewArtifactReason, "stored artifact for "+what)
		}
		obj.Status.IncludedArtifacts = included
		obj.Status.ObservedIgnore = obj.Spec.Ignore
		obj.Status.ObservedRecurseSubmodules = obj.Spec.RecurseSubmodules
		obj.Status.ObservedInclude = obj.Spec.Include
		obj.Status.ObservedSparseCheckout = obj.Spec.SparseCheckout
		obj.Status.SourceVerificationMode = nil
		if v := obj.Spec.Verification; v != nil {
			mode := v.GetMode()
			obj.Status.SourceVerificationMode = &mode
		}
	}
	obj.Status.Artifact = fluxadapter.MetaArtifact(a)
	fluxadapter.SourceStatus{Object: obj, Conditions: cond, Events: r.events()}.
		Stored(fmt.Sprintf("stored artifact for revision '%s'", a.Revision))
	return ctrl.Result{RequeueAfter: obj.Spec.Interval.Duration}, nil
}

// includes downloads the artifacts of the included GitRepositories into
// work, adds them to repo and returns them for the status.
func (r *Reconciler) includes(ctx context.Context, obj *sourcev1.GitRepository, repo *git.Repository, work string) ([]*meta.Artifact, error) {
	var out []*meta.Artifact
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
		if _, err := f.Fetch(ctx, fluxadapter.Artifact(other.Status.Artifact), dir); err != nil {
			return nil, fmt.Errorf("included GitRepository %q: %w", key.Name, err)
		}
		repo.Include = append(repo.Include, git.Include{Dir: dir, FromPath: inc.GetFromPath(), ToPath: inc.GetToPath()})
		out = append(out, other.Status.Artifact.DeepCopy())
	}
	return out, nil
}

// finalize removes the object's artifacts (Lifecycle then removes the
// finalizer). What it deletes is derived from the object's kind, namespace
// and name only: status.artifact.path is writable by anyone who can update
// the status, so it never steers a deletion.
func (r *Reconciler) finalize(_ context.Context, obj *sourcev1.GitRepository) error {
	return fluxadapter.RemoveArtifacts(r.Store, objectKey(obj))
}

func (r *Reconciler) secretData(ctx context.Context, namespace, name string) (map[string][]byte, error) {
	return fluxadapter.SecretData(ctx, r.Client, namespace, name)
}

// objectKey names obj's artifacts in the store.
func objectKey(obj *sourcev1.GitRepository) artifact.ObjectKey {
	return artifact.ObjectKey{Kind: sourcev1.GitRepositoryKind, Namespace: obj.Namespace, Name: obj.Name}
}
