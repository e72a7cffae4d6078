package benchproc

import (
	"context"
	"os"

	"github.com/go-logr/logr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

// Cluster is what one measurement runs on: the local control plane with
// Flux's CRDs and a scratch directory.
type Cluster struct {
	// Env is the control plane; its client knows Flux's kinds.
	Env *testenv.Env
	// Work is the scratch directory.
	Work string
}

// StartCluster silences controller-runtime's global logger, starts the
// local control plane with Flux's CRDs and creates a scratch directory
// whose name starts with prefix. Close stops and removes both.
func StartCluster(ctx context.Context, prefix string) (*Cluster, error) {
	logf.SetLogger(logr.Discard())
	scheme, err := fluxscheme.New()
	if err != nil {
		return nil, err
	}
	env, err := testenv.Start(ctx, testenv.Options{FluxCRDs: true, Scheme: scheme})
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", prefix)
	if err != nil {
		env.Stop()
		return nil, err
	}
	return &Cluster{Env: env, Work: work}, nil
}

// Close stops the control plane and removes the scratch directory.
func (c *Cluster) Close() {
	c.Env.Stop()
	os.RemoveAll(c.Work)
}
