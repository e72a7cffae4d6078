package reconciletest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/internal/testenv"
)

// Options configures Start. The zero value starts etcd and kube-apiserver
// only, with no CRDs: enough for applying, re-applying, diffing and pruning
// any built-in kind.
type Options struct {
	// Workloads also starts kube-controller-manager, kube-scheduler and
	// three kwok-simulated nodes, so workloads get Pods that become Ready
	// and Jobs complete (no container runs). Health waits need it.
	Workloads bool
	// CRDDirs lists directories of CRD manifests to install.
	CRDDirs []string
	// Scheme is used for Env.Client; nil means client-go's scheme plus
	// apiextensions/v1.
	Scheme *runtime.Scheme
}

// Env is a running API server.
type Env struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Client is a direct (uncached) controller-runtime client for Config,
	// with a REST mapper, as reconcile.NewManager wants.
	Client client.Client
	// KubeconfigPath is a kubeconfig file for Config, for CLI tools.
	KubeconfigPath string

	env *testenv.Env
}

// Start starts the control plane described by opts. Call Stop when done.
func Start(ctx context.Context, opts Options) (*Env, error) {
	e, err := testenv.Start(ctx, testenv.Options{
		CRDDirs:             opts.CRDDirs,
		Scheme:              opts.Scheme,
		NoControllerManager: !opts.Workloads,
		NoNodes:             !opts.Workloads,
	})
	if err != nil {
		return nil, err
	}
	return &Env{Config: e.Config, Client: e.Client, KubeconfigPath: e.KubeconfigPath, env: e}, nil
}

// New starts the control plane for tb and stops it when tb's test ends; it
// fails tb (never skips it) when the control plane cannot start.
func New(tb testing.TB, opts Options) *Env {
	tb.Helper()
	e, err := Start(context.Background(), opts)
	if err != nil {
		tb.Fatalf("reconciletest: %v", err)
	}
	tb.Cleanup(func() {
		if err := e.Stop(); err != nil {
			tb.Errorf("reconciletest: stop: %v", err)
		}
	})
	return e
}

// Stop ends every process Start started and removes its files.
func (e *Env) Stop() error { return e.env.Stop() }

// Namespace creates a namespace with a unique name starting with prefix
// and deletes it when tb's test ends, so tests sharing one Env stay apart.
func (e *Env) Namespace(tb testing.TB, prefix string) string {
	tb.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: prefix + "-" + hex.EncodeToString(b[:])}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.Client.Create(ctx, ns); err != nil {
		tb.Fatalf("reconciletest: creating namespace: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = client.IgnoreNotFound(e.Client.Delete(ctx, ns))
	})
	return ns.Name
}
