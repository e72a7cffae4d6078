// Command kustomize-controller runs the example Kustomization controller
// alone in its own process, the way Flux runs kustomize-controller: the
// fleet benchmark (examples/benchcmd/scale) starts it next to
// source-controller and measures its time and memory. Its executable links
// the Kustomization controller's packages only.
//
// Usage: kustomize-controller -kubeconfig FILE [-concurrency 20]
// [-health-poll 1s] [-requests] [-cpuprofile FILE] [-memprofile FILE]
//
// It prints "ready" on stdout once watching and stops on SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/gitopskit/examples/benchcmd/internal/ctrlcmd"
	"github.com/gitopskit/gitopskit/examples/kustomization"
)

func main() {
	// A flag set of our own: controller-runtime registers -kubeconfig on
	// the global one.
	fs := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	var f ctrlcmd.Flags
	f.Register(fs, 20)
	poll := fs.Duration("health-poll", time.Second, "interval of health polls")
	_ = fs.Parse(os.Args[1:])
	err := ctrlcmd.Run(f, func(ctx context.Context, mgr ctrl.Manager) error {
		r := &kustomization.Reconciler{PollInterval: *poll}
		return r.SetupWithManager(ctx, mgr, kustomization.Options{MaxConcurrentReconciles: f.Concurrency})
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "kustomize-controller:", err)
		os.Exit(1)
	}
}
