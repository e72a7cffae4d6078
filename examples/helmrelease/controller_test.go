package helmrelease_test

import (
	"context"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/helmrelease"
	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

const releaseWait = 3 * time.Minute

// A HelmRelease with a chart template: the HelmChart it creates is pulled
// from the HelmRepository, the release installed (CRD, pre-install hook Job
// completed on kwok nodes, Deployment available) and tested; a values
// change in a valuesFrom ConfigMap upgrades it; a failing pre-upgrade hook
// fails the upgrade, which is remediated by rollback and counted; fixing
// the values resets the counter and upgrades; a suspended HelmRelease does
// nothing; deleting it uninstalls the release and deletes its HelmChart.
func TestHelmReleaseLifecycle(t *testing.T) {
	ctx := context.Background()
	startControllers(t)
	ns := "hr-lifecycle"
	sourcetest.Namespace(t, env, ns)
	repository(t, ns, "1.2.3")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-values", Namespace: ns},
		Data: map[string]string{"values.yaml": "config:\n  greeting: hello from a ConfigMap\n"}}
	create(t, cm)
	one := 1
	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: helmv2.HelmReleaseSpec{
			Interval: metav1.Duration{Duration: time.Hour},
			Timeout:  &metav1.Duration{Duration: 90 * time.Second},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "app", Version: "1.x",
				SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
			}},
			ValuesFrom: []helmv2.ValuesReference{{Kind: "ConfigMap", Name: "web-values"}},
			Values:     values(t, map[string]any{"replicaCount": 2}),
			Test:       &helmv2.Test{Enable: true},
			Upgrade:    &helmv2.Upgrade{Remediation: &helmv2.UpgradeRemediation{Retries: one}},
		},
	}
	create(t, hr)

	// Install and test.
	waitFor(t, hr, releaseWait, "installed and tested", ready(helmv2.TestSucceededReason, 1))
	if !condition(helmv2.ReleasedCondition, metav1.ConditionTrue, helmv2.InstallSucceededReason)(hr) ||
		!condition(helmv2.TestSuccessCondition, metav1.ConditionTrue, helmv2.TestSucceededReason)(hr) {
		t.Errorf("conditions %+v", hr.Status.Conditions)
	}
	snap := hr.Status.History.Latest()
	if len(hr.Status.History) != 1 || snap.Name != "web" || snap.Namespace != ns || snap.Status != "deployed" ||
		snap.ChartName != "app" || snap.ChartVersion != "1.2.3" || snap.AppVersion != "4.5.6" || !snap.HasBeenTested() ||
		snap.ConfigDigest != hr.Status.LastAttemptedConfigDigest || snap.Action != helmv2.ReleaseActionInstall {
		t.Errorf("history %+v", hr.Status.History)
	}
	if hr.Status.HelmChart != ns+"/"+ns+"-web" || hr.Status.StorageNamespace != ns || hr.Status.LastAttemptedRevision != "1.2.3" ||
		hr.Status.LastAttemptedGeneration != hr.Generation || hr.Status.LastAttemptedReleaseAction != helmv2.ReleaseActionInstall ||
		hr.Status.InstallFailures != 0 || hr.Status.ObservedGeneration != hr.Generation {
		t.Errorf("status %+v", hr.Status)
	}
	var hc sourcev1.HelmChart
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: ns + "-web"}, &hc); err != nil || hc.Spec.Chart != "app" || hc.Spec.Version != "1.x" {
		t.Errorf("HelmChart %+v: %v", hc.Spec, err)
	}
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: ns}}
	waitFor(t, deploy, 10*time.Second, "Deployment", func(d *appsv1.Deployment) bool {
		return *d.Spec.Replicas == 2 && d.Status.AvailableReplicas == 2 && d.Labels[helmv2.GroupVersion.Group+"/name"] == "web"
	})
	appCM := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "web-app", Namespace: ns}}
	waitFor(t, appCM, 10*time.Second, "values from the ConfigMap", func(c *corev1.ConfigMap) bool { return c.Data["greeting"] == "hello from a ConfigMap" })
	ev := event(t, ns, "web", helmv2.InstallSucceededReason, "Helm install succeeded for release "+ns+"/web.v1 with chart app@1.2.3")
	if ev.Annotations[helmrelease.RevisionAnnotation] != "1.2.3" || ev.Annotations[helmrelease.AppVersionAnnotation] != "4.5.6" {
		t.Errorf("event annotations %v", ev.Annotations)
	}
	event(t, ns, "web", helmv2.TestSucceededReason, "Helm test succeeded for release "+ns+"/web.v1")

	// A values change in the ConfigMap, picked up on request.
	update(t, cm, func(c *corev1.ConfigMap) { c.Data["values.yaml"] = "config:\n  greeting: hola\n" })
	update(t, hr, func(o *helmv2.HelmRelease) {
		o.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "values"}
	})
	waitFor(t, hr, releaseWait, "upgraded on a values change", ready(helmv2.TestSucceededReason, 2))
	if !condition(helmv2.ReleasedCondition, metav1.ConditionTrue, helmv2.UpgradeSucceededReason)(hr) || hr.Status.LastHandledReconcileAt != "values" {
		t.Errorf("status %+v", hr.Status)
	}
	waitFor(t, appCM, 10*time.Second, "upgraded ConfigMap", func(c *corev1.ConfigMap) bool { return c.Data["greeting"] == "hola" })

	// A failing pre-upgrade hook: the upgrade fails and is rolled back.
	update(t, hr, func(o *helmv2.HelmRelease) {
		o.Spec.Values = values(t, map[string]any{"replicaCount": 3, "hook": map[string]any{"podAnnotations": map[string]any{testenv.FailAnnotation: "migration failed"}}})
	})
	waitFor(t, hr, releaseWait, "rolled back", condition(helmv2.RemediatedCondition, metav1.ConditionTrue, helmv2.RollbackSucceededReason))
	if !condition(helmv2.ReleasedCondition, metav1.ConditionFalse, helmv2.UpgradeFailedReason)(hr) ||
		!condition(meta.ReadyCondition, metav1.ConditionFalse, helmv2.RollbackSucceededReason)(hr) ||
		hr.Status.UpgradeFailures != 1 || hr.Status.Failures != 1 || hr.Status.LastAttemptedReleaseAction != helmv2.ReleaseActionUpgrade {
		t.Errorf("status %+v", hr.Status)
	}
	if l := hr.Status.History.Latest(); l.Version != 4 || l.Status != "deployed" || len(hr.Status.History) < 2 {
		t.Errorf("history %+v", hr.Status.History)
	}
	event(t, ns, "web", helmv2.UpgradeFailedReason, "Helm upgrade failed for release "+ns+"/web.v3")
	event(t, ns, "web", helmv2.RollbackSucceededReason, "Helm rollback to previous release "+ns+"/web.v4")
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(deploy), deploy); err != nil || *deploy.Spec.Replicas != 2 {
		t.Errorf("rolled back Deployment: %v", err)
	}

	// Fixed values: the counter is reset and the upgrade succeeds.
	update(t, hr, func(o *helmv2.HelmRelease) { o.Spec.Values = values(t, map[string]any{"replicaCount": 3}) })
	waitFor(t, hr, releaseWait, "upgraded after the fix", ready(helmv2.TestSucceededReason, 5))
	if hr.Status.UpgradeFailures != 0 || apimeta.FindStatusCondition(hr.Status.Conditions, helmv2.RemediatedCondition) != nil {
		t.Errorf("status %+v", hr.Status)
	}

	// Suspended: a change waits.
	update(t, hr, func(o *helmv2.HelmRelease) {
		o.Spec.Suspend = true
		o.Spec.Values = values(t, map[string]any{"replicaCount": 1})
	})
	time.Sleep(3 * time.Second)
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(hr), hr); err != nil || hr.Status.History.Latest().Version != 5 || hr.Status.LastAttemptedGeneration == hr.Generation {
		t.Errorf("suspended HelmRelease reconciled: %+v %v", hr.Status, err)
	}
	update(t, hr, func(o *helmv2.HelmRelease) { o.Spec.Suspend = false })
	waitFor(t, hr, releaseWait, "resumed", ready(helmv2.TestSucceededReason, 6))

	// Deletion uninstalls the release and deletes the HelmChart.
	if err := env.Client.Delete(ctx, hr); err != nil {
		t.Fatal(err)
	}
	sourcetest.Poll(t, releaseWait, "uninstalled", func(ctx context.Context) (bool, error) {
		for name, o := range map[string]client.Object{"web": &helmv2.HelmRelease{}, "web-app": &appsv1.Deployment{}, ns + "-web": &sourcev1.HelmChart{}} {
			if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, o); !apierrors.IsNotFound(err) {
				return false, nil
			}
		}
		var secrets corev1.SecretList
		if err := env.Client.List(ctx, &secrets, client.InNamespace(ns), client.MatchingLabels{"owner": "helm", "name": "web"}); err != nil {
			return false, err
		}
		return len(secrets.Items) == 0, nil
	})
	event(t, ns, "web", helmv2.UninstallSucceededReason, "Helm uninstall succeeded for release "+ns+"/web")
}

// HelmReleases of a chartRef to a HelmChart, one depending on the other:
// the dependent waits, with Flux's reason, until its dependency is Ready,
// then installs.
func TestHelmReleaseChartRefDependsOn(t *testing.T) {
	startControllers(t)
	ns := "hr-chartref"
	sourcetest.Namespace(t, env, ns)
	repository(t, ns, "1.2.3", "1.3.0")
	create(t, &sourcev1.HelmChart{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Spec: sourcev1.HelmChartSpec{Chart: "app", Version: "1.3.0", Interval: metav1.Duration{Duration: time.Hour},
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"}},
	})
	release := func(name string, deps ...string) *helmv2.HelmRelease {
		hr := &helmv2.HelmRelease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: helmv2.HelmReleaseSpec{
				Interval: metav1.Duration{Duration: time.Hour},
				Timeout:  &metav1.Duration{Duration: 90 * time.Second},
				ChartRef: &helmv2.CrossNamespaceSourceReference{Kind: sourcev1.HelmChartKind, Name: "app"},
				Install:  &helmv2.Install{DisableWaitForJobs: false},
			},
		}
		for _, d := range deps {
			hr.Spec.DependsOn = append(hr.Spec.DependsOn, helmv2.DependencyReference{Name: d})
		}
		return hr
	}
	frontend := release("frontend", "backend")
	create(t, frontend)
	waitFor(t, frontend, 30*time.Second, "waiting for backend", condition(meta.ReadyCondition, metav1.ConditionFalse, helmv2.DependencyNotReadyReason))
	if frontend.Status.History.Latest() != nil {
		t.Fatalf("installed before its dependency: %+v", frontend.Status.History)
	}
	backend := release("backend")
	create(t, backend)
	waitFor(t, backend, releaseWait, "backend installed", ready(helmv2.InstallSucceededReason, 1))
	waitFor(t, frontend, releaseWait, "frontend installed", ready(helmv2.InstallSucceededReason, 1))
	if s := frontend.Status.History.Latest(); s.ChartVersion != "1.3.0" || frontend.Status.HelmChart != "" ||
		s.FirstDeployed.Before(&backend.Status.History.Latest().LastDeployed) {
		t.Errorf("frontend %+v, backend %+v", frontend.Status, backend.Status.History)
	}
	for _, name := range []string{"frontend-app", "backend-app"} {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		waitFor(t, d, 10*time.Second, name, func(d *appsv1.Deployment) bool { return d.Status.AvailableReplicas == 1 })
	}
	if c := apimeta.FindStatusCondition(frontend.Status.Conditions, helmv2.TestSuccessCondition); c != nil {
		t.Errorf("TestSuccess without tests: %+v", c)
	}
}

// A failing test hook is counted against the install and, without
// remediation retries, stalls the HelmRelease; ignoring test failures
// (a new generation, so the counters reset) makes it Ready. A new release
// name uninstalls the old release and installs the new one. Impersonating
// a service account without RBAC fails the install with Flux's reason.
func TestHelmReleaseFailures(t *testing.T) {
	ctx := context.Background()
	startControllers(t)
	ns := "hr-failures"
	sourcetest.Namespace(t, env, ns)
	repository(t, ns, "1.2.3")
	release := func(name string) *helmv2.HelmRelease {
		return &helmv2.HelmRelease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: helmv2.HelmReleaseSpec{
				Interval: metav1.Duration{Duration: time.Hour},
				Timeout:  &metav1.Duration{Duration: 90 * time.Second},
				Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
					Chart: "app", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"},
				}},
			},
		}
	}

	// A failing test.
	hr := release("checked")
	hr.Spec.Test = &helmv2.Test{Enable: true}
	hr.Spec.Values = values(t, map[string]any{"test": map[string]any{"podAnnotations": map[string]any{testenv.FailAnnotation: "no answer"}}})
	create(t, hr)
	waitFor(t, hr, releaseWait, "stalled on a failed test", condition(meta.StalledCondition, metav1.ConditionTrue, helmrelease.RetriesExceededReason))
	if !condition(helmv2.TestSuccessCondition, metav1.ConditionFalse, helmv2.TestFailedReason)(hr) ||
		!condition(meta.ReadyCondition, metav1.ConditionFalse, helmrelease.RetriesExceededReason)(hr) ||
		hr.Status.InstallFailures != 1 || !hr.Status.History.Latest().HasTestInPhase("Failed") {
		t.Errorf("status %+v", hr.Status)
	}
	event(t, ns, "checked", helmv2.TestFailedReason, "Helm test failed for release "+ns+"/checked.v1")

	// Ignored.
	update(t, hr, func(o *helmv2.HelmRelease) { o.Spec.Test.IgnoreFailures = true })
	waitFor(t, hr, releaseWait, "test failures ignored", ready(helmv2.InstallSucceededReason, 1))
	if hr.Status.InstallFailures != 0 || apimeta.FindStatusCondition(hr.Status.Conditions, meta.StalledCondition) != nil {
		t.Errorf("status %+v", hr.Status)
	}

	// Another release name: reinstalled under it.
	update(t, hr, func(o *helmv2.HelmRelease) { o.Spec.ReleaseName = "renamed" })
	waitFor(t, hr, releaseWait, "reinstalled", func(o *helmv2.HelmRelease) bool {
		l := o.Status.History.Latest()
		return ready(helmv2.InstallSucceededReason, 1)(o) && l.Name == "renamed" && len(o.Status.History) == 1
	})
	sourcetest.Poll(t, 30*time.Second, "old release gone", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checked-app"}, &appsv1.Deployment{})
		return apierrors.IsNotFound(err), nil
	})
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "renamed-app"}, &appsv1.Deployment{}); err != nil {
		t.Error(err)
	}

	// A service account that may do nothing.
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody", Namespace: ns}})
	denied := release("denied")
	denied.Spec.ServiceAccountName = "nobody"
	create(t, denied)
	// Not even the release storage.
	waitFor(t, denied, releaseWait, "storage denied", condition(meta.ReadyCondition, metav1.ConditionFalse, meta.ReconciliationFailedReason))
	c := apimeta.FindStatusCondition(denied.Status.Conditions, meta.ReadyCondition)
	if !strings.Contains(c.Message, "forbidden") || !strings.Contains(c.Message, "system:serviceaccount:"+ns+":nobody") {
		t.Errorf("Ready %+v", c)
	}
	// The release storage but not the chart's objects.
	create(t, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "helm-storage", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"*"}}}})
	create(t, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "nobody-helm-storage", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "helm-storage"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "nobody", Namespace: ns}}})
	update(t, denied, func(o *helmv2.HelmRelease) {
		o.Annotations = map[string]string{meta.ReconcileRequestAnnotation: "rbac"}
	})
	waitFor(t, denied, releaseWait, "install denied", condition(meta.StalledCondition, metav1.ConditionTrue, helmrelease.RetriesExceededReason))
	c = apimeta.FindStatusCondition(denied.Status.Conditions, helmv2.ReleasedCondition)
	if c == nil || c.Reason != helmv2.InstallFailedReason || !strings.Contains(c.Message, "forbidden") || !strings.Contains(c.Message, "system:serviceaccount:"+ns+":nobody") {
		t.Errorf("Released %+v", c)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "denied-app"}, &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment of a denied release: %v", err)
	}
}
