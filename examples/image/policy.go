package image

import (
	"context"
	"errors"
	"fmt"
	"strings"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/acl"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/imagepolicy"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source"
)

// PolicyInvalidReason reports an ImagePolicy whose policy cannot be
// evaluated (no policy kind, a bad range or pattern).
const PolicyInvalidReason = "InvalidPolicy"

// repositoryRefIndex indexes ImagePolicies by the "namespace/name" of
// their ImageRepository.
const repositoryRefIndex = ".spec.imageRepositoryRef"

// PolicyReconciler reconciles ImagePolicy objects: it reads the tags of
// the referenced ImageRepository's last scan from Tags, selects one with
// imagepolicy.Select and reports status.latestRef (the digest reflected as
// spec.digestReflectionPolicy asks, through the ImageRepository's registry
// credentials) and status.observedPreviousRef. An ImageRepository in
// another namespace is used only when its spec.accessFrom selects the
// policy's namespace, as in Flux. The reconciler runs again whenever the
// ImageRepository's scan result or readiness changes.
type PolicyReconciler struct {
	// Client reads and patches objects and reads Secrets and Namespaces;
	// nil means the manager's client (SetupWithManager).
	Client client.Client
	// Recorder records Kubernetes Events; nil means the manager's recorder
	// (SetupWithManager) or none.
	Recorder reconcile.EventRecorder
	// Tags holds the scanned tags. Required.
	Tags *TagStore
	// NoCrossNamespaceRefs refuses, with reason AccessDenied, every
	// ImageRepository in another namespace, whatever its accessFrom says
	// (Flux's --no-cross-namespace-refs).
	NoCrossNamespaceRefs bool
}

// SetupWithManager registers the reconciler with mgr and indexes
// ImagePolicies by their ImageRepository.
func (r *PolicyReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if r.Tags == nil {
		return errors.New("image: PolicyReconciler.Tags is required")
	}
	defaults(mgr, &r.Client, &r.Recorder, ReflectorControllerName)
	if err := mgr.GetFieldIndexer().IndexField(ctx, &imagev1.ImagePolicy{}, repositoryRefIndex, func(o client.Object) []string {
		p := o.(*imagev1.ImagePolicy)
		ref := p.Spec.ImageRepositoryRef
		return []string{key(p.Namespace, ref.Namespace, ref.Name).String()}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("imagepolicy").
		For(&imagev1.ImagePolicy{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&imagev1.ImageRepository{}, handler.EnqueueRequestsFromMapFunc(r.policiesOf),
			builder.WithPredicates(predicate.Funcs{UpdateFunc: scanChanged})).
		WithOptions(controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles, SkipNameValidation: &opts.SkipNameValidation}).
		Complete(r)
}

// Reconcile brings one ImagePolicy's latestRef up to date.
func (r *PolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	l := &reconcile.Lifecycle[*imagev1.ImagePolicy]{
		Client:    r.Client,
		New:       func() *imagev1.ImagePolicy { return &imagev1.ImagePolicy{} },
		Finalizer: imagev1.ImageFinalizer,
		Run: func(ctx context.Context, obj *imagev1.ImagePolicy, _ *reconcile.StatusPatcher) (ctrl.Result, error) {
			return r.reconcile(ctx, obj)
		},
		Suspended: func(obj *imagev1.ImagePolicy) bool { return obj.Spec.Suspend },
		Observe: func(obj *imagev1.ImagePolicy) {
			fluxadapter.Observed(obj, &obj.Status.ObservedGeneration, &obj.Status.ReconcileRequestStatus)
		},
	}
	return l.Reconcile(ctx, req)
}

func (r *PolicyReconciler) reconcile(ctx context.Context, obj *imagev1.ImagePolicy) (ctrl.Result, error) {
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	st := status{obj: obj, cond: cond, events: reconcile.Events{Recorder: r.Recorder, RevisionKey: RevisionAnnotation}}
	if obj.Generation != obj.Status.ObservedGeneration {
		cond.Reconciling(meta.ProgressingReason, "processing object: new generation %d -> %d", obj.Status.ObservedGeneration, obj.Generation)
	}
	p, err := Policy(obj.Spec)
	if err != nil {
		return st.stall(PolicyInvalidReason, err)
	}
	ref := obj.Spec.ImageRepositoryRef
	repoKey := key(obj.Namespace, ref.Namespace, ref.Name)
	if repoKey.Namespace != obj.Namespace {
		if err := r.allowed(ctx, obj.Namespace, repoKey); err != nil {
			if errors.Is(err, errAccessDenied) {
				return st.stall(acl.AccessDeniedReason, err)
			}
			return st.fail(imagev1.DependencyNotReadyReason, err)
		}
	}
	var repo imagev1.ImageRepository
	if err := r.Client.Get(ctx, repoKey, &repo); err != nil {
		if apierrors.IsNotFound(err) {
			return st.wait(imagev1.DependencyNotReadyReason, fmt.Errorf("referenced ImageRepository '%s' not found", repoKey))
		}
		return st.fail(imagev1.DependencyNotReadyReason, err)
	}
	rev, tags, ok := r.Tags.Tags(repoKey)
	if !ok || repo.Status.LastScanResult == nil || rev != repo.Status.LastScanResult.Revision {
		return st.wait(imagev1.DependencyNotReadyReason, fmt.Errorf("referenced ImageRepository '%s' has not been scanned yet", repoKey))
	}
	tag, err := imagepolicy.Select(p, tags)
	switch {
	case errors.Is(err, source.ErrInvalid):
		return st.stall(PolicyInvalidReason, err)
	case err != nil:
		// No tag qualifies: the next scan may bring one.
		return st.wait(meta.ReconciliationFailedReason, err)
	}
	img, err := imagepolicy.ParseImage(repo.Spec.Image, repo.Spec.Insecure)
	if err != nil {
		return st.wait(imagev1.DependencyNotReadyReason, err)
	}
	mode := imagepolicy.DigestReflection(obj.GetDigestReflectionPolicy())
	var resolver imagepolicy.Resolver
	if mode != imagepolicy.ReflectNever {
		c, err := RegistryClient(ctx, r.Client, &repo)
		if err != nil {
			return st.fail(imagev1.AuthenticationFailedReason, err)
		}
		resolver = c
	}
	var previous *imagepolicy.ImageRef
	if l := obj.Status.LatestRef; l != nil {
		previous = &imagepolicy.ImageRef{Name: l.Name, Tag: l.Tag, Digest: l.Digest}
	}
	latest, err := imagepolicy.LatestRef(ctx, resolver, img, tag, mode, previous)
	if err != nil {
		reason := imagev1.ReadOperationFailedReason
		if errors.Is(err, source.ErrAuth) {
			reason = imagev1.AuthenticationFailedReason
		}
		return st.fail(reason, err)
	}
	msg := fmt.Sprintf("Latest image tag for %s resolved to %s", img.Name, tag)
	if previous == nil || *previous != latest {
		if previous != nil {
			obj.Status.ObservedPreviousRef = &imagev1.ImageRef{Name: previous.Name, Tag: previous.Tag, Digest: previous.Digest}
			msg += fmt.Sprintf(" (previously %s)", previous)
		}
		st.events.Normal(obj, latest.String(), meta.SucceededReason, msg)
	} else if p := obj.Status.ObservedPreviousRef; p != nil {
		msg += fmt.Sprintf(" (previously %s)", imagepolicy.ImageRef{Name: p.Name, Tag: p.Tag, Digest: p.Digest})
	}
	obj.Status.LatestRef = &imagev1.ImageRef{Name: latest.Name, Tag: latest.Tag, Digest: latest.Digest}
	cond.Ready(meta.SucceededReason, "%s", msg)
	return ctrl.Result{RequeueAfter: obj.GetInterval()}, nil
}

// errAccessDenied marks a cross-namespace reference the ACL refuses.
var errAccessDenied = errors.New("access denied")

// allowed checks that an ImagePolicy in namespace may use the
// ImageRepository repoKey of another namespace.
func (r *PolicyReconciler) allowed(ctx context.Context, namespace string, repoKey types.NamespacedName) error {
	if r.NoCrossNamespaceRefs {
		return fmt.Errorf("%w: cross-namespace references are not allowed, and ImageRepository '%s' is not in namespace '%s'", errAccessDenied, repoKey, namespace)
	}
	var repo imagev1.ImageRepository
	if err := r.Client.Get(ctx, repoKey, &repo); err != nil {
		if apierrors.IsNotFound(err) {
			return nil // reported as not found by the caller
		}
		return err
	}
	var ns corev1.Namespace
	if err := r.Client.Get(ctx, types.NamespacedName{Name: namespace}, &ns); err != nil {
		return fmt.Errorf("reading namespace '%s': %w", namespace, err)
	}
	if !AccessAllowed(repo.Spec.AccessFrom, ns.Labels) {
		return fmt.Errorf("%w: ImageRepository '%s' does not grant access to namespace '%s' (spec.accessFrom)", errAccessDenied, repoKey, namespace)
	}
	return nil
}

// AccessAllowed reports whether an object's spec.accessFrom lets a
// namespace with the given labels refer to it, as Flux's ACL does: nil
// denies every other namespace, and a selector matches when all its
// matchLabels are among the labels (an empty selector matches any
// namespace).
func AccessAllowed(from *acl.AccessFrom, nsLabels map[string]string) bool {
	if from == nil {
		return false
	}
	for _, s := range from.NamespaceSelectors {
		if labels.SelectorFromSet(s.MatchLabels).Matches(labels.Set(nsLabels)) {
			return true
		}
	}
	return false
}

// Policy maps an ImagePolicy's spec.policy and spec.filterTags to an
// imagepolicy.Policy. A spec with no policy kind, or more than one, is an
// error wrapping source.ErrInvalid.
func Policy(spec imagev1.ImagePolicySpec) (imagepolicy.Policy, error) {
	var p imagepolicy.Policy
	n := 0
	if c := spec.Policy.SemVer; c != nil {
		p.SemVer, n = &imagepolicy.SemVerPolicy{Range: c.Range}, n+1
	}
	if c := spec.Policy.Alphabetical; c != nil {
		p.Alphabetical, n = &imagepolicy.OrderPolicy{Order: imagepolicy.Order(strings.ToLower(c.Order))}, n+1
	}
	if c := spec.Policy.Numerical; c != nil {
		p.Numerical, n = &imagepolicy.OrderPolicy{Order: imagepolicy.Order(strings.ToLower(c.Order))}, n+1
	}
	if n != 1 {
		return imagepolicy.Policy{}, fmt.Errorf("%w: spec.policy must set exactly one of semver, alphabetical and numerical", source.ErrInvalid)
	}
	if f := spec.FilterTags; f != nil {
		p.FilterTags = &imagepolicy.FilterTags{Pattern: f.Pattern, Extract: f.Extract}
	}
	return p, nil
}
