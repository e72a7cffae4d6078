package helmrepository_test

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/helmrepository"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	sourcetest.Main(m, testenv.Options{NoNodes: true}, &env)
}

// startControllers runs the HelmRepository controller with the storage
// server in a fresh manager until the test ends, and returns the store.
func startControllers(t *testing.T) *artifact.Store {
	t.Helper()
	return sourcetest.Start(t, env, func(_ context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &helmrepository.Reconciler{Store: store, TempDir: t.TempDir()}
		return r.SetupWithManager(mgr, helmrepository.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	})
}

// waitFor polls obj until cond holds.
func waitFor[T client.Object](t *testing.T, obj T, what string, cond func(T) bool) {
	t.Helper()
	sourcetest.Poll(t, 30*time.Second, what, func(ctx context.Context) (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return false, err
		}
		return cond(obj), nil
	})
}

// secret creates a Secret in ns.
func secret(t *testing.T, ns, name string, data map[string][]byte) {
	t.Helper()
	if err := env.Client.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}); err != nil {
		t.Fatal(err)
	}
}

// request asks for a reconcile of obj with token, as flux reconcile does.
func request(t *testing.T, obj client.Object, token string) {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		obj.SetAnnotations(map[string]string{meta.ReconcileRequestAnnotation: token})
		return env.Client.Update(context.Background(), obj)
	}); err != nil {
		t.Fatal(err)
	}
}
