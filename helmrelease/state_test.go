package helmrelease_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/helmrelease"
)

func ptr[T any](v T) *T { return &v }

// TestNextAction is Flux's state machine as a table.
func TestNextAction(t *testing.T) {
	type o = helmrelease.Observation
	tests := []struct {
		name  string
		obs   o
		want  helmrelease.Action
		remed bool
		errIs error
	}{
		{"in sync", o{Status: helmrelease.StatusInSync}, helmrelease.ActionNone, false, nil},
		{"in sync, forced", o{Status: helmrelease.StatusInSync, Force: true}, helmrelease.ActionUpgrade, false, nil},
		{"locked", o{Status: helmrelease.StatusLocked}, helmrelease.ActionUnlock, false, nil},
		{"absent", o{Status: helmrelease.StatusAbsent}, helmrelease.ActionInstall, false, nil},
		{"absent, install retried within retries", o{Status: helmrelease.StatusAbsent, InstallFailures: 2, Install: helmrelease.Remediation{Retries: 2}}, helmrelease.ActionInstall, false, nil},
		{"absent, install retries exhausted", o{Status: helmrelease.StatusAbsent, InstallFailures: 1}, "", false, helmrelease.ErrRetriesExhausted},
		{"absent, retries exhausted but forced", o{Status: helmrelease.StatusAbsent, InstallFailures: 1, Force: true}, helmrelease.ActionInstall, false, nil},
		{"absent, retries forever", o{Status: helmrelease.StatusAbsent, InstallFailures: 99, Install: helmrelease.Remediation{Retries: -1}}, helmrelease.ActionInstall, false, nil},
		{"unmanaged", o{Status: helmrelease.StatusUnmanaged, UpgradeFailures: 9}, helmrelease.ActionUpgrade, false, nil},
		{"out of sync", o{Status: helmrelease.StatusOutOfSync}, helmrelease.ActionUpgrade, false, nil},
		{"out of sync, upgrade retries exhausted", o{Status: helmrelease.StatusOutOfSync, UpgradeFailures: 1}, "", false, helmrelease.ErrRetriesExhausted},
		{"drifted, warn", o{Status: helmrelease.StatusDrifted, DriftMode: helmrelease.DriftWarn}, helmrelease.ActionNone, false, nil},
		{"drifted, enabled", o{Status: helmrelease.StatusDrifted, DriftMode: helmrelease.DriftEnabled}, helmrelease.ActionCorrectDrift, false, nil},
		{"untested", o{Status: helmrelease.StatusUntested}, helmrelease.ActionTest, false, nil},
		{"failed, retry on failure", o{Status: helmrelease.StatusFailed, RetryOnFailure: true, LastAction: helmrelease.ActionUpgrade, UpgradeFailures: 5}, helmrelease.ActionUpgrade, false, nil},
		{"failed, no active remediation", o{Status: helmrelease.StatusFailed, UpgradeFailures: 3}, helmrelease.ActionUpgrade, false, nil},
		{"failed, counters reset", o{Status: helmrelease.StatusFailed, LastAction: helmrelease.ActionUpgrade}, helmrelease.ActionUpgrade, false, nil},
		{"failed upgrade, rollback", o{Status: helmrelease.StatusFailed, LastAction: helmrelease.ActionUpgrade, UpgradeFailures: 1, Upgrade: helmrelease.Remediation{Retries: 1}, HasRollbackTarget: true}, helmrelease.ActionRollback, true, nil},
		{"failed upgrade, forced", o{Status: helmrelease.StatusFailed, LastAction: helmrelease.ActionUpgrade, UpgradeFailures: 1, Force: true}, helmrelease.ActionUpgrade, false, nil},
		{"failed upgrade, rollback target gone", o{Status: helmrelease.StatusFailed, LastAction: helmrelease.ActionUpgrade, UpgradeFailures: 1, Upgrade: helmrelease.Remediation{Retries: 1}}, "", false, helmrelease.ErrMissingRollbackTarget},
		{"failed upgrade, uninstall strategy", o{Status: helmrelease.StatusFailed, LastAction: helmrelease.ActionUpgrade, UpgradeFailures: 1, Upgrade: helmrelease.Remediation{Retries: 3, Strategy: helmrelease.StrategyUninstall}}, helmrelease.ActionUninstall, true, nil},
		{"failed upgrade, retries exhausted, last failure remediated by default", o{Status: helmrelease.StatusFailed, LastAction: helmrelease.ActionUpgrade, UpgradeFailures: 3, Upgrade: helmrelease.Remediation{Retries: 2}, HasRollbackTarget: true}, helmrelease.ActionRollback, true, nil},
		{"failed upgrade, retries exhausted, last failure kept", o{Status: helmrelease.StatusFailed, LastAction: helmrelease.ActionUpgrade, UpgradeFailures: 3, Upgrade: helmrelease.Remediation{Retries: 2, RemediateLastFailure: ptr(false)}, HasRollbackTarget: true}, "", false, helmrelease.ErrRetriesExhausted},
		{"failed upgrade, zero retries", o{Status: helmrelease.StatusFailed, LastAction: helmrelease.ActionUpgrade, UpgradeFailures: 1, HasRollbackTarget: true}, "", false, helmrelease.ErrRetriesExhausted},
		{"failed install, uninstall whatever the strategy", o{Status: helmrelease.StatusFailed, LastAction: helmrelease.ActionInstall, InstallFailures: 1, Install: helmrelease.Remediation{Retries: 1, Strategy: helmrelease.StrategyRollback}}, helmrelease.ActionUninstall, true, nil},
		{"failed install, retries exhausted", o{Status: helmrelease.StatusFailed, LastAction: helmrelease.ActionInstall, InstallFailures: 2, Install: helmrelease.Remediation{Retries: 1}}, "", false, helmrelease.ErrRetriesExhausted},
		{"failed install, remediate last failure", o{Status: helmrelease.StatusFailed, LastAction: helmrelease.ActionInstall, InstallFailures: 2, Install: helmrelease.Remediation{Retries: 1, RemediateLastFailure: ptr(true)}}, helmrelease.ActionUninstall, true, nil},
		{"failed, unknown strategy", o{Status: helmrelease.StatusFailed, LastAction: helmrelease.ActionUpgrade, UpgradeFailures: 1, Upgrade: helmrelease.Remediation{Retries: 1, Strategy: "pray"}}, "", false, helmrelease.ErrUnknownStrategy},
		{"unknown status", o{Status: "Weird"}, "", false, helmrelease.ErrUnknownStatus},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := helmrelease.NextAction(tt.obs)
			if tt.errIs != nil {
				if !errors.Is(err, tt.errIs) {
					t.Fatalf("error %v, want %v", err, tt.errIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != tt.want || d.Remediation != tt.remed {
				t.Errorf("got %+v, want action %q remediation %v", d, tt.want, tt.remed)
			}
			if d.Reason == "" {
				t.Error("no reason")
			}
		})
	}
}

func TestResetFailures(t *testing.T) {
	a := helmrelease.Attempt{Generation: 1, ChartVersion: "1.0.0", ValuesDigest: "sha256:a"}
	tests := []struct {
		last, next helmrelease.Attempt
		reset      bool
		want       string
	}{
		{a, a, false, ""},
		{a, a, true, "reset requested through annotation"},
		{a, helmrelease.Attempt{Generation: 2, ChartVersion: "1.0.0", ValuesDigest: "sha256:a"}, false, "generation differs from last attempt"},
		{a, helmrelease.Attempt{Generation: 1, ChartVersion: "1.0.1", ValuesDigest: "sha256:a"}, false, "chart version differs from last attempt"},
		{a, helmrelease.Attempt{Generation: 1, ChartVersion: "1.0.0", ValuesDigest: "sha256:b"}, false, "values differ from last attempt"},
		{helmrelease.Attempt{Generation: 1, ChartVersion: "1.0.0"}, a, false, ""},
	}
	for _, tt := range tests {
		got, ok := helmrelease.ResetFailures(tt.last, tt.next, tt.reset)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%+v → %+v reset=%v: %q %v, want %q", tt.last, tt.next, tt.reset, got, ok, tt.want)
		}
	}
}

func TestTargetChanged(t *testing.T) {
	long := strings.Repeat("n", 60)
	last := helmrelease.Target{StorageNamespace: "flux", Namespace: "apps", ReleaseName: helmrelease.ShortenName(long), ChartName: "app"}
	tests := []struct {
		next    helmrelease.Target
		inPlace bool
		want    string
	}{
		{helmrelease.Target{StorageNamespace: "flux", Namespace: "apps", ReleaseName: long, ChartName: "app"}, false, ""},
		{helmrelease.Target{StorageNamespace: "other", Namespace: "apps", ReleaseName: long, ChartName: "app"}, false, "storage namespace"},
		{helmrelease.Target{StorageNamespace: "flux", Namespace: "web", ReleaseName: long, ChartName: "app"}, false, "release namespace"},
		{helmrelease.Target{StorageNamespace: "flux", Namespace: "apps", ReleaseName: "short", ChartName: "app"}, false, "release name"},
		{helmrelease.Target{StorageNamespace: "flux", Namespace: "apps", ReleaseName: long, ChartName: "app2"}, false, "chart name"},
		{helmrelease.Target{StorageNamespace: "flux", Namespace: "apps", ReleaseName: long, ChartName: "app2"}, true, ""},
	}
	for _, tt := range tests {
		got, ok := helmrelease.TargetChanged(last, tt.next, tt.inPlace)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%+v inPlace=%v: %q %v, want %q", tt.next, tt.inPlace, got, ok, tt.want)
		}
	}
	if _, ok := helmrelease.TargetChanged(helmrelease.Target{}, last, false); ok {
		t.Error("nothing recorded yet, yet a target change")
	}
}
