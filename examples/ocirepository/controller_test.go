package ocirepository_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  version: %s\n"

// createRepo creates an OCIRepository of the registry's repository "app"
// with the given reference, authenticated by the Secret "registry-auth".
func createRepo(t *testing.T, ns, name, url string, ref *sourcev1.OCIRepositoryRef, mutate ...func(*sourcev1.OCIRepository)) *sourcev1.OCIRepository {
	t.Helper()
	obj := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.OCIRepositorySpec{
			URL: url, Reference: ref, Insecure: true,
			Interval:  metav1.Duration{Duration: time.Hour},
			SecretRef: &meta.LocalObjectReference{Name: "registry-auth"},
		},
	}
	for _, m := range mutate {
		m(obj)
	}
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// waitFor polls the OCIRepository until cond holds and returns it.
func waitFor(t *testing.T, obj client.Object, what string, cond func(*sourcev1.OCIRepository) bool) *sourcev1.OCIRepository {
	t.Helper()
	var got sourcev1.OCIRepository
	poll(t, 30*time.Second, what, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &got); err != nil {
			return false, err
		}
		return cond(&got), nil
	})
	return &got
}

func readyAt(rev string) func(*sourcev1.OCIRepository) bool {
	return func(o *sourcev1.OCIRepository) bool {
		return o.Status.Artifact != nil && o.Status.Artifact.Revision == rev && ready(o.Status.Conditions) &&
			o.Status.ObservedGeneration == o.Generation
	}
}

func TestOCIRepository(t *testing.T) {
	ctx := context.Background()
	store := startControllers(t)
	ns := "oci-lifecycle"
	namespace(t, ns)
	reg := ocitest.New(t, ocitest.WithBasicAuth("fleet", "s3cret"))
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "registry-auth", Namespace: ns},
		Data:       map[string][]byte{"username": []byte("fleet"), "password": []byte("s3cret")},
	}
	if err := env.Client.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	origin := "main@sha1:" + strings.Repeat("a", 40)
	push := func(tag, version string) oci.PushResult {
		t.Helper()
		res, err := reg.PushFiles(ctx, "app", tag, map[string]string{
			"app.yaml":   strings.ReplaceAll(configMap, "%s", version),
			"README.md":  "not applied\n",
			"extra.yaml": "ignored: true\n",
		}, oci.PushOptions{Source: "https://git.example.com/fleet", Revision: origin})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	v100, v110 := push("v1.0.0", "v1.0.0"), push("v1.1.0", "v1.1.0")
	push("v2.0.0-rc.1", "v2.0.0-rc.1")

	// By tag, with ignore rules: Ready, Flux's revision, the annotations as
	// metadata, the artifact served by the store.
	ignore := "extra.yaml\n"
	byTag := createRepo(t, ns, "by-tag", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1.0.0"},
		func(o *sourcev1.OCIRepository) { o.Spec.Ignore = &ignore })
	got := waitFor(t, byTag, "by tag", readyAt("v1.0.0@"+v100.Digest))
	a := got.Status.Artifact
	if a.Metadata[oci.RevisionAnnotation] != origin || a.Metadata[oci.SourceAnnotation] == "" {
		t.Errorf("artifact metadata %v lacks the OCI annotations", a.Metadata)
	}
	if !apimeta.IsStatusConditionTrue(got.Status.Conditions, sourcev1.ArtifactInStorageCondition) {
		t.Errorf("conditions %v: ArtifactInStorage not True", got.Status.Conditions)
	}
	if got.Status.ObservedIgnore == nil || *got.Status.ObservedIgnore != ignore {
		t.Errorf("observedIgnore %v", got.Status.ObservedIgnore)
	}
	dir := filepath.Join(t.TempDir(), "unpacked")
	if _, err := (&artifact.Fetcher{}).Fetch(ctx, artifact.Artifact{URL: a.URL, Digest: a.Digest, Revision: a.Revision}, dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "app.yaml")); err != nil || !strings.Contains(string(b), "v1.0.0") {
		t.Errorf("app.yaml: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "extra.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("extra.yaml should be ignored, stat: %v", err)
	}

	// A NewArtifact Event names the revision and the origin.
	poll(t, 30*time.Second, "NewArtifact event", func(ctx context.Context) (bool, error) {
		var evs eventsv1.EventList
		if err := env.Client.List(ctx, &evs, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Regarding.Name == "by-tag" && e.Reason == "NewArtifact" && e.ReportingController == "source-controller" &&
				strings.Contains(e.Note, a.Revision) && strings.Contains(e.Note, "origin revision '"+origin+"'") {
				return true, nil
			}
		}
		return false, nil
	})

	// A requested reconcile of an unchanged tag downloads nothing and keeps
	// the artifact.
	reg.ResetRequests()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur sourcev1.OCIRepository
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(byTag), &cur); err != nil {
			return err
		}
		cur.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "now"}
		return env.Client.Update(ctx, &cur)
	}); err != nil {
		t.Fatal(err)
	}
	again := waitFor(t, byTag, "no-op reconcile", func(o *sourcev1.OCIRepository) bool { return o.Status.LastHandledReconcileAt == "now" })
	if again.Status.Artifact.Path != a.Path || !again.Status.Artifact.LastUpdateTime.Equal(&a.LastUpdateTime) {
		t.Errorf("no-op reconcile replaced the artifact: %+v -> %+v", a, again.Status.Artifact)
	}
	for _, r := range reg.Requests() {
		if r.IsBlob() {
			t.Errorf("no-op reconcile downloaded a blob: %s %s", r.Method, r.Path)
		}
	}

	// By semver range (prereleases left out), with a dockerconfigjson
	// Secret, and by digest.
	dockercfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.Host, base64.StdEncoding.EncodeToString([]byte("fleet:s3cret")))
	pull := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: ns},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(dockercfg)},
	}
	if err := env.Client.Create(ctx, pull); err != nil {
		t.Fatal(err)
	}
	bySemver := createRepo(t, ns, "by-semver", reg.URL("app"), &sourcev1.OCIRepositoryRef{SemVer: ">=1.0.0"},
		func(o *sourcev1.OCIRepository) { o.Spec.SecretRef.Name = "pull" })
	waitFor(t, bySemver, "by semver", readyAt("v1.1.0@"+v110.Digest))
	byDigest := createRepo(t, ns, "by-digest", reg.URL("app"), &sourcev1.OCIRepositoryRef{Digest: v100.Digest, Tag: "v1.1.0"})
	waitFor(t, byDigest, "by digest", readyAt(v100.Digest))

	// A tag that does not exist is a fetch failure, retried.
	bad := createRepo(t, ns, "bad-ref", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "nope"})
	waitFor(t, bad, "bad ref", func(o *sourcev1.OCIRepository) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, sourcev1.FetchFailedCondition)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == sourcev1.OCIPullFailedReason &&
			apimeta.IsStatusConditionFalse(o.Status.Conditions, meta.ReadyCondition) && o.Status.Artifact == nil
	})

	// Keyless verification without an identity to match fails, saying so.
	unverified := createRepo(t, ns, "verify", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1.0.0"},
		func(o *sourcev1.OCIRepository) {
			o.Spec.Verify = &sourcev1.OCIRepositoryVerification{Provider: "cosign"}
		})
	waitFor(t, unverified, "keyless without identities fails", func(o *sourcev1.OCIRepository) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, sourcev1.SourceVerifiedCondition)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == sourcev1.VerificationError &&
			strings.Contains(c.Message, "keyless verification needs spec.verify.matchOIDCIdentity") && o.Status.Artifact == nil
	})

	// The notation provider is not implemented: Stalled, saying so.
	notation := createRepo(t, ns, "notation", reg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1.0.0"},
		func(o *sourcev1.OCIRepository) {
			o.Spec.Verify = &sourcev1.OCIRepositoryVerification{Provider: "notation", SecretRef: &meta.LocalObjectReference{Name: "notation"}}
		})
	waitFor(t, notation, "notation stalls", func(o *sourcev1.OCIRepository) bool {
		c := apimeta.FindStatusCondition(o.Status.Conditions, meta.StalledCondition)
		return c != nil && c.Status == metav1.ConditionTrue && strings.Contains(c.Message, "provider 'notation' is not supported yet") &&
			o.Status.ObservedGeneration == o.Generation
	})

	// A registry behind TLS, trusted through certSecretRef.
	tlsReg := ocitest.New(t, ocitest.WithTLS())
	tlsRes, err := tlsReg.PushFiles(ctx, "app", "v1.0.0", map[string]string{"app.yaml": configMap}, oci.PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "registry-ca", Namespace: ns}, Data: map[string][]byte{"ca.crt": tlsReg.CA()}}
	if err := env.Client.Create(ctx, ca); err != nil {
		t.Fatal(err)
	}
	withTLS := createRepo(t, ns, "tls", tlsReg.URL("app"), &sourcev1.OCIRepositoryRef{Tag: "v1.0.0"}, func(o *sourcev1.OCIRepository) {
		o.Spec.Insecure, o.Spec.SecretRef = false, nil
		o.Spec.CertSecretRef = &meta.LocalObjectReference{Name: "registry-ca"}
	})
	waitFor(t, withTLS, "TLS registry", readyAt("v1.0.0@"+tlsRes.Digest))

	// Deleting the object removes its artifacts.
	key := artifact.ObjectKey{Kind: sourcev1.OCIRepositoryKind, Namespace: ns, Name: "by-semver"}
	if list, err := store.List(ctx, key); err != nil || len(list) == 0 {
		t.Fatalf("artifacts of by-semver before deletion: %v, %v", list, err)
	}
	if err := env.Client.Delete(ctx, bySemver); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "deletion", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(bySemver), &sourcev1.OCIRepository{})
		return apierrors.IsNotFound(err), nil
	})
	if list, err := store.List(ctx, key); err != nil || len(list) != 0 {
		t.Errorf("artifacts of by-semver after deletion: %v, %v", list, err)
	}
}

// A Kustomization applies an OCIRepository's artifact and records the
// artifact's origin revision.
func TestKustomizationFromOCIRepository(t *testing.T) {
	ctx := context.Background()
	startControllers(t)
	ns := "oci-kustomization"
	namespace(t, ns)
	reg := ocitest.New(t)
	origin := "main@sha1:" + strings.Repeat("b", 40)
	res, err := reg.PushFiles(ctx, "fleet", "latest", map[string]string{"app.yaml": strings.ReplaceAll(configMap, "%s", "one")},
		oci.PushOptions{Source: "https://git.example.com/fleet", Revision: origin})
	if err != nil {
		t.Fatal(err)
	}
	src := &sourcev1.OCIRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: ns},
		Spec:       sourcev1.OCIRepositorySpec{URL: reg.URL("fleet"), Insecure: true, Interval: metav1.Duration{Duration: time.Hour}},
	}
	if err := env.Client.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	waitFor(t, src, "source", readyAt("latest@"+res.Digest))
	k := kustomizationFor(t, ns, sourcev1.OCIRepositoryKind, "fleet")
	var got kustomizev1.Kustomization
	poll(t, 60*time.Second, "kustomization applied", func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(k), &got); err != nil {
			return false, err
		}
		return ready(got.Status.Conditions) && got.Status.LastAppliedRevision == "latest@"+res.Digest, nil
	})
	if got.Status.LastAppliedOriginRevision != origin {
		t.Errorf("lastAppliedOriginRevision %q, want %q", got.Status.LastAppliedOriginRevision, origin)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app"}, &cm); err != nil || cm.Data["version"] != "one" {
		t.Errorf("ConfigMap app: %v, %v", cm.Data, err)
	}
}
