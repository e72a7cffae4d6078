package gitrepository_test

import (
	"context"
	"os"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/gitrepository"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	sourcetest.Main(m, testenv.Options{}, &env)
}

// startController runs the GitRepository controller with its storage server
// in a fresh manager until the test ends, and returns its store.
func startController(t *testing.T) *artifact.Store {
	t.Helper()
	return sourcetest.Start(t, env, func(_ context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &gitrepository.Reconciler{Store: store, TempDir: t.TempDir()}
		return r.SetupWithManager(mgr, gitrepository.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	})
}

var poll = sourcetest.Poll

func namespace(t *testing.T, name string) {
	t.Helper()
	sourcetest.Namespace(t, env, name)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
