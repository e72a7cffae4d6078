package kustomization

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/reconcile"
)

// ControllerName is the field manager and the reporting controller of
// Events, as in Flux.
const ControllerName = "kustomize-controller"

// RevisionAnnotation carries the revision on Events, as in Flux.
const RevisionAnnotation = "kustomize.toolkit.fluxcd.io/revision"

// DefaultDependencyRequeueInterval is how long a Kustomization waits for
// its dependencies before checking again, as Flux's default.
const DefaultDependencyRequeueInterval = 30 * time.Second

// Reconciler reconciles Kustomization objects: the kind-independent steps
// (finalizer, suspension, status patch) are reconcile.Lifecycle's, the
// apply client reconcile.Clients'; what is left here is the
// Kustomization's own: source, dependencies, build, apply, health and its
// status.
type Reconciler struct {
	// Client reads Kustomizations, sources, Secrets and ConfigMaps (usually
	// the manager's cached client) and patches Kustomizations.
	Client client.Client
	// Config reaches the API server; applies use a direct (uncached) client
	// built from it, impersonating spec.serviceAccountName when set.
	Config *rest.Config
	// Fetcher downloads source artifacts; nil means a zero artifact.Fetcher.
	Fetcher *artifact.Fetcher
	// Recorder records Kubernetes Events; nil means the manager's recorder
	// (SetupWithManager) or none.
	Recorder reconcile.EventRecorder
	// TempDir holds unpacked artifacts during a build; "" means os.TempDir().
	TempDir string
	// DependencyRequeueInterval is the wait for dependencies that are not
	// ready; 0 means DefaultDependencyRequeueInterval.
	DependencyRequeueInterval time.Duration
	// Concurrency bounds the parallel API requests of one apply; 0 means
	// reconcile's default.
	Concurrency int
	// PollInterval is how often health checks poll; 0 means reconcile's
	// default.
	PollInterval time.Duration

	// NoCrossNamespaceRefs stalls (AccessDenied) a Kustomization failing
	// CheckNamespaceRefs, and confines one with a targetNamespace to it:
	// build and apply refuse other namespaces and cluster-scoped objects.
	NoCrossNamespaceRefs bool
	// DefaultServiceAccount is impersonated when spec.serviceAccountName
	// and spec.kubeConfig are empty; "" applies as the controller.
	DefaultServiceAccount string
	// AllowRemoteBases lets builds fetch remote bases; false refuses them.
	AllowRemoteBases bool

	memories    reconcile.Memories
	clientsOnce sync.Once
	clients     *reconcile.Clients
}

// Reconcile brings one Kustomization's objects in line with its source.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	l := &reconcile.Lifecycle[*kustomizev1.Kustomization]{
		Client:    r.Client,
		New:       func() *kustomizev1.Kustomization { return &kustomizev1.Kustomization{} },
		Finalizer: kustomizev1.KustomizationFinalizer,
		Run:       r.reconcile,
		Finalize:  r.finalize,
		Suspended: func(obj *kustomizev1.Kustomization) bool { return obj.Spec.Suspend },
		Observe: func(obj *kustomizev1.Kustomization) {
			fluxadapter.Observed(obj, &obj.Status.ObservedGeneration, &obj.Status.ReconcileRequestStatus)
		},
		Gone: r.memories.Forget,
	}
	return l.Reconcile(ctx, req)
}

func (r *Reconciler) events() reconcile.Events {
	return reconcile.Events{Recorder: r.Recorder, RevisionKey: RevisionAnnotation}
}

func (r *Reconciler) reconcile(ctx context.Context, obj *kustomizev1.Kustomization, status *reconcile.StatusPatcher) (ctrl.Result, error) {
	start := time.Now()
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	policy := reconcile.RequeuePolicy{Interval: obj.Spec.Interval.Duration, RetryInterval: obj.GetRetryInterval(), Jitter: 0.05}
	fail := func(reason string, err error) (ctrl.Result, error) {
		cond.Failed(reason, "%s", err.Error())
		r.events().Warning(obj, obj.Status.LastAttemptedRevision, reason, err.Error())
		return ctrl.Result{RequeueAfter: policy.After(1)}, nil
	}
	stall := func(reason string, err error) (ctrl.Result, error) {
		cond.Stalled(reason, "%s", err.Error())
		r.events().Warning(obj, "", reason, err.Error())
		return ctrl.Result{}, nil
	}

	deps, err := Dependencies(obj)
	if err != nil {
		return stall(reconcile.InvalidDependsOnReason, err)
	}
	if err := CheckNamespaceRefs(obj); r.NoCrossNamespaceRefs && err != nil {
		return stall(reconcile.AccessDeniedReason, err)
	}

	// The source and its artifact.
	src, err := fluxadapter.Source(ctx, r.Client, obj.Spec.SourceRef, obj.Namespace)
	if err != nil {
		return fail(reconcile.ArtifactFailedReason, err)
	}
	art := src.GetArtifact()
	if art == nil {
		msg := fmt.Sprintf("Source '%s' is not ready, artifact not found", obj.Spec.SourceRef.String())
		cond.Failed(reconcile.ArtifactFailedReason, "%s", msg)
		return ctrl.Result{RequeueAfter: policy.After(1)}, nil
	}
	revision := art.Revision

	// Dependencies first.
	if len(deps.DependsOn) > 0 {
		if err := r.checkDependencies(ctx, deps, revision); err != nil {
			msg := fmt.Sprintf("Dependencies do not meet ready condition, retrying in %s", r.depInterval())
			cond.Failed(reconcile.DependencyNotReadyReason, "%s: %s", msg, err.Error())
			logf.FromContext(ctx).V(1).Info(msg, "reason", err.Error())
			return ctrl.Result{RequeueAfter: r.depInterval()}, nil
		}
	}

	// Show progress before the slow part when something new is attempted.
	if obj.Status.LastAttemptedRevision != revision || obj.Status.ObservedGeneration != obj.Generation {
		cond.Progressing("Fetching manifests for revision %s with a timeout of %s", revision, obj.GetTimeout())
		if err := status.Patch(ctx, obj); err != nil {
			return ctrl.Result{}, err
		}
	}
	obj.Status.LastAttemptedRevision = revision

	work, err := os.MkdirTemp(r.TempDir, "kustomization-")
	if err != nil {
		return fail(reconcile.ArtifactFailedReason, err)
	}
	defer os.RemoveAll(work)
	root, f := filepath.Join(work, "src"), r.Fetcher
	if f == nil {
		f = &artifact.Fetcher{}
	}
	if _, err := f.Fetch(ctx, fluxadapter.Artifact(art), root); err != nil {
		return fail(reconcile.ArtifactFailedReason, fmt.Errorf("failed to fetch artifact of %s: %w", obj.Spec.SourceRef.String(), err))
	}

	// Build, from a path that must exist in the artifact (Flux's
	// ArtifactFailed otherwise).
	if err := checkPath(root, obj.Spec.Path); err != nil {
		return fail(reconcile.ArtifactFailedReason, err)
	}
	opts := BuildOptions(obj.Spec)
	tenant := r.NoCrossNamespaceRefs && obj.Spec.TargetNamespace != ""
	opts.AllowRemoteBases, opts.RestrictToTargetNamespace = r.AllowRemoteBases, tenant
	r.addSubstitution(obj, &opts)
	if err := r.addDecryption(ctx, obj, &opts); err != nil {
		return fail(reconcile.BuildFailedReason, err)
	}
	res, err := kustomize.Build(ctx, root, obj.Spec.Path, opts)
	if err != nil {
		return fail(reconcile.BuildFailedReason, err)
	}

	// Apply and prune.
	m, err := r.manager(ctx, obj, tenant)
	if errors.Is(err, reconcile.ErrInvalidExpression) {
		return stall(reconcile.InvalidCELExpressionReason, err)
	} else if err != nil {
		return fail(reconcile.ReconciliationFailedReason, err)
	}
	actx, cancel := context.WithTimeout(ctx, obj.GetTimeout())
	defer cancel()
	synced, err := m.Sync(actx, res.Objects, fluxadapter.Inventory(obj.Status.Inventory), reconcile.SyncOptions{Prune: obj.Spec.Prune})
	obj.Status.Inventory = fluxadapter.ResourceInventory(synced.Inventory)
	if synced.ChangeSet.Changed() {
		r.events().Normal(obj, revision, meta.ProgressingReason, synced.ChangeSet.String())
	}
	if pe := (*reconcile.PruneError)(nil); errors.As(err, &pe) {
		return fail(reconcile.PruneFailedReason, err)
	} else if err != nil {
		return fail(reconcile.ReconciliationFailedReason, err)
	}

	// Health.
	if obj.Spec.Wait || len(obj.Spec.HealthChecks) > 0 {
		inv := synced.Inventory
		if !obj.Spec.Wait {
			if inv, err = HealthCheckInventory(obj.Spec.HealthChecks, obj.Namespace); err != nil {
				return fail(reconcile.HealthCheckFailedReason, err)
			}
		}
		if len(inv.Entries) > 0 {
			cond.Set(reconcile.HealthyCondition, metav1.ConditionUnknown, reconcile.ProgressingReason, "Running health checks for revision %s with a timeout of %s", revision, obj.GetTimeout())
		}
		werr := m.Wait(actx, inv, reconcile.WaitOptions{Timeout: obj.GetTimeout()})
		cond.Healthy(werr)
		if werr != nil {
			return fail(reconcile.HealthCheckFailedReason, werr)
		}
	} else {
		cond.Delete(reconcile.HealthyCondition)
	}

	changed := obj.Status.LastAppliedRevision != revision
	obj.Status.LastAppliedRevision, obj.Status.LastAppliedOriginRevision = revision, art.Metadata[OriginRevisionAnnotation]
	cond.Succeeded("Applied revision: %s", revision)
	if changed {
		r.events().Normal(obj, revision, reconcile.ReconciliationSucceededReason,
			fmt.Sprintf("Reconciliation finished in %s, next run in %s", time.Since(start).Round(time.Millisecond), obj.Spec.Interval.Duration))
	}
	return ctrl.Result{RequeueAfter: policy.After(0)}, nil
}

func (r *Reconciler) depInterval() time.Duration {
	if r.DependencyRequeueInterval > 0 {
		return r.DependencyRequeueInterval
	}
	return DefaultDependencyRequeueInterval
}

// manager returns the Manager that applies obj's objects through the
// client reconcile.Clients picks (spec.kubeConfig, spec.serviceAccountName,
// DefaultServiceAccount or the controller's own), remembering what earlier
// applies learnt, confined to the target namespace when tenant.
func (r *Reconciler) manager(ctx context.Context, obj *kustomizev1.Kustomization, tenant bool) (*reconcile.Manager, error) {
	r.clientsOnce.Do(func() {
		r.clients = &reconcile.Clients{Config: r.Config, Reader: r.Client, Scheme: r.Client.Scheme(), DefaultServiceAccount: r.DefaultServiceAccount}
	})
	var kc *reconcile.KubeConfigRef
	if ref := obj.Spec.KubeConfig; ref != nil && ref.SecretRef != nil {
		kc = &reconcile.KubeConfigRef{SecretName: ref.SecretRef.Name, Key: ref.SecretRef.Key}
	}
	cl, err := r.clients.For(ctx, obj.Namespace, obj.Spec.ServiceAccountName, kc)
	if err != nil {
		return nil, err
	}
	opts := ManagerOptions(obj)
	opts.Concurrency, opts.PollInterval, opts.Memory = r.Concurrency, r.PollInterval, r.memories.For(obj)
	if tenant {
		opts.Tenancy = reconcile.Tenancy{Namespace: obj.Spec.TargetNamespace}
	}
	return reconcile.NewManager(cl, opts)
}

// finalize deletes the inventory according to spec.deletionPolicy (nothing
// for a suspended Kustomization, as in Flux); Lifecycle then forgets the
// object and removes the finalizer.
func (r *Reconciler) finalize(ctx context.Context, obj *kustomizev1.Kustomization) error {
	if obj.Status.Inventory == nil || obj.Spec.Suspend {
		return nil
	}
	m, err := r.manager(ctx, obj, false)
	if err != nil {
		return err
	}
	cs, err := m.Finalize(ctx, fluxadapter.Inventory(obj.Status.Inventory), reconcile.FinalizeOptions{
		Policy: reconcile.DeletionPolicy(obj.GetDeletionPolicy()), Prune: obj.Spec.Prune, Timeout: obj.GetTimeout(),
	})
	if err != nil {
		r.events().Warning(obj, "", reconcile.PruneFailedReason, err.Error())
		return err
	}
	if cs.Changed() {
		r.events().Normal(obj, "", meta.ProgressingReason, cs.String())
	}
	return nil
}
