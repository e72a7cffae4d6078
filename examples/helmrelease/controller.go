package helmrelease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/helmrelease/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

// ControllerName is the reporting controller of Events, as in Flux.
const ControllerName = "helm-controller"

// The annotations of release Events, as Flux's helm-controller sets them:
// the chart version and the chart's appVersion.
const (
	RevisionAnnotation   = "helm.toolkit.fluxcd.io/revision"
	AppVersionAnnotation = "helm.toolkit.fluxcd.io/app-version"
)

// DefaultDependencyRequeueInterval is the Reconciler's default wait for
// dependencies and chart sources that are not ready.
const DefaultDependencyRequeueInterval = 30 * time.Second

// RetriesExceededReason is the Stalled reason of a release whose
// remediation retries are used up, as in Flux.
const RetriesExceededReason = "RetriesExceeded"

// maxSteps bounds the release actions of one reconciliation.
const maxSteps = 8

// Reconciler reconciles HelmRelease objects: reconcile.Lifecycle does the
// kind-independent steps (finalizer, suspension, status patch),
// helmrelease composes the values, helmrelease/cluster observes the
// release and runs the one action Flux's state machine picks per step;
// what is left here is the HelmRelease's own: its chart source, its
// dependencies, and its status and Events.
type Reconciler struct {
	// Client reads HelmReleases, chart sources, ConfigMaps and Secrets and
	// patches HelmReleases and HelmCharts.
	Client client.Client
	// Config reaches the API server; release actions impersonate
	// spec.serviceAccountName (or DefaultServiceAccount) through it.
	Config *rest.Config
	// Fetcher downloads chart artifacts; nil means a zero artifact.Fetcher.
	Fetcher *artifact.Fetcher
	// Recorder records Kubernetes Events; nil means the manager's recorder
	// (SetupWithManager) or none.
	Recorder reconcile.EventRecorder
	// TempDir holds chart downloads; "" means os.TempDir().
	TempDir string
	// DependencyRequeueInterval is the wait (jittered for a chart source)
	// for dependencies and chart sources that are not ready; 0 means
	// DefaultDependencyRequeueInterval.
	DependencyRequeueInterval time.Duration
	// RetryInterval, when set, is the wait before the next attempt after a
	// failed reconciliation or a remediation, unless a RetryOnFailure
	// strategy sets one; 0 does as Flux: the error goes back to
	// controller-runtime, whose rate limiter retries with exponential
	// back-off.
	RetryInterval time.Duration
	// DefaultServiceAccount is impersonated when spec.serviceAccountName
	// and spec.kubeConfig are empty; "" acts as the controller.
	DefaultServiceAccount string
	// KubeConfig restricts the kubeconfigs of spec.kubeConfig; the zero
	// value refuses exec plugins, insecure TLS and file references.
	KubeConfig reconcile.KubeConfigOptions
	// NoCrossNamespaceRefs stalls (AccessDenied) a HelmRelease failing
	// CheckNamespaceRefs, before its chart or dependencies are read.
	NoCrossNamespaceRefs bool
	// AllowExternalArtifact accepts a spec.chartRef to an ExternalArtifact
	// (source.toolkit.fluxcd.io/v1) and watches ExternalArtifacts, whose
	// CRD must then be installed: Flux's ExternalArtifact feature gate.
	// False stalls such a HelmRelease (AccessDenied), as in Flux.
	AllowExternalArtifact bool
	// DisableChartDigestTracking is Flux's feature gate of that name: the
	// chart version of an OCIRepository or ExternalArtifact chart is
	// installed as it is, without its artifact's digest
	// (ChartDigestVersion), so a chart pushed again under the same version
	// does not upgrade the release; the digest is still recorded.
	DisableChartDigestTracking bool

	clientsOnce sync.Once
	clients     *reconcile.Clients

	validationOnce sync.Once
	validation     *cluster.FieldValidation
	// Shared by the Clients of every reconcile.
	storage   cluster.StorageBuffers
	discovery cluster.Discovery
}

// Reconcile brings one HelmRelease's release in line with its chart and
// values.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	l := &reconcile.Lifecycle[*helmv2.HelmRelease]{
		Client:    r.Client,
		New:       func() *helmv2.HelmRelease { return &helmv2.HelmRelease{} },
		Finalizer: helmv2.HelmReleaseFinalizer,
		Run:       r.reconcile,
		Finalize:  r.finalize,
		Suspended: func(obj *helmv2.HelmRelease) bool { return obj.Spec.Suspend },
		Observe: func(obj *helmv2.HelmRelease) {
			fluxadapter.Observed(obj, &obj.Status.ObservedGeneration, &obj.Status.ReconcileRequestStatus)
		},
	}
	return l.Reconcile(ctx, req)
}

func (r *Reconciler) reconcile(ctx context.Context, obj *helmv2.HelmRelease, status *reconcile.StatusPatcher) (ctrl.Result, error) {
	cond := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	fail := func(reason string, err error) (ctrl.Result, error) {
		cond.Failed(reason, "%s", err.Error())
		r.event(obj, nil, corev1.EventTypeWarning, reason, err.Error())
		return r.failed(obj, err)
	}

	deps, err := Dependencies(obj)
	if err != nil {
		cond.Stalled(reconcile.InvalidDependsOnReason, "%s", err.Error())
		r.event(obj, nil, corev1.EventTypeWarning, reconcile.InvalidDependsOnReason, err.Error())
		return ctrl.Result{}, nil
	}
	if err := CheckNamespaceRefs(obj); r.NoCrossNamespaceRefs && err != nil {
		cond.Stalled(reconcile.AccessDeniedReason, "%s", err.Error())
		r.event(obj, nil, corev1.EventTypeWarning, reconcile.AccessDeniedReason, err.Error())
		return ctrl.Result{}, nil
	}

	// Dependencies next.
	if len(deps.DependsOn) > 0 {
		if err := r.checkDependencies(ctx, deps); err != nil {
			wait := durationOr(r.DependencyRequeueInterval, DefaultDependencyRequeueInterval)
			cond.Failed(helmv2.DependencyNotReadyReason, "Dependencies do not meet ready condition: %s", err.Error())
			logf.FromContext(ctx).V(1).Info("dependencies not ready", "reason", err.Error())
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}

	// The chart.
	src, err := r.chartSource(ctx, obj)
	if errors.Is(err, ErrExternalArtifactDisabled) {
		cond.Stalled(reconcile.AccessDeniedReason, "%s", err.Error())
		r.event(obj, nil, corev1.EventTypeWarning, reconcile.AccessDeniedReason, err.Error())
		return ctrl.Result{}, nil
	} else if err != nil {
		return fail(helmv2.ArtifactFailedReason, err)
	}
	ch, err := r.loadChart(ctx, src)
	if errors.Is(err, ErrChartNotReady) {
		cond.Failed(helmv2.ArtifactFailedReason, "%s", chartNotReady(obj))
		return ctrl.Result{RequeueAfter: jittered(durationOr(r.DependencyRequeueInterval, DefaultDependencyRequeueInterval))}, nil
	} else if err != nil {
		return fail(helmv2.ArtifactFailedReason, err)
	}
	version, digest, err := ChartDigestVersion(src, ch.Version())
	if err != nil {
		return fail(ChartMutateErrorReason, err)
	} else if !r.DisableChartDigestTracking {
		ch.Helm().Metadata.Version = version
	}

	// The values.
	values, err := r.composeValues(ctx, obj)
	if err != nil {
		return fail("InitFailed", err)
	}

	// A release elsewhere, or of another chart, is uninstalled first.
	name := helmrelease.ReleaseName(obj.Name, obj.Spec.TargetNamespace, obj.Spec.ReleaseName)
	target := helmrelease.Target{StorageNamespace: obj.GetStorageNamespace(), Namespace: obj.GetReleaseNamespace(), ReleaseName: name, ChartName: ch.Name()}
	if err := r.retarget(ctx, obj, target); err != nil {
		return fail(helmv2.UninstallFailedReason, err)
	}

	// Failure counters: reset on a new chart, values or spec, or on a
	// resetAt token; a forceAt token forces the next release.
	next := helmrelease.Attempt{Generation: obj.Generation, ChartVersion: ch.Version(), ValuesDigest: values.Digest}
	last := helmrelease.Attempt{Generation: obj.Status.LastAttemptedGeneration, ChartVersion: obj.Status.LastAttemptedRevision, ValuesDigest: obj.Status.LastAttemptedConfigDigest}
	if why, reset := helmrelease.ResetFailures(last, next, helmv2.ShouldHandleResetRequest(obj)); reset {
		logf.FromContext(ctx).V(1).Info("failure counters reset", "reason", why)
		obj.Status.ClearFailures()
	}
	force := helmv2.ShouldHandleForceRequest(obj)
	if last != next {
		cond.Reconciling(meta.ProgressingReason, "Fulfilling prerequisites")
		if err := status.Patch(ctx, obj); err != nil {
			return ctrl.Result{}, err
		}
	}
	obj.Status.LastAttemptedGeneration, obj.Status.LastAttemptedRevision = next.Generation, next.ChartVersion
	obj.Status.LastAttemptedRevisionDigest = digest
	obj.Status.LastAttemptedConfigDigest = values.Digest
	obj.Status.StorageNamespace = obj.GetStorageNamespace()

	// The release, one action at a time.
	c, err := r.releaseClient(ctx, obj)
	if err != nil {
		return fail(reconcile.ReconciliationFailedReason, err)
	}
	opts, tested := StepOptions(obj), false
	for range maxSteps {
		want := cluster.Desired{Chart: ch, Values: values, TestEnabled: obj.GetTest().Enable, IgnoreTestFailures: IgnoreTestFailures(obj)}
		if s := obj.Status.History.Latest(); s != nil {
			want.KnownRevision = s.Version
		}
		st, cur, err := c.Observe(ctx, name, want)
		if err != nil {
			return fail(reconcile.ReconciliationFailedReason, err)
		}
		if st == helmrelease.StatusInSync && obj.Status.ObservedPostRenderersDigest != PostRenderersDigest(obj) {
			st = helmrelease.StatusOutOfSync
		}
		if st, err = r.drift(ctx, obj, c, cur, st, &opts); err != nil {
			return fail(reconcile.ReconciliationFailedReason, err)
		}
		o := Observation(obj, st, force)
		o.HasRollbackTarget = obj.Status.History.Previous(want.IgnoreTestFailures) != nil
		start := time.Now()
		res, err := c.Step(ctx, name, want, o, opts)
		if errors.Is(err, helmrelease.ErrRetriesExhausted) || errors.Is(err, helmrelease.ErrMissingRollbackTarget) {
			return r.stall(obj, cond, err)
		}
		if res.Decision.Action == helmrelease.ActionNone {
			if err != nil {
				return fail(reconcile.ReconciliationFailedReason, err)
			}
			updateInventory(ctx, c, obj, res.Release)
			break
		}
		r.record(ctx, c, obj, res, err, time.Since(start), name)
		if res.Decision.Action == helmrelease.ActionInstall || res.Decision.Action == helmrelease.ActionUpgrade {
			obj.Status.ObservedPostRenderersDigest = PostRenderersDigest(obj)
		}
		tested = tested || res.Decision.Action == helmrelease.ActionTest
		force = false
		if res.Decision.Remediation {
			rem := cond.Get(helmv2.RemediatedCondition)
			cond.Failed(rem.Reason, "%s", rem.Message)
			return r.unsettled(obj, cond)
		}
		if err != nil && !res.Failed {
			return fail(reconcile.ReconciliationFailedReason, err)
		}
		// A failed action under RetryOnFailure waits for retryInterval;
		// otherwise remediation follows at once, in this reconciliation.
		if res.Failed && obj.GetActiveRetry(false) != nil {
			return r.unsettled(obj, cond)
		}
	}
	if c := cond.Get(helmv2.ReleasedCondition); c == nil || c.Status != metav1.ConditionTrue {
		return r.unsettled(obj, cond)
	}
	ready := cond.Get(helmv2.ReleasedCondition)
	if t := cond.Get(helmv2.TestSuccessCondition); tested && t != nil && t.Status == metav1.ConditionTrue {
		ready = t
	}
	cond.Delete(helmv2.RemediatedCondition)
	cond.Ready(ready.Reason, "%s", ready.Message)
	return ctrl.Result{RequeueAfter: jittered(obj.Spec.Interval.Duration)}, nil
}

// finalize uninstalls the release (not for a suspended HelmRelease, as in
// Flux) and deletes the HelmChart of spec.chart.
func (r *Reconciler) finalize(ctx context.Context, obj *helmv2.HelmRelease) error {
	if !obj.Spec.Suspend && obj.Status.History.Latest() != nil {
		c, err := r.releaseClient(ctx, obj)
		if err != nil {
			return err
		}
		name := helmrelease.ReleaseName(obj.Name, obj.Spec.TargetNamespace, obj.Spec.ReleaseName)
		rel, err := c.Uninstall(ctx, name, StepOptions(obj).Uninstall)
		switch {
		case errors.Is(err, cluster.ErrReleaseNotFound):
		case err != nil:
			r.event(obj, nil, corev1.EventTypeWarning, helmv2.UninstallFailedReason, err.Error())
			return err
		default:
			r.event(obj, rel, corev1.EventTypeNormal, helmv2.UninstallSucceededReason,
				fmt.Sprintf("Helm uninstall succeeded for release %s/%s", obj.GetStorageNamespace(), name))
		}
	}
	return r.deleteHelmChart(ctx, obj)
}
