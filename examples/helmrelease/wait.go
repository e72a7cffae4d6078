package helmrelease

import (
	helmv2 "github.com/fluxcd/helm-controller/api/v2"

	"github.com/gitopskit/gitopskit/helmrelease/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

// HealthChecks maps spec.healthCheckExprs to reconcile's health
// expressions.
func HealthChecks(obj *helmv2.HelmRelease) []reconcile.HealthCheckExpr {
	out := make([]reconcile.HealthCheckExpr, 0, len(obj.Spec.HealthCheckExprs))
	for _, h := range obj.Spec.HealthCheckExprs {
		out = append(out, reconcile.HealthCheckExpr{APIVersion: h.APIVersion, Kind: h.Kind,
			Current: h.Current, InProgress: h.InProgress, Failed: h.Failed})
	}
	return out
}

// withWaitStrategy completes the waits of install, upgrade and rollback
// with spec.waitStrategy (poller, the default, is Helm's kstatus watcher;
// legacy is Helm 3's wait) and, for the poller, spec.healthCheckExprs.
func withWaitStrategy(obj *helmv2.HelmRelease, opts *cluster.StepOptions) {
	legacy := obj.GetWaitStrategy() == helmv2.WaitStrategyLegacy
	var checks []reconcile.HealthCheckExpr
	if !legacy {
		checks = HealthChecks(obj)
	}
	for _, w := range []*cluster.Wait{&opts.Install.Wait, &opts.Upgrade.Wait, &opts.Rollback.Wait} {
		w.Legacy = legacy
		if !w.Disable && len(checks) > 0 {
			w.HealthChecks = checks
		}
	}
}
