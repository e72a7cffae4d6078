package cluster

import (
	"context"
	"errors"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/reconcile"
)

// Desired is what a HelmRelease asks for and what it recorded of the
// release, for Observe.
type Desired struct {
	// Chart is the chart to release.
	Chart *helmrelease.Chart
	// Values are the composed values and their digest.
	Values helmrelease.ComposedValues
	// KnownRevision is the release revision the HelmRelease's history
	// holds last (0: none, the release is not managed yet).
	KnownRevision int
	// TestEnabled is spec.test.enable; IgnoreTestFailures the effective
	// ignore setting (spec.test.ignoreFailures or the active remediation's).
	TestEnabled, IgnoreTestFailures bool
}

// Observe determines the release status as Flux does, from the release in
// storage and what the HelmRelease recorded: Absent (none, or only
// uninstalled), Locked (pending-*), Unmanaged (a release the history does
// not know), Failed, OutOfSync (chart name, version or values digest
// differ), Untested, Failed on a failed test not ignored, else InSync.
// Drift is not observed here: call Drift on an InSync release when drift
// detection is enabled, and pass StatusDrifted to NextAction when it
// reports changes.
func (c *Client) Observe(ctx context.Context, name string, want Desired) (helmrelease.ReleaseStatus, *Release, error) {
	cur, err := c.Last(ctx, name)
	if errors.Is(err, ErrReleaseNotFound) {
		return helmrelease.StatusAbsent, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	switch {
	case isPending(cur.Status):
		return helmrelease.StatusLocked, cur, nil
	case want.KnownRevision == 0 && cur.Status == "uninstalled":
		return helmrelease.StatusAbsent, cur, nil
	case want.KnownRevision != cur.Revision:
		return helmrelease.StatusUnmanaged, cur, nil
	case cur.Status == "failed":
		return helmrelease.StatusFailed, cur, nil
	case cur.Status == "uninstalled":
		return helmrelease.StatusAbsent, cur, nil
	case cur.Status != "deployed":
		return "", cur, errors.New("cannot determine the state of a release with status " + cur.Status)
	}
	if want.Chart != nil && (cur.ChartName != want.Chart.Name() || cur.ChartVersion != want.Chart.Version()) {
		return helmrelease.StatusOutOfSync, cur, nil
	}
	if cur.ValuesDigest != want.Values.Digest {
		return helmrelease.StatusOutOfSync, cur, nil
	}
	if want.TestEnabled {
		if !cur.Tested() {
			return helmrelease.StatusUntested, cur, nil
		}
		if cur.TestsFailed() && !want.IgnoreTestFailures {
			return helmrelease.StatusFailed, cur, nil
		}
	}
	return helmrelease.StatusInSync, cur, nil
}

func isPending(s string) bool {
	return s == "pending-install" || s == "pending-upgrade" || s == "pending-rollback"
}

// StepOptions are the options of every action a step may run.
type StepOptions struct {
	Install   InstallOptions
	Upgrade   UpgradeOptions
	Test      TestOptions
	Rollback  RollbackOptions
	Uninstall UninstallOptions
	// Drift corrects drift (ActionCorrectDrift) when set; see Drift for
	// what the Manager must be.
	Drift *reconcile.Manager
}

// StepResult is what one step did.
type StepResult struct {
	// Decision is the action chosen and why.
	Decision helmrelease.Decision
	// Release is the release after the action (nil after an uninstall
	// without history).
	Release *Release
	// Corrected lists what drift correction applied.
	Corrected reconcile.ChangeSet
	// Failed reports a failed action (its error is returned too): the
	// caller increments the failure counter of Decision.Action (install or
	// upgrade; a failed test counts against the last attempted action).
	Failed bool
}

// Step runs one step of Flux's release loop: it applies the decision
// helmrelease.NextAction made on obs (observed with Observe) and returns
// the typed result. ActionNone runs nothing; ActionCorrectDrift re-applies
// the drifted objects with StepOptions.Drift.
func (c *Client) Step(ctx context.Context, name string, want Desired, obs helmrelease.Observation, opts StepOptions) (StepResult, error) {
	d, err := helmrelease.NextAction(obs)
	if err != nil {
		return StepResult{}, err
	}
	res := StepResult{Decision: d}
	var rel *Release
	switch d.Action {
	case helmrelease.ActionNone:
		rel, err = c.Last(ctx, name)
		if errors.Is(err, ErrReleaseNotFound) {
			err = nil
		}
		res.Release = rel
		return res, err
	case helmrelease.ActionInstall:
		rel, err = c.Install(ctx, name, want.Chart, want.Values.Values, opts.Install)
	case helmrelease.ActionUpgrade:
		rel, err = c.Upgrade(ctx, name, want.Chart, want.Values.Values, opts.Upgrade)
	case helmrelease.ActionTest:
		rel, err = c.Test(ctx, name, opts.Test)
		if err != nil && want.IgnoreTestFailures && rel != nil && rel.TestsFailed() {
			err = nil
		}
	case helmrelease.ActionRollback:
		rel, err = c.Rollback(ctx, name, opts.Rollback)
	case helmrelease.ActionUninstall:
		rel, err = c.Uninstall(ctx, name, opts.Uninstall)
	case helmrelease.ActionUnlock:
		rel, err = c.Unlock(ctx, name)
	case helmrelease.ActionCorrectDrift:
		if opts.Drift == nil {
			return res, errors.New("cluster: drift correction needs StepOptions.Drift")
		}
		if rel, err = c.Last(ctx, name); err != nil {
			return res, err
		}
		var report DriftReport
		if report, err = c.Drift(ctx, rel, opts.Drift); err == nil {
			res.Corrected, err = c.CorrectDrift(ctx, report, opts.Drift)
		}
	default:
		return res, errors.New("cluster: action " + string(d.Action) + " is not supported by Step")
	}
	res.Release = rel
	res.Failed = err != nil
	return res, err
}
