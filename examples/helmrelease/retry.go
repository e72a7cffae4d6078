package helmrelease

import (
	"errors"
	"fmt"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlreconcile "sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/reconcile"
)

// MissingRollbackTargetReason is the Stalled reason of a failed release
// whose rollback remediation is due while status.history holds no
// previous release to roll back to (one installed outside this
// HelmRelease, say), as in Flux.
const MissingRollbackTargetReason = "MissingRollbackTarget"

// ErrRemediated is returned to controller-runtime after a remediation
// (or a release left failed) with retries left, so that its rate limiter
// runs the next attempt with exponential back-off, as Flux's
// helm-controller requeues such a release.
var ErrRemediated = errors.New("release not in sync, retrying")

// retryJitter spreads the RetryOnFailure interval and spec.interval by up
// to ±5%, Flux's default jitter.
const retryJitter = 0.05

// failed returns what a failed reconciliation hands controller-runtime:
// the error itself, so that the rate limiter retries with exponential
// back-off as in Flux, unless a RetryOnFailure strategy is active (its
// retryInterval, jittered) or Reconciler.RetryInterval is set.
//
// Flux waits for retryInterval only when a release action failed and
// backs off on any other error; here an active RetryOnFailure strategy
// also spaces the retries of other failures (an unreachable cluster of
// spec.kubeConfig, say), so that the release comes back within its
// retryInterval once the failure goes away.
func (r *Reconciler) failed(obj *helmv2.HelmRelease, err error) (ctrl.Result, error) {
	if d := r.retryInterval(obj); d > 0 {
		return ctrl.Result{RequeueAfter: d}, nil
	}
	return ctrl.Result{}, err
}

// retryInterval is the jittered retryInterval of an active RetryOnFailure
// strategy, else Reconciler.RetryInterval (0 when unset: back-off).
func (r *Reconciler) retryInterval(obj *helmv2.HelmRelease) time.Duration {
	if rt := obj.GetActiveRetry(false); rt != nil && rt.GetRetryInterval() > 0 {
		return jittered(rt.GetRetryInterval())
	}
	return r.RetryInterval
}

// unsettled answers a reconciliation that ran a remediation, or ended
// with the release not released, the way Flux's helm-controller does:
// an active RetryOnFailure strategy retries after its retryInterval;
// while remediation retries remain (or an upgrade failure was remediated
// by uninstall) the release is requeued with back-off (ErrRemediated, or
// after Reconciler.RetryInterval when set); with the retries used up it
// stalls (RetriesExceeded) and waits for a change of the HelmRelease.
func (r *Reconciler) unsettled(obj *helmv2.HelmRelease, cond reconcile.Conditions) (ctrl.Result, error) {
	msg := "release not ready"
	if c := cond.Get(reconcile.ReadyCondition); c != nil && c.Status == metav1.ConditionFalse {
		msg = c.Message
	}
	if rt := obj.GetActiveRetry(false); rt != nil {
		cond.Set(reconcile.ReconcilingCondition, metav1.ConditionTrue, reconcile.ProgressingWithRetryReason, "retrying after %s", rt.GetRetryInterval())
		return ctrl.Result{RequeueAfter: jittered(rt.GetRetryInterval())}, nil
	}
	rem := obj.GetActiveRemediation()
	if rem == nil || !rem.RetriesExhausted(obj) || rem.IsUninstallAfterUpgrade() {
		cond.Set(reconcile.ReconcilingCondition, metav1.ConditionTrue, reconcile.ProgressingWithRetryReason, "%s", msg)
		if r.RetryInterval > 0 {
			return ctrl.Result{RequeueAfter: r.RetryInterval}, nil
		}
		return ctrl.Result{}, fmt.Errorf("%w: %s", ErrRemediated, msg)
	}
	return r.stall(obj, cond, fmt.Errorf("%w: %s", ErrRemediated, msg))
}

// stall marks a release whose retries are used up Stalled
// (RetriesExceeded), or whose rollback remediation has no previous release
// to roll back to (MissingRollbackTarget), and ends the reconciliation
// with a terminal error: as in Flux, nothing retries it until the
// HelmRelease changes.
func (r *Reconciler) stall(obj *helmv2.HelmRelease, cond reconcile.Conditions, err error) (ctrl.Result, error) {
	if errors.Is(err, helmrelease.ErrMissingRollbackTarget) {
		cond.Stalled(MissingRollbackTargetReason, "Failed to perform remediation: %s", err.Error())
		return ctrl.Result{}, ctrlreconcile.TerminalError(fmt.Errorf("failed to perform remediation: %w", err))
	}
	var count int64
	if rem := obj.GetActiveRemediation(); rem != nil {
		count = rem.GetFailureCount(obj)
	}
	msg := fmt.Sprintf("Failed to %s after %d attempt(s)", obj.Status.LastAttemptedReleaseAction, count)
	cond.Stalled(RetriesExceededReason, "%s: %s", msg, err.Error())
	return ctrl.Result{}, ctrlreconcile.TerminalError(fmt.Errorf("%s: %w", msg, err))
}

// jittered spreads d by up to ±retryJitter.
func jittered(d time.Duration) time.Duration {
	return reconcile.RequeuePolicy{Interval: d, Jitter: retryJitter}.After(0)
}

// durationOr is d, or def when d is not positive.
func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
