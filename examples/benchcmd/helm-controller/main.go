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
	"flag"
	"fmt"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/gitopskit/examples/benchcmd/internal/ctrlcmd"
	"github.com/gitopskit/gitopskit/examples/helmrelease"
)

func main() {
	// A flag set of our own: controller-runtime registers -kubeconfig on
	// the global one.
	fs := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	var f ctrlcmd.Flags
	f.Register(fs, 20)
	_ = fs.Parse(os.Args[1:])
	err := ctrlcmd.Run(f, func(ctx context.Context, mgr ctrl.Manager) error {
		return (&helmrelease.Reconciler{}).SetupWithManager(ctx, mgr, helmrelease.Options{MaxConcurrentReconciles: f.Concurrency})
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helm-controller:", err)
		os.Exit(1)
	}
}
