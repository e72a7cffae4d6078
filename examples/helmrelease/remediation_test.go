package helmrelease_test

import (
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

// A failing pre-install hook with one install retry: the failed install is
// remediated by uninstall, retried on request, fails again and stalls
// (RetriesExceeded); values that work reset the counter and upgrade the
// failed release.
func TestHelmReleaseInstallRemediation(t *testing.T) {
	startControllers(t)
	ns := "hr-install"
	sourcetest.Namespace(t, env, ns)
	repository(t, ns, "1.2.3")
	failing := map[string]any{"hook": map[string]any{"podAnnotations": map[string]any{testenv.FailAnnotation: "no database"}}}
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 90 * time.Second},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "app", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
			}},
			Install: &helmv2.Install{Remediation: &helmv2.InstallRemediation{Retries: 1}},
			Values:  values(t, failing),
		},
	}
	create(t, hr)
	waitFor(t, hr, releaseWait, "uninstalled", condition(helmv2.RemediatedCondition, metav1.ConditionTrue, helmv2.UninstallSucceededReason))
	if !condition(helmv2.ReleasedCondition, metav1.ConditionFalse, helmv2.InstallFailedReason)(hr) ||
		!condition(meta.ReadyCondition, metav1.ConditionFalse, helmv2.UninstallSucceededReason)(hr) || hr.Status.InstallFailures != 1 {
		t.Errorf("status %+v", hr.Status)
	}
	event(t, ns, "db", helmv2.InstallFailedReason, "Helm install failed for release "+ns+"/db.v1 with chart app@1.2.3")

	// The retry, on request, fails too: no retry left.
	update(t, hr, func(o *helmv2.HelmRelease) {
		o.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "retry"}
	})
	waitFor(t, hr, releaseWait, "stalled", condition(meta.StalledCondition, metav1.ConditionTrue, helmrelease.RetriesExceededReason))
	if hr.Status.InstallFailures != 2 || hr.Status.Failures != 2 {
		t.Errorf("status %+v", hr.Status)
	}

	// Working values: counters reset, and the failed release is upgraded,
	// as Flux does.
	update(t, hr, func(o *helmv2.HelmRelease) { o.Spec.Values = nil })
	waitFor(t, hr, releaseWait, "released", ready(helmv2.UpgradeSucceededReason, 2))
	if l := hr.Status.History.Latest(); hr.Status.InstallFailures != 0 || l.Status != "deployed" {
		t.Errorf("status %+v", hr.Status)
	}
}
