package helmrelease_test

import (
	"context"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/reconcile"
)

// externalArtifact creates an ExternalArtifact name in ns whose artifact
// is that of a HelmChart of the test chart at version (as a third-party
// controller would publish one), and returns a function that moves it to
// another version.
func externalArtifact(t *testing.T, ns, name, version string) func(version string) {
	t.Helper()
	hc := &sourcev1.HelmChart{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-chart", Namespace: ns},
		Spec: sourcev1.HelmChartSpec{
			Chart: "app", Version: version, Interval: metav1.Duration{Duration: time.Hour},
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
		},
	}
	create(t, hc)
	ea := &sourcev1.ExternalArtifact{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.ExternalArtifactSpec{SourceRef: &meta.NamespacedObjectKindReference{APIVersion: sourcev1.GroupVersion.String(), Kind: sourcev1.HelmChartKind, Name: hc.Name}}}
	create(t, ea)
	publish := func(version string) {
		t.Helper()
		waitFor(t, hc, time.Minute, "HelmChart artifact "+version, func(o *sourcev1.HelmChart) bool {
			return o.Status.Artifact != nil && o.Status.Artifact.Revision == version
		})
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(ea), ea); err != nil {
				return err
			}
			ea.Status.Artifact = hc.Status.Artifact.DeepCopy()
			ea.Status.Conditions = []metav1.Condition{{Type: meta.ReadyCondition, Status: metav1.ConditionTrue, Reason: meta.SucceededReason,
				Message: "published " + version, LastTransitionTime: metav1.Now()}}
			return env.Client.Status().Update(context.Background(), ea)
		}); err != nil {
			t.Fatal(err)
		}
	}
	publish(version)
	return func(version string) {
		t.Helper()
		update(t, hc, func(o *sourcev1.HelmChart) { o.Spec.Version = version })
		publish(version)
	}
}

// externalArtifactRelease creates a HelmRelease of the chart of
// ExternalArtifact "app" in ns.
func externalArtifactRelease(t *testing.T, ns string) *helmv2.HelmRelease {
	t.Helper()
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 90 * time.Second},
			ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.ExternalArtifactKind, Name: "app"},
		},
	}
	create(t, hr)
	return hr
}

// A chartRef to an ExternalArtifact installs its chart, and a new artifact
// upgrades the release.
func TestHelmReleaseExternalArtifact(t *testing.T) {
	startControllers(t, func(r *helmrelease.Reconciler) { r.AllowExternalArtifact = true })
	ns := "hr-external"
	sourcetest.Namespace(t, env, ns)
	repository(t, ns, "1.2.3", "1.2.4")
	move := externalArtifact(t, ns, "app", "1.2.3")
	hr := externalArtifactRelease(t, ns)
	waitFor(t, hr, releaseWait, "installed", ready(helmv2.InstallSucceededReason, 1))
	if hr.Status.LastAttemptedRevision != "1.2.3" || hr.Status.HelmChart != "" {
		t.Errorf("status %+v", hr.Status)
	}

	move("1.2.4")
	waitFor(t, hr, releaseWait, "upgraded", ready(helmv2.UpgradeSucceededReason, 2))
	if l := hr.Status.History.Latest(); l.ChartVersion != "1.2.4" {
		t.Errorf("latest release of chart %s, want 1.2.4", l.ChartVersion)
	}
}

// Without Reconciler.AllowExternalArtifact, as without Flux's feature
// gate, a chartRef to an ExternalArtifact stalls (AccessDenied).
func TestHelmReleaseExternalArtifactDisabled(t *testing.T) {
	startControllers(t)
	ns := "hr-external-off"
	sourcetest.Namespace(t, env, ns)
	hr := externalArtifactRelease(t, ns)
	waitFor(t, hr, releaseWait, "stalled", condition(meta.StalledCondition, metav1.ConditionTrue, reconcile.AccessDeniedReason))
	event(t, ns, "app", reconcile.AccessDeniedReason, "can't access 'ExternalArtifact/"+ns+"/app'")
}
