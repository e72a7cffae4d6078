package helmrelease_test

import (
	"context"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

// A HelmRelease taking over a release it did not install (its former
// HelmRelease deleted while suspended) whose upgrade fails: the rollback
// remediation has no previous release in status.history to roll back to,
// and the HelmRelease stalls with Flux's reason MissingRollbackTarget, not
// RetriesExceeded, although an upgrade retry is left.
func TestHelmReleaseMissingRollbackTarget(t *testing.T) {
	ctx := context.Background()
	startControllers(t)
	ns := "hr-norollback"
	sourcetest.Namespace(t, env, ns)
	repository(t, ns, "1.2.3")
	chart := &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
		Chart: "app", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
	}}
	former := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 90 * time.Second},
			Chart:    chart,
		},
	}
	create(t, former)
	waitFor(t, former, releaseWait, "installed", ready(helmv2.InstallSucceededReason, 1))
	// Deleted while suspended, it leaves its release in place.
	update(t, former, func(o *helmv2.HelmRelease) { o.Spec.Suspend = true })
	if err := env.Client.Delete(ctx, former); err != nil {
		t.Fatal(err)
	}
	sourcetest.Poll(t, 30*time.Second, "former HelmRelease gone", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(former), &helmv2.HelmRelease{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})

	failing := map[string]any{"hook": map[string]any{"podAnnotations": map[string]any{testenv.FailAnnotation: "no database"}}}
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval:    metav1.Duration{Duration: time.Hour},
			Timeout:     &metav1.Duration{Duration: 90 * time.Second},
			ReleaseName: "web",
			Chart:       chart,
			Upgrade:     &helmv2.Upgrade{Remediation: &helmv2.UpgradeRemediation{Retries: 1}},
			Values:      values(t, failing),
		},
	}
	create(t, hr)
	waitFor(t, hr, releaseWait, "stalled", condition(meta.StalledCondition, metav1.ConditionTrue, helmrelease.MissingRollbackTargetReason))
	stalled := apimeta.FindStatusCondition(hr.Status.Conditions, meta.StalledCondition)
	if !strings.HasPrefix(stalled.Message, "Failed to perform remediation: missing target release for rollback") {
		t.Errorf("Stalled message %q", stalled.Message)
	}
	if !condition(helmv2.ReleasedCondition, metav1.ConditionFalse, helmv2.UpgradeFailedReason)(hr) ||
		!condition(meta.ReadyCondition, metav1.ConditionFalse, helmrelease.MissingRollbackTargetReason)(hr) ||
		hr.Status.UpgradeFailures != 1 || len(hr.Status.History) != 1 || hr.Status.History.Latest().Version != 2 {
		t.Errorf("status %+v", hr.Status)
	}
	event(t, ns, "app", helmv2.UpgradeFailedReason, "Helm upgrade failed for release "+ns+"/web.v2")
}
