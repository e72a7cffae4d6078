package kustomization_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/internal/testbin"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
`

func TestCommitPruneAndDelete(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, "e2e-sync", map[string]string{
		"apps/settings.yaml": configMap("settings", "env: ${env}\nregion: ${region:=eu}\ngreeting: ${greeting}\n"),
		"apps/extra.yaml":    configMap("extra", "k: v\n"),
		"apps/web.yaml":      deployment,
		"other/ignored.yaml": configMap("not-applied", "k: v\n"),
	})
	if err := env.Client.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "vars", Namespace: f.ns},
		Data:       map[string]string{"greeting": "hello", "env": "overridden-by-spec"},
	}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "e2e-sync-target"}}); err != nil {
		t.Fatal(err)
	}
	first := f.get0()
	f.kustomization("apps", "./apps", func(k *kustomizev1.Kustomization) {
		k.Spec.Wait = true
		k.Spec.TargetNamespace = "e2e-sync-target"
		k.Spec.CommonMetadata = &kustomizev1.CommonMetadata{Labels: map[string]string{"team": "a"}}
		k.Spec.PostBuild = &kustomizev1.PostBuild{
			Substitute: map[string]string{"env": "test"},
			SubstituteFrom: []kustomizev1.SubstituteReference{
				{Kind: "ConfigMap", Name: "vars"},
				{Kind: "Secret", Name: "absent", Optional: true},
			},
		}
	})
	k := f.waitApplied("apps", first)

	var ids []string
	for _, e := range k.Status.Inventory.Entries {
		ids = append(ids, e.ID)
	}
	want := []string{
		"e2e-sync-target_extra__ConfigMap",
		"e2e-sync-target_settings__ConfigMap",
		"e2e-sync-target_web_apps_Deployment",
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "e2e-sync-target", Name: "settings"}, &cm); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"env": "test", "region": "eu", "greeting": "hello"}, cm.Data); diff != "" {
		t.Errorf("substituted data (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{
		"team": "a", "kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": f.ns,
	}, cm.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if c := apimeta.FindStatusCondition(k.Status.Conditions, meta.HealthyCondition); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Healthy condition = %+v, want True", c)
	}
	if k.Status.LastAttemptedRevision != first {
		t.Errorf("lastAttemptedRevision = %q, want %q", k.Status.LastAttemptedRevision, first)
	}

	// A new commit reaches the cluster and the removed manifest is pruned.
	second := f.commit("update settings, drop extra", map[string]string{
		"apps/settings.yaml": configMap("settings", "env: ${env}\nregion: us\ngreeting: ${greeting}\n"),
	}, "apps/extra.yaml")
	k = f.waitApplied("apps", second)
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "e2e-sync-target", Name: "settings"}, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["region"] != "us" {
		t.Errorf("region = %q after the new commit, want us", cm.Data["region"])
	}
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: "e2e-sync-target", Name: "extra"}, &corev1.ConfigMap{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("extra ConfigMap should be pruned, get: %v", err)
	}
	if len(k.Status.Inventory.Entries) != 2 {
		t.Errorf("inventory after prune: %v", k.Status.Inventory.Entries)
	}

	// Deleting the Kustomization (prune: true) deletes its objects.
	if err := env.Client.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	poll(t, 60*time.Second, "objects removed with the Kustomization", func(ctx context.Context) (bool, error) {
		err1 := env.Client.Get(ctx, client.ObjectKey{Namespace: "e2e-sync-target", Name: "settings"}, &corev1.ConfigMap{})
		err2 := env.Client.Get(ctx, client.ObjectKey{Namespace: "e2e-sync-target", Name: "web"}, &appsv1.Deployment{})
		err3 := env.Client.Get(ctx, client.ObjectKeyFromObject(k), &kustomizev1.Kustomization{})
		return apierrors.IsNotFound(err1) && apierrors.IsNotFound(err2) && apierrors.IsNotFound(err3), nil
	})
}

// get0 returns the fleet's current revision.
func (f *fleet) get0() string { return "main@sha1:" + f.repo.Head() }

func TestDependsOnOrder(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, "e2e-deps", map[string]string{
		"infra/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: e2e-deps-apps\n",
		"apps/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: e2e-deps-apps\ndata:\n  k: v\n",
	})
	rev := f.get0()
	// apps needs the namespace infra creates: created first, it must wait.
	f.kustomization("apps", "./apps", func(k *kustomizev1.Kustomization) {
		k.Spec.DependsOn = []kustomizev1.DependencyReference{{Name: "infra"}}
		k.Spec.TargetNamespace = ""
	})
	c := f.waitReady("apps", metav1.ConditionFalse, meta.DependencyNotReadyReason)
	if !strings.Contains(c.Message, "infra") {
		t.Errorf("DependencyNotReady message should name infra: %q", c.Message)
	}
	if k := f.get("apps"); k.Status.Inventory != nil && len(k.Status.Inventory.Entries) > 0 {
		t.Errorf("apps applied before its dependency: %v", k.Status.Inventory.Entries)
	}
	f.kustomization("infra", "./infra", func(k *kustomizev1.Kustomization) {
		k.Spec.Prune = false
		k.Spec.TargetNamespace = ""
	})
	infra := f.waitApplied("infra", rev)
	apps := f.waitApplied("apps", rev)
	ti := apimeta.FindStatusCondition(infra.Status.Conditions, meta.ReadyCondition).LastTransitionTime
	ta := apimeta.FindStatusCondition(apps.Status.Conditions, meta.ReadyCondition).LastTransitionTime
	if ta.Before(&ti) {
		t.Errorf("apps became Ready at %v, before infra at %v", ta, ti)
	}
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: "e2e-deps-apps", Name: "app"}, &cm); err != nil {
		t.Fatal(err)
	}
}

func TestHealthCheckFailureAndRecovery(t *testing.T) {
	f := newFleet(t, "e2e-health", map[string]string{
		"app/state.yaml": configMap("state", "phase: broken\n"),
	})
	f.kustomization("app", "./app", func(k *kustomizev1.Kustomization) {
		k.Spec.Wait = true
		k.Spec.Timeout = &metav1.Duration{Duration: 30 * time.Second}
		k.Spec.RetryInterval = &metav1.Duration{Duration: time.Second}
		k.Spec.HealthCheckExprs = []kustomize.CustomHealthCheck{{
			APIVersion: "v1", Kind: "ConfigMap",
			HealthCheckExpressions: kustomize.HealthCheckExpressions{
				Current: "data.phase == 'ok'",
				Failed:  "data.phase == 'broken'",
			},
		}}
	})
	f.waitReady("app", metav1.ConditionFalse, meta.HealthCheckFailedReason)
	k := f.get("app")
	if c := apimeta.FindStatusCondition(k.Status.Conditions, meta.HealthyCondition); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("Healthy = %+v, want False", c)
	}
	if k.Status.LastAttemptedRevision != f.get0() || k.Status.LastAppliedRevision != "" {
		t.Errorf("attempted %q applied %q", k.Status.LastAttemptedRevision, k.Status.LastAppliedRevision)
	}
	fixed := f.commit("fix", map[string]string{"app/state.yaml": configMap("state", "phase: ok\n")})
	k = f.waitApplied("app", fixed)
	if c := apimeta.FindStatusCondition(k.Status.Conditions, meta.HealthyCondition); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Healthy = %+v, want True after the fix", c)
	}
}

func TestSOPSSecretDecrypted(t *testing.T) {
	ctx := context.Background()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	plain := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n  password: hunter2\n"
	dir := t.TempDir()
	in := filepath.Join(dir, "db.yaml")
	if err := os.WriteFile(in, []byte(plain), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testbin.Tool(t, "sops"), "--encrypt", "--age", id.Recipient().String(),
		"--encrypted-regex", "^(data|stringData)$", in)
	enc, err := cmd.Output()
	if err != nil {
		t.Fatalf("sops --encrypt: %v", err)
	}
	if strings.Contains(string(enc), "hunter2") {
		t.Fatal("sops left the value in clear")
	}
	f := newFleet(t, "e2e-sops", map[string]string{"secrets/db.yaml": string(enc)})
	if err := env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sops-age", Namespace: f.ns},
		Data:       map[string][]byte{"identity.agekey": []byte(id.String())},
	}); err != nil {
		t.Fatal(err)
	}
	f.kustomization("secrets", "./secrets", func(k *kustomizev1.Kustomization) {
		k.Spec.Decryption = &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: "sops-age"}}
	})
	f.waitApplied("secrets", f.get0())
	var s corev1.Secret
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "db"}, &s); err != nil {
		t.Fatal(err)
	}
	if got := string(s.Data["password"]); got != "hunter2" {
		t.Errorf("decrypted password = %q", got)
	}
	if _, ok := s.Annotations["sops"]; ok {
		t.Error("SOPS metadata reached the cluster")
	}

	// Without the key, the build fails and says why.
	f.kustomization("nokey", "./secrets", func(k *kustomizev1.Kustomization) { k.Spec.TargetNamespace = "default" })
	c := f.waitReady("nokey", metav1.ConditionFalse, meta.BuildFailedReason)
	if strings.Contains(c.Message, "hunter2") {
		t.Errorf("message leaks the secret: %q", c.Message)
	}
}

func TestSuspendedLeftAlone(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, "e2e-suspend", map[string]string{"app/cm.yaml": configMap("cm", "v: one\n")})
	f.kustomization("app", "./app", func(k *kustomizev1.Kustomization) { k.Spec.Suspend = true })
	poll(t, 30*time.Second, "finalizer on the suspended Kustomization", func(ctx context.Context) (bool, error) {
		k := f.get("app")
		return len(k.Finalizers) > 0, nil
	})
	if k := f.get("app"); len(k.Status.Conditions) > 0 || k.Status.LastAttemptedRevision != "" {
		t.Errorf("suspended Kustomization was reconciled: %+v", k.Status)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "cm"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("object of a suspended Kustomization exists: %v", err)
	}
	setSuspend := func(v bool) {
		k := f.get("app")
		patch := client.MergeFrom(k.DeepCopy())
		k.Spec.Suspend = v
		if err := env.Client.Patch(ctx, k, patch); err != nil {
			t.Fatal(err)
		}
	}
	setSuspend(false)
	first := f.waitApplied("app", f.get0())
	setSuspend(true)
	poll(t, 10*time.Second, "suspension observed", func(context.Context) (bool, error) {
		return f.get("app").Spec.Suspend, nil
	})
	f.commit("two", map[string]string{"app/cm.yaml": configMap("cm", "v: two\n")})
	time.Sleep(3 * time.Second) // several source polls and enqueue rounds
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "cm"}, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["v"] != "one" {
		t.Errorf("suspended Kustomization applied a new commit: v=%q", cm.Data["v"])
	}
	if k := f.get("app"); k.Status.LastAppliedRevision != first.Status.LastAppliedRevision {
		t.Errorf("lastAppliedRevision moved while suspended: %q", k.Status.LastAppliedRevision)
	}
}

func TestBuildFailures(t *testing.T) {
	f := newFleet(t, "e2e-fail", map[string]string{"app/cm.yaml": configMap("cm", "v: ${missing}\n")})
	tests := []struct {
		name, path, reason string
		mutate             func(*kustomizev1.Kustomization)
	}{
		// Flux checks the path before the build: ArtifactFailed.
		{"missing-path", "./nowhere", meta.ArtifactFailedReason, nil},
		{"path-escaping", "../../../../etc", meta.ArtifactFailedReason, nil},
		{"missing-source", "./app", meta.ArtifactFailedReason, func(k *kustomizev1.Kustomization) { k.Spec.SourceRef.Name = "absent" }},
		{"missing-decryption-secret", "./app", meta.BuildFailedReason, func(k *kustomizev1.Kustomization) {
			k.Spec.Decryption = &kustomizev1.Decryption{Provider: "sops", SecretRef: &meta.LocalObjectReference{Name: "absent"}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.kustomization(tc.name, tc.path, tc.mutate)
			f.waitReady(tc.name, metav1.ConditionFalse, tc.reason)
			if k := f.get(tc.name); !apimeta.IsStatusConditionTrue(k.Status.Conditions, meta.ReconcilingCondition) {
				t.Errorf("a retrying failure keeps Reconciling=True: %+v", k.Status.Conditions)
			}
		})
	}
}
