package sourcetest

import (
	"context"
	"net"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/examples/gitrepository"
	"github.com/gitopskit/gitopskit/examples/kustomization"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

// Main runs the package's tests against a control plane with Flux's CRDs
// and scheme, started with opts otherwise (testenv.Main), and stores it in
// *env for the tests. Call it from TestMain.
func Main(m *testing.M, opts testenv.Options, env **testenv.Env) {
	scheme, err := fluxscheme.New()
	if err != nil {
		panic(err)
	}
	opts.FluxCRDs, opts.Scheme = true, scheme
	testenv.Main(m, opts, env)
}

// Setup registers a controller with mgr; ctx ends when the manager stops,
// and store is the artifact store the storage server serves.
type Setup func(ctx context.Context, mgr ctrl.Manager, store *artifact.Store) error

// Start runs a fresh manager on env with the storage server of a new
// artifact store and the controllers of setups until the test ends, and
// returns the store.
func Start(t *testing.T, env *testenv.Env, setups ...Setup) *artifact.Store {
	t.Helper()
	scheme, err := fluxscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	store, err := artifact.NewStore(t.TempDir(), "http://"+ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Add(&gitrepository.StorageServer{Store: store, Listener: ln}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	for _, setup := range setups {
		if err := setup(ctx, mgr, store); err != nil {
			cancel()
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
	return store
}

// Kustomization returns the Setup of the Kustomization controller, two
// reconciles at a time, with a temporary directory of t.
func Kustomization(t *testing.T) Setup {
	return func(ctx context.Context, mgr ctrl.Manager, _ *artifact.Store) error {
		kr := &kustomization.Reconciler{TempDir: t.TempDir()}
		return kr.SetupWithManager(ctx, mgr, kustomization.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	}
}

// Poll calls cond every 100ms until it returns true, and fails the test
// with what when it returns an error or timeout passes first.
func Poll(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, cond); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Namespace creates the namespace name in env.
func Namespace(t *testing.T, env *testenv.Env, name string) {
	t.Helper()
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// KustomizationFor creates in env a Kustomization applying the root of
// the source kind/name into its namespace ns, with pruning.
func KustomizationFor(t *testing.T, env *testenv.Env, ns, kind, name string) *kustomizev1.Kustomization {
	t.Helper()
	k := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kustomizev1.KustomizationSpec{
			Interval:        metav1.Duration{Duration: time.Hour},
			Path:            "./",
			Prune:           true,
			TargetNamespace: ns,
			SourceRef:       kustomizev1.CrossNamespaceSourceReference{Kind: kind, Name: name},
		},
	}
	if err := env.Client.Create(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return k
}

// Ready reports whether conds hold a Ready condition that is True.
func Ready(conds []metav1.Condition) bool {
	return apimeta.IsStatusConditionTrue(conds, meta.ReadyCondition)
}
