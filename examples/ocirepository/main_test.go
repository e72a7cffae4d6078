package ocirepository_test

import (
	"context"
	"testing"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/examples/ocirepository"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	sourcetest.Main(m, testenv.Options{NoNodes: true}, &env)
}

// startControllers runs the OCIRepository and Kustomization controllers
// with the storage server in a fresh manager until the test ends, and
// returns the store. configure, if any, adjusts the Reconciler.
func startControllers(t *testing.T, configure ...func(*ocirepository.Reconciler)) *artifact.Store {
	t.Helper()
	return sourcetest.Start(t, env, func(_ context.Context, mgr ctrl.Manager, store *artifact.Store) error {
		r := &ocirepository.Reconciler{Store: store, TempDir: t.TempDir()}
		for _, c := range configure {
			c(r)
		}
		return r.SetupWithManager(mgr, ocirepository.Options{MaxConcurrentReconciles: 2, SkipNameValidation: true})
	}, sourcetest.Kustomization(t))
}

var (
	poll  = sourcetest.Poll
	ready = sourcetest.Ready
)

func namespace(t *testing.T, name string) {
	t.Helper()
	sourcetest.Namespace(t, env, name)
}

// kustomizationFor creates a Kustomization applying the root of the
// source kind/name into its namespace.
func kustomizationFor(t *testing.T, ns, kind, name string) *kustomizev1.Kustomization {
	t.Helper()
	return sourcetest.KustomizationFor(t, env, ns, kind, name)
}
