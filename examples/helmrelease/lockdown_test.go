package helmrelease_test

import (
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/reconcile"
)

// With NoCrossNamespaceRefs, a chart source, a chartRef, a dependency (of
// spec.dependsOn or of the depends-on annotation) or a values source in
// another namespace stalls the HelmRelease with AccessDenied before
// anything is read (no HelmChart is created); a reference spelling out
// the HelmRelease's own namespace passes the check.
func TestHelmReleaseCrossNamespaceRefsRefused(t *testing.T) {
	startControllers(t, func(r *helmrelease.Reconciler) { r.NoCrossNamespaceRefs = true })
	ns, shared := "hr-lockdown", "hr-lockdown-shared"
	sourcetest.Namespace(t, env, ns)
	sourcetest.Namespace(t, env, shared)
	newHR := func(name string, change func(*helmv2.HelmRelease)) *helmv2.HelmRelease {
		hr := &helmv2.HelmRelease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: helmv2.HelmReleaseSpec{
				Interval: metav1.Duration{Duration: time.Hour},
				ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "app", Namespace: ns},
			},
		}
		change(hr)
		create(t, hr)
		return hr
	}
	chart := newHR("chart", func(hr *helmv2.HelmRelease) {
		hr.Spec.ChartRef = nil
		hr.Spec.Chart = &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{Chart: "app",
			SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts", Namespace: shared}}}
	})
	chartRef := newHR("chartref", func(hr *helmv2.HelmRelease) { hr.Spec.ChartRef.Namespace = shared })
	deps := newHR("deps", func(hr *helmv2.HelmRelease) {
		hr.Spec.DependsOn = []helmv2.DependencyReference{{Name: "chart", Namespace: ns}, {Name: "infra", Namespace: shared}}
	})
	xkind := newHR("xkind", func(hr *helmv2.HelmRelease) {
		hr.Annotations = map[string]string{reconcile.DependsOnAnnotation: "HelmRelease/chart,Kustomization/" + shared + "/infra"}
	})
	valuesSrc := newHR("values-source", func(hr *helmv2.HelmRelease) {
		hr.Annotations = map[string]string{helmrelease.ValuesFromSourceAnnotation: "GitRepository/" + shared + "/config", helmrelease.ValuesFilesAnnotation: "values.yaml"}
	})
	own := newHR("own", func(*helmv2.HelmRelease) {})

	for _, c := range []struct {
		hr   *helmv2.HelmRelease
		want string
	}{
		{chart, `spec.chart.spec.sourceRef: cannot reach HelmRepository/charts in namespace "hr-lockdown-shared" from namespace "hr-lockdown"`},
		{chartRef, `spec.chartRef: cannot reach OCIRepository/app in namespace "hr-lockdown-shared" from namespace "hr-lockdown"`},
		{deps, `spec.dependsOn[1]: cannot reach HelmRelease/infra in namespace "hr-lockdown-shared"`},
		{xkind, `metadata.annotations[gitopskit.io/depends-on]: cannot reach Kustomization/infra in namespace "hr-lockdown-shared"`},
		{valuesSrc, `metadata.annotations[gitopskit.io/values-from-source]: cannot reach GitRepository/config in namespace "hr-lockdown-shared"`},
	} {
		waitFor(t, c.hr, 30*time.Second, c.hr.Name+" refused", condition(meta.ReadyCondition, metav1.ConditionFalse, reconcile.AccessDeniedReason))
		msg := apimeta.FindStatusCondition(c.hr.Status.Conditions, meta.ReadyCondition).Message
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: message %q, want it to contain %q", c.hr.Name, msg, c.want)
		}
		if !condition(meta.StalledCondition, metav1.ConditionTrue, reconcile.AccessDeniedReason)(c.hr) {
			t.Errorf("%s: not Stalled: %+v", c.hr.Name, c.hr.Status.Conditions)
		}
		if strings.Contains(msg, "spec.dependsOn[0]") || strings.Contains(msg, "HelmRelease/chart") {
			t.Errorf("%s: the same-namespace dependency was refused: %q", c.hr.Name, msg)
		}
		if c.hr.Status.HelmChart != "" || c.hr.Status.LastAttemptedRevision != "" {
			t.Errorf("%s: the chart was read: %+v", c.hr.Name, c.hr.Status)
		}
		event(t, ns, c.hr.Name, reconcile.AccessDeniedReason, c.want)
	}
	var charts sourcev1.HelmChartList
	if err := env.Client.List(t.Context(), &charts); err != nil {
		t.Fatal(err)
	}
	for _, hc := range charts.Items {
		if hc.Namespace == shared {
			t.Errorf("HelmChart %s created in the other namespace", hc.Name)
		}
	}
	// Its own namespace spelt out: past the check, waiting for its chart.
	waitFor(t, own, 30*time.Second, "own namespace accepted", condition(meta.ReadyCondition, metav1.ConditionFalse, helmv2.ArtifactFailedReason))
	if apimeta.IsStatusConditionTrue(own.Status.Conditions, meta.StalledCondition) {
		t.Errorf("own: Stalled: %+v", own.Status.Conditions)
	}
}
