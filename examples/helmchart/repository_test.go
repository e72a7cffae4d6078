package helmchart_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

func chartFiles(version string) map[string]string {
	return map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: app\nversion: " + version + "\n",
		"values.yaml":       "replicas: 1\n",
		"values-prod.yaml":  "replicas: 3\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
	}
}

// Charts from an HTTPS repository behind basic auth: a semver range
// follows a newly published version once the repository's artifact
// changes; values files repackage the chart with the generation in its
// version; an invalid range stalls and a missing chart is retried, both
// with Flux's reason; deletion removes the artifacts.
func TestHelmChartFromRepository(t *testing.T) {
	ctx := context.Background()
	store := startControllers(t)
	ns := "helmchart-repo"
	sourcetest.Namespace(t, env, ns)
	srv := helmtest.New(t, helmtest.WithTLS(), helmtest.WithBasicAuth("fleet", "s3cret"))
	for _, v := range []string{"1.0.0", "1.1.0", "2.0.0"} {
		if _, err := srv.AddChart(chartFiles(v)); err != nil {
			t.Fatal(err)
		}
	}
	secret(t, ns, "repo-auth", map[string][]byte{"username": []byte("fleet"), "password": []byte("s3cret")})
	secret(t, ns, "repo-ca", map[string][]byte{"ca.crt": srv.CA()})
	repo := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns},
		Spec: sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour},
			SecretRef:     &meta.LocalObjectReference{Name: "repo-auth"},
			CertSecretRef: &meta.LocalObjectReference{Name: "repo-ca"}},
	}
	create(t, repo)

	app := chart(ns, "app", sourcev1.HelmRepositoryKind, "charts", "app", "1.x")
	create(t, app)
	waitFor(t, app, "app 1.1.0", readyAt("1.1.0", sourcev1.ChartPullSucceededReason))
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(repo), repo); err != nil {
		t.Fatal(err)
	}
	if app.Status.ObservedChartName != "app" || app.Status.ObservedSourceArtifactRevision != repo.Status.Artifact.Revision ||
		app.Status.URL != app.Status.Artifact.URL {
		t.Errorf("status %+v", app.Status)
	}
	if c := apimeta.FindStatusCondition(app.Status.Conditions, sourcev1.ArtifactInStorageCondition); c == nil ||
		c.Reason != sourcev1.ChartPullSucceededReason || c.Message != "pulled 'app' chart with version '1.1.0'" {
		t.Errorf("ArtifactInStorage %+v", c)
	}
	event(t, ns, "app", sourcev1.ChartPullSucceededReason, "pulled 'app' chart with version '1.1.0'")
	// The artifact is the chart as the repository serves it.
	a := app.Status.Artifact
	file := filepath.Join(t.TempDir(), "app.tgz")
	if err := (&artifact.Fetcher{}).Download(ctx, artifact.Artifact{URL: a.URL, Digest: a.Digest}, file); err != nil {
		t.Fatal(err)
	}
	want, err := helmtest.Package(chartFiles("1.1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file); string(got) != string(want) {
		t.Errorf("artifact is not the published chart")
	}

	// A new version in range: the repository's new revision moves the
	// chart, the HelmChart itself untouched.
	if _, err := srv.AddChart(chartFiles("1.2.0")); err != nil {
		t.Fatal(err)
	}
	request(t, repo, "published")
	waitFor(t, app, "app 1.2.0", readyAt("1.2.0", sourcev1.ChartPullSucceededReason))
	if app.Generation != 1 {
		t.Errorf("generation %d: the HelmChart was changed", app.Generation)
	}

	// Values files: repackaged, "+<generation>".
	values := chart(ns, "app-values", sourcev1.HelmRepositoryKind, "charts", "app", "1.0.0")
	values.Spec.ValuesFiles = []string{"values.yaml", "values-prod.yaml"}
	create(t, values)
	waitFor(t, values, "app-values", readyAt("1.0.0+1", sourcev1.ChartPackageSucceededReason))
	if msg := apimeta.FindStatusCondition(values.Status.Conditions, meta.ReadyCondition).Message; msg !=
		"packaged 'app' chart with version '1.0.0+1' and merged values files [values.yaml values-prod.yaml]" {
		t.Errorf("Ready message %q", msg)
	}

	// An invalid version range stalls with InvalidChartReference.
	invalid := chart(ns, "invalid", sourcev1.HelmRepositoryKind, "charts", "app", "not a range")
	create(t, invalid)
	waitFor(t, invalid, "invalid range", condition(meta.StalledCondition, metav1.ConditionTrue, "InvalidChartReference"))
	if !condition(sourcev1.FetchFailedCondition, metav1.ConditionTrue, "InvalidChartReference")(invalid) ||
		!condition(meta.ReadyCondition, metav1.ConditionFalse, "InvalidChartReference")(invalid) {
		t.Errorf("conditions %+v", invalid.Status.Conditions)
	}
	// A chart the index lacks: the same reason, retried, not stalled.
	missing := chart(ns, "missing", sourcev1.HelmRepositoryKind, "charts", "nope", "")
	create(t, missing)
	waitFor(t, missing, "missing chart", condition(sourcev1.FetchFailedCondition, metav1.ConditionTrue, "InvalidChartReference"))
	if apimeta.FindStatusCondition(missing.Status.Conditions, meta.StalledCondition) != nil {
		t.Errorf("a missing chart stalled: %+v", missing.Status.Conditions)
	}
	event(t, ns, "missing", "InvalidChartReference", "invalid chart reference: ")

	// Deletion removes the artifacts.
	key := artifact.ObjectKey{Kind: sourcev1.HelmChartKind, Namespace: ns, Name: "app"}
	if list, err := store.List(ctx, key); err != nil || len(list) == 0 {
		t.Fatalf("artifacts before deletion: %v, %v", list, err)
	}
	if err := env.Client.Delete(ctx, app); err != nil {
		t.Fatal(err)
	}
	sourcetest.Poll(t, 30*time.Second, "deletion", func(ctx context.Context) (bool, error) {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(app), &sourcev1.HelmChart{})), nil
	})
	if list, err := store.List(ctx, key); err != nil || len(list) != 0 {
		t.Errorf("artifacts after deletion: %v, %v", list, err)
	}
	if strings.Contains(apimeta.FindStatusCondition(missing.Status.Conditions, meta.ReadyCondition).Message, "s3cret") {
		t.Error("a message holds the password")
	}
}
