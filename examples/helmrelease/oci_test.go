package helmrelease_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// A chartRef to an OCIRepository selecting the chart layer of a chart
// pushed as helm push does (operation copy): installed, with the artifact
// digest in status.lastAttemptedRevisionDigest and as the chart version's
// build metadata; a new tag upgrades it.
func TestHelmReleaseChartRefOCIRepository(t *testing.T) {
	ctx := context.Background()
	startControllers(t)
	ns := "hr-oci"
	sourcetest.Namespace(t, env, ns)
	reg := ocitest.New(t)
	// The chart versions with the digests as build metadata, as Flux
	// tracks an OCI chart's digest.
	tracked := map[string]string{}
	digests := map[string]string{}
	for _, v := range []string{"1.2.3", "1.3.0"} {
		data, err := helmtest.Package(appChart(t, v))
		if err != nil {
			t.Fatal(err)
		}
		d, err := helmtest.PushOCI(ctx, reg, "charts/app", data)
		if err != nil {
			t.Fatal(err)
		}
		_, hex, _ := strings.Cut(d, ":")
		tracked[v], digests[v] = v+"+"+hex[:12], d
	}
	repo := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: sourcev1.OCIRepositorySpec{URL: reg.URL("charts/app"), Insecure: true, Interval: metav1.Duration{Duration: time.Hour},
			Reference:     &sourcev1.OCIRepositoryRef{Tag: "1.2.3"},
			LayerSelector: &sourcev1.OCILayerSelector{MediaType: oci.HelmChartLayerMediaType, Operation: sourcev1.OCILayerCopy}},
	}
	create(t, repo)
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 90 * time.Second},
			ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "app"},
		},
	}
	create(t, hr)
	waitFor(t, hr, releaseWait, "installed", ready(helmv2.InstallSucceededReason, 1))
	if s := hr.Status.History.Latest(); s.ChartVersion != tracked["1.2.3"] || hr.Status.LastAttemptedRevisionDigest != digests["1.2.3"] {
		t.Errorf("status %+v, want chart %s of digest %s", hr.Status, tracked["1.2.3"], digests["1.2.3"])
	}
	// status.inventory lists the release's objects (not its hooks nor the
	// CRDs of crds/), as Flux records them.
	wantInventory := []helmv2.ResourceRef{
		{ID: ns + "_web-app__ConfigMap", Version: "v1"},
		{ID: ns + "_web-app__Service", Version: "v1"},
		{ID: ns + "_web-app_apps_Deployment", Version: "v1"},
	}
	if inv := hr.Status.Inventory; inv == nil || !reflect.DeepEqual(inv.Entries, wantInventory) {
		t.Errorf("inventory %+v, want %+v", inv, wantInventory)
	}
	// The OCIRepository's new artifact triggers the upgrade.
	update(t, repo, func(o *sourcev1.OCIRepository) { o.Spec.Reference.Tag = "1.3.0" })
	waitFor(t, hr, releaseWait, "upgraded", ready(helmv2.UpgradeSucceededReason, 2))
	if s := hr.Status.History.Latest(); s.ChartVersion != tracked["1.3.0"] {
		t.Errorf("history %+v", hr.Status.History)
	}
	if inv := hr.Status.Inventory; inv == nil || !reflect.DeepEqual(inv.Entries, wantInventory) {
		t.Errorf("inventory after the upgrade %+v, want %+v", inv, wantInventory)
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: ns}}
	waitFor(t, d, 10*time.Second, "Deployment", func(d *appsv1.Deployment) bool {
		return d.Labels["helm.sh/chart"] == "app-"+strings.ReplaceAll(tracked["1.3.0"], "+", "_")
	})
}
