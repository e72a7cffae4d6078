package helmrelease_test

import (
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

// hookChart renders a ConfigMap and a post-install hook ConfigMap, both
// named after the release.
var hookChart = map[string]string{
	"Chart.yaml": "apiVersion: v2\nname: hooked\nversion: 0.1.0\n",
	"templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}
data: {kind: manifest}
`,
	"templates/hook.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-hook
  annotations:
    helm.sh/hook: post-install
data: {kind: hook}
`,
}

// spec.postRenderStrategy: combined (the default) post-renders the hooks
// too, nohooks leaves them as rendered.
func TestHelmReleasePostRenderStrategy(t *testing.T) {
	startControllers(t)
	ns := "hr-postrender-strategy"
	sourcetest.Namespace(t, env, ns)
	srv := helmtest.New(t)
	if _, err := srv.AddChart(hookChart); err != nil {
		t.Fatal(err)
	}
	create(t, &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour}},
	})
	for _, c := range []struct {
		name     string
		strategy helmv2.PostRenderStrategy
		hook     bool
	}{{"default", "", true}, {"nohooks", helmv2.PostRenderStrategyNoHooks, false}, {"separate", helmv2.PostRenderStrategySeparate, true}} {
		hr := &helmv2.HelmRelease{
			ObjectMeta: metav1.ObjectMeta{Name: c.name, Namespace: ns},
			Spec: helmv2.HelmReleaseSpec{
				Interval: metav1.Duration{Duration: time.Hour},
				Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
					Chart: "hooked", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
				}},
				CommonMetadata:     &helmv2.CommonMetadata{Labels: map[string]string{"team": "blue"}},
				PostRenderStrategy: c.strategy,
			},
		}
		create(t, hr)
		waitFor(t, hr, releaseWait, c.name+" released", ready(helmv2.InstallSucceededReason, 1))
		for name, want := range map[string]bool{c.name: true, c.name + "-hook": c.hook} {
			var cm corev1.ConfigMap
			if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
				t.Fatal(err)
			}
			if got := cm.Labels["team"] == "blue"; got != want {
				t.Errorf("strategy %q: ConfigMap %s labels %v, post-rendered %v, want %v", c.strategy, name, cm.Labels, got, want)
			}
		}
	}
}
