package helmrelease

import (
	"errors"
	"fmt"
)

// ReleaseStatus is the observed state of a release compared with what its
// HelmRelease asks for, in Flux's terms.
type ReleaseStatus string

// The release statuses of Flux's helm-controller.
const (
	// StatusAbsent: no release in storage, or only an uninstalled one.
	StatusAbsent ReleaseStatus = "Absent"
	// StatusUnmanaged: a release in storage that the object's history
	// does not know (installed by someone else, or changed behind its back).
	StatusUnmanaged ReleaseStatus = "Unmanaged"
	// StatusOutOfSync: the deployed release has another chart, values,
	// post-renderers or common metadata than the object asks for.
	StatusOutOfSync ReleaseStatus = "OutOfSync"
	// StatusDrifted: the cluster's objects differ from the release manifest.
	StatusDrifted ReleaseStatus = "Drifted"
	// StatusLocked: the last release is pending-install, pending-upgrade or
	// pending-rollback (an action was interrupted).
	StatusLocked ReleaseStatus = "Locked"
	// StatusUntested: tests are enabled and the release has not been tested.
	StatusUntested ReleaseStatus = "Untested"
	// StatusInSync: nothing to do.
	StatusInSync ReleaseStatus = "InSync"
	// StatusFailed: the last release failed, or its tests failed and are
	// not ignored.
	StatusFailed ReleaseStatus = "Failed"
)

// Action is the next step for a release.
type Action string

// The steps NextAction may choose.
const (
	// ActionNone: the release is in sync (or drift is only reported).
	ActionNone Action = ""
	// ActionInstall installs the release.
	ActionInstall Action = "install"
	// ActionUpgrade upgrades the release (also adopting an unmanaged one).
	ActionUpgrade Action = "upgrade"
	// ActionTest runs the release's tests.
	ActionTest Action = "test"
	// ActionRollback rolls back to the previous successful release
	// (remediation).
	ActionRollback Action = "rollback"
	// ActionUninstall uninstalls the release (remediation).
	ActionUninstall Action = "uninstall"
	// ActionUnlock marks a stale pending release failed, so that it can be
	// remediated or upgraded.
	ActionUnlock Action = "unlock"
	// ActionCorrectDrift re-applies the release manifest's objects.
	ActionCorrectDrift Action = "correct-drift"
)

// Remediation strategies, as Flux names them.
const (
	StrategyRollback  = "rollback"
	StrategyUninstall = "uninstall"
)

// Drift detection modes, as Flux names them.
const (
	DriftDisabled = "disabled"
	DriftWarn     = "warn"
	DriftEnabled  = "enabled"
)

// Errors of NextAction.
var (
	// ErrRetriesExhausted: the remediation retries are used up (Flux's
	// "exceeded maximum retries").
	ErrRetriesExhausted = errors.New("exceeded maximum retries")
	// ErrMissingRollbackTarget: a rollback is due but the previous release
	// is no longer in storage.
	ErrMissingRollbackTarget = errors.New("missing target release for rollback")
	// ErrUnknownStrategy: a remediation strategy other than rollback or
	// uninstall.
	ErrUnknownStrategy = errors.New("unknown remediation strategy")
	// ErrUnknownStatus: a ReleaseStatus this package does not know.
	ErrUnknownStatus = errors.New("unknown release status")
)

// Remediation is Flux's spec.install.remediation or
// spec.upgrade.remediation.
type Remediation struct {
	// Retries is how many failures are remediated and retried; negative
	// means forever.
	Retries int
	// Strategy is StrategyRollback (the default for upgrades) or
	// StrategyUninstall (always for installs).
	Strategy string
	// RemediateLastFailure remediates the failure that exhausts the
	// retries too; nil means Flux's default (false for installs, Retries > 0
	// for upgrades).
	RemediateLastFailure *bool
	// IgnoreTestFailures overrides spec.test.ignoreFailures for this
	// action; nil means the spec's.
	IgnoreTestFailures *bool
}

// Observation is what NextAction decides on: the observed status and the
// parts of the HelmRelease's spec and status that matter.
type Observation struct {
	// Status is the observed release status.
	Status ReleaseStatus
	// LastAction is the last attempted release action, "install" or
	// "upgrade" (Flux's status.lastAttemptedReleaseAction); it selects the
	// active remediation. Empty means none is active.
	LastAction Action
	// InstallFailures and UpgradeFailures are Flux's failure counters.
	InstallFailures, UpgradeFailures int64
	// Install and Upgrade are the remediation settings.
	Install, Upgrade Remediation
	// RetryOnFailure is set when the active action's strategy is Flux's
	// RetryOnFailure (retry without remediating).
	RetryOnFailure bool
	// Force is set when a forceAt token is pending.
	Force bool
	// DriftMode is DriftDisabled (the default), DriftWarn or DriftEnabled.
	DriftMode string
	// HasRollbackTarget reports a previous successful release still in
	// storage and unmodified.
	HasRollbackTarget bool
}

// Decision is the next step and why.
type Decision struct {
	Action Action
	// Reason explains the choice in a few words.
	Reason string
	// Remediation is set when the action remediates a failure.
	Remediation bool
}

// active returns the remediation of the last attempted action and its
// failure count, as Flux's GetActiveRemediation.
func (o Observation) active() (*Remediation, int64, bool) {
	switch o.LastAction {
	case ActionInstall:
		r := o.Install
		r.Strategy = StrategyUninstall
		return &r, o.InstallFailures, true
	case ActionUpgrade:
		r := o.Upgrade
		if r.Strategy == "" {
			r.Strategy = StrategyRollback
		}
		return &r, o.UpgradeFailures, false
	}
	return nil, 0, false
}

func exhausted(r Remediation, failures int64) bool {
	return r.Retries >= 0 && failures > int64(r.Retries)
}

func remediateLast(r Remediation, install bool) bool {
	if r.RemediateLastFailure != nil {
		return *r.RemediateLastFailure
	}
	return !install && r.Retries > 0
}

// NextAction decides the next step for a release as Flux's helm-controller
// does from the observed status: install when absent (unless the install
// retries are used up and no force is pending), upgrade when unmanaged or
// out of sync (same rule with the upgrade retries), unlock when locked,
// test when untested, correct drift when drifted and drift correction is
// enabled (only report it otherwise), and for a failed release: upgrade
// when RetryOnFailure, when no remediation is active, when the failure
// counter was reset or a force is pending; else remediate (rollback, or
// uninstall) while retries remain or RemediateLastFailure says so.
func NextAction(o Observation) (Decision, error) {
	switch o.Status {
	case StatusInSync:
		if o.Force {
			return Decision{Action: ActionUpgrade, Reason: "force requested for an in-sync release"}, nil
		}
		return Decision{Reason: "release in sync with the desired state"}, nil
	case StatusLocked:
		return Decision{Action: ActionUnlock, Reason: "release locked in a pending state"}, nil
	case StatusAbsent:
		if exhausted(o.Install, o.InstallFailures) && !o.Force {
			return Decision{}, fmt.Errorf("%w: cannot install release", ErrRetriesExhausted)
		}
		return Decision{Action: ActionInstall, Reason: "release not installed"}, nil
	case StatusUnmanaged:
		return Decision{Action: ActionUpgrade, Reason: "release not managed by this object"}, nil
	case StatusOutOfSync:
		if exhausted(o.Upgrade, o.UpgradeFailures) && !o.Force {
			return Decision{}, fmt.Errorf("%w: cannot upgrade release", ErrRetriesExhausted)
		}
		return Decision{Action: ActionUpgrade, Reason: "release out of sync with the desired state"}, nil
	case StatusDrifted:
		if o.DriftMode == DriftEnabled {
			return Decision{Action: ActionCorrectDrift, Reason: "cluster state drifted from the release"}, nil
		}
		return Decision{Reason: "cluster state drifted from the release (correction disabled)"}, nil
	case StatusUntested:
		return Decision{Action: ActionTest, Reason: "release not tested"}, nil
	case StatusFailed:
		if o.RetryOnFailure {
			return Decision{Action: ActionUpgrade, Reason: "retrying the failed release"}, nil
		}
		r, failures, install := o.active()
		if r == nil {
			return Decision{Action: ActionUpgrade, Reason: "no active remediation"}, nil
		}
		if failures <= 0 {
			return Decision{Action: ActionUpgrade, Reason: "release conditions changed since the last failure"}, nil
		}
		if o.Force {
			return Decision{Action: ActionUpgrade, Reason: "force requested for a failed release"}, nil
		}
		if exhausted(*r, failures) && !remediateLast(*r, install) {
			return Decision{}, fmt.Errorf("%w: cannot remediate failed release", ErrRetriesExhausted)
		}
		switch r.Strategy {
		case StrategyRollback:
			if !o.HasRollbackTarget {
				return Decision{}, fmt.Errorf("%w: cannot remediate failed release", ErrMissingRollbackTarget)
			}
			return Decision{Action: ActionRollback, Reason: "remediating the failed release", Remediation: true}, nil
		case StrategyUninstall:
			return Decision{Action: ActionUninstall, Reason: "remediating the failed release", Remediation: true}, nil
		default:
			return Decision{}, fmt.Errorf("%w: %q", ErrUnknownStrategy, r.Strategy)
		}
	default:
		return Decision{}, fmt.Errorf("%w: %q", ErrUnknownStatus, o.Status)
	}
}

// Attempt identifies what a release action was attempted with (Flux's
// status.lastAttempted* fields): the failure counters are reset when any
// of it changes.
type Attempt struct {
	// Generation is the HelmRelease's metadata.generation.
	Generation int64
	// ChartVersion is the chart's version.
	ChartVersion string
	// ValuesDigest is ComposedValues.Digest; an empty last digest is not
	// compared (nothing was recorded).
	ValuesDigest string
}

// ResetFailures reports whether, and why, the failure counters must be
// reset before the next step, as Flux decides: the generation, the chart
// version or the values changed since the last attempt, or a resetAt
// token is pending (resetRequested).
func ResetFailures(last, next Attempt, resetRequested bool) (string, bool) {
	switch {
	case last.Generation != next.Generation:
		return "generation differs from last attempt", true
	case last.ChartVersion != next.ChartVersion:
		return "chart version differs from last attempt", true
	case last.ValuesDigest != "" && last.ValuesDigest != next.ValuesDigest:
		return "values differ from last attempt", true
	case resetRequested:
		return "reset requested through annotation", true
	}
	return "", false
}

// Target is where a release lives: Flux uninstalls the release and installs
// it anew when this changes (the chart name only with the Reinstall chart
// name change strategy, its default).
type Target struct {
	StorageNamespace, Namespace, ReleaseName, ChartName string
}

// TargetChanged reports whether, and why, the release must be uninstalled
// and installed anew: last is what the HelmRelease's status recorded
// (zero when nothing was), next what its spec and chart give now.
// inPlaceChartChange is Flux's chartNameChangeStrategy InPlaceUpdate: a
// new chart name then upgrades the release instead.
func TargetChanged(last, next Target, inPlaceChartChange bool) (string, bool) {
	switch {
	case last.StorageNamespace == "" || last.ReleaseName == "":
		return "", false
	case last.StorageNamespace != next.StorageNamespace:
		return "storage namespace", true
	case last.Namespace != next.Namespace:
		return "release namespace", true
	case last.ReleaseName != ShortenName(next.ReleaseName):
		return "release name", true
	case last.ChartName != next.ChartName && !inPlaceChartChange:
		return "chart name", true
	}
	return "", false
}
