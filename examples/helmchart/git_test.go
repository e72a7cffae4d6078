package helmchart_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxadapter"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

// publish stores files as the artifact of src, a GitRepository or a
// Bucket, at revision and records it in src's status, as their
// controllers would.
func publish(t *testing.T, store *artifact.Store, src client.Object, revision string, files map[string]string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(src), src); err != nil {
		t.Fatal(err)
	}
	key := artifact.ObjectKey{Namespace: src.GetNamespace(), Name: src.GetName()}
	switch src.(type) {
	case *sourcev1.GitRepository:
		key.Kind = sourcev1.GitRepositoryKind
	case *sourcev1.Bucket:
		key.Kind = sourcev1.BucketKind
	}
	a, err := store.ArchiveSnapshot(ctx, key, dir, source.Snapshot{Revision: revision}, artifact.PackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	switch o := src.(type) {
	case *sourcev1.GitRepository:
		o.Status.Artifact = fluxadapter.MetaArtifact(a)
	case *sourcev1.Bucket:
		o.Status.Artifact = fluxadapter.MetaArtifact(a)
	}
	if err := env.Client.Status().Update(ctx, src); err != nil {
		t.Fatal(err)
	}
}

// A chart built from a directory of a GitRepository's artifact with
// values files (a missing one ignored) and reconcileStrategy Revision:
// the version carries the commit and the generation, the values are
// merged, and a new commit rebuilds the chart through the watch on the
// source.
func TestHelmChartFromGitRepository(t *testing.T) {
	ctx := context.Background()
	store := startControllers(t)
	ns := "helmchart-git"
	sourcetest.Namespace(t, env, ns)
	repo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: ns},
		Spec:       sourcev1.GitRepositorySpec{URL: "https://git.example.com/fleet", Interval: metav1.Duration{Duration: time.Hour}},
	}
	create(t, repo)
	files := map[string]string{
		"charts/app/Chart.yaml":        "apiVersion: v2\nname: app\nversion: 1.0.0\n",
		"charts/app/values.yaml":       "replicas: 1\nimage: app\n",
		"charts/app/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
		"env/prod.yaml":                "replicas: 3\n",
	}

	// No artifact yet: NoSourceArtifact, then built once there is one.
	app := chart(ns, "app", sourcev1.GitRepositoryKind, "fleet", "charts/app", "")
	app.Spec.ReconcileStrategy = sourcev1.ReconcileStrategyRevision
	app.Spec.ValuesFiles = []string{"charts/app/values.yaml", "env/prod.yaml", "env/missing.yaml"}
	app.Spec.IgnoreMissingValuesFiles = true
	create(t, app)
	waitFor(t, app, "no source artifact", condition(sourcev1.FetchFailedCondition, metav1.ConditionTrue, "NoSourceArtifact"))

	commit := strings.Repeat("a1b2c3d4e5", 4)
	publish(t, store, repo, "main@sha1:"+commit, files)
	version := "1.0.0+" + commit[:12] + ".1"
	waitFor(t, app, "built chart", readyAt(version, sourcev1.ChartPackageSucceededReason))
	if want := []string{"charts/app/values.yaml", "env/prod.yaml"}; !reflect.DeepEqual(app.Status.ObservedValuesFiles, want) {
		t.Errorf("observedValuesFiles %v, want %v", app.Status.ObservedValuesFiles, want)
	}
	if app.Status.ObservedSourceArtifactRevision != "main@sha1:"+commit || app.Status.ObservedChartName != "app" {
		t.Errorf("status %+v", app.Status)
	}
	event(t, ns, "app", sourcev1.ChartPackageSucceededReason, "packaged 'app' chart with version '"+version+"' and merged values files")
	dir := filepath.Join(t.TempDir(), "chart")
	a := app.Status.Artifact
	if _, err := (&artifact.Fetcher{}).Fetch(ctx, artifact.Artifact{URL: a.URL, Digest: a.Digest}, dir); err != nil {
		t.Fatal(err)
	}
	values, err := os.ReadFile(filepath.Join(dir, "app", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(values), "replicas: 3") || !strings.Contains(string(values), "image: app") {
		t.Errorf("merged values.yaml:\n%s", values)
	}
	chartYAML, _ := os.ReadFile(filepath.Join(dir, "app", "Chart.yaml"))
	if !strings.Contains(string(chartYAML), version) {
		t.Errorf("Chart.yaml:\n%s", chartYAML)
	}

	// A new commit: a new version, without touching the HelmChart.
	commit2 := strings.Repeat("0f1e2d3c4b", 4)
	publish(t, store, repo, "main@sha1:"+commit2, files)
	waitFor(t, app, "rebuilt chart", readyAt("1.0.0+"+commit2[:12]+".1", sourcev1.ChartPackageSucceededReason))

	// The ChartVersion strategy keeps the version across commits.
	stable := chart(ns, "stable", sourcev1.GitRepositoryKind, "fleet", "charts/app", "")
	create(t, stable)
	waitFor(t, stable, "stable chart", readyAt("1.0.0", sourcev1.ChartPackageSucceededReason))
	first := *stable.Status.Artifact
	commit3 := strings.Repeat("9a8b7c6d5e", 4)
	publish(t, store, repo, "main@sha1:"+commit3, files)
	waitFor(t, stable, "observed commit", func(o *sourcev1.HelmChart) bool {
		return o.Status.ObservedSourceArtifactRevision == "main@sha1:"+commit3
	})
	if got := stable.Status.Artifact; got.Revision != "1.0.0" || got.Path != first.Path || !got.LastUpdateTime.Equal(&first.LastUpdateTime) {
		t.Errorf("ChartVersion strategy rebuilt the chart: %+v -> %+v", first, got)
	}

	// A dependency from a repository behind TLS and basic auth is read
	// with the Secrets of the HelmRepository that has its URL.
	srv := helmtest.New(t, helmtest.WithTLS(), helmtest.WithBasicAuth("fleet", "s3cret"))
	if _, err := srv.AddChart(chartFiles("1.1.0")); err != nil {
		t.Fatal(err)
	}
	secret(t, ns, "repo-auth", map[string][]byte{"username": []byte("fleet"), "password": []byte("s3cret")})
	secret(t, ns, "repo-ca", map[string][]byte{"ca.crt": srv.CA()})
	create(t, &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "deps", Namespace: ns},
		Spec: sourcev1.HelmRepositorySpec{URL: srv.URL + "/", Interval: metav1.Duration{Duration: time.Hour},
			SecretRef:     &meta.LocalObjectReference{Name: "repo-auth"},
			CertSecretRef: &meta.LocalObjectReference{Name: "repo-ca"}},
	})
	umbrellaRepo := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "umbrella", Namespace: ns},
		Spec:       sourcev1.GitRepositorySpec{URL: "https://git.example.com/umbrella", Interval: metav1.Duration{Duration: time.Hour}},
	}
	create(t, umbrellaRepo)
	publish(t, store, umbrellaRepo, "main@sha1:"+commit, map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n- name: app\n  version: 1.x\n  repository: " + srv.URL + "\n",
		"values.yaml": "app:\n  replicas: 2\n",
	})
	umbrella := chart(ns, "umbrella", sourcev1.GitRepositoryKind, "umbrella", "./", "")
	create(t, umbrella)
	waitFor(t, umbrella, "umbrella chart", readyAt("0.1.0", sourcev1.ChartPackageSucceededReason))
	udir := filepath.Join(t.TempDir(), "umbrella")
	ua := umbrella.Status.Artifact
	if _, err := (&artifact.Fetcher{}).Fetch(ctx, artifact.Artifact{URL: ua.URL, Digest: ua.Digest}, udir); err != nil {
		t.Fatal(err)
	}
	_, errDir := os.Stat(filepath.Join(udir, "umbrella", "charts", "app", "Chart.yaml"))
	_, errTgz := os.Stat(filepath.Join(udir, "umbrella", "charts", "app-1.1.0.tgz"))
	if errDir != nil && errTgz != nil {
		t.Errorf("the dependency is not in the chart: %v, %v", errDir, errTgz)
	}

	// The same from a Bucket: its revision's digest in the version.
	bucket := &sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns},
		Spec: sourcev1.BucketSpec{BucketName: "charts", Endpoint: "s3.example.com",
			Interval: metav1.Duration{Duration: time.Hour}},
	}
	create(t, bucket)
	digest := strings.Repeat("5e4d3c2b1a", 6) + "abcd"
	publish(t, store, bucket, "sha256:"+digest, files)
	fromBucket := chart(ns, "from-bucket", sourcev1.BucketKind, "charts", "charts/app", "")
	fromBucket.Spec.ReconcileStrategy = sourcev1.ReconcileStrategyRevision
	create(t, fromBucket)
	waitFor(t, fromBucket, "chart from a bucket", readyAt("1.0.0+"+digest[:12], sourcev1.ChartPackageSucceededReason))

	// A path that is no chart: InvalidChartReference.
	nochart := chart(ns, "nochart", sourcev1.GitRepositoryKind, "fleet", "env", "")
	create(t, nochart)
	waitFor(t, nochart, "not a chart", condition(sourcev1.FetchFailedCondition, metav1.ConditionTrue, "InvalidChartReference"))
}
