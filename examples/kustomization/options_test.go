package kustomization_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestOrphanDeletionPolicyAndEvents(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, "e2e-orphan", map[string]string{"app/cm.yaml": configMap("kept", "k: v\n")})
	k := f.kustomization("app", "./app", func(k *kustomizev1.Kustomization) { k.Spec.DeletionPolicy = kustomizev1.DeletionPolicyOrphan })
	rev := f.get0()
	f.waitApplied("app", rev)

	// Events carry Flux's reasons and the revision annotation.
	poll(t, 20*time.Second, "Kustomization events", func(ctx context.Context) (bool, error) {
		var evs eventsv1.EventList
		if err := env.Client.List(ctx, &evs, client.InNamespace(f.ns)); err != nil {
			return false, err
		}
		var progressing, succeeded bool
		for _, e := range evs.Items {
			if e.Regarding.Kind != "Kustomization" || e.ReportingController != "kustomize-controller" ||
				e.Annotations["kustomize.toolkit.fluxcd.io/revision"] != rev {
				continue
			}
			progressing = progressing || (e.Reason == "Progressing" && strings.Contains(e.Note, "ConfigMap/e2e-orphan/kept created"))
			succeeded = succeeded || e.Reason == "ReconciliationSucceeded"
		}
		return progressing && succeeded, nil
	})

	if err := env.Client.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	poll(t, 30*time.Second, "Kustomization deleted", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(k), &kustomizev1.Kustomization{})
		return apierrors.IsNotFound(err), nil
	})
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "kept"}, &corev1.ConfigMap{}); err != nil {
		t.Errorf("deletionPolicy Orphan should keep the objects: %v", err)
	}
}

func TestServiceAccountImpersonation(t *testing.T) {
	f := newFleet(t, "e2e-sa", map[string]string{"app/cm.yaml": configMap("cm", "k: v\n")})
	if err := env.Client.Create(context.Background(), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "tenant", Namespace: f.ns}}); err != nil {
		t.Fatal(err)
	}
	// The service account has no RBAC: the apply is refused with its identity.
	f.kustomization("app", "./app", func(k *kustomizev1.Kustomization) { k.Spec.ServiceAccountName = "tenant" })
	c := f.waitReady("app", metav1.ConditionFalse, meta.ReconciliationFailedReason)
	if !strings.Contains(c.Message, "system:serviceaccount:e2e-sa:tenant") {
		t.Errorf("failure should name the impersonated account: %q", c.Message)
	}
}

func TestMetricsServed(t *testing.T) {
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`controller_runtime_reconcile_total{controller="kustomization"`, `controller_runtime_reconcile_total{controller="gitrepository"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestKubeConfigAndHealthChecks(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, "e2e-remote", map[string]string{"app/web.yaml": deployment, "app/cm.yaml": configMap("cm", "k: v\n")})
	kc, err := os.ReadFile(env.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "remote", Namespace: f.ns},
		Data:       map[string][]byte{"value": kc},
	}); err != nil {
		t.Fatal(err)
	}
	// The cluster is reached through spec.kubeConfig (here: the same one)
	// and only the listed object is health-checked.
	f.kustomization("app", "./app", func(k *kustomizev1.Kustomization) {
		k.Spec.KubeConfig = &meta.KubeConfigReference{SecretRef: &meta.SecretKeyReference{Name: "remote"}}
		k.Spec.HealthChecks = []meta.NamespacedObjectKindReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"}}
	})
	k := f.waitApplied("app", f.get0())
	c := apimeta.FindStatusCondition(k.Status.Conditions, meta.HealthyCondition)
	if c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("Healthy = %+v, want True", c)
	}
	var d appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "web"}, &d); err != nil {
		t.Fatal(err)
	}
	if d.Status.ObservedGeneration != d.Generation {
		t.Errorf("Ready before the Deployment was observed: generation %d, observed %d", d.Generation, d.Status.ObservedGeneration)
	}
}

func TestForceRecreatesImmutable(t *testing.T) {
	ctx := context.Background()
	immutable := func(v string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: frozen\nimmutable: true\ndata:\n  v: " + v + "\n"
	}
	f := newFleet(t, "e2e-force", map[string]string{"a/cm.yaml": immutable("one"), "b/cm.yaml": strings.Replace(immutable("one"), "frozen", "frozen-b", 1)})
	f.kustomization("forced", "./a", func(k *kustomizev1.Kustomization) {
		k.Spec.Force = true
		k.Spec.RetryInterval = &metav1.Duration{Duration: time.Second}
	})
	f.kustomization("plain", "./b", func(k *kustomizev1.Kustomization) {
		k.Spec.RetryInterval = &metav1.Duration{Duration: time.Second}
	})
	f.waitApplied("forced", f.get0())
	f.waitApplied("plain", f.get0())
	rev := f.commit("change immutable data", map[string]string{
		"a/cm.yaml": immutable("two"),
		"b/cm.yaml": strings.Replace(immutable("two"), "frozen", "frozen-b", 1),
	})
	f.waitApplied("forced", rev)
	var cm corev1.ConfigMap
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "frozen"}, &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Data["v"] != "two" {
		t.Errorf("force did not recreate the immutable ConfigMap: v=%q", cm.Data["v"])
	}
	c := f.waitReady("plain", metav1.ConditionFalse, meta.ReconciliationFailedReason)
	if !strings.Contains(c.Message, "immutable") {
		t.Errorf("failure should say the field is immutable: %q", c.Message)
	}
}
