package gitrepository_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

// create makes a GitRepository and waits until it is Ready or has failed
// (Ready=False), returning it.
func create(t *testing.T, ns, name string, spec sourcev1.GitRepositorySpec) *sourcev1.GitRepository {
	t.Helper()
	if spec.Reference == nil {
		spec.Reference = &sourcev1.GitRepositoryRef{Branch: "main"}
	}
	if spec.Interval.Duration == 0 {
		spec.Interval = metav1.Duration{Duration: time.Hour}
	}
	obj := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	var got *sourcev1.GitRepository
	poll(t, 30*time.Second, name+" reconciled", func(ctx context.Context) (bool, error) {
		var err error
		got, err = getRepo(ctx, client.ObjectKeyFromObject(obj))
		if err != nil {
			return false, err
		}
		c := apimeta.FindStatusCondition(got.Status.Conditions, meta.ReadyCondition)
		return c != nil && c.Status != metav1.ConditionUnknown && got.Status.ObservedGeneration == got.Generation, nil
	})
	return got
}

// files lists the files of a GitRepository's artifact.
func files(t *testing.T, a *meta.Artifact) []string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "x")
	f := &artifact.Fetcher{}
	if _, err := f.Fetch(context.Background(), artifact.Artifact{URL: a.URL, Digest: a.Digest}, dir); err != nil {
		t.Fatal(err)
	}
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestReferenceKinds(t *testing.T) {
	startController(t)
	namespace(t, "refs")
	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "fleet")
	c1 := repo.Commit("v1", map[string]string{"a/one.yaml": "a: 1\n", "b/two.yaml": "b: 2\n"})
	repo.Tag("v1.0.0")
	c2 := repo.Commit("v1.1", map[string]string{"a/one.yaml": "a: 11\n"})
	repo.Tag("v1.1.0")
	repo.UpdateRef("refs/pull/7/head", c1)
	c3 := repo.Commit("v2", map[string]string{"a/one.yaml": "a: 2\n"})
	repo.Tag("v2.0.0")

	tests := []struct {
		name    string
		ref     sourcev1.GitRepositoryRef
		sparse  []string
		wantRev string
		want    []string
	}{
		{"branch", sourcev1.GitRepositoryRef{Branch: "main"}, nil, "main@sha1:" + c3, []string{"a/one.yaml", "b/two.yaml"}},
		{"tag", sourcev1.GitRepositoryRef{Tag: "v1.0.0"}, nil, "v1.0.0@sha1:" + c1, []string{"a/one.yaml", "b/two.yaml"}},
		{"semver", sourcev1.GitRepositoryRef{SemVer: ">=1.0.0 <2.0.0"}, nil, "v1.1.0@sha1:" + c2, []string{"a/one.yaml", "b/two.yaml"}},
		{"name", sourcev1.GitRepositoryRef{Name: "refs/pull/7/head"}, nil, "refs/pull/7/head@sha1:" + c1, []string{"a/one.yaml", "b/two.yaml"}},
		{"commit", sourcev1.GitRepositoryRef{Commit: c2}, nil, "sha1:" + c2, []string{"a/one.yaml", "b/two.yaml"}},
		{"sparse", sourcev1.GitRepositoryRef{Branch: "main"}, []string{"b"}, "main@sha1:" + c3, []string{"b/two.yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := tc.ref
			got := create(t, "refs", tc.name, sourcev1.GitRepositorySpec{URL: repo.URL, Reference: &ref, SparseCheckout: tc.sparse})
			if !apimeta.IsStatusConditionTrue(got.Status.Conditions, meta.ReadyCondition) {
				t.Fatalf("not Ready: %+v", got.Status.Conditions)
			}
			if got.Status.Artifact.Revision != tc.wantRev {
				t.Errorf("revision %q, want %q", got.Status.Artifact.Revision, tc.wantRev)
			}
			if diff := cmp.Diff(tc.want, files(t, got.Status.Artifact)); diff != "" {
				t.Errorf("artifact files (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoOpWhenUnchanged(t *testing.T) {
	ctx := context.Background()
	startController(t)
	namespace(t, "noop")
	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "fleet")
	repo.Commit("one", map[string]string{"a.yaml": "a: 1\n"})
	got := create(t, "noop", "fleet", sourcev1.GitRepositorySpec{URL: repo.URL})
	before := srv.UploadPacks()
	digest := got.Status.Artifact.Digest

	token := "noop-1"
	patch := client.MergeFrom(got.DeepCopy())
	got.Annotations = map[string]string{meta.ReconcileRequestAnnotation: token}
	if err := env.Client.Patch(ctx, got, patch); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "request handled", func(ctx context.Context) (bool, error) {
		var err error
		got, err = getRepo(ctx, client.ObjectKeyFromObject(got))
		return err == nil && got.Status.LastHandledReconcileAt == token, err
	})
	if after := srv.UploadPacks(); after != before {
		t.Errorf("an unchanged repository was downloaded again: upload-packs %d -> %d", before, after)
	}
	if got.Status.Artifact.Digest != digest || !apimeta.IsStatusConditionTrue(got.Status.Conditions, meta.ReadyCondition) {
		t.Errorf("artifact or readiness changed on a no-op: %+v", got.Status)
	}
}

func TestIncludeAndVerify(t *testing.T) {
	ctx := context.Background()
	startController(t)
	namespace(t, "incver")
	srv := gittest.NewHTTPServer(t)
	lib := srv.NewRepo(t, "lib")
	lib.Commit("lib", map[string]string{"manifests/lib.yaml": "lib: 1\n", "other/x.yaml": "x: 1\n"})
	key := gittest.NewSSHSigningKey(t)
	app := srv.NewRepo(t, "app")
	signed := app.SignedCommit(key, "signed", map[string]string{"app.yaml": "app: 1\n"})

	if err := env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "keys", Namespace: "incver"},
		Data:       map[string][]byte{"author": []byte(key.AuthorizedKey)},
	}); err != nil {
		t.Fatal(err)
	}
	create(t, "incver", "lib", sourcev1.GitRepositorySpec{URL: lib.URL})
	got := create(t, "incver", "app", sourcev1.GitRepositorySpec{
		URL:          app.URL,
		Verification: &sourcev1.GitRepositoryVerification{SecretRef: meta.LocalObjectReference{Name: "keys"}},
		Include: []sourcev1.GitRepositoryInclude{{
			GitRepositoryRef: meta.LocalObjectReference{Name: "lib"}, FromPath: "manifests", ToPath: "vendor/lib",
		}},
	})
	if !apimeta.IsStatusConditionTrue(got.Status.Conditions, meta.ReadyCondition) {
		t.Fatalf("not Ready: %+v", got.Status.Conditions)
	}
	if !apimeta.IsStatusConditionTrue(got.Status.Conditions, sourcev1.SourceVerifiedCondition) {
		t.Errorf("SourceVerified not True: %+v", got.Status.Conditions)
	}
	if got.Status.Artifact.Revision != "main@sha1:"+signed {
		t.Errorf("revision %q, want main@sha1:%s", got.Status.Artifact.Revision, signed)
	}
	if diff := cmp.Diff([]string{"app.yaml", "vendor/lib/lib.yaml"}, files(t, got.Status.Artifact)); diff != "" {
		t.Errorf("artifact files (-want +got):\n%s", diff)
	}
	if len(got.Status.IncludedArtifacts) != 1 {
		t.Errorf("includedArtifacts = %v", got.Status.IncludedArtifacts)
	}

	// An unsigned commit fails verification with Flux's reason.
	unsigned := srv.NewRepo(t, "unsigned")
	unsigned.Commit("unsigned", map[string]string{"a.yaml": "a: 1\n"})
	bad := create(t, "incver", "unsigned", sourcev1.GitRepositorySpec{
		URL:          unsigned.URL,
		Verification: &sourcev1.GitRepositoryVerification{SecretRef: meta.LocalObjectReference{Name: "keys"}},
	})
	c := apimeta.FindStatusCondition(bad.Status.Conditions, sourcev1.SourceVerifiedCondition)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != "InvalidCommitSignature" {
		t.Errorf("SourceVerified = %+v, want False/InvalidCommitSignature", c)
	}
	if bad.Status.Artifact != nil {
		t.Error("an unverified commit produced an artifact")
	}
}
