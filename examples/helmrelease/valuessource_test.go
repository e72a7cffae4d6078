package helmrelease_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/gitrepository"
	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

func TestHelmReleaseValuesSourceAnnotations(t *testing.T) {
	hr := func(src, files string) *helmv2.HelmRelease {
		a := map[string]string{}
		if src != "" {
			a[helmrelease.ValuesFromSourceAnnotation] = src
		}
		if files != "" {
			a[helmrelease.ValuesFilesAnnotation] = files
		}
		return &helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "team", Annotations: a}}
	}
	ref, paths, ok, err := helmrelease.ValuesSource(hr("GitRepository/config", " values/a.yaml , b.yaml"))
	if err != nil || !ok || ref.Kind != "GitRepository" || ref.Name != "config" || ref.Namespace != "" ||
		strings.Join(paths, "|") != "values/a.yaml|b.yaml" {
		t.Errorf("got %+v %q %v %v", ref, paths, ok, err)
	}
	if _, _, ok, err := helmrelease.ValuesSource(hr("", "")); ok || err != nil {
		t.Errorf("no annotations: %v %v", ok, err)
	}
	for _, tt := range []struct{ src, files, names string }{
		{"", "a.yaml", helmrelease.ValuesFromSourceAnnotation},
		{"Bucket/b", "", helmrelease.ValuesFilesAnnotation},
		{"HelmRepository/r", "a.yaml", `unknown kind "HelmRepository"`},
		{"GitRepository", "a.yaml", `"GitRepository"`},
		{"GitRepository/Bad_NS/x", "a.yaml", "invalid namespace"},
		{"OCIRepository/x", "a.yaml,,b.yaml", "entry 2"},
	} {
		if _, _, _, err := helmrelease.ValuesSource(hr(tt.src, tt.files)); err == nil || !strings.Contains(err.Error(), tt.names) {
			t.Errorf("%q %q: error %v should name %s", tt.src, tt.files, err, tt.names)
		}
	}
	err = helmrelease.CheckNamespaceRefs(hr("OCIRepository/platform/config", "a.yaml"))
	if !errors.Is(err, reconcile.ErrAccessDenied) || !strings.Contains(err.Error(), "OCIRepository/config") ||
		!strings.Contains(err.Error(), helmrelease.ValuesFromSourceAnnotation) {
		t.Errorf("cross-namespace values source: %v", err)
	}
	if err := helmrelease.CheckNamespaceRefs(hr("OCIRepository/team/config", "a.yaml")); err != nil {
		t.Errorf("same namespace refused: %v", err)
	}
}

// Values files of a GitRepository are merged in order before spec.values
// (a SOPS-encrypted one decrypted with the annotation's keys);
// a new commit upgrades the release (the source's watch, the HelmRelease's
// interval being an hour); a missing file fails with its path.
func TestHelmReleaseValuesFilesFromSource(t *testing.T) {
	startControllers(t)
	sourcetest.Start(t, env, func(_ context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &gitrepository.Reconciler{Store: store, TempDir: t.TempDir()}
		return r.SetupWithManager(mgr, gitrepository.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	})
	ns := "hr-values-files"
	sourcetest.Namespace(t, env, ns)
	valuesChart(t, ns)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	create(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sops-keys", Namespace: ns},
		Data:       map[string][]byte{"identity.agekey": []byte(id.String())},
	})
	repo := gittest.NewHTTPServer(t).NewRepo(t, "config")
	head := repo.Commit("initial", map[string]string{
		"values/one.yaml":    "file: one\napi: {token: one}\n",
		"values/two.yaml":    "file: two\n",
		"values/secret.yaml": sopsEncrypt(t, id, "db:\n  password: s3cr3t-file\n"),
	})
	create(t, &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "config", Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{URL: repo.URL, Interval: metav1.Duration{Duration: time.Second},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"}},
	})
	waitSource := func(rev string) {
		gr := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "config", Namespace: ns}}
		waitFor(t, gr, time.Minute, "GitRepository at "+rev, func(gr *sourcev1.GitRepository) bool {
			return gr.Status.Artifact != nil && gr.Status.Artifact.Revision == rev
		})
	}
	waitSource("main@sha1:" + head)

	annotations := func(files string) map[string]string {
		return map[string]string{helmrelease.ValuesFromSourceAnnotation: "GitRepository/config", helmrelease.ValuesFilesAnnotation: files}
	}
	app := valuesRelease(ns, "app", annotations("values/one.yaml,values/two.yaml"))
	app.Spec.Values = values(t, map[string]any{"api": map[string]any{"token": "inline"}})
	create(t, app)
	missing := valuesRelease(ns, "missing", annotations("values/one.yaml,values/absent.yaml"))
	create(t, missing)
	encAnnotations := annotations("values/one.yaml,values/secret.yaml")
	encAnnotations[helmrelease.ValuesDecryptionSecretAnnotation] = "sops-keys"
	enc := valuesRelease(ns, "enc", encAnnotations)
	create(t, enc)

	cmData := func(name string) map[string]string {
		var cm corev1.ConfigMap
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &cm); err != nil {
			t.Fatal(err)
		}
		return cm.Data
	}
	waitFor(t, app, releaseWait, "app installed", ready(helmv2.InstallSucceededReason, 1))
	if d := cmData("app-values"); d["file"] != "two" || d["token"] != "inline" || d["password"] != "chart" {
		t.Errorf("values: got %v, want file=two (later file wins), token=inline (spec.values win), password=chart", d)
	}

	waitFor(t, missing, time.Minute, "missing refused", condition(meta.ReadyCondition, metav1.ConditionFalse, "InitFailed"))
	if c := apimeta.FindStatusCondition(missing.Status.Conditions, meta.ReadyCondition); !strings.Contains(c.Message, `"values/absent.yaml"`) {
		t.Errorf("the message should name the missing file: %q", c.Message)
	}

	waitFor(t, enc, releaseWait, "enc installed", ready(helmv2.InstallSucceededReason, 1))
	if d := cmData("enc-values"); d["password"] != "s3cr3t-file" || d["file"] != "one" {
		t.Errorf("encrypted values file: got %v, want password decrypted and file=one", d)
	}
	noPlaintext(t, enc, "s3cr3t")

	head = repo.Commit("two", map[string]string{"values/two.yaml": "file: three\n"})
	waitSource("main@sha1:" + head)
	waitFor(t, app, releaseWait, "app upgraded on the new commit", ready(helmv2.UpgradeSucceededReason, 2))
	if d := cmData("app-values"); d["file"] != "three" {
		t.Errorf("after the commit: got %v, want file=three", d)
	}
}
