package bucket_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
)

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  version: %s\n"

// createBucket creates a Bucket reading name from the server, with the
// access keys from the Secret "s3-auth".
func createBucket(t *testing.T, s3 *s3Server, ns, name string, mutate func(*sourcev1.Bucket)) *sourcev1.Bucket {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "s3-auth"}, &corev1.Secret{}); apierrors.IsNotFound(err) {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "s3-auth", Namespace: ns},
			Data:       map[string][]byte{"accesskey": []byte(testAccess), "secretkey": []byte(testSecret)},
		}
		if err := env.Client.Create(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	obj := &sourcev1.Bucket{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.BucketSpec{
			Provider: sourcev1.BucketProviderGeneric, BucketName: name, Endpoint: s3.Endpoint, Region: testRegion,
			Insecure: true, Interval: metav1.Duration{Duration: time.Hour},
			SecretRef: &meta.LocalObjectReference{Name: "s3-auth"},
		},
	}
	if mutate != nil {
		mutate(obj)
	}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// waitFor polls the Bucket until cond holds and returns it.
func waitFor(t *testing.T, obj client.Object, what string, cond func(*sourcev1.Bucket) bool) *sourcev1.Bucket {
	t.Helper()
	var got sourcev1.Bucket
	poll(t, 30*time.Second, what, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &got); err != nil {
			return false, err
		}
		return cond(&got), nil
	})
	return &got
}

func readyNot(rev string) func(*sourcev1.Bucket) bool {
	return func(o *sourcev1.Bucket) bool {
		return o.Status.Artifact != nil && o.Status.Artifact.Revision != rev && ready(o.Status.Conditions) &&
			o.Status.ObservedGeneration == o.Generation
	}
}

// request asks for a reconcile, as `flux reconcile source bucket` does,
// and waits until it is handled.
func request(t *testing.T, obj *sourcev1.Bucket, token string) *sourcev1.Bucket {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur sourcev1.Bucket
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), &cur); err != nil {
			return err
		}
		cur.Annotations = map[string]string{meta.ReconcileRequestAnnotation: token}
		return env.Client.Update(context.Background(), &cur)
	}); err != nil {
		t.Fatal(err)
	}
	return waitFor(t, obj, "reconcile "+token, func(o *sourcev1.Bucket) bool { return o.Status.LastHandledReconcileAt == token })
}

func unpack(t *testing.T, a *meta.Artifact) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "unpacked")
	if _, err := (&artifact.Fetcher{}).Fetch(context.Background(), artifact.Artifact{URL: a.URL, Digest: a.Digest, Revision: a.Revision}, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBucket(t *testing.T) {
	ctx := context.Background()
	store := startControllers(t)
	s3 := startS3(t)
	ns := "bucket-lifecycle"
	namespace(t, ns)
	s3.Put(t, "fleet", map[string]string{
		"apps/app.yaml": strings.ReplaceAll(configMap, "%s", "one"),
		"apps/notes.md": "ignored\n",
		"other/x.yaml":  "outside the prefix\n",
	})
	ignore := "*.md\n"
	obj := createBucket(t, s3, ns, "fleet", func(b *sourcev1.Bucket) { b.Spec.Prefix, b.Spec.Ignore = "apps/", &ignore })
	got := waitFor(t, obj, "ready", readyNot(""))
	first := got.Status.Artifact
	if !strings.HasPrefix(first.Revision, "sha256:") || len(first.Revision) != len("sha256:")+64 {
		t.Errorf("revision %q is not sha256:<hex>", first.Revision)
	}
	if !apimeta.IsStatusConditionTrue(got.Status.Conditions, sourcev1.ArtifactInStorageCondition) {
		t.Errorf("conditions %v: ArtifactInStorage not True", got.Status.Conditions)
	}
	if !strings.Contains(strings.Join(got.Finalizers, ","), sourcev1.SourceFinalizer) {
		t.Errorf("finalizers %v lack %s", got.Finalizers, sourcev1.SourceFinalizer)
	}
	dir := unpack(t, first)
	if b, err := os.ReadFile(filepath.Join(dir, "apps", "app.yaml")); err != nil || !strings.Contains(string(b), "one") {
		t.Errorf("apps/app.yaml: %q, %v", b, err)
	}
	for _, p := range []string{"apps/notes.md", "other/x.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s should not be in the artifact", p)
		}
	}

	// Nothing changed: the same artifact.
	same := request(t, obj, "unchanged")
	if same.Status.Artifact.Revision != first.Revision || same.Status.Artifact.Path != first.Path {
		t.Errorf("unchanged bucket gave a new artifact: %+v", same.Status.Artifact)
	}
	// An object changes: a new revision with the new content.
	s3.Put(t, "fleet", map[string]string{"apps/app.yaml": strings.ReplaceAll(configMap, "%s", "two")})
	request(t, obj, "changed")
	second := waitFor(t, obj, "new revision", readyNot(first.Revision)).Status.Artifact
	if b, err := os.ReadFile(filepath.Join(unpack(t, second), "apps", "app.yaml")); err != nil || !strings.Contains(string(b), "two") {
		t.Errorf("apps/app.yaml after the change: %q, %v", b, err)
	}

	// A wrong secret key is an authentication failure.
	wrong := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "wrong", Namespace: ns},
		Data:       map[string][]byte{"accesskey": []byte(testAccess), "secretkey": []byte("nope")},
	}
	if err := env.Client.Create(ctx, wrong); err != nil {
		t.Fatal(err)
	}
	denied := createBucket(t, s3, ns, "denied", func(b *sourcev1.Bucket) { b.Spec.BucketName, b.Spec.SecretRef.Name = "fleet", "wrong" })
	waitFor(t, denied, "auth failure", func(o *sourcev1.Bucket) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, sourcev1.FetchFailedCondition)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == sourcev1.AuthenticationFailedReason
	})
	// A missing bucket is a BucketOperationFailed fetch failure.
	missing := createBucket(t, s3, ns, "missing", nil)
	waitFor(t, missing, "missing bucket", func(o *sourcev1.Bucket) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, sourcev1.FetchFailedCondition)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == sourcev1.BucketOperationFailedReason &&
			apimeta.IsStatusConditionFalse(o.Status.Conditions, meta.ReadyCondition)
	})
	// A field this controller does not implement stalls, saying so.
	other := createBucket(t, s3, ns, "other", func(b *sourcev1.Bucket) {
		b.Spec.Provider, b.Spec.SecretRef, b.Spec.ServiceAccountName = sourcev1.BucketProviderAmazon, nil, "reader"
	})
	waitFor(t, other, "serviceAccountName stalls", func(o *sourcev1.Bucket) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, meta.StalledCondition)
		return c != nil && c.Status == metav1.ConditionTrue && strings.Contains(c.Message, "not supported yet")
	})

	// Deleting the object removes its artifacts.
	key := artifact.ObjectKey{Kind: sourcev1.BucketKind, Namespace: ns, Name: "fleet"}
	if err := env.Client.Delete(ctx, obj); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "deletion", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &sourcev1.Bucket{})
		return apierrors.IsNotFound(err), nil
	})
	if list, err := store.List(ctx, key); err != nil || len(list) != 0 {
		t.Errorf("artifacts after deletion: %v, %v", list, err)
	}
}

// A Kustomization applies a Bucket's artifact and follows its changes.
func TestKustomizationFromBucket(t *testing.T) {
	ctx := context.Background()
	startControllers(t)
	s3 := startS3(t)
	ns := "bucket-kustomization"
	namespace(t, ns)
	s3.Put(t, "manifests", map[string]string{"app.yaml": strings.ReplaceAll(configMap, "%s", "one")})
	src := createBucket(t, s3, ns, "manifests", nil)
	first := waitFor(t, src, "source", readyNot("")).Status.Artifact.Revision
	k := kustomizationFor(t, ns, sourcev1.BucketKind, "manifests")
	applied := func(rev, version string) {
		t.Helper()
		var got kustomizev1.Kustomization
		poll(t, 60*time.Second, "kustomization applied "+rev, func(ctx context.Context) (bool, error) {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(k), &got); err != nil {
				return false, err
			}
			return ready(got.Status.Conditions) && got.Status.LastAppliedRevision == rev, nil
		})
		if got.Status.LastAppliedOriginRevision != "" {
			t.Errorf("lastAppliedOriginRevision %q for a bucket", got.Status.LastAppliedOriginRevision)
		}
		var cm corev1.ConfigMap
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &cm); err != nil || cm.Data["version"] != version {
			t.Errorf("ConfigMap app: %v, %v", cm.Data, err)
		}
	}
	applied(first, "one")
	s3.Put(t, "manifests", map[string]string{"app.yaml": strings.ReplaceAll(configMap, "%s", "two")})
	request(t, src, "changed")
	applied(waitFor(t, src, "new revision", readyNot(first)).Status.Artifact.Revision, "two")
}
