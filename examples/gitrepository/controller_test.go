package gitrepository_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

func getRepo(ctx context.Context, key client.ObjectKey) (*sourcev1.GitRepository, error) {
	var obj sourcev1.GitRepository
	err := env.Client.Get(ctx, key, &obj)
	return &obj, err
}

func TestArtifactLifecycle(t *testing.T) {
	ctx := context.Background()
	store := startController(t)
	namespace(t, "lifecycle")
	srv := gittest.NewHTTPServer(t, gittest.WithBasicAuth("fleet", "s3cret"))
	repo := srv.NewRepo(t, "fleet")
	first := repo.Commit("first", map[string]string{
		"apps/app.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
		"apps/notes.txt":   "ignored\n",
		"infra/infra.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: infra\n",
		"docs/readme.md":   "hello\n",
	})
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "git-auth", Namespace: "lifecycle"},
		Data:       map[string][]byte{"username": []byte("fleet"), "password": []byte("s3cret")},
	}
	if err := env.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	ignore := "/docs/\n*.txt\n"
	obj := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: "lifecycle"},
		Spec: sourcev1.GitRepositorySpec{
			URL:       repo.URL,
			Interval:  metav1.Duration{Duration: time.Hour},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
			SecretRef: &meta.LocalObjectReference{Name: "git-auth"},
			Ignore:    &ignore,
		},
	}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(obj)
	var got *sourcev1.GitRepository
	waitRevision := func(rev string) {
		t.Helper()
		poll(t, 30*time.Second, "artifact for "+rev, func(ctx context.Context) (bool, error) {
			var err error
			got, err = getRepo(ctx, key)
			if err != nil {
				return false, err
			}
			return got.Status.Artifact != nil && got.Status.Artifact.Revision == rev &&
				apimeta.IsStatusConditionTrue(got.Status.Conditions, meta.ReadyCondition), nil
		})
	}
	waitRevision("main@sha1:" + first)

	if got.Status.ObservedGeneration != got.Generation {
		t.Errorf("observedGeneration %d, generation %d", got.Status.ObservedGeneration, got.Generation)
	}
	if !strings.Contains(strings.Join(got.Finalizers, ","), sourcev1.SourceFinalizer) {
		t.Errorf("finalizers %v lack %s", got.Finalizers, sourcev1.SourceFinalizer)
	}
	type condSummary struct{ Type, Status, Reason string }
	var conds []condSummary
	for _, c := range got.Status.Conditions {
		conds = append(conds, condSummary{c.Type, string(c.Status), c.Reason})
	}
	want := []condSummary{
		{meta.ReadyCondition, "True", meta.SucceededReason},
		{sourcev1.ArtifactInStorageCondition, "True", meta.SucceededReason},
	}
	if diff := cmp.Diff(want, conds); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	a := got.Status.Artifact
	if !strings.HasPrefix(a.URL, store.URLFor("gitrepository/lifecycle/fleet/")) || !strings.HasSuffix(a.URL, ".tar.gz") {
		t.Errorf("artifact URL %q not under the store", a.URL)
	}

	// The artifact downloads over HTTP with the advertised digest and holds
	// the tree minus the ignored paths.
	dir := filepath.Join(t.TempDir(), "unpacked")
	f := &artifact.Fetcher{}
	art := artifact.Artifact{URL: a.URL, Digest: a.Digest, Revision: a.Revision}
	if _, err := f.Fetch(ctx, art, dir); err != nil {
		t.Fatal(err)
	}
	if s := readFile(t, filepath.Join(dir, "apps", "app.yaml")); !strings.Contains(s, "name: app") {
		t.Errorf("apps/app.yaml = %q", s)
	}
	for _, p := range []string{"docs/readme.md", "apps/notes.txt"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s should be ignored, stat: %v", p, err)
		}
	}

	// A new commit is picked up on request; the request token is echoed.
	second := repo.Commit("second", map[string]string{"apps/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app2\n"})
	token := time.Now().Format(time.RFC3339Nano)
	patch := client.MergeFrom(got.DeepCopy())
	got.Annotations = map[string]string{meta.ReconcileRequestAnnotation: token}
	if err := env.Client.Patch(ctx, got, patch); err != nil {
		t.Fatal(err)
	}
	waitRevision("main@sha1:" + second)
	if got.Status.LastHandledReconcileAt != token {
		t.Errorf("lastHandledReconcileAt = %q, want %q", got.Status.LastHandledReconcileAt, token)
	}
	if got.Status.Artifact.Digest == a.Digest {
		t.Error("new commit did not change the artifact digest")
	}
	if !store.Exists(artifact.Artifact{Path: a.Path}) {
		t.Error("previous artifact should be retained (2 records) until its TTL")
	}

	// Events with Flux's reason and the revision annotation.
	poll(t, 10*time.Second, "NewArtifact events", func(ctx context.Context) (bool, error) {
		var evs eventsv1.EventList
		if err := env.Client.List(ctx, &evs, client.InNamespace("lifecycle")); err != nil {
			return false, err
		}
		n := 0
		for _, e := range evs.Items {
			if e.Regarding.Name == "fleet" && e.Reason == "NewArtifact" && e.ReportingController == "source-controller" {
				n++
			}
		}
		return n >= 2, nil
	})

	// Deleting the object removes its artifacts and the finalizer.
	if err := env.Client.Delete(ctx, got); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "object deleted", func(ctx context.Context) (bool, error) {
		_, err := getRepo(ctx, key)
		return apierrors.IsNotFound(err), nil
	})
	if _, err := os.Stat(filepath.Join(store.Root(), "gitrepository", "lifecycle", "fleet")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("artifact directory should be gone after delete, stat: %v", err)
	}
}

func TestFailuresReported(t *testing.T) {
	ctx := context.Background()
	startController(t)
	namespace(t, "failures")
	srv := gittest.NewHTTPServer(t, gittest.WithBasicAuth("fleet", "right"))
	repo := srv.NewRepo(t, "fleet")
	repo.Commit("first", map[string]string{"a.yaml": "a: 1\n"})
	if err := env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "wrong", Namespace: "failures"},
		Data:       map[string][]byte{"username": []byte("fleet"), "password": []byte("wrong")},
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		spec       sourcev1.GitRepositorySpec
		wantReason string
		stalled    bool
	}{
		{"bad-password", sourcev1.GitRepositorySpec{URL: repo.URL, SecretRef: &meta.LocalObjectReference{Name: "wrong"}}, sourcev1.AuthenticationFailedReason, false},
		{"missing-secret", sourcev1.GitRepositorySpec{URL: repo.URL, SecretRef: &meta.LocalObjectReference{Name: "absent"}}, sourcev1.AuthenticationFailedReason, false},
		{"missing-branch", sourcev1.GitRepositorySpec{URL: strings.Replace(repo.URL, "://", "://fleet:right@", 1), Reference: &sourcev1.GitRepositoryRef{Branch: "nope"}}, sourcev1.GitOperationFailedReason, false},
		{"bad-semver", sourcev1.GitRepositorySpec{URL: repo.URL, Reference: &sourcev1.GitRepositoryRef{SemVer: "not a range"}}, sourcev1.GitOperationFailedReason, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Interval = metav1.Duration{Duration: time.Hour}
			obj := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: "failures"}, Spec: tc.spec}
			if err := env.Client.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
			poll(t, 30*time.Second, "Ready=False", func(ctx context.Context) (bool, error) {
				got, err := getRepo(ctx, client.ObjectKeyFromObject(obj))
				if err != nil {
					return false, err
				}
				c := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
				if c == nil || c.Status != metav1.ConditionFalse {
					return false, nil
				}
				if c.Reason != tc.wantReason {
					return false, errors.New("reason " + c.Reason + ": " + c.Message)
				}
				if strings.Contains(c.Message, "right") || strings.Contains(c.Message, "wrong") {
					return false, errors.New("condition message leaks a password: " + c.Message)
				}
				if tc.stalled {
					return apimeta.IsStatusConditionTrue(got.Status.Conditions, meta.StalledCondition) &&
						apimeta.FindStatusCondition(got.Status.Conditions, meta.ReconcilingCondition) == nil, nil
				}
				return apimeta.IsStatusConditionTrue(got.Status.Conditions, meta.ReconcilingCondition) &&
					apimeta.FindStatusCondition(got.Status.Conditions, meta.StalledCondition) == nil, nil
			})
		})
	}
}
