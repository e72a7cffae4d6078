package gitrepository

import (
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gitopskit/gitopskit/examples/fluxadapter"
)

// Options tunes SetupWithManager. The zero value runs one reconcile at a time.
type Options = fluxadapter.ControllerOptions

// SetupWithManager registers the reconciler with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts Options) error {
	return fluxadapter.SetupSourceReconciler(mgr, "gitrepository", &sourcev1.GitRepository{}, r, &r.Client, &r.Recorder, opts)
}
