package kustomization

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/internal/fluxstatus"
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

// Reconciler reconciles Kustomization objects.
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
	Recorder fluxstatus.EventRecorder
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

	memMu       sync.Mutex
	memories    map[types.NamespacedName]memory
	applierOnce sync.Once
	applier     client.Client
	applierErr  error
}

// Reconcile brings one Kustomization's objects in line with its source.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &kustomizev1.Kustomization{}
	if err := r.Client.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, obj)
	}
	if !controllerutil.ContainsFinalizer(obj, kustomizev1.KustomizationFinalizer) {
		base := obj.DeepCopy()
		controllerutil.AddFinalizer(obj, kustomizev1.KustomizationFinalizer)
		if err := r.Client.Patch(ctx, obj, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, err
		}
	}
	if obj.Spec.Suspend {
		logf.FromContext(ctx).V(1).Info("reconciliation is suspended")
		return ctrl.Result{}, nil
	}
	base := obj.DeepCopy()
	res, recErr := r.reconcile(ctx, obj, base)
	obj.Status.ObservedGeneration = obj.Generation
	fluxstatus.HandleRequest(obj.GetAnnotations(), &obj.Status.ReconcileRequestStatus)
	if err := r.Client.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil {
		return ctrl.Result{}, errors.Join(recErr, err)
	}
	return res, recErr
}

// requeue builds the requeue policy of obj.
func requeue(obj *kustomizev1.Kustomization) reconcile.RequeuePolicy {
	return reconcile.RequeuePolicy{
		Interval:      obj.Spec.Interval.Duration,
		RetryInterval: obj.GetRetryInterval(),
		Jitter:        0.05,
	}
}

func (r *Reconciler) reconcile(ctx context.Context, obj, base *kustomizev1.Kustomization) (ctrl.Result, error) {
	log := logf.FromContext(ctx)
	start := time.Now()
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	policy := requeue(obj)
	fail := func(reason string, err error) (ctrl.Result, error) {
		cond.Failed(reason, "%s", err.Error())
		fluxstatus.Event(r.Recorder, obj, RevisionAnnotation, obj.Status.LastAttemptedRevision, corev1.EventTypeWarning, reason, err.Error())
		return ctrl.Result{RequeueAfter: policy.After(1)}, nil
	}

	if err := CheckNamespaceRefs(obj); r.NoCrossNamespaceRefs && err != nil {
		cond.Stalled(reconcile.AccessDeniedReason, "%s", err.Error())
		fluxstatus.Event(r.Recorder, obj, RevisionAnnotation, "", corev1.EventTypeWarning, reconcile.AccessDeniedReason, err.Error())
		return ctrl.Result{}, nil
	}

	// The source and its artifact.
	src, err := r.source(ctx, obj)
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
	if len(obj.Spec.DependsOn) > 0 {
		if err := r.checkDependencies(ctx, obj, src); err != nil {
			msg := fmt.Sprintf("Dependencies do not meet ready condition, retrying in %s", r.depInterval())
			cond.Failed(reconcile.DependencyNotReadyReason, "%s: %s", msg, err.Error())
			log.V(1).Info(msg, "reason", err.Error())
			return ctrl.Result{RequeueAfter: r.depInterval()}, nil
		}
	}

	// Show progress before the slow part when something new is attempted.
	if obj.Status.LastAttemptedRevision != revision || obj.Status.ObservedGeneration != obj.Generation {
		cond.Progressing("Fetching manifests for revision %s with a timeout of %s", revision, obj.GetTimeout())
		if err := r.Client.Status().Patch(ctx, obj, client.MergeFrom(base)); err != nil {
			return ctrl.Result{}, err
		}
		base.Status = *obj.Status.DeepCopy()
	}
	obj.Status.LastAttemptedRevision = revision

	work, err := os.MkdirTemp(r.TempDir, "kustomization-")
	if err != nil {
		return fail(reconcile.ArtifactFailedReason, err)
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "src")
	if _, err := r.fetcher().Fetch(ctx, fromMeta(art), root); err != nil {
		return fail(reconcile.ArtifactFailedReason, fmt.Errorf("failed to fetch artifact of %s: %w", obj.Spec.SourceRef.String(), err))
	}

	// Build.
	opts := BuildOptions(obj.Spec)
	tenant := r.NoCrossNamespaceRefs && obj.Spec.TargetNamespace != ""
	opts.AllowRemoteBases, opts.RestrictToTargetNamespace = r.AllowRemoteBases, tenant
	if ig, err := artifact.NewIgnoreFilter(root, ""); err == nil {
		opts.Ignore = ignorer(ig)
	}
	if err := r.addSubstitution(ctx, obj, &opts); err != nil {
		return fail(reconcile.BuildFailedReason, err)
	}
	if err := r.addDecryption(ctx, obj, &opts); err != nil {
		return fail(reconcile.BuildFailedReason, err)
	}
	path := strings.TrimPrefix(filepath.ToSlash(filepath.Clean("/"+obj.Spec.Path)), "/")
	if path == "" {
		path = "."
	}
	res, err := kustomize.Build(ctx, root, path, opts)
	if err != nil {
		return fail(reconcile.BuildFailedReason, err)
	}
	objects := res.Objects

	// Apply and prune.
	cl, err := r.clientFor(ctx, obj)
	if err != nil {
		return fail(reconcile.ReconciliationFailedReason, err)
	}
	mopts := ManagerOptions(obj)
	mopts.Concurrency, mopts.PollInterval = r.Concurrency, r.PollInterval
	mopts.Memory = r.memory(obj)
	if tenant {
		mopts.Tenancy = reconcile.Tenancy{Namespace: obj.Spec.TargetNamespace}
	}
	m, err := reconcile.NewManager(cl, mopts)
	if err != nil {
		cond.Stalled(reconcile.InvalidCELExpressionReason, "%s", err.Error())
		return ctrl.Result{}, nil
	}
	actx, cancel := context.WithTimeout(ctx, obj.GetTimeout())
	defer cancel()
	sync, err := m.Sync(actx, objects, toInventory(obj.Status.Inventory), reconcile.SyncOptions{Prune: obj.Spec.Prune})
	obj.Status.Inventory = fromInventory(sync.Inventory)
	if sync.ChangeSet.Changed() {
		fluxstatus.Event(r.Recorder, obj, RevisionAnnotation, revision, corev1.EventTypeNormal, meta.ProgressingReason, sync.ChangeSet.String())
	}
	if err != nil {
		var pe *reconcile.PruneError
		if errors.As(err, &pe) {
			return fail(reconcile.PruneFailedReason, err)
		}
		return fail(reconcile.ReconciliationFailedReason, err)
	}

	// Health.
	if obj.Spec.Wait || len(obj.Spec.HealthChecks) > 0 {
		inv := sync.Inventory
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
	obj.Status.LastAppliedRevision = revision
	cond.Succeeded("Applied revision: %s", revision)
	if changed {
		fluxstatus.Event(r.Recorder, obj, RevisionAnnotation, revision, corev1.EventTypeNormal, reconcile.ReconciliationSucceededReason,
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

func (r *Reconciler) fetcher() *artifact.Fetcher {
	if r.Fetcher != nil {
		return r.Fetcher
	}
	return &artifact.Fetcher{}
}

// source reads the object spec.sourceRef points at.
func (r *Reconciler) source(ctx context.Context, obj *kustomizev1.Kustomization) (sourcev1.Source, error) {
	ref := obj.Spec.SourceRef
	ns := ref.Namespace
	if ns == "" {
		ns = obj.Namespace
	}
	var src interface {
		sourcev1.Source
		client.Object
	}
	switch ref.Kind {
	case sourcev1.GitRepositoryKind:
		src = &sourcev1.GitRepository{}
	case sourcev1.OCIRepositoryKind:
		src = &sourcev1.OCIRepository{}
	case sourcev1.BucketKind:
		src = &sourcev1.Bucket{}
	case sourcev1.ExternalArtifactKind:
		src = &sourcev1.ExternalArtifact{}
	default:
		return nil, fmt.Errorf("source kind '%s' is not supported", ref.Kind)
	}
	if err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, src); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, sourceNotFoundError(ref.String())
		}
		return nil, fmt.Errorf("unable to get source '%s': %w", ref.String(), err)
	}
	return src, nil
}

// checkDependencies applies Flux's rule through reconcile.ObjectReadiness:
// every dependency is Ready at its current generation and, when it reads
// the same source, has applied the source's current revision; a
// dependency with a readyExpr is judged by that expression instead.
func (r *Reconciler) checkDependencies(ctx context.Context, obj *kustomizev1.Kustomization, src sourcev1.Source) error {
	unit := reconcile.Unit{Ref: reconcile.UnitRef{Namespace: obj.Namespace, Name: obj.Name}}
	for _, d := range obj.Spec.DependsOn {
		unit.DependsOn = append(unit.DependsOn, reconcile.Dependency{
			Ref: reconcile.UnitRef{Namespace: d.Namespace, Name: d.Name}, ReadyExpr: d.ReadyExpr,
		})
	}
	check := reconcile.ObjectReadiness{
		Reader:   r.Client,
		GVK:      kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind),
		New:      func() client.Object { return &kustomizev1.Kustomization{} },
		Revision: reconcile.RevisionRule{Revision: src.GetArtifact().Revision},
	}
	return reconcile.CheckDependencies(ctx, unit, check)
}

// clientFor returns the client applies go through: the controller's own,
// one impersonating spec.serviceAccountName or DefaultServiceAccount, or
// one for spec.kubeConfig.
func (r *Reconciler) clientFor(ctx context.Context, obj *kustomizev1.Kustomization) (client.Client, error) {
	cfg, defaultSA := r.Config, r.DefaultServiceAccount
	if kc := obj.Spec.KubeConfig; kc != nil && kc.SecretRef != nil {
		var s corev1.Secret
		if err := r.Client.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: kc.SecretRef.Name}, &s); err != nil {
			return nil, fmt.Errorf("reading kubeconfig Secret %q: %w", kc.SecretRef.Name, err)
		}
		data, err := reconcile.KubeConfigFromSecret(&s, kc.SecretRef.Key)
		if err != nil {
			return nil, err
		}
		if cfg, err = reconcile.RESTConfigFromKubeConfig(data, reconcile.KubeConfigOptions{}); err != nil {
			return nil, err
		}
		defaultSA = "" // the remote cluster's RBAC does not know the local accounts
	}
	cfg, err := reconcile.ImpersonateFor(cfg, obj.Namespace, obj.Spec.ServiceAccountName, defaultSA)
	if err != nil {
		return nil, err
	}
	if cfg == r.Config {
		r.applierOnce.Do(func() {
			r.applier, r.applierErr = reconcile.NewClient(r.Config, client.Options{Scheme: r.Client.Scheme()})
		})
		return r.applier, r.applierErr
	}
	return reconcile.NewClient(cfg, client.Options{Scheme: r.Client.Scheme()})
}

// memory is what the applies for one Kustomization object (one UID) learnt.
type memory struct {
	uid types.UID
	mem *reconcile.Memory
}

// memory returns what earlier applies for obj learnt, so unchanged
// objects are recognised without a dry-run on the next reconciliation. A
// Kustomization recreated under the same name (a new UID) starts afresh.
func (r *Reconciler) memory(obj *kustomizev1.Kustomization) *reconcile.Memory {
	r.memMu.Lock()
	defer r.memMu.Unlock()
	key := client.ObjectKeyFromObject(obj)
	if m, ok := r.memories[key]; ok && m.uid == obj.UID {
		return m.mem
	}
	if r.memories == nil {
		r.memories = map[types.NamespacedName]memory{}
	}
	m := memory{uid: obj.UID, mem: &reconcile.Memory{}}
	r.memories[key] = m
	return m.mem
}

// forget drops the memory of a deleted Kustomization.
func (r *Reconciler) forget(key types.NamespacedName) {
	r.memMu.Lock()
	defer r.memMu.Unlock()
	delete(r.memories, key)
}

// finalize deletes the inventory according to spec.deletionPolicy (nothing
// for a suspended Kustomization, as in Flux) and removes the finalizer.
func (r *Reconciler) finalize(ctx context.Context, obj *kustomizev1.Kustomization) error {
	if obj.Status.Inventory != nil && !obj.Spec.Suspend {
		cl, err := r.clientFor(ctx, obj)
		if err != nil {
			return err
		}
		m, err := reconcile.NewManager(cl, ManagerOptions(obj))
		if err != nil {
			return err
		}
		cs, err := m.Finalize(ctx, toInventory(obj.Status.Inventory), reconcile.FinalizeOptions{
			Policy: reconcile.DeletionPolicy(obj.GetDeletionPolicy()), Prune: obj.Spec.Prune, Timeout: obj.GetTimeout(),
		})
		if err != nil {
			fluxstatus.Event(r.Recorder, obj, RevisionAnnotation, "", corev1.EventTypeWarning, reconcile.PruneFailedReason, err.Error())
			return err
		}
		if cs.Changed() {
			fluxstatus.Event(r.Recorder, obj, RevisionAnnotation, "", corev1.EventTypeNormal, meta.ProgressingReason, cs.String())
		}
	}
	r.forget(client.ObjectKeyFromObject(obj))
	if controllerutil.ContainsFinalizer(obj, kustomizev1.KustomizationFinalizer) {
		base := obj.DeepCopy()
		controllerutil.RemoveFinalizer(obj, kustomizev1.KustomizationFinalizer)
		return client.IgnoreNotFound(r.Client.Patch(ctx, obj, client.MergeFrom(base)))
	}
	return nil
}

// ignorer adapts an artifact.Filter to kustomize.Ignorer.
type ignorer artifact.Filter

func (f ignorer) Match(path string, isDir bool) bool { return f(path, isDir) }

func fromMeta(a *meta.Artifact) artifact.Artifact {
	out := artifact.Artifact{Path: a.Path, URL: a.URL, Revision: a.Revision, Digest: a.Digest, LastUpdateTime: a.LastUpdateTime.Time}
	if a.Size != nil {
		out.Size = *a.Size
	}
	return out
}

// sourceNotFoundError words a missing source as Flux does.
type sourceNotFoundError string

func (e sourceNotFoundError) Error() string { return fmt.Sprintf("Source '%s' not found", string(e)) }
