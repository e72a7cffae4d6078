package lockdown_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/reconcile"
)

// A source or a dependency in another namespace stalls the Kustomization
// with AccessDenied before anything is read; references within the
// namespace, spelt out or not, work.
func TestCrossNamespaceReferencesRefused(t *testing.T) {
	newTenant(t, "ld-shared", map[string]string{"app/cm.yaml": configMap("shared")})
	tn := newTenant(t, "ld-xns", map[string]string{"app/cm.yaml": configMap("own")})
	tn.allowAll()

	tn.kustomization("source", "./app", func(k *kustomizev1.Kustomization) { k.Spec.SourceRef.Namespace = "ld-shared" })
	tn.kustomization("dependency", "./app", func(k *kustomizev1.Kustomization) {
		k.Spec.DependsOn = []kustomizev1.DependencyReference{{Name: "source", Namespace: tn.ns}, {Name: "infra", Namespace: "ld-shared"}}
	})
	tn.kustomization("own", "./app", func(k *kustomizev1.Kustomization) { k.Spec.SourceRef.Namespace = tn.ns })

	for name, want := range map[string]string{
		"source":     `spec.sourceRef: cannot reach GitRepository/fleet in namespace "ld-shared" from namespace "ld-xns"`,
		"dependency": `spec.dependsOn[1]: cannot reach Kustomization/infra in namespace "ld-shared"`,
	} {
		k := tn.waitReady(name, metav1.ConditionFalse, reconcile.AccessDeniedReason)
		ready := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
		if !strings.Contains(ready.Message, want) {
			t.Errorf("%s: message %q, want it to contain %q", name, ready.Message, want)
		}
		if !apimeta.IsStatusConditionTrue(k.Status.Conditions, meta.StalledCondition) {
			t.Errorf("%s: not Stalled: %v", name, k.Status.Conditions)
		}
		if strings.Contains(name, "dependency") && strings.Contains(ready.Message, "spec.dependsOn[0]") {
			t.Errorf("%s: the same-namespace dependency was refused: %q", name, ready.Message)
		}
		if k.Status.LastAttemptedRevision != "" {
			t.Errorf("%s: the source was read (revision %s)", name, k.Status.LastAttemptedRevision)
		}
	}
	tn.waitReady("own", metav1.ConditionTrue, meta.ReconciliationSucceededReason)
	if exists(t, &corev1.ConfigMap{}, tn.ns, "shared") {
		t.Error("the other namespace's source was applied")
	}
}

// Without spec.serviceAccountName the controller applies as the default
// service account, never as itself: refused until that account has RBAC.
func TestDefaultServiceAccount(t *testing.T) {
	tn := newTenant(t, "ld-sa", map[string]string{"app/cm.yaml": configMap("cm")})
	tn.kustomization("app", "./app", nil)
	tn.kustomization("named", "./app", func(k *kustomizev1.Kustomization) { k.Spec.ServiceAccountName = "deployer" })
	for name, user := range map[string]string{"app": "system:serviceaccount:ld-sa:" + tenantSA, "named": "system:serviceaccount:ld-sa:deployer"} {
		k := tn.waitReady(name, metav1.ConditionFalse, meta.ReconciliationFailedReason)
		if msg := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition).Message; !strings.Contains(msg, user) {
			t.Errorf("%s: failure should name %s: %q", name, user, msg)
		}
	}
	if exists(t, &corev1.ConfigMap{}, tn.ns, "cm") {
		t.Fatal("applied without the default service account's permission")
	}
	tn.allowAll()
	requestReconcile(t, tn.ns, "app")
	tn.waitReady("app", metav1.ConditionTrue, meta.ReconciliationSucceededReason)
	var cm corev1.ConfigMap
	if !exists(t, &cm, tn.ns, "cm") {
		t.Fatal("not applied once the default service account may")
	}
}

// A Kustomization with a targetNamespace cannot leave it, even when its
// service account may: objects moved by a patch, cluster-scoped kinds and
// custom kinds the API server maps as cluster-scoped are refused, and
// nothing of the set is applied.
func TestTenantConfinedToTargetNamespace(t *testing.T) {
	installGizmoCRD(t)
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ld-victim"}})
	tn := newTenant(t, "ld-conf", map[string]string{
		"escape/kustomization.yaml": `resources: [kept.yaml, moved.yaml, role.yaml]
patchesJson6902:
- target: {version: v1, kind: ConfigMap, name: moved}
  path: move.yaml
`,
		"escape/move.yaml":  "- op: add\n  path: /metadata/namespace\n  value: ld-victim\n",
		"escape/kept.yaml":  configMap("kept"),
		"escape/moved.yaml": configMap("moved"),
		"escape/role.yaml":  "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: ld-conf-escape\nrules: []\n",
		"gizmo/beside.yaml": configMap("beside"),
		"gizmo/gizmo.yaml":  "apiVersion: lockdown.example.com/v1\nkind: Gizmo\nmetadata:\n  name: ld-conf-gizmo\n",
		"inside/cm.yaml":    configMap("inside"),
	})
	tn.clusterAdmin() // RBAC would let it do anything

	tn.kustomization("escape", "./escape", nil)
	tn.kustomization("gizmo", "./gizmo", nil)
	tn.kustomization("inside", "./inside", nil)
	k := tn.waitReady("escape", metav1.ConditionFalse, meta.BuildFailedReason, meta.ReconciliationFailedReason)
	msg := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition).Message
	for _, want := range []string{"ClusterRole/ld-conf-escape", "ld-victim"} {
		if !strings.Contains(msg, want) {
			t.Errorf("escape: message %q does not name %s", msg, want)
		}
	}
	k = tn.waitReady("gizmo", metav1.ConditionFalse, meta.ReconciliationFailedReason)
	msg = apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition).Message
	if !strings.Contains(msg, "cluster-scoped kind Gizmo.lockdown.example.com is not allowed") {
		t.Errorf("gizmo: message %q", msg)
	}
	tn.waitReady("inside", metav1.ConditionTrue, meta.ReconciliationSucceededReason)
	for _, o := range []struct {
		obj      client.Object
		ns, name string
	}{
		{&corev1.ConfigMap{}, tn.ns, "kept"}, {&corev1.ConfigMap{}, tn.ns, "moved"}, {&corev1.ConfigMap{}, "ld-victim", "moved"},
		{&rbacv1.ClusterRole{}, "", "ld-conf-escape"}, {&corev1.ConfigMap{}, tn.ns, "beside"}, {gizmo(), "", "ld-conf-gizmo"},
	} {
		if exists(t, o.obj, o.ns, o.name) {
			t.Errorf("%T %s/%s was applied", o.obj, o.ns, o.name)
		}
	}
}

// Remote bases are refused by default, before any request is made.
func TestRemoteBasesRefused(t *testing.T) {
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(configMap("remote")))
	}))
	defer srv.Close()
	tn := newTenant(t, "ld-remote", map[string]string{"app/kustomization.yaml": "resources: [" + srv.URL + "/cm.yaml]\n"})
	tn.allowAll()
	tn.kustomization("app", "./app", nil)
	k := tn.waitReady("app", metav1.ConditionFalse, meta.BuildFailedReason)
	t.Log(apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition).Message)
	if n := requests.Load(); n != 0 || exists(t, &corev1.ConfigMap{}, tn.ns, "remote") {
		t.Errorf("remote base fetched (%d requests)", n)
	}
}

func requestReconcile(t *testing.T, ns, name string) {
	t.Helper()
	var k kustomizev1.Kustomization
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &k); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(k.DeepCopy())
	if k.Annotations == nil {
		k.Annotations = map[string]string{}
	}
	k.Annotations[meta.ReconcileRequestAnnotation] = time.Now().Format(time.RFC3339Nano)
	if err := env.Client.Patch(context.Background(), &k, patch); err != nil {
		t.Fatal(err)
	}
}

func gizmo() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("lockdown.example.com/v1")
	u.SetKind("Gizmo")
	return u
}

// installGizmoCRD installs a cluster-scoped custom kind kustomize does not
// know (so a build gives it the target namespace) and waits for it.
func installGizmoCRD(t *testing.T) {
	t.Helper()
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "gizmos.lockdown.example.com"},
		"spec": map[string]any{
			"group": "lockdown.example.com",
			"scope": "Cluster",
			"names": map[string]any{"kind": "Gizmo", "plural": "gizmos", "singular": "gizmo", "listKind": "GizmoList"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	}}
	create(t, crd)
	poll(t, "Gizmo CRD established", func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(crd), crd); err != nil {
			return false, err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
}
