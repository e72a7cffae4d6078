package helmrelease_test

import (
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
)

// spec.healthCheckExprs judge the kinds they name while Helm's kstatus
// watcher (the default poller strategy) waits: a ConfigMap its expression
// finds failed fails the install, a healthy one installs; with the legacy
// strategy the expressions are not evaluated, as in Flux.
func TestHelmReleaseHealthCheckExprs(t *testing.T) {
	startControllers(t)
	ns := "hr-health"
	sourcetest.Namespace(t, env, ns)
	repository(t, ns, "1.2.3")
	newHR := func(name, greeting string, strategy helmv2.WaitStrategyName) *helmv2.HelmRelease {
		hr := &helmv2.HelmRelease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: helmv2.HelmReleaseSpec{
				Interval: metav1.Duration{Duration: time.Hour},
				Timeout:  &metav1.Duration{Duration: 20 * time.Second},
				Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{Chart: "app",
					SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"}}},
				Values: values(t, map[string]any{"config": map[string]any{"greeting": greeting}}),
				HealthCheckExprs: []kustomize.CustomHealthCheck{{APIVersion: "v1", Kind: "ConfigMap",
					HealthCheckExpressions: kustomize.HealthCheckExpressions{
						Current: "data.greeting == 'fine'", Failed: "data.greeting == 'broken'"}}},
			},
		}
		if strategy != "" {
			hr.Spec.WaitStrategy = &helmv2.WaitStrategy{Name: strategy}
		}
		create(t, hr)
		return hr
	}
	broken := newHR("broken", "broken", "")
	fine := newHR("fine", "fine", helmv2.WaitStrategyPoller)
	legacy := newHR("legacy", "broken", helmv2.WaitStrategyLegacy)

	waitFor(t, broken, releaseWait, "install failed on the health expression", condition(helmv2.ReleasedCondition, metav1.ConditionFalse, helmv2.InstallFailedReason))
	msg := apimeta.FindStatusCondition(broken.Status.Conditions, helmv2.ReleasedCondition).Message
	if !strings.Contains(msg, "broken-app") {
		t.Errorf("the failure does not name the ConfigMap: %q", msg)
	}
	if apimeta.IsStatusConditionTrue(broken.Status.Conditions, meta.ReadyCondition) || broken.Status.InstallFailures != 1 {
		t.Errorf("status %+v", broken.Status)
	}
	waitFor(t, fine, releaseWait, "healthy install", ready(helmv2.InstallSucceededReason, 1))
	waitFor(t, legacy, releaseWait, "legacy wait ignores the expressions", ready(helmv2.InstallSucceededReason, 1))
	t.Logf("install failure: %s", msg)
}
