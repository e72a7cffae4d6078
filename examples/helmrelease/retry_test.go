package helmrelease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/helmchart"
	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/helmrepository"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/source/helm"
)

// failingHook is spec.values whose pre-install/pre-upgrade hook fails.
var failingHook = map[string]any{"hook": map[string]any{"podAnnotations": map[string]any{testenv.FailAnnotation: "no database"}}}

// Without Reconciler.RetryInterval, a remediated install is retried at
// once with controller-runtime's back-off, as in Flux, until the retries
// are used up: no request is needed to reach RetriesExceeded.
func TestHelmReleaseRetryBackoff(t *testing.T) {
	startControllers(t, func(r *helmrelease.Reconciler) { r.RetryInterval = 0 })
	ns := "hr-retry-backoff"
	sourcetest.Namespace(t, env, ns)
	repository(t, ns, "1.2.3")
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 90 * time.Second},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "app", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
			}},
			Install: &helmv2.Install{Remediation: &helmv2.InstallRemediation{Retries: 1}},
			Values:  values(t, failingHook),
		},
	}
	create(t, hr)
	waitFor(t, hr, 4*releaseWait, "stalled", condition(meta.StalledCondition, metav1.ConditionTrue, helmrelease.RetriesExceededReason))
	if hr.Status.InstallFailures != 2 || hr.Status.Failures != 2 {
		t.Errorf("install failures %d, failures %d, want 2 and 2", hr.Status.InstallFailures, hr.Status.Failures)
	}
	// The first failure was remediated by uninstall before the retry.
	event(t, ns, "db", helmv2.UninstallSucceededReason, "")
}

// With the RetryOnFailure strategy a failed release is not remediated:
// it is upgraded again after spec.install.strategy.retryInterval, until
// working values release it.
func TestHelmReleaseRetryOnFailure(t *testing.T) {
	startControllers(t)
	ns := "hr-retry-onfailure"
	sourcetest.Namespace(t, env, ns)
	repository(t, ns, "1.2.3")
	retry := &metav1.Duration{Duration: 2 * time.Second}
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 90 * time.Second},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "app", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
			}},
			Install: &helmv2.Install{Strategy: &helmv2.InstallStrategy{Name: string(helmv2.ActionStrategyRetryOnFailure), RetryInterval: retry}},
			Upgrade: &helmv2.Upgrade{Strategy: &helmv2.UpgradeStrategy{Name: string(helmv2.ActionStrategyRetryOnFailure), RetryInterval: retry}},
			Values:  values(t, failingHook),
		},
	}
	create(t, hr)
	// The failed install is followed by failed upgrades, without a
	// remediation, and the HelmRelease says when it retries.
	waitFor(t, hr, 4*releaseWait, "retried", func(o *helmv2.HelmRelease) bool {
		return len(o.Status.History) >= 2 && condition(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingWithRetryReason)(o)
	})
	if c := apimeta.FindStatusCondition(hr.Status.Conditions, meta.ReconcilingCondition); c == nil || c.Message != "retrying after 2s" {
		t.Errorf("Reconciling message %q", c.Message)
	}
	if apimeta.FindStatusCondition(hr.Status.Conditions, helmv2.RemediatedCondition) != nil || apimeta.FindStatusCondition(hr.Status.Conditions, meta.StalledCondition) != nil {
		t.Errorf("remediated or stalled: %+v", hr.Status.Conditions)
	}
	if l := hr.Status.History.Latest(); l.Status != "failed" {
		t.Errorf("latest release %s, want failed", l.Status)
	}

	// Working values release it.
	update(t, hr, func(o *helmv2.HelmRelease) { o.Spec.Values = nil })
	waitFor(t, hr, releaseWait, "released", func(o *helmv2.HelmRelease) bool {
		return condition(meta.ReadyCondition, metav1.ConditionTrue, helmv2.UpgradeSucceededReason)(o)
	})
}

// What a reconciliation hands controller-runtime, read from Reconcile
// itself (no HelmRelease controller runs here): a remediation with retries
// left returns ErrRemediated for the rate limiter's back-off, used-up
// retries a terminal error, and a failure under RetryOnFailure no error
// and its retryInterval, jittered by at most 5%.
func TestHelmReleaseRetryResults(t *testing.T) {
	cache := helm.NewIndexCache(helm.CacheOptions{})
	sourcetest.Start(t, env, func(_ context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &helmrepository.Reconciler{Store: store, TempDir: t.TempDir(), Cache: cache}
		return r.SetupWithManager(mgr, helmrepository.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	}, func(ctx context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &helmchart.Reconciler{Store: store, TempDir: t.TempDir(), Cache: cache}
		return r.SetupWithManager(ctx, mgr, helmchart.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	})
	ns := "hr-retry-results"
	sourcetest.Namespace(t, env, ns)
	repository(t, ns, "1.2.3")
	r := &helmrelease.Reconciler{Client: env.Client, Config: env.Config, TempDir: t.TempDir(), DependencyRequeueInterval: 500 * time.Millisecond}
	release := func(name string, change func(*helmv2.HelmRelease)) *helmv2.HelmRelease {
		hr := &helmv2.HelmRelease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: helmv2.HelmReleaseSpec{
				Interval: metav1.Duration{Duration: time.Hour},
				Timeout:  &metav1.Duration{Duration: 90 * time.Second},
				Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
					Chart: "app", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
				}},
				Values: values(t, failingHook),
			},
		}
		change(hr)
		create(t, hr)
		return hr
	}
	// run reconciles hr until done says it is done with a result, for up
	// to releaseWait.
	run := func(hr *helmv2.HelmRelease, done func(ctrl.Result, error) bool) {
		t.Helper()
		req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(hr)}
		var res ctrl.Result
		var err error
		sourcetest.Poll(t, releaseWait, "reconciliation results of "+hr.Name, func(ctx context.Context) (bool, error) {
			res, err = r.Reconcile(ctx, req)
			return done(res, err), nil
		})
		if err := env.Client.Get(context.Background(), req.NamespacedName, hr); err != nil {
			t.Fatal(err)
		}
	}

	remediated := release("remediated", func(o *helmv2.HelmRelease) {
		o.Spec.Install = &helmv2.Install{Remediation: &helmv2.InstallRemediation{Retries: 1}}
	})
	run(remediated, func(res ctrl.Result, err error) bool {
		if err != nil && !errors.Is(err, helmrelease.ErrRemediated) {
			t.Fatalf("reconcile before the remediation: %v", err)
		}
		return errors.Is(err, helmrelease.ErrRemediated) && res.IsZero()
	})
	if !condition(helmv2.RemediatedCondition, metav1.ConditionTrue, helmv2.UninstallSucceededReason)(remediated) || remediated.Status.InstallFailures != 1 {
		t.Errorf("after the first remediation: %+v", remediated.Status)
	}
	run(remediated, func(_ ctrl.Result, err error) bool { return err != nil })
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(remediated)}); !errors.Is(err, ctrlreconcile.TerminalError(nil)) {
		t.Errorf("reconcile with the retries used up: %v, want a terminal error", err)
	}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(remediated), remediated); err != nil {
		t.Fatal(err)
	}
	if !condition(meta.StalledCondition, metav1.ConditionTrue, helmrelease.RetriesExceededReason)(remediated) || remediated.Status.InstallFailures != 2 {
		t.Errorf("after the retries: %+v", remediated.Status)
	}

	retry := 4 * time.Second
	retrying := release("retrying", func(o *helmv2.HelmRelease) {
		o.Spec.Install = &helmv2.Install{Strategy: &helmv2.InstallStrategy{Name: string(helmv2.ActionStrategyRetryOnFailure), RetryInterval: &metav1.Duration{Duration: retry}}}
	})
	var after time.Duration
	run(retrying, func(res ctrl.Result, err error) bool {
		if err != nil {
			t.Fatalf("reconcile under RetryOnFailure: %v", err)
		}
		after = res.RequeueAfter
		return after > 2*time.Second
	})
	if after < retry*95/100 || after > retry*105/100 || retrying.Status.InstallFailures != 1 {
		t.Errorf("requeue after %s with %d install failure(s), want %s ±5%% after one", after, retrying.Status.InstallFailures, retry)
	}
}
