package helmrelease_test

import (
	"context"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// The chart version of an OCIRepository or ExternalArtifact chart takes
// the first 12 hex digits of the revision's digest as build metadata, as
// in Flux; other sources keep the chart's version.
func TestHelmReleaseChartDigestVersion(t *testing.T) {
	const hex = "9933f58f8bf459eb199d59ebc8a05683f3944e1242d9f5467d99aa2cf08a5370"
	oci := func(rev string) sourcev1.Source {
		return &sourcev1.OCIRepository{Status: sourcev1.OCIRepositoryStatus{Artifact: &meta.Artifact{Revision: rev}}}
	}
	external := func(rev string) sourcev1.Source {
		return &sourcev1.ExternalArtifact{Status: sourcev1.ExternalArtifactStatus{Artifact: &meta.Artifact{Revision: rev}}}
	}
	for _, tc := range []struct {
		name, version   string
		src             sourcev1.Source
		tracked, digest string
		err             string
	}{
		{"tag and digest", "1.2.3", oci("1.2.3@sha256:" + hex), "1.2.3+9933f58f8bf4", "sha256:" + hex, ""},
		{"digest only", "1.2.3", oci("sha256:" + hex), "1.2.3+9933f58f8bf4", "sha256:" + hex, ""},
		{"build metadata replaced", "1.2.3+build.1", oci("1.2.3_build.1@sha256:" + hex), "1.2.3+9933f58f8bf4", "sha256:" + hex, ""},
		{"prerelease kept", "1.2.3-rc.1", oci("1.2.3-rc.1@sha256:" + hex), "1.2.3-rc.1+9933f58f8bf4", "sha256:" + hex, ""},
		{"tag not a version", "1.2.3", oci("latest@sha256:" + hex), "1.2.3+9933f58f8bf4", "sha256:" + hex, ""},
		{"tag of another version", "1.2.3", oci("1.2.4@sha256:" + hex), "", "", "artifact revision 1.2.4 does not match chart version 1.2.3"},
		{"version without digest", "1.2.3", oci("1.2.3"), "", "", "artifact revision 1.2.3 does not match chart version 1.2.3"},
		{"short digest", "1.2.3", oci("1.2.3@sha256:9933f58f"), "", "", "invalid artifact revision 1.2.3@sha256:9933f58f"},
		{"invalid chart version", "one", oci("sha256:" + hex), "", "", "invalid chart version one"},
		{"external artifact with digest", "1.2.3", external("1.2.3@sha256:" + hex), "1.2.3+9933f58f8bf4", "sha256:" + hex, ""},
		{"external artifact version", "1.2.3", external("1.2.3"), "1.2.3", "", ""},
		{"HelmChart", "1.2.3", &sourcev1.HelmChart{Status: sourcev1.HelmChartStatus{Artifact: &meta.Artifact{Revision: "1.2.3"}}}, "1.2.3", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tracked, digest, err := helmrelease.ChartDigestVersion(tc.src, tc.version)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || tracked != tc.tracked || digest != tc.digest {
				t.Fatalf("got %q, %q, %v; want %q, %q", tracked, digest, err, tc.tracked, tc.digest)
			}
		})
	}
}

// ociChart pushes the test chart at version 1.2.3 with config.greeting
// to reg's charts/app and returns the manifest digest.
func ociChart(t *testing.T, reg *ocitest.Registry, greeting string) string {
	t.Helper()
	files := appChart(t, "1.2.3")
	files["values.yaml"] = strings.Replace(files["values.yaml"], "greeting: hello", "greeting: "+greeting, 1)
	data, err := helmtest.Package(files)
	if err != nil {
		t.Fatal(err)
	}
	d, err := helmtest.PushOCI(context.Background(), reg, "charts/app", data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// ociChartRelease creates an OCIRepository "app" of tag 1.2.3 of reg's
// charts/app, polling every second so that a push reaches it without a
// request, and a HelmRelease "web" of its chart in ns.
func ociChartRelease(t *testing.T, reg *ocitest.Registry, ns string) *helmv2.HelmRelease {
	t.Helper()
	create(t, &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: sourcev1.OCIRepositorySpec{URL: reg.URL("charts/app"), Insecure: true, Interval: metav1.Duration{Duration: time.Second},
			Reference:     &sourcev1.OCIRepositoryRef{Tag: "1.2.3"},
			LayerSelector: &sourcev1.OCILayerSelector{MediaType: oci.HelmChartLayerMediaType, Operation: sourcev1.OCILayerCopy}},
	})
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 90 * time.Second},
			ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "app"},
		},
	}
	create(t, hr)
	return hr
}

// digestVersion is chart version 1.2.3 with the first 12 hex digits of
// digest as build metadata.
func digestVersion(digest string) string {
	_, hex, _ := strings.Cut(digest, ":")
	return "1.2.3+" + hex[:12]
}

// A chart pushed again under the same version with other content upgrades
// the release, as in Flux: the chart version of the release (status
// history, helm's storage, the Event) carries the artifact digest.
func TestHelmReleaseChartDigestTracking(t *testing.T) {
	startControllers(t)
	ns := "hr-digest"
	sourcetest.Namespace(t, env, ns)
	reg := ocitest.New(t)
	first := ociChart(t, reg, "hello")
	hr := ociChartRelease(t, reg, ns)
	waitFor(t, hr, releaseWait, "installed", ready(helmv2.InstallSucceededReason, 1))
	if l := hr.Status.History.Latest(); l.ChartVersion != digestVersion(first) || hr.Status.LastAttemptedRevision != digestVersion(first) ||
		hr.Status.LastAttemptedRevisionDigest != first {
		t.Errorf("after the first push of %s: status %+v", first, hr.Status)
	}

	second := ociChart(t, reg, "bonjour")
	if second == first {
		t.Fatalf("the second push has the digest of the first, %s", first)
	}
	waitFor(t, hr, releaseWait, "upgraded", ready(helmv2.UpgradeSucceededReason, 2))
	if h := hr.Status.History; len(h) != 2 || h[0].ChartVersion != digestVersion(second) || h[1].ChartVersion != digestVersion(first) ||
		hr.Status.LastAttemptedRevisionDigest != second {
		t.Errorf("after the second push of %s: status %+v", second, hr.Status)
	}
	e := event(t, ns, "web", helmv2.UpgradeSucceededReason, "with chart app@"+digestVersion(second))
	if e.Annotations[helmrelease.RevisionAnnotation] != digestVersion(second) {
		t.Errorf("event annotations %v, want revision %s", e.Annotations, digestVersion(second))
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: ns}}
	waitFor(t, cm, 10*time.Second, "ConfigMap of the second chart", func(c *corev1.ConfigMap) bool {
		return c.Data["greeting"] == "bonjour" && c.Labels["helm.sh/chart"] == "app-"+strings.ReplaceAll(digestVersion(second), "+", "_")
	})
}

// With Reconciler.DisableChartDigestTracking, as with Flux's feature gate,
// the chart keeps its version: the digest is recorded, but a chart pushed
// again under the same version does not upgrade the release.
func TestHelmReleaseChartDigestTrackingDisabled(t *testing.T) {
	startControllers(t, func(r *helmrelease.Reconciler) { r.DisableChartDigestTracking = true })
	ns := "hr-digest-off"
	sourcetest.Namespace(t, env, ns)
	reg := ocitest.New(t)
	first := ociChart(t, reg, "hello")
	hr := ociChartRelease(t, reg, ns)
	waitFor(t, hr, releaseWait, "installed", ready(helmv2.InstallSucceededReason, 1))
	if l := hr.Status.History.Latest(); l.ChartVersion != "1.2.3" || hr.Status.LastAttemptedRevision != "1.2.3" ||
		hr.Status.LastAttemptedRevisionDigest != first {
		t.Errorf("status %+v, want chart 1.2.3 of digest %s", hr.Status, first)
	}

	// The new artifact is reconciled (its digest recorded) without a
	// release.
	second := ociChart(t, reg, "bonjour")
	waitFor(t, hr, releaseWait, "second digest attempted", func(o *helmv2.HelmRelease) bool {
		return o.Status.LastAttemptedRevisionDigest == second && ready(helmv2.InstallSucceededReason, 1)(o)
	})
	if len(hr.Status.History) != 1 || hr.Status.LastAttemptedRevision != "1.2.3" {
		t.Errorf("status %+v", hr.Status)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: ns}}
	waitFor(t, cm, 10*time.Second, "ConfigMap of the first chart", func(c *corev1.ConfigMap) bool { return c.Data["greeting"] == "hello" })
}
