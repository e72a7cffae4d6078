package helmrelease_test

import (
	"context"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
)

// The HelmChart of a sharded HelmRelease carries its shard label, unless
// the chart template sets one of its own.
func TestHelmReleaseShardLabel(t *testing.T) {
	startControllers(t)
	ns := "hr-shard"
	sourcetest.Namespace(t, env, ns)
	chart := func(name string, labels map[string]string) *helmv2.HelmRelease {
		return &helmv2.HelmRelease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{fluxscheme.ShardKeyLabel: "shard1"}},
			Spec: helmv2.HelmReleaseSpec{
				Interval: metav1.Duration{Duration: time.Hour},
				Chart: &helmv2.HelmChartTemplate{
					ObjectMeta: &helmv2.HelmChartTemplateObjectMeta{Labels: labels},
					Spec: helmv2.HelmChartTemplateSpec{
						Chart: "app", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
					},
				},
			},
		}
	}
	inherited := chart("inherited", map[string]string{"team": "a"})
	own := chart("own", map[string]string{fluxscheme.ShardKeyLabel: "shard2"})
	create(t, inherited)
	create(t, own)
	for _, c := range []struct {
		hr   *helmv2.HelmRelease
		want map[string]string
	}{
		{inherited, map[string]string{"team": "a", fluxscheme.ShardKeyLabel: "shard1"}},
		{own, map[string]string{fluxscheme.ShardKeyLabel: "shard2"}},
	} {
		hc := &sourcev1.HelmChart{}
		key := client.ObjectKey{Namespace: ns, Name: c.hr.GetHelmChartName()}
		sourcetest.Poll(t, 60*time.Second, "HelmChart "+key.String(), func(ctx context.Context) (bool, error) {
			err := env.Client.Get(ctx, key, hc)
			return err == nil, client.IgnoreNotFound(err)
		})
		if len(hc.Labels) != len(c.want) {
			t.Errorf("HelmChart %s labels %v, want %v", key, hc.Labels, c.want)
		}
		for k, v := range c.want {
			if hc.Labels[k] != v {
				t.Errorf("HelmChart %s labels %v, want %v", key, hc.Labels, c.want)
			}
		}
	}
}
