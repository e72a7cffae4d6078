package lockdown_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit/examples/controllers"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

// tenantSA is the controllers' default service account.
const tenantSA = "tenant"

var env *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	scheme, err := fluxscheme.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env, err = testenv.Start(ctx, testenv.Options{FluxCRDs: true, Scheme: scheme, NoControllerManager: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer env.Stop()
	storeDir, err := os.MkdirTemp("", "lockdown-test-store-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(storeDir)
	logf.SetLogger(logr.Discard())
	running, err := controllers.Start(ctx, controllers.Config{
		REST:                      env.Config,
		StoreDir:                  storeDir,
		DependencyRequeueInterval: time.Second,
		HealthPollInterval:        500 * time.Millisecond,
		Lockdown:                  controllers.Lockdown{NoCrossNamespaceRefs: true, DefaultServiceAccount: tenantSA},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := running.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "controllers:", err)
		code = 1
	}
	return code
}

// tenant is one test's namespace, with the default service account, a Git
// repository and a GitRepository "fleet" serving it.
type tenant struct {
	t  *testing.T
	ns string
}

// newTenant creates namespace ns, its default service account and a
// GitRepository of files, and waits for the first artifact.
func newTenant(t *testing.T, ns string, files map[string]string) *tenant {
	t.Helper()
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: tenantSA, Namespace: ns}})
	repo := gittest.NewHTTPServer(t).NewRepo(t, "fleet")
	rev := "main@sha1:" + repo.Commit("initial", files)
	create(t, &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: "fleet", Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{
			URL: repo.URL, Interval: metav1.Duration{Duration: time.Minute},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		},
	})
	poll(t, "GitRepository artifact "+rev, func(ctx context.Context) (bool, error) {
		var gr sourcev1.GitRepository
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "fleet"}, &gr)
		return err == nil && gr.Status.Artifact != nil && gr.Status.Artifact.Revision == rev, err
	})
	return &tenant{t: t, ns: ns}
}

// allowAll grants the default service account every permission in the
// namespace, through a Role (the built-in aggregated roles stay empty
// without kube-controller-manager).
func (tn *tenant) allowAll() {
	tn.t.Helper()
	create(tn.t, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "all", Namespace: tn.ns},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}}},
	})
	create(tn.t, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "all", Namespace: tn.ns},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: tenantSA, Namespace: tn.ns}},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "all"},
	})
}

// clusterAdmin makes the default service account a cluster admin.
func (tn *tenant) clusterAdmin() {
	tn.t.Helper()
	create(tn.t, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: tn.ns + "-cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: tenantSA, Namespace: tn.ns}},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
	})
}

// kustomization creates a Kustomization of the fleet at path, targeting
// the tenant's namespace.
func (tn *tenant) kustomization(name, path string, mutate func(*kustomizev1.Kustomization)) {
	tn.t.Helper()
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: tn.ns},
		Spec: kustomizev1.KustomizationSpec{
			Interval: metav1.Duration{Duration: time.Hour}, Path: path, Prune: true, TargetNamespace: tn.ns,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
		},
	}
	if mutate != nil {
		mutate(k)
	}
	create(tn.t, k)
}

// waitReady waits until the Kustomization's Ready condition has status
// and one of the reasons, and returns the Kustomization.
func (tn *tenant) waitReady(name string, status metav1.ConditionStatus, reasons ...string) *kustomizev1.Kustomization {
	tn.t.Helper()
	var k kustomizev1.Kustomization
	poll(tn.t, fmt.Sprintf("Kustomization %s Ready=%s %v", name, status, reasons), func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: tn.ns, Name: name}, &k); err != nil {
			return false, err
		}
		c := apimeta.FindStatusCondition(k.Status.Conditions, meta.ReadyCondition)
		if c == nil || c.Status != status || k.Status.ObservedGeneration != k.Generation {
			return false, nil
		}
		for _, r := range reasons {
			if c.Reason == r {
				return true, nil
			}
		}
		return false, nil
	})
	return &k
}

// exists reports whether the object is in the cluster.
func exists(t *testing.T, obj client.Object, ns, name string) bool {
	t.Helper()
	err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
	if err != nil && !strings.Contains(err.Error(), "not found") {
		t.Fatal(err)
	}
	return err == nil
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := env.Client.Create(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}

func poll(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func configMap(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  k: v\n", name)
}
