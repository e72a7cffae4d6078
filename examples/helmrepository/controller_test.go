package helmrepository_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

func chartFiles(version string) map[string]string {
	return map[string]string{"Chart.yaml": "apiVersion: v2\nname: app\nversion: " + version + "\n", "values.yaml": "replicas: 1\n"}
}

func revisionOf(index []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(index)) }

// An HTTPS repository behind basic auth: the index is stored as it is,
// with the revision of its digest; an unchanged index is a no-op, a new
// chart a new revision; wrong credentials fail; deletion removes the
// artifacts.
func TestHelmRepository(t *testing.T) {
	ctx := context.Background()
	store := startControllers(t)
	ns := "helmrepo-basic"
	sourcetest.Namespace(t, env, ns)
	srv := helmtest.New(t, helmtest.WithTLS(), helmtest.WithBasicAuth("fleet", "s3cret"))
	if _, err := srv.AddChart(chartFiles("1.0.0")); err != nil {
		t.Fatal(err)
	}
	secret(t, ns, "repo-auth", map[string][]byte{"username": []byte("fleet"), "password": []byte("s3cret")})
	secret(t, ns, "repo-ca", map[string][]byte{"ca.crt": srv.CA()})
	secret(t, ns, "wrong-auth", map[string][]byte{"username": []byte("fleet"), "password": []byte("wrong")})

	repo := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "charts", Namespace: ns},
		Spec: sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour},
			SecretRef:     &meta.LocalObjectReference{Name: "repo-auth"},
			CertSecretRef: &meta.LocalObjectReference{Name: "repo-ca"}},
	}
	if err := env.Client.Create(ctx, repo); err != nil {
		t.Fatal(err)
	}
	rev := revisionOf(srv.Index())
	readyAt := func(rev string) func(*sourcev1.HelmRepository) bool {
		return func(o *sourcev1.HelmRepository) bool {
			return o.Status.Artifact != nil && o.Status.Artifact.Revision == rev && sourcetest.Ready(o.Status.Conditions) &&
				o.Status.ObservedGeneration == o.Generation
		}
	}
	waitFor(t, repo, "index artifact", readyAt(rev))
	a := *repo.Status.Artifact
	if a.Digest != rev || repo.Status.URL != a.URL || !strings.HasSuffix(a.Path, ".yaml") {
		t.Errorf("artifact %+v, status.url %q", a, repo.Status.URL)
	}
	c := apimeta.FindStatusCondition(repo.Status.Conditions, meta.ReadyCondition)
	if c.Reason != meta.SucceededReason || c.Message != "stored artifact: revision '"+rev+"'" {
		t.Errorf("Ready %s: %s", c.Reason, c.Message)
	}
	if !apimeta.IsStatusConditionTrue(repo.Status.Conditions, sourcev1.ArtifactInStorageCondition) {
		t.Errorf("conditions %v: ArtifactInStorage not True", repo.Status.Conditions)
	}
	file := filepath.Join(t.TempDir(), "index.yaml")
	if err := (&artifact.Fetcher{}).Download(ctx, artifact.Artifact{URL: a.URL, Digest: a.Digest}, file); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file); string(got) != string(srv.Index()) {
		t.Errorf("stored index differs from the served one")
	}
	sourcetest.Poll(t, 30*time.Second, "NewArtifact event", func(ctx context.Context) (bool, error) {
		var evs eventsv1.EventList
		if err := env.Client.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == "charts" && e.Reason == "NewArtifact" && strings.HasPrefix(e.Note, "stored fetched index of size ") &&
				strings.HasSuffix(e.Note, "from '"+srv.URL+"'") {
				return true, nil
			}
		}
		return false, nil
	})

	// No-op: same index, same artifact file and time.
	request(t, repo, "again")
	waitFor(t, repo, "no-op reconcile", func(o *sourcev1.HelmRepository) bool { return o.Status.LastHandledReconcileAt == "again" })
	if got := repo.Status.Artifact; got.Path != a.Path || !got.LastUpdateTime.Equal(&a.LastUpdateTime) {
		t.Errorf("no-op reconcile replaced the artifact: %+v -> %+v", a, got)
	}

	// A new chart version is a new index revision.
	if _, err := srv.AddChart(chartFiles("1.1.0")); err != nil {
		t.Fatal(err)
	}
	rev2 := revisionOf(srv.Index())
	request(t, repo, "new")
	waitFor(t, repo, "new index", readyAt(rev2))

	// Wrong credentials: FetchFailed, Ready False, retried.
	wrong := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "wrong", Namespace: ns},
		Spec: sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour},
			SecretRef:     &meta.LocalObjectReference{Name: "wrong-auth"},
			CertSecretRef: &meta.LocalObjectReference{Name: "repo-ca"}},
	}
	if err := env.Client.Create(ctx, wrong); err != nil {
		t.Fatal(err)
	}
	waitFor(t, wrong, "wrong credentials", func(o *sourcev1.HelmRepository) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, sourcev1.FetchFailedCondition)
		return c != nil && c.Reason == sourcev1.AuthenticationFailedReason && apimeta.IsStatusConditionFalse(o.Status.Conditions, meta.ReadyCondition)
	})
	if msg := apimeta.FindStatusCondition(wrong.Status.Conditions, meta.ReadyCondition).Message; strings.Contains(msg, "wrong") {
		t.Errorf("message leaks the password: %s", msg)
	}

	// An oci:// URL with the default type stalls.
	bad := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "bad-url", Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{URL: "oci://registry.example.com/charts", Interval: metav1.Duration{Duration: time.Hour}},
	}
	if err := env.Client.Create(ctx, bad); err != nil {
		t.Fatal(err)
	}
	waitFor(t, bad, "URL stall", func(o *sourcev1.HelmRepository) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, meta.StalledCondition)
		return c != nil && c.Reason == sourcev1.URLInvalidReason
	})

	// Deletion removes the artifacts.
	key := artifact.ObjectKey{Kind: sourcev1.HelmRepositoryKind, Namespace: ns, Name: "charts"}
	if list, err := store.List(ctx, key); err != nil || len(list) == 0 {
		t.Fatalf("artifacts before deletion: %v, %v", list, err)
	}
	if err := env.Client.Delete(ctx, repo); err != nil {
		t.Fatal(err)
	}
	sourcetest.Poll(t, 30*time.Second, "deletion", func(ctx context.Context) (bool, error) {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(repo), &sourcev1.HelmRepository{})), nil
	})
	if list, err := store.List(ctx, key); err != nil || len(list) != 0 {
		t.Errorf("artifacts after deletion: %v, %v", list, err)
	}
}

// A repository of type oci is static, as in Flux: one that had an
// artifact loses it, its finalizer and its status; a new one never gets
// any.
func TestHelmRepositoryOCI(t *testing.T) {
	ctx := context.Background()
	store := startControllers(t)
	ns := "helmrepo-oci"
	sourcetest.Namespace(t, env, ns)
	srv := helmtest.New(t)
	if _, err := srv.AddChart(chartFiles("1.0.0")); err != nil {
		t.Fatal(err)
	}
	fresh := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "fresh", Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{Type: sourcev1.HelmRepositoryTypeOCI, URL: "oci://registry.example.com/charts"},
	}
	if err := env.Client.Create(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	repo := &sourcev1.HelmRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "migrated", Namespace: ns},
		Spec:       sourcev1.HelmRepositorySpec{URL: srv.URL, Interval: metav1.Duration{Duration: time.Hour}},
	}
	if err := env.Client.Create(ctx, repo); err != nil {
		t.Fatal(err)
	}
	waitFor(t, repo, "index artifact", func(o *sourcev1.HelmRepository) bool { return o.Status.Artifact != nil })
	key := artifact.ObjectKey{Kind: sourcev1.HelmRepositoryKind, Namespace: ns, Name: "migrated"}
	if list, err := store.List(ctx, key); err != nil || len(list) == 0 {
		t.Fatalf("artifacts before: %v, %v", list, err)
	}
	repo.Spec.Type, repo.Spec.URL = sourcev1.HelmRepositoryTypeOCI, "oci://registry.example.com/charts"
	if err := env.Client.Update(ctx, repo); err != nil {
		t.Fatal(err)
	}
	static := func(o *sourcev1.HelmRepository) bool {
		return !controllerutil.ContainsFinalizer(o, sourcev1.SourceFinalizer) && o.Status.Artifact == nil &&
			o.Status.Conditions == nil && o.Status.URL == "" && o.Status.ObservedGeneration == 0
	}
	waitFor(t, repo, "static", static)
	if list, err := store.List(ctx, key); err != nil || len(list) != 0 {
		t.Errorf("artifacts after the move to oci: %v, %v", list, err)
	}
	// The fresh one was reconciled long before the migrated one changed.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(fresh), fresh); err != nil {
		t.Fatal(err)
	}
	if !static(fresh) {
		t.Errorf("fresh OCI repository is not static: finalizers %v, status %+v", fresh.Finalizers, fresh.Status)
	}
}
