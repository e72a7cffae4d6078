// Command source-controller runs the example source controllers
// (GitRepository, OCIRepository, Bucket, HelmRepository and HelmChart) and
// their artifact server in one process of their own, the way Flux runs
// source-controller: the fleet benchmarks start it and measure it for the
// source kinds. Its executable links the source controllers' packages only.
//
// Usage: source-controller -kubeconfig FILE -storage-path DIR
// [-storage-addr 127.0.0.1:0] [-concurrency 10] [-requests]
// [-cpuprofile FILE] [-memprofile FILE]
//
// It prints "ready" on stdout once watching, then the artifact server's
// base URL is in every artifact's URL; it stops on SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/examples/benchcmd/internal/ctrlcmd"
	"github.com/gitopskit/gitopskit/examples/bucket"
	"github.com/gitopskit/gitopskit/examples/gitrepository"
	"github.com/gitopskit/gitopskit/examples/helmchart"
	"github.com/gitopskit/gitopskit/examples/helmrepository"
	"github.com/gitopskit/gitopskit/examples/ocirepository"
	"github.com/gitopskit/gitopskit/source/helm"
)

func main() {
	var dir, addr string
	ctrlcmd.Main("source-controller", 10, func(fs *flag.FlagSet) {
		fs.StringVar(&dir, "storage-path", "", "existing directory of the artifact store (required)")
		fs.StringVar(&addr, "storage-addr", "127.0.0.1:0", "listen address of the artifact server")
	}, func(f ctrlcmd.Flags) ctrlcmd.Setup {
		return func(ctx context.Context, mgr ctrl.Manager) error {
			if dir == "" {
				return errors.New("-storage-path is required")
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("artifact server: %w", err)
			}
			store, err := artifact.NewStore(dir, "http://"+ln.Addr().String())
			if err != nil {
				ln.Close()
				return err
			}
			if err := mgr.Add(&gitrepository.StorageServer{Store: store, Listener: ln}); err != nil {
				ln.Close()
				return err
			}
			n := f.Concurrency
			cache := helm.NewIndexCache(helm.CacheOptions{})
			return errors.Join(
				(&gitrepository.Reconciler{Store: store}).SetupWithManager(mgr, gitrepository.Options{MaxConcurrentReconciles: n}),
				(&ocirepository.Reconciler{Store: store}).SetupWithManager(mgr, ocirepository.Options{MaxConcurrentReconciles: n}),
				(&bucket.Reconciler{Store: store}).SetupWithManager(mgr, bucket.Options{MaxConcurrentReconciles: n}),
				(&helmrepository.Reconciler{Store: store, Cache: cache}).SetupWithManager(mgr, helmrepository.Options{MaxConcurrentReconciles: n}),
				(&helmchart.Reconciler{Store: store, Cache: cache}).SetupWithManager(ctx, mgr, helmchart.Options{MaxConcurrentReconciles: n}),
			)
		}
	})
}
