// Command helm-controller runs the example HelmRelease controller alone in
// its own process, the way Flux runs helm-controller: the fleet benchmark
// (examples/benchcmd/helmscale) starts it next to source-controller and
// measures its time and memory. Its executable links the HelmRelease
// controller's packages only.
//
// Usage: helm-controller -kubeconfig FILE [-concurrency 20] [-requests]
// [-cpuprofile FILE] [-memprofile FILE]
//
// It prints "ready" on stdout once watching and stops on SIGTERM.
package main

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/gitopskit/examples/benchcmd/internal/ctrlcmd"
	"github.com/gitopskit/gitopskit/examples/helmrelease"
)

func main() {
	ctrlcmd.Main("helm-controller", 20, nil, func(f ctrlcmd.Flags) ctrlcmd.Setup {
		return func(ctx context.Context, mgr ctrl.Manager) error {
			return (&helmrelease.Reconciler{}).SetupWithManager(ctx, mgr, helmrelease.Options{MaxConcurrentReconciles: f.Concurrency})
		}
	})
}
