package cluster_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/helmrelease/cluster"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/reconcile"
)

var env *testenv.Env

func TestMain(m *testing.M) {
	testenv.Main(m, testenv.Options{}, &env)
}

const failAnnotation = "testenv.gitopskit.io/fail"

func namespace(t *testing.T, name string) {
	t.Helper()
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

func chart(t *testing.T) *helmrelease.Chart {
	t.Helper()
	ch, err := helmrelease.LoadChartDir("../testdata/app")
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func compose(t *testing.T, values map[string]any) helmrelease.ComposedValues {
	t.Helper()
	v, err := helmrelease.ComposeValues(context.Background(), helmrelease.ValuesOptions{Values: values})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newClient(t *testing.T, cfg *rest.Config, ns string) *cluster.Client {
	t.Helper()
	c, err := cluster.New(context.Background(), cluster.Options{Config: cfg, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var wait = cluster.InstallOptions{Timeout: 90 * time.Second}

// TestReleaseLifecycle installs the chart (CRD, pre-install hook Job that
// completes on kwok nodes, Deployment waited for), tests it, upgrades it on
// a values change, remediates a failing upgrade by rollback through
// Step, runs a failing test, and uninstalls it.
func TestReleaseLifecycle(t *testing.T) {
	ctx := context.Background()
	ns := "lifecycle"
	namespace(t, ns)
	c := newClient(t, env.Config, ns)
	ch := chart(t)
	name := helmrelease.ReleaseName("web", "", "")

	v1 := compose(t, map[string]any{"replicaCount": 2})
	want := cluster.Desired{Chart: ch, Values: v1, TestEnabled: true}
	status, _, err := c.Observe(ctx, name, want)
	if err != nil || status != helmrelease.StatusAbsent {
		t.Fatalf("before install: %s %v", status, err)
	}
	res, err := c.Step(ctx, name, want, helmrelease.Observation{Status: status}, cluster.StepOptions{Install: wait, Test: cluster.TestOptions{Timeout: time.Minute}})
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	if res.Decision.Action != helmrelease.ActionInstall || res.Release.Revision != 1 || res.Release.Status != "deployed" {
		t.Fatalf("install step: %+v %+v", res.Decision, res.Release)
	}
	var dep appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-app"}, &dep); err != nil {
		t.Fatal(err)
	}
	if dep.Status.AvailableReplicas != 2 {
		t.Errorf("install returned before the Deployment was available: %d", dep.Status.AvailableReplicas)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := env.Client.Get(ctx, client.ObjectKey{Name: "widgets.example.com"}, &crd); err != nil {
		t.Errorf("CRD not installed: %v", err)
	}

	want.KnownRevision = 1
	status, _, err = c.Observe(ctx, name, want)
	if err != nil || status != helmrelease.StatusUntested {
		t.Fatalf("after install: %s %v", status, err)
	}
	res, err = c.Step(ctx, name, want, helmrelease.Observation{Status: status}, cluster.StepOptions{Test: cluster.TestOptions{Timeout: time.Minute}})
	if err != nil || res.Decision.Action != helmrelease.ActionTest || !res.Release.Tested() || res.Release.TestsFailed() {
		t.Fatalf("test step: %+v %+v %v", res.Decision, res.Release, err)
	}
	if status, _, _ = c.Observe(ctx, name, want); status != helmrelease.StatusInSync {
		t.Fatalf("after test: %s", status)
	}

	// A values change: out of sync, upgraded.
	want.Values = compose(t, map[string]any{"replicaCount": 3})
	status, _, _ = c.Observe(ctx, name, want)
	if status != helmrelease.StatusOutOfSync {
		t.Fatalf("after a values change: %s", status)
	}
	res, err = c.Step(ctx, name, want, helmrelease.Observation{Status: status, LastAction: helmrelease.ActionInstall}, cluster.StepOptions{Upgrade: cluster.UpgradeOptions{Timeout: 90 * time.Second}})
	if err != nil || res.Decision.Action != helmrelease.ActionUpgrade || res.Release.Revision != 2 {
		t.Fatalf("upgrade step: %+v %+v %v", res.Decision, res.Release, err)
	}

	// A failing pre-upgrade hook: the upgrade fails, Step remediates it by
	// rolling back.
	want.Values = compose(t, map[string]any{"replicaCount": 3, "hook": map[string]any{"podAnnotations": map[string]any{failAnnotation: "migration failed"}}})
	want.KnownRevision = 2
	up := cluster.UpgradeOptions{Timeout: 60 * time.Second}
	res, err = c.Step(ctx, name, want, helmrelease.Observation{Status: helmrelease.StatusOutOfSync}, cluster.StepOptions{Upgrade: up})
	if err == nil || !res.Failed || res.Release == nil || res.Release.Revision != 3 || res.Release.Status != "failed" {
		t.Fatalf("failing upgrade: %+v %+v %v", res.Decision, res.Release, err)
	}
	want.KnownRevision = 3
	status, _, _ = c.Observe(ctx, name, want)
	if status != helmrelease.StatusFailed {
		t.Fatalf("after a failed upgrade: %s", status)
	}
	obs := helmrelease.Observation{Status: status, LastAction: helmrelease.ActionUpgrade, UpgradeFailures: 1, Upgrade: helmrelease.Remediation{Retries: 1}, HasRollbackTarget: true}
	res, err = c.Step(ctx, name, want, obs, cluster.StepOptions{Rollback: cluster.RollbackOptions{Timeout: 60 * time.Second}})
	if err != nil || res.Decision.Action != helmrelease.ActionRollback || !res.Decision.Remediation || res.Release.Revision != 4 || res.Release.Status != "deployed" {
		t.Fatalf("rollback step: %+v %+v %v", res.Decision, res.Release, err)
	}
	hist, err := c.History(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, h := range hist {
		statuses = append(statuses, h.Status)
	}
	if got := strings.Join(statuses, ","); got != "superseded,superseded,failed,deployed" {
		t.Errorf("history %s", got)
	}

	// A failing test: reported, ignored only when asked.
	failing := compose(t, map[string]any{"replicaCount": 3, "test": map[string]any{"podAnnotations": map[string]any{failAnnotation: "no answer"}}})
	if _, err := c.Upgrade(ctx, name, ch, failing.Values, cluster.UpgradeOptions{Timeout: 90 * time.Second}); err != nil {
		t.Fatal(err)
	}
	rel, err := c.Test(ctx, name, cluster.TestOptions{Timeout: time.Minute})
	if err == nil || rel == nil || !rel.TestsFailed() {
		t.Fatalf("failing test: %+v %v", rel, err)
	}
	want = cluster.Desired{Chart: ch, Values: failing, KnownRevision: 5, TestEnabled: true}
	if status, _, _ = c.Observe(ctx, name, want); status != helmrelease.StatusFailed {
		t.Errorf("failed test not ignored: %s", status)
	}
	want.IgnoreTestFailures = true
	if status, _, _ = c.Observe(ctx, name, want); status != helmrelease.StatusInSync {
		t.Errorf("failed test ignored: %s", status)
	}

	// Uninstall removes the objects and the release.
	if _, err := c.Uninstall(ctx, name, cluster.UninstallOptions{Timeout: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Last(ctx, name); !errors.Is(err, cluster.ErrReleaseNotFound) {
		t.Errorf("after uninstall: %v", err)
	}
	err = env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web-app"}, &dep)
	if !apierrors.IsNotFound(err) && dep.DeletionTimestamp == nil {
		t.Errorf("Deployment still there after uninstall: %v", err)
	}
}

// TestFailedInstallRemediatedByUninstall: a failing pre-install hook fails
// the install; Step remediates by uninstalling, then retries the install.
func TestFailedInstallRemediatedByUninstall(t *testing.T) {
	ctx := context.Background()
	ns := "install-fails"
	namespace(t, ns)
	c := newClient(t, env.Config, ns)
	name := "broken"
	bad := compose(t, map[string]any{"hook": map[string]any{"podAnnotations": map[string]any{failAnnotation: "boom"}}})
	want := cluster.Desired{Chart: chart(t), Values: bad}
	opts := cluster.StepOptions{Install: cluster.InstallOptions{Timeout: time.Minute}, Uninstall: cluster.UninstallOptions{Timeout: time.Minute}}
	res, err := c.Step(ctx, name, want, helmrelease.Observation{Status: helmrelease.StatusAbsent, Install: helmrelease.Remediation{Retries: 1}}, opts)
	if err == nil || !res.Failed || res.Release == nil || res.Release.Status != "failed" {
		t.Fatalf("failing install: %+v %+v %v", res.Decision, res.Release, err)
	}
	want.KnownRevision = 1
	status, _, _ := c.Observe(ctx, name, want)
	obs := helmrelease.Observation{Status: status, LastAction: helmrelease.ActionInstall, InstallFailures: 1, Install: helmrelease.Remediation{Retries: 1}}
	res, err = c.Step(ctx, name, want, obs, opts)
	if err != nil || res.Decision.Action != helmrelease.ActionUninstall {
		t.Fatalf("remediation: %+v %v", res.Decision, err)
	}
	want.KnownRevision = 0
	if status, _, _ = c.Observe(ctx, name, want); status != helmrelease.StatusAbsent {
		t.Fatalf("after remediation: %s", status)
	}
	// A retry with good values installs.
	want.Values = compose(t, nil)
	res, err = c.Step(ctx, name, want, helmrelease.Observation{Status: status, InstallFailures: 1, Install: helmrelease.Remediation{Retries: 1}}, opts)
	if err != nil || res.Release.Status != "deployed" {
		t.Fatalf("retried install: %+v %v", res.Release, err)
	}
}

// TestLongReleaseName installs a release whose Flux name is 60
// characters: it is shortened to 53 as Flux does.
func TestLongReleaseName(t *testing.T) {
	ctx := context.Background()
	ns := "a-target-namespace-with-a-long-name"
	namespace(t, ns)
	name := helmrelease.ReleaseName("and-a-long-release-nam", ns, "")
	if len(name) != 53 {
		t.Fatalf("name %q has %d characters", name, len(name))
	}
	c := newClient(t, env.Config, ns)
	rel, err := c.Install(ctx, name, chart(t), map[string]any{"hook": map[string]any{"enabled": false}}, cluster.InstallOptions{Timeout: time.Minute, CRDs: cluster.CRDsSkip, Wait: cluster.Wait{Disable: true}})
	if err != nil || rel.Name != name {
		t.Fatalf("install: %+v %v", rel, err)
	}
}

// TestImpersonationDeniedByRBAC: a client impersonating a service account
// without permissions cannot install.
func TestImpersonationDeniedByRBAC(t *testing.T) {
	ctx := context.Background()
	ns := "rbac"
	namespace(t, ns)
	if err := env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "nobody", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + ns + ":nobody"}
	c := newClient(t, cfg, ns)
	_, err := c.Install(ctx, "denied", chart(t), nil, cluster.InstallOptions{Timeout: 30 * time.Second, CRDs: cluster.CRDsSkip})
	if err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("install as a service account without RBAC: %v", err)
	}
}

// TestDriftDetectedAndCorrected: a scaled Deployment and a deleted
// ConfigMap are reported as drift; Step corrects them; an object that opts
// out is left alone.
func TestDriftDetectedAndCorrected(t *testing.T) {
	ctx := context.Background()
	ns := "drift"
	namespace(t, ns)
	c := newClient(t, env.Config, ns)
	ch := chart(t)
	name := "drifty"
	optOut := helmrelease.Kustomize{Patches: []kustomize.Patch{{
		Patch:  "apiVersion: v1\nkind: Service\nmetadata:\n  name: any\n  annotations:\n    " + cluster.DriftDetectionAnnotation + ": disabled\n",
		Target: &kustomize.Selector{Kind: "Service"},
	}}}
	rel, err := c.Install(ctx, name, ch, map[string]any{"hook": map[string]any{"enabled": false}}, cluster.InstallOptions{
		Timeout: time.Minute, CRDs: cluster.CRDsSkip, PostRenderers: []helmrelease.PostRenderer{optOut},
	})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := reconcile.NewClient(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := reconcile.NewManager(kc, reconcile.Options{FieldManager: cluster.HelmFieldManager()})
	if err != nil {
		t.Fatal(err)
	}
	report, err := c.Drift(ctx, rel, m)
	if err != nil {
		t.Fatal(err)
	}
	if report.Drifted() {
		t.Fatalf("drift right after install:\n%s", report.Summary())
	}

	var dep appsv1.Deployment
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-app"}, &dep); err != nil {
		t.Fatal(err)
	}
	five := int32(5)
	dep.Spec.Replicas = &five
	dep.ManagedFields = nil
	if err := env.Client.Update(ctx, &dep, client.FieldOwner("kubectl")); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-app"}}); err != nil {
		t.Fatal(err)
	}
	var svc corev1.Service
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-app"}, &svc); err != nil {
		t.Fatal(err)
	}
	if svc.Annotations[cluster.DriftDetectionAnnotation] != "disabled" {
		t.Fatalf("post-renderer did not annotate the Service: %v", svc.Annotations)
	}
	svc.Spec.Ports[0].Port = 81
	svc.ManagedFields = nil
	if err := env.Client.Update(ctx, &svc, client.FieldOwner("kubectl")); err != nil {
		t.Fatal(err)
	}
	report, err = c.Drift(ctx, rel, m)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := report.Summary(), "ConfigMap/drift/drifty-app created\nDeployment/drift/drifty-app configured"; got != want {
		t.Fatalf("drift report:\n%s\nwant:\n%s", got, want)
	}

	res, err := c.Step(ctx, name, cluster.Desired{Chart: ch, KnownRevision: 1}, helmrelease.Observation{Status: helmrelease.StatusDrifted, DriftMode: helmrelease.DriftEnabled}, cluster.StepOptions{Drift: m})
	if err != nil || res.Decision.Action != helmrelease.ActionCorrectDrift || len(res.Corrected.Entries) != 2 {
		t.Fatalf("correction: %+v %+v %v", res.Decision, res.Corrected, err)
	}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name + "-app"}, &dep); err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 1 {
		t.Errorf("replicas %d after correction, want 1", *dep.Spec.Replicas)
	}
	if report, err = c.Drift(ctx, rel, m); err != nil || report.Drifted() {
		t.Errorf("drift after correction: %v\n%s", err, report.Summary())
	}
}

// TestCRDPolicies: Create leaves an existing CRD alone on upgrade,
// CreateReplace updates it from the chart.
func TestCRDPolicies(t *testing.T) {
	ctx := context.Background()
	ns := "crds"
	namespace(t, ns)
	c := newClient(t, env.Config, ns)
	ch := chart(t)
	noHook := map[string]any{"hook": map[string]any{"enabled": false}}
	if _, err := c.Install(ctx, "crds", ch, noHook, cluster.InstallOptions{Timeout: time.Minute, Wait: cluster.Wait{Disable: true}}); err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	key := client.ObjectKey{Name: "widgets.example.com"}
	if err := env.Client.Get(ctx, key, &crd); err != nil {
		t.Fatal(err)
	}
	// Someone else changes a field the chart sets.
	crd.Spec.Versions[0].Schema.OpenAPIV3Schema.XPreserveUnknownFields = nil
	crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties = map[string]apiextensionsv1.JSONSchemaProps{"spec": {Type: "object"}}
	crd.ManagedFields = nil
	if err := env.Client.Update(ctx, &crd, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	preserved := func() bool {
		t.Helper()
		var got apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(ctx, key, &got); err != nil {
			t.Fatal(err)
		}
		p := got.Spec.Versions[0].Schema.OpenAPIV3Schema.XPreserveUnknownFields
		return p != nil && *p
	}
	if _, err := c.Upgrade(ctx, "crds", ch, noHook, cluster.UpgradeOptions{Timeout: time.Minute, CRDs: cluster.CRDsCreate, Wait: cluster.Wait{Disable: true}}); err != nil {
		t.Fatal(err)
	}
	if preserved() {
		t.Error("Create replaced an existing CRD")
	}
	if _, err := c.Upgrade(ctx, "crds", ch, noHook, cluster.UpgradeOptions{Timeout: time.Minute, CRDs: cluster.CRDsCreateReplace, Wait: cluster.Wait{Disable: true}}); err != nil {
		t.Fatal(err)
	}
	if !preserved() {
		t.Error("CreateReplace did not restore the chart's CRD")
	}
}

// TestWaitHealthy: reconcile's health checks judge a release installed
// without Helm's wait: healthy when its Deployment is available, a
// HealthError naming the Deployment when its Pods crash.
func TestWaitHealthy(t *testing.T) {
	ctx := context.Background()
	ns := "health"
	namespace(t, ns)
	c := newClient(t, env.Config, ns)
	kc, err := reconcile.NewClient(env.Config, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := reconcile.NewManager(kc, reconcile.Options{PollInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	noWait := cluster.InstallOptions{Timeout: time.Minute, CRDs: cluster.CRDsSkip, Wait: cluster.Wait{Disable: true}}
	vals := map[string]any{"hook": map[string]any{"enabled": false}}
	good, err := c.Install(ctx, "good", chart(t), vals, noWait)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx, good, m, reconcile.WaitOptions{Timeout: time.Minute}); err != nil {
		t.Fatalf("healthy release: %v", err)
	}
	crash := helmrelease.Kustomize{Patches: []kustomize.Patch{{
		Patch:  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\nspec:\n  template:\n    metadata:\n      annotations:\n        " + failAnnotation + ": crash\n",
		Target: &kustomize.Selector{Kind: "Deployment"},
	}}}
	noWait.PostRenderers = []helmrelease.PostRenderer{crash}
	bad, err := c.Install(ctx, "bad", chart(t), vals, noWait)
	if err != nil {
		t.Fatal(err)
	}
	err = c.WaitHealthy(ctx, bad, m, reconcile.WaitOptions{Timeout: 5 * time.Second})
	var he *reconcile.HealthError
	if !errors.As(err, &he) || len(he.Objects) != 1 || he.Objects[0].Ref.Kind != "Deployment" || he.Objects[0].Ref.Name != "bad-app" {
		t.Fatalf("crashing release: %v", err)
	}
}

// TestUnlockStalePendingRelease: a release left pending-upgrade (an
// interrupted action) is observed Locked, Step unlocks it (failed), and
// the release Secrets live in the storage namespace.
func TestUnlockStalePendingRelease(t *testing.T) {
	ctx := context.Background()
	ns, storageNS := "locked", "locked-storage"
	namespace(t, ns)
	namespace(t, storageNS)
	c, err := cluster.New(ctx, cluster.Options{Config: env.Config, Namespace: ns, StorageNamespace: storageNS})
	if err != nil {
		t.Fatal(err)
	}
	ch := chart(t)
	vals := compose(t, map[string]any{"hook": map[string]any{"enabled": false}})
	if _, err := c.Install(ctx, "stuck", ch, vals.Values, cluster.InstallOptions{Timeout: time.Minute, CRDs: cluster.CRDsSkip, Wait: cluster.Wait{Disable: true}}); err != nil {
		t.Fatal(err)
	}
	var secrets corev1.SecretList
	if err := env.Client.List(ctx, &secrets, client.InNamespace(storageNS), client.MatchingLabels{"owner": "helm", "name": "stuck"}); err != nil || len(secrets.Items) != 1 {
		t.Fatalf("release Secrets in the storage namespace: %d %v", len(secrets.Items), err)
	}

	// Interrupt an upgrade as a crash would: the stored release stays pending.
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	st := storage.Init(driver.NewSecrets(cs.CoreV1().Secrets(storageNS)))
	last, err := st.Last("stuck")
	if err != nil {
		t.Fatal(err)
	}
	rel := last.(*releasev1.Release)
	rel.SetStatus(rcommon.StatusPendingUpgrade, "Preparing upgrade")
	if err := st.Update(rel); err != nil {
		t.Fatal(err)
	}

	want := cluster.Desired{Chart: ch, Values: vals, KnownRevision: 1}
	status, _, err := c.Observe(ctx, "stuck", want)
	if err != nil || status != helmrelease.StatusLocked {
		t.Fatalf("pending release: %s %v", status, err)
	}
	res, err := c.Step(ctx, "stuck", want, helmrelease.Observation{Status: status}, cluster.StepOptions{})
	if err != nil || res.Decision.Action != helmrelease.ActionUnlock || res.Release.Status != "failed" {
		t.Fatalf("unlock: %+v %+v %v", res.Decision, res.Release, err)
	}
	if status, _, _ = c.Observe(ctx, "stuck", want); status != helmrelease.StatusFailed {
		t.Errorf("after unlock: %s", status)
	}
	if _, err := c.Uninstall(ctx, "absent", cluster.UninstallOptions{}); !errors.Is(err, cluster.ErrReleaseNotFound) {
		t.Errorf("uninstall of an absent release: %v", err)
	}
}

// TestValuesGetter composes values from a ConfigMap and a Secret in the
// cluster; an absent optional reference is tolerated.
func TestValuesGetter(t *testing.T) {
	ctx := context.Background()
	ns := "values"
	namespace(t, ns)
	if err := env.Client.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "defaults", Namespace: ns}, Data: map[string]string{"values.yaml": "replicaCount: 2\n"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns}, Data: map[string][]byte{"token": []byte("s3cr3t")}}); err != nil {
		t.Fatal(err)
	}
	got, err := helmrelease.ComposeValues(ctx, helmrelease.ValuesOptions{
		Getter: cluster.ValuesGetter(env.Client, ns),
		From: []helmrelease.ValuesReference{
			{Kind: "ConfigMap", Name: "defaults"},
			{Kind: "Secret", Name: "creds", ValuesKey: "token", TargetPath: "auth.token"},
			{Kind: "Secret", Name: "absent", Optional: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Values["replicaCount"] != float64(2) || got.Values["auth"].(map[string]any)["token"] != "s3cr3t" {
		t.Errorf("values %v", got.Values)
	}
	_, err = helmrelease.ComposeValues(ctx, helmrelease.ValuesOptions{Getter: cluster.ValuesGetter(env.Client, ns), From: []helmrelease.ValuesReference{{Kind: "Secret", Name: "absent"}}})
	if !errors.Is(err, helmrelease.ErrNotFound) {
		t.Errorf("absent Secret: %v", err)
	}
}
