package image

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"time"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/acl"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/imagepolicy"
	"github.com/gitopskit/gitopskit/imagepolicy/gitpush"
	"github.com/gitopskit/gitopskit/imagepolicy/update"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git"
)

// sourceRefIndex indexes ImageUpdateAutomations by the "namespace/name"
// of their GitRepository.
const sourceRefIndex = ".spec.sourceRef"

// DefaultGitTimeout bounds one automation run's Git operations when the
// GitRepository sets no spec.timeout.
const DefaultGitTimeout = fluxadapter.DefaultSourceTimeout

// AutomationReconciler reconciles ImageUpdateAutomation objects: it
// clones the GitRepository's checkout branch with imagepolicy/gitpush,
// rewrites the setter markers under spec.update.path with the latestRef
// of the ImagePolicies of its namespace that spec.policySelector selects
// (imagepolicy/update), commits with the spec.git.commit author, message
// template and signing key, and pushes to spec.git.push.branch (or the
// checkout branch) and refspec, reporting status.lastPushCommit,
// lastPushTime, observedPolicies and observedSourceRevision. When neither
// the selected policies nor the checkout branch's head changed since the
// last run, it does not clone. It runs again when a policy of its
// namespace reports a new latestRef and when its GitRepository changes.
type AutomationReconciler struct {
	// Client reads and patches objects and reads Secrets; nil means the
	// manager's client (SetupWithManager).
	Client client.Client
	// Recorder records Kubernetes Events; nil means the manager's recorder
	// (SetupWithManager) or none.
	Recorder reconcile.EventRecorder
	// TempDir holds the clones; "" means os.TempDir().
	TempDir string
	// NoCrossNamespaceRefs refuses, with reason AccessDenied, a sourceRef
	// naming another namespace (Flux's --no-cross-namespace-refs).
	NoCrossNamespaceRefs bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// SetupWithManager registers the reconciler with mgr and indexes
// ImageUpdateAutomations by their GitRepository.
func (r *AutomationReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	defaults(mgr, &r.Client, &r.Recorder, AutomationControllerName)
	if err := mgr.GetFieldIndexer().IndexField(ctx, &imageautov1.ImageUpdateAutomation{}, sourceRefIndex, func(o client.Object) []string {
		a := o.(*imageautov1.ImageUpdateAutomation)
		return []string{key(a.Namespace, a.Spec.SourceRef.Namespace, a.Spec.SourceRef.Name).String()}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("imageupdateautomation").
		For(&imageautov1.ImageUpdateAutomation{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&sourcev1.GitRepository{}, handler.EnqueueRequestsFromMapFunc(r.automationsOfSource),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&imagev1.ImagePolicy{}, handler.EnqueueRequestsFromMapFunc(r.automationsInNamespace),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: latestChanged})).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles, SkipNameValidation: &opts.SkipNameValidation}).
		Complete(r)
}

// Reconcile runs one ImageUpdateAutomation when something changed.
func (r *AutomationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	l := &reconcile.Lifecycle[*imageautov1.ImageUpdateAutomation]{
		Client:    r.Client,
		New:       func() *imageautov1.ImageUpdateAutomation { return &imageautov1.ImageUpdateAutomation{} },
		Finalizer: imageautov1.ImageUpdateAutomationFinalizer,
		Run: func(ctx context.Context, obj *imageautov1.ImageUpdateAutomation, _ *reconcile.StatusPatcher) (ctrl.Result, error) {
			return r.reconcile(ctx, obj)
		},
		Suspended: func(obj *imageautov1.ImageUpdateAutomation) bool { return obj.Spec.Suspend },
		Observe: func(obj *imageautov1.ImageUpdateAutomation) {
			fluxadapter.Observed(obj, &obj.Status.ObservedGeneration, &obj.Status.ReconcileRequestStatus)
		},
	}
	return l.Reconcile(ctx, req)
}

func (r *AutomationReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *AutomationReconciler) reconcile(ctx context.Context, obj *imageautov1.ImageUpdateAutomation) (ctrl.Result, error) {
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	st := status{obj: obj, cond: cond, events: reconcile.Events{Recorder: r.Recorder, RevisionKey: RevisionAnnotation}}
	requested := false
	if v, ok := meta.ReconcileAnnotationValue(obj.GetAnnotations()); ok && v != obj.Status.LastHandledReconcileAt {
		requested = true
	}
	newGeneration := obj.Generation != obj.Status.ObservedGeneration
	if newGeneration {
		cond.Reconciling(meta.ProgressingReason, "processing object: new generation %d -> %d", obj.Status.ObservedGeneration, obj.Generation)
	}
	now := metav1.NewTime(r.now())
	obj.Status.LastAutomationRunTime = &now

	if u := obj.Spec.Update; u != nil && u.Strategy != "" && u.Strategy != imageautov1.UpdateStrategySetters {
		return st.stall(imageautov1.InvalidUpdateStrategyReason, fmt.Errorf("update strategy '%s' is not supported: use 'Setters'", u.Strategy))
	}
	if obj.Spec.GitSpec == nil {
		return st.stall(imageautov1.InvalidSourceConfigReason, errors.New("source configuration requires .spec.git"))
	}
	if obj.Spec.SourceRef.Kind != sourcev1.GitRepositoryKind {
		return st.stall(imageautov1.InvalidSourceConfigReason, fmt.Errorf("source kind '%s' is not supported: use '%s'", obj.Spec.SourceRef.Kind, sourcev1.GitRepositoryKind))
	}
	srcKey := key(obj.Namespace, obj.Spec.SourceRef.Namespace, obj.Spec.SourceRef.Name)
	if r.NoCrossNamespaceRefs && srcKey.Namespace != obj.Namespace {
		return st.stall(acl.AccessDeniedReason, fmt.Errorf("cross-namespace references are not allowed, and GitRepository '%s' is not in namespace '%s'", srcKey, obj.Namespace))
	}
	var src sourcev1.GitRepository
	if err := r.Client.Get(ctx, srcKey, &src); err != nil {
		if apierrors.IsNotFound(err) {
			err = fmt.Errorf("referenced GitRepository '%s' not found", srcKey)
		}
		return st.fail(imageautov1.SourceManagerFailedReason, err)
	}
	gs := *obj.Spec.GitSpec
	branch := ""
	if src.Spec.Reference != nil {
		branch = src.Spec.Reference.Branch
	}
	if gs.Checkout != nil {
		branch = gs.Checkout.Reference.Branch
	}
	if branch == "" {
		return st.stall(imageautov1.InvalidSourceConfigReason, errors.New("the checkout reference must be a branch (spec.git.checkout.ref.branch or the GitRepository's spec.ref.branch)"))
	}
	clone := gitpush.CloneOptions{URL: src.Spec.URL, Branch: branch}
	if gs.Push != nil {
		clone.PushBranch = gs.Push.Branch
	}
	repo := &git.Repository{URL: src.Spec.URL, Ref: git.Reference{Branch: branch}}
	if err := r.credentials(ctx, &src, repo, &clone); err != nil {
		return st.fail(imageautov1.SourceManagerFailedReason, err)
	}

	policies, observed, err := r.policies(ctx, obj)
	if errors.Is(err, source.ErrInvalid) {
		return st.stall(imageautov1.InvalidPolicySelectorReason, err)
	} else if err != nil {
		return st.fail(imageautov1.InvalidPolicySelectorReason, err)
	}
	timeout := DefaultGitTimeout
	if src.Spec.Timeout != nil {
		timeout = src.Spec.Timeout.Duration
	}
	gctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The skip: same policies, same checkout head, nothing asked.
	if !newGeneration && !requested && obj.Status.ObservedSourceRevision != "" &&
		maps.Equal(obj.Status.ObservedPolicies, observed) {
		head, err := repo.Resolve(gctx)
		if err != nil {
			return st.fail(imageautov1.GitOperationFailedReason, err)
		}
		if head == obj.Status.ObservedSourceRevision {
			cond.Ready(meta.SucceededReason, "repository up-to-date")
			return ctrl.Result{RequeueAfter: obj.Spec.Interval.Duration}, nil
		}
	}

	dir, err := os.MkdirTemp(r.TempDir, "imageupdate-")
	if err != nil {
		return st.fail(imageautov1.GitOperationFailedReason, err)
	}
	defer os.RemoveAll(dir)
	work, err := gitpush.Clone(gctx, dir, clone)
	if err != nil {
		return st.fail(imageautov1.GitOperationFailedReason, err)
	}
	path := ""
	if obj.Spec.Update != nil {
		path = obj.Spec.Update.Path
	}
	result, err := update.Apply(gctx, work.Dir(), policies, update.Options{Path: path})
	if errors.Is(err, source.ErrInvalid) {
		return st.stall(imageautov1.UpdateFailedReason, err)
	} else if err != nil {
		return st.fail(imageautov1.UpdateFailedReason, err)
	}
	msg, err := update.CommitMessage(gs.Commit.MessageTemplate, update.TemplateData{
		AutomationObject: update.NamespacedName{Namespace: obj.Namespace, Name: obj.Name},
		Changed:          result,
		Values:           gs.Commit.MessageTemplateValues,
	})
	if err != nil {
		return st.stall(imageautov1.UpdateFailedReason, fmt.Errorf("commit message template: %w", err))
	}
	commit := gitpush.CommitOptions{
		Author:  gitpush.Signature{Name: gs.Commit.Author.Name, Email: gs.Commit.Author.Email},
		Message: msg,
	}
	if err := r.signer(ctx, obj, &commit); err != nil {
		return st.fail(imageautov1.GitOperationFailedReason, err)
	}
	var push gitpush.PushOptions
	if gs.Push != nil {
		push = gitpush.PushOptions{Refspec: gs.Push.Refspec, Options: gs.Push.Options}
	}
	res, err := work.CommitAndPush(gctx, commit, push)
	obj.Status.ObservedSourceRevision = work.CheckoutRevision()
	switch {
	case errors.Is(err, gitpush.ErrNoChanges):
		obj.Status.ObservedPolicies = observed
		cond.Ready(meta.SucceededReason, "repository up-to-date")
		return ctrl.Result{RequeueAfter: obj.Spec.Interval.Duration}, nil
	case err != nil:
		return st.fail(imageautov1.GitOperationFailedReason, err)
	}
	if !res.SwitchBranch {
		obj.Status.ObservedSourceRevision = res.Revision
	}
	obj.Status.ObservedPolicies = observed
	obj.Status.LastPushCommit = res.Commit
	pushed := metav1.NewTime(res.Time)
	obj.Status.LastPushTime = &pushed
	text := fmt.Sprintf("pushed commit '%s' to branch '%s'", short(res.Commit), res.Branch)
	for _, rs := range res.Refspecs {
		text += fmt.Sprintf(" and refspec '%s'", rs)
	}
	st.events.Normal(obj, res.Revision, meta.SucceededReason, text+"\n"+msg)
	cond.Ready(meta.SucceededReason, "%s", text)
	return ctrl.Result{RequeueAfter: obj.Spec.Interval.Duration}, nil
}

// policies lists the ImagePolicies of obj's namespace that its
// policySelector selects (all when it is nil) and that have a latestRef,
// as update.Policy values and as status.observedPolicies.
func (r *AutomationReconciler) policies(ctx context.Context, obj *imageautov1.ImageUpdateAutomation) ([]update.Policy, imageautov1.ObservedPolicies, error) {
	opts := []client.ListOption{client.InNamespace(obj.Namespace)}
	if s := obj.Spec.PolicySelector; s != nil {
		sel, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: invalid policy selector: %w", source.ErrInvalid, err)
		}
		opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
	}
	var list imagev1.ImagePolicyList
	if err := r.Client.List(ctx, &list, opts...); err != nil {
		return nil, nil, err
	}
	var policies []update.Policy
	observed := imageautov1.ObservedPolicies{}
	for _, p := range list.Items {
		l := p.Status.LatestRef
		if l == nil {
			continue
		}
		policies = append(policies, update.Policy{Namespace: p.Namespace, Name: p.Name,
			Latest: imagepolicy.ImageRef{Name: l.Name, Tag: l.Tag, Digest: l.Digest}})
		observed[p.Name] = imageautov1.ImageRef{Name: l.Name, Tag: l.Tag, Digest: l.Digest}
	}
	return policies, observed, nil
}
