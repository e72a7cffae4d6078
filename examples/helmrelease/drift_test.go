package helmrelease_test

import (
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
)

// Drift detection: with mode enabled a scaled Deployment is scaled back
// and the Drifted condition ends False; with mode warn it is reported
// (Drifted True, DriftDetected) and left alone, the HelmRelease staying
// Ready.
func TestHelmReleaseDrift(t *testing.T) {
	startControllers(t)
	ns := "hr-drift"
	sourcetest.Namespace(t, env, ns)
	repository(t, ns, "1.2.3")
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 90 * time.Second},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "app", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
			}},
			DriftDetection: &helmv2.DriftDetection{Mode: helmv2.DriftDetectionEnabled},
		},
	}
	create(t, hr)
	waitFor(t, hr, releaseWait, "installed", ready(helmv2.InstallSucceededReason, 1))
	waitFor(t, hr, 10*time.Second, "no drift", condition(helmv2.DriftedCondition, metav1.ConditionFalse, helmv2.NoDriftDetectedReason))
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: ns}}
	scale := func(n int32) {
		update(t, deploy, func(d *appsv1.Deployment) { d.Spec.Replicas = &n })
	}
	request := func(token string) {
		update(t, hr, func(o *helmv2.HelmRelease) { o.Annotations = map[string]string{meta.ReconcileRequestAnnotation: token} })
	}

	// Enabled: corrected.
	scale(4)
	request("scaled")
	event(t, ns, "web", helmv2.DriftDetectedReason, "Deployment/"+ns+"/web-app")
	event(t, ns, "web", helmv2.DriftDetectedReason, "Cluster state of release "+ns+"/web.v1 has been corrected")
	waitFor(t, deploy, 30*time.Second, "scaled back", func(d *appsv1.Deployment) bool { return *d.Spec.Replicas == 1 })
	waitFor(t, hr, 30*time.Second, "corrected", func(o *helmv2.HelmRelease) bool {
		return o.Status.LastHandledReconcileAt == "scaled" && ready(helmv2.InstallSucceededReason, 1)(o) &&
			condition(helmv2.DriftedCondition, metav1.ConditionFalse, helmv2.NoDriftDetectedReason)(o)
	})

	// Warn: reported only.
	update(t, hr, func(o *helmv2.HelmRelease) { o.Spec.DriftDetection.Mode = helmv2.DriftDetectionWarn })
	scale(3)
	request("warn")
	waitFor(t, hr, 30*time.Second, "drift reported", func(o *helmv2.HelmRelease) bool {
		return o.Status.LastHandledReconcileAt == "warn" && ready(helmv2.InstallSucceededReason, 1)(o) &&
			condition(helmv2.DriftedCondition, metav1.ConditionTrue, helmv2.DriftDetectedReason)(o)
	})
	time.Sleep(2 * time.Second)
	waitFor(t, deploy, time.Second, "left alone", func(d *appsv1.Deployment) bool { return *d.Spec.Replicas == 3 })
}
