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
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/gitopskit/examples/benchcmd/internal/ctrlcmd"
	"github.com/gitopskit/gitopskit/examples/kustomization"
)

func main() {
	var poll time.Duration
	ctrlcmd.Main("kustomize-controller", 20, func(fs *flag.FlagSet) {
		fs.DurationVar(&poll, "health-poll", time.Second, "interval of health polls")
	}, func(f ctrlcmd.Flags) ctrlcmd.Setup {
		return func(ctx context.Context, mgr ctrl.Manager) error {
			r := &kustomization.Reconciler{PollInterval: poll}
			return r.SetupWithManager(ctx, mgr, kustomization.Options{MaxConcurrentReconciles: f.Concurrency})
		}
	})
}
