package controllers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notifyv1 "github.com/fluxcd/notification-controller/api/v1"
	notifyv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-logr/logr"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/controllers"
	"github.com/gitopskit/gitopskit/examples/fluxscheme"
	"github.com/gitopskit/gitopskit/examples/notification"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/internal/testenv"
	"github.com/gitopskit/gitopskit/source/git/gittest"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// fluxCLINamespace holds every object of TestFluxCLI.
const fluxCLINamespace = "fluxcli"

// fluxCLIObject is one Flux object the CLI is run against.
type fluxCLIObject struct {
	gvk  schema.GroupVersionKind
	name string
	// static objects have no status (v1beta3 Alerts and Providers).
	static bool
}

// fluxCLIFixture is what TestFluxCLI set up.
type fluxCLIFixture struct {
	flux string
	c    client.Client
	repo *gittest.Repo
	// rev1 is the first commit, rev3 the one the reconcile subtest makes
	// the Kustomization apply.
	rev1, rev3 string
	// ociHost is the registry, ociDigest the manifest digest of the
	// OCIRepository's tag v1.
	ociHost, ociDigest string
	// image is the ImageRepository's image.
	image string
}

// TestFluxCLI runs the real flux CLI (bin/flux, v2.9.5) against the example
// controllers (controllers.Start and the notification controller) with an
// object of every kind Flux's get, reconcile, suspend, resume, events,
// tree, diff and trace commands know, and checks each command's exit status
// and what it prints.
func TestFluxCLI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := fluxCLISetup(ctx, t)
	ns := fluxCLINamespace

	t.Run("get", func(t *testing.T) {
		rev1 := "main@sha1:" + f.rev1[:8]
		oci := "v1@sha256:" + strings.TrimPrefix(f.ociDigest, "sha256:")[:8]
		row := func(name, cols string) string { return `^` + name + `\s+` + cols + `\s*$` }
		git := `main@sha1:[0-9a-f]{8}\s+False\s+True\s+stored artifact for revision 'main@sha1:[0-9a-f]{8}'`
		gitRev1 := regexp.QuoteMeta(rev1) + `\s+False\s+True\s+stored artifact for revision '` + regexp.QuoteMeta(rev1) + `'`
		ociRow := regexp.QuoteMeta(oci) + `\s+False\s+True\s+stored artifact for digest '` + regexp.QuoteMeta(oci) + `'`
		index := `(sha256:[0-9a-f]{8})\s+False\s+True\s+stored artifact: revision '(sha256:[0-9a-f]{8})'`
		chart := `1\.0\.0\s+False\s+True\s+pulled 'app' chart with version '1\.0\.0'`
		ks := func(rev string) string {
			return regexp.QuoteMeta(rev) + `\s+False\s+True\s+Applied revision: ` + regexp.QuoteMeta(rev)
		}
		release := `1\.0\.0\s+False\s+True\s+Helm install succeeded for release fluxcli/web\.v1 with chart app@1\.0\.0`
		imageRepo := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+False\s+True\s+successful scan: found 1 tags with checksum \d+`
		policy := regexp.QuoteMeta(f.image) + `\s+1\.0\.0\s+True\s+Latest image tag for ` + regexp.QuoteMeta(f.image) + ` resolved to 1\.0\.0`
		update := `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+False\s+True\s+repository up-to-date`
		receiver := `False\s+True\s+Receiver initialized for path: /hook/[0-9a-f]{64}`
		all := func(kindName, cols string) string { return row(ns+`\s+`+kindName, cols) }
		for _, c := range []fluxCLICase{
			{args: []string{"get", "all", "-A"}, want: []string{
				all("gitrepository/fleet", gitRev1), all("ocirepository/manifests", ociRow),
				all("helmrepository/charts", index), all("bucket/fleet", index),
				all("helmchart/app", chart), all("helmchart/fluxcli-web", chart),
				all("kustomization/apps", ks(rev1)), all("kustomization/oci", ks(oci)),
				all("helmrelease/web", release), all("imagerepository/web", imageRepo),
				all("imagepolicy/web", policy), all("imageupdateautomation/web", update),
				all("receiver/hook", receiver), all("provider/sink", `True\s+Provider is Ready`),
				all("alert/all", `False\s+True\s+Alert is Ready`),
			}},
			{args: []string{"get", "sources", "git", "-n", ns}, want: []string{`^NAME\s+REVISION\s+SUSPENDED\s+READY\s+MESSAGE`, row("fleet", git)}},
			{args: []string{"get", "sources", "oci", "-n", ns}, want: []string{row("manifests", ociRow)}},
			{args: []string{"get", "sources", "helm", "-n", ns}, want: []string{row("charts", index)}},
			{args: []string{"get", "sources", "bucket", "-n", ns}, want: []string{row("fleet", index)}},
			{args: []string{"get", "sources", "chart", "-n", ns}, want: []string{row("app", chart), row("fluxcli-web", chart)}},
			{args: []string{"get", "kustomizations", "-n", ns}, want: []string{row("apps", ks(rev1)), row("oci", ks(oci))}},
			{args: []string{"get", "helmreleases", "-n", ns}, want: []string{row("web", release)}},
			{args: []string{"get", "images", "all", "-n", ns}, want: []string{
				row("imagerepository/web", imageRepo), row("imagepolicy/web", policy), row("imageupdateautomation/web", update)}},
			{args: []string{"get", "receivers", "-n", ns}, want: []string{row("hook", receiver)}},
		} {
			f.check(t, c)
		}
		// The Bucket and HelmRepository rows show the revisions in the
		// objects' status, shortened as Flux shortens digests.
		out, _ := f.run(t, "get", "sources", "all", "-n", ns)
		for _, kind := range []string{sourcev1.BucketKind, sourcev1.HelmRepositoryKind} {
			rev := f.artifactRevision(t, kind, map[string]string{sourcev1.BucketKind: "fleet", sourcev1.HelmRepositoryKind: "charts"}[kind])
			if short := rev[:len("sha256:")+8]; !strings.Contains(out, short+"\t") || !strings.Contains(out, "stored artifact: revision '"+short+"'") {
				t.Errorf("flux get sources all: %s revision %s not shown as %s\n%s", kind, rev, short, out)
			}
		}
	})

	t.Run("reconcile", func(t *testing.T) {
		rev2 := f.repo.Commit("second", map[string]string{"apps/app-settings.yaml": fluxCLIConfigMap("app-settings", "off")})
		f.check(t, fluxCLICase{args: []string{"reconcile", "source", "git", "fleet", "-n", ns}, want: []string{
			`^► annotating GitRepository fleet in fluxcli namespace$`,
			`^✔ GitRepository annotated$`,
			`^✔ fetched revision main@sha1:` + rev2 + `$`,
		}})
		// As Flux's kustomize-controller does, the Kustomization follows
		// its source's new artifact without being asked.
		fluxCLIWait(t, "Kustomization apps applies the new revision", func() bool {
			return f.kustomization(t, "apps").Status.LastAppliedRevision == "main@sha1:"+rev2
		})
		f.rev3 = f.repo.Commit("third", map[string]string{"apps/app-config.yaml": fluxCLIConfigMap("app-config", "bonjour")})
		f.check(t, fluxCLICase{args: []string{"reconcile", "kustomization", "apps", "--with-source", "-n", ns}, want: []string{
			`^► annotating GitRepository fleet in fluxcli namespace$`,
			`^✔ fetched revision main@sha1:` + f.rev3 + `$`,
			`^► annotating Kustomization apps in fluxcli namespace$`,
			`^◎ waiting for Kustomization reconciliation$`,
			`^✔ applied revision main@sha1:` + f.rev3 + `$`,
		}})
		var cm corev1.ConfigMap
		if err := f.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "app-config"}, &cm); err != nil || cm.Data["value"] != "bonjour" {
			t.Errorf("ConfigMap app-config after reconcile --with-source: %v %v", cm.Data, err)
		}

		// --force upgrades the release although nothing changed; --reset
		// clears the failure counters. Both are recorded as handled.
		f.check(t, fluxCLICase{args: []string{"reconcile", "helmrelease", "web", "--force", "-n", ns}, want: []string{
			`^► annotating HelmRelease web in fluxcli namespace$`, `^✔ applied revision 1\.0\.0$`}})
		hr := f.helmRelease(t)
		if l := hr.Status.History.Latest(); l == nil || l.Version != 2 || hr.Status.LastHandledForceAt == "" ||
			hr.Status.LastHandledForceAt != hr.Annotations[helmv2.ForceRequestAnnotation] {
			t.Errorf("after reconcile --force: latest release %+v, lastHandledForceAt %q, annotation %q",
				l, hr.Status.LastHandledForceAt, hr.Annotations[helmv2.ForceRequestAnnotation])
		}
		f.check(t, fluxCLICase{args: []string{"get", "helmreleases", "-n", ns}, want: []string{
			`^web\s+1\.0\.0\s+False\s+True\s+Helm upgrade succeeded for release fluxcli/web\.v2 with chart app@1\.0\.0\s*$`}})
		f.check(t, fluxCLICase{args: []string{"reconcile", "helmrelease", "web", "--reset", "-n", ns}, want: []string{
			`^✔ applied revision 1\.0\.0$`}})
		hr = f.helmRelease(t)
		if l := hr.Status.History.Latest(); l == nil || l.Version != 2 || hr.Status.LastHandledResetAt == "" ||
			hr.Status.LastHandledResetAt != hr.Annotations[helmv2.ResetRequestAnnotation] ||
			hr.Status.InstallFailures != 0 || hr.Status.UpgradeFailures != 0 {
			t.Errorf("after reconcile --reset: latest release %+v, lastHandledResetAt %q, annotation %q, failures %d/%d",
				l, hr.Status.LastHandledResetAt, hr.Annotations[helmv2.ResetRequestAnnotation], hr.Status.InstallFailures, hr.Status.UpgradeFailures)
		}

		// The other kinds the CLI reconciles, in parallel (each command
		// polls every two seconds).
		for _, c := range []fluxCLICase{
			{args: []string{"reconcile", "source", "oci", "manifests", "-n", ns}, want: []string{`^✔ fetched revision v1@` + f.ociDigest + `$`}},
			{args: []string{"reconcile", "source", "helm", "charts", "-n", ns}, want: []string{`^✔ fetched revision sha256:[0-9a-f]{64}$`}},
			{args: []string{"reconcile", "source", "bucket", "fleet", "-n", ns}, want: []string{`^✔ fetched revision sha256:[0-9a-f]{64}$`}},
			{args: []string{"reconcile", "source", "chart", "app", "-n", ns}, want: []string{`^✔ fetched revision 1\.0\.0$`}},
			{args: []string{"reconcile", "kustomization", "oci", "-n", ns}, want: []string{`^✔ applied revision v1@` + f.ociDigest + `$`}},
			{args: []string{"reconcile", "image", "repository", "web", "-n", ns}, want: []string{`^✔ scan fetched 1 tags$`}},
			{args: []string{"reconcile", "image", "policy", "web", "-n", ns}, want: []string{`^✔ selected ref ` + regexp.QuoteMeta(f.image) + `:1\.0\.0$`}},
			{args: []string{"reconcile", "image", "update", "web", "-n", ns}, want: []string{`^✔ repository up-to-date$`}},
			{args: []string{"reconcile", "receiver", "hook", "-n", ns}, want: []string{`^✔ Receiver reconciliation completed$`}},
		} {
			t.Run(strings.Join(c.args[1:len(c.args)-2], "-"), func(t *testing.T) {
				t.Parallel()
				f.check(t, c)
			})
		}
	})

	t.Run("suspend-resume", func(t *testing.T) {
		for _, k := range []struct {
			args   []string // the CLI's words for the kind, then the name
			gvk    schema.GroupVersionKind
			human  string // what the CLI calls it when suspending
			done   string // the resume's final line
			column bool   // flux get shows a SUSPENDED column
		}{
			{[]string{"source", "git", "fleet"}, sourcev1.GroupVersion.WithKind(sourcev1.GitRepositoryKind), "source git", `fetched revision main@sha1:[0-9a-f]{40}`, true},
			{[]string{"source", "oci", "manifests"}, sourcev1.GroupVersion.WithKind(sourcev1.OCIRepositoryKind), "source oci", `fetched revision v1@sha256:[0-9a-f]{64}`, true},
			{[]string{"source", "helm", "charts"}, sourcev1.GroupVersion.WithKind(sourcev1.HelmRepositoryKind), "source helm", `fetched revision sha256:[0-9a-f]{64}`, true},
			{[]string{"source", "bucket", "fleet"}, sourcev1.GroupVersion.WithKind(sourcev1.BucketKind), "source bucket", `fetched revision sha256:[0-9a-f]{64}`, true},
			{[]string{"source", "chart", "app"}, sourcev1.GroupVersion.WithKind(sourcev1.HelmChartKind), "source chart", `fetched revision 1\.0\.0`, true},
			{[]string{"kustomization", "apps"}, kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind), "kustomization", `applied revision main@sha1:[0-9a-f]{40}`, true},
			{[]string{"helmrelease", "web"}, helmv2.GroupVersion.WithKind(helmv2.HelmReleaseKind), "helmrelease", `applied revision 1\.0\.0`, true},
			{[]string{"image", "repository", "web"}, imagev1.GroupVersion.WithKind(imagev1.ImageRepositoryKind), "image repository", `scan fetched 1 tags`, true},
			{[]string{"image", "policy", "web"}, imagev1.GroupVersion.WithKind(imagev1.ImagePolicyKind), "image policy", `selected ref \S+/web:1\.0\.0`, false},
			{[]string{"image", "update", "web"}, imageautov1.GroupVersion.WithKind(imageautov1.ImageUpdateAutomationKind), "image update automation", `repository up-to-date`, true},
			{[]string{"alert", "all"}, notifyv1beta3.GroupVersion.WithKind(notifyv1beta3.AlertKind), "alert", `Alert reconciliation completed`, true},
			{[]string{"alert-provider", "sink"}, notifyv1beta3.GroupVersion.WithKind(notifyv1beta3.ProviderKind), "alert provider", `Provider reconciliation completed`, false},
			{[]string{"receiver", "hook"}, notifyv1.GroupVersion.WithKind(notifyv1.ReceiverKind), "receiver", `Receiver reconciliation completed`, true},
		} {
			name := k.args[len(k.args)-1]
			// Each kind on its own, all at once: no object's suspension
			// affects another's reconciliation.
			t.Run(strings.Join(k.args[:len(k.args)-1], "-"), func(t *testing.T) {
				t.Parallel()
				f.check(t, fluxCLICase{args: append(append([]string{"suspend"}, k.args...), "-n", ns), want: []string{
					`^► suspending ` + k.human + ` ` + name + ` in fluxcli namespace$`, `^✔ ` + k.human + ` suspended$`}})
				if !f.suspended(t, k.gvk, name) {
					t.Errorf("%s %s: spec.suspend is not true after flux suspend", k.gvk.Kind, name)
				}
				if k.column {
					f.check(t, fluxCLICase{args: append(append([]string{"get"}, k.args[:len(k.args)-1]...), "-n", ns), want: []string{
						`^` + name + `\s+.*\bTrue\s+True\s`}})
				}
				f.check(t, fluxCLICase{args: append(append([]string{"resume"}, k.args...), "-n", ns), want: []string{
					`^✔ ` + k.human + ` resumed$`,
					`^✔ ` + k.gvk.Kind + ` ` + name + ` reconciliation completed$`,
					`^✔ ` + k.done + `$`}})
				if f.suspended(t, k.gvk, name) {
					t.Errorf("%s %s: spec.suspend is still true after flux resume", k.gvk.Kind, name)
				}
			})
		}
	})

	t.Run("events", func(t *testing.T) {
		// LAST SEEN is an age, "(xN over AGE)" added when the API server
		// counted repeats of the same event.
		event := func(reason, object, message string) string {
			return `^\S+( \(x\d+ over \S+\))?\s+Normal\s+` + reason + `\s+` + object + `\s+` + message
		}
		f.check(t, fluxCLICase{eventually: true, args: []string{"events", "-n", ns}, want: []string{
			`^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE`,
			event("NewArtifact", "GitRepository/fleet", `stored artifact for commit 'third'`),
			event("NewArtifact", "OCIRepository/manifests", `stored artifact with revision 'v1@`+f.ociDigest+`' from 'oci://`+regexp.QuoteMeta(f.ociHost)+`/manifests'`),
			event("NewArtifact", "HelmRepository/charts", `stored fetched index of size \d+B from 'http://127\.0\.0\.1:\d+'`),
			event("NewArtifact", "Bucket/fleet", `stored artifact with 1 fetched files from 'fleet' bucket`),
			event("ChartPullSucceeded", "HelmChart/app", `pulled 'app' chart with version '1\.0\.0'`),
			event("Progressing", "Kustomization/apps", `ConfigMap/fluxcli/app-config configured`),
			event("ReconciliationSucceeded", "Kustomization/apps", `Reconciliation finished in \S+, next run in 1h0m0s`),
			event("InstallSucceeded", "HelmRelease/web", `Helm install succeeded for release fluxcli/web\.v1 with chart app@1\.0\.0`),
			event("UpgradeSucceeded", "HelmRelease/web", `Helm upgrade succeeded for release fluxcli/web\.v2 with chart app@1\.0\.0`),
			event("Succeeded", "ImageRepository/web", `successful scan: found 1 tags`),
			event("Succeeded", "ImagePolicy/web", `Latest image tag for \S+ resolved to 1\.0\.0`),
		}})
		// --for lists the object's events and its source's.
		out := f.check(t, fluxCLICase{eventually: true, args: []string{"events", "--for", "Kustomization/apps", "-n", ns}, want: []string{
			event("NewArtifact", "GitRepository/fleet", `stored artifact for commit 'third'`),
			event("Progressing", "Kustomization/apps", `ConfigMap/fluxcli/app-config created`),
		}})
		if strings.Contains(out, "HelmRelease/web") || strings.Contains(out, "Bucket/fleet") {
			t.Errorf("flux events --for Kustomization/apps shows other objects' events:\n%s", out)
		}
	})

	t.Run("tree", func(t *testing.T) {
		f.check(t, fluxCLICase{args: []string{"tree", "kustomization", "apps", "-n", ns}, exact: `Kustomization/fluxcli/apps
├── ConfigMap/fluxcli/app-config
└── ConfigMap/fluxcli/app-settings

`})
	})

	t.Run("diff", func(t *testing.T) {
		// A local copy of ./apps at the applied revision: no difference.
		dir := t.TempDir()
		write := func(name, content string) {
			t.Helper()
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("app-config.yaml", fluxCLIConfigMap("app-config", "bonjour"))
		write("app-settings.yaml", fluxCLIConfigMap("app-settings", "off"))
		diff := []string{"diff", "kustomization", "apps", "--path", dir, "--progress-bar=false", "-n", ns}
		f.check(t, fluxCLICase{args: diff, exact: ""})
		// A changed value, a new file and a removed one: exit 1, the
		// drift shown field by field, the new object created and the
		// removed one deleted (pruned, from the inventory).
		write("app-config.yaml", fluxCLIConfigMap("app-config", "hola"))
		write("extra.yaml", fluxCLIConfigMap("extra", "new"))
		if err := os.Remove(filepath.Join(dir, "app-settings.yaml")); err != nil {
			t.Fatal(err)
		}
		f.check(t, fluxCLICase{args: diff, code: 1, want: []string{
			`^► ConfigMap/fluxcli/app-config drifted$`,
			`^data\.value$`, `^- bonjour$`, `^\+ hola$`,
			`^► ConfigMap/fluxcli/extra created$`,
			`^► ConfigMap/fluxcli/app-settings deleted$`,
			`identified at least one change, exiting with non-zero exit code`,
		}})
	})

	t.Run("failure", func(t *testing.T) {
		// Ready=False with the error in the tables and a Warning event.
		f.check(t, fluxCLICase{args: []string{"get", "kustomizations", "broken", "-n", ns}, want: []string{
			`^broken\s+False\s+False\s+.*missing.*$`}})
		f.check(t, fluxCLICase{eventually: true, args: []string{"events", "--for", "Kustomization/broken", "-n", ns}, want: []string{
			`^\S+( \(x\d+ over \S+\))?\s+Warning\s+\S+\s+Kustomization/broken\s+.*missing`}})
		// As with Flux's kustomize-controller, a failed reconciliation
		// keeps Reconciling=True (reason ProgressingWithRetry) until a
		// retry succeeds, so kstatus reports it in progress and `flux
		// reconcile` waits for it until its timeout.
		fluxCLIWait(t, "Kustomization broken Reconciling=True/"+meta.ProgressingWithRetryReason, func() bool {
			c := apimeta.FindStatusCondition(f.kustomization(t, "broken").Status.Conditions, meta.ReconcilingCondition)
			return c != nil && c.Status == metav1.ConditionTrue && c.Reason == meta.ProgressingWithRetryReason
		})
		f.check(t, fluxCLICase{code: 1, args: []string{"reconcile", "kustomization", "broken", "-n", ns, "--timeout", "10s"}, want: []string{
			`^◎ waiting for Kustomization reconciliation$`, `^✗ context deadline exceeded$`}})

		fluxCLIWait(t, "HelmRelease db stalled", func() bool {
			var hr helmv2.HelmRelease
			_ = f.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, &hr)
			return apimeta.IsStatusConditionTrue(hr.Status.Conditions, meta.StalledCondition)
		})
		// A stalled release: a plain reconcile request does not retry it
		// (the CLI reports the stall); --reset clears the failure counters,
		// so the controller tries again (an upgrade of the failed release).
		f.check(t, fluxCLICase{args: []string{"get", "helmreleases", "db", "-n", ns}, want: []string{
			`^db\s+1\.0\.0\s+False\s+False\s+Failed to install after 1 attempt\(s\): exceeded maximum retries: cannot remediate failed release\s*$`}})
		f.check(t, fluxCLICase{code: 1, args: []string{"reconcile", "helmrelease", "db", "-n", ns}, want: []string{
			`^◎ waiting for HelmRelease reconciliation$`, `^✗ Failed to install after 1 attempt\(s\)`}})
		var db helmv2.HelmRelease
		if err := f.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, &db); err != nil {
			t.Fatal(err)
		}
		if l := db.Status.History.Latest(); l == nil || l.Version != 1 || db.Status.InstallFailures != 1 {
			t.Errorf("HelmRelease db after a plain reconcile: latest release %+v, installFailures %d; want release 1 and no retry", l, db.Status.InstallFailures)
		}
		f.check(t, fluxCLICase{code: 1, args: []string{"reconcile", "helmrelease", "db", "--reset", "-n", ns}, want: []string{
			`^✗ Failed to upgrade after 1 attempt\(s\)`}})
		if err := f.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "db"}, &db); err != nil {
			t.Fatal(err)
		}
		if l := db.Status.History.Latest(); l == nil || l.Version != 2 || l.Status != "failed" || db.Status.InstallFailures != 0 ||
			db.Status.UpgradeFailures != 1 || db.Status.LastHandledResetAt != db.Annotations[helmv2.ResetRequestAnnotation] {
			t.Errorf("HelmRelease db after reconcile --reset: latest release %+v, failures install %d upgrade %d, lastHandledResetAt %q",
				l, db.Status.InstallFailures, db.Status.UpgradeFailures, db.Status.LastHandledResetAt)
		}
		f.check(t, fluxCLICase{eventually: true, args: []string{"events", "--for", "HelmRelease/db", "-n", ns}, want: []string{
			`^\S+( \(x\d+ over \S+\))?\s+Warning\s+InstallFailed\s+HelmRelease/db\s+Helm install failed for release fluxcli/db\.v1 with chart app@1\.0\.0: .*Job/fluxcli/db-migrate`,
			`^\S+( \(x\d+ over \S+\))?\s+Warning\s+UpgradeFailed\s+HelmRelease/db\s+Helm upgrade failed for release fluxcli/db\.v2 with chart app@1\.0\.0: `,
		}})

		// A suspended Kustomization does not follow its source; resumed, it
		// applies the source's latest revision.
		f.check(t, fluxCLICase{args: []string{"suspend", "kustomization", "apps", "-n", ns}, want: []string{`^✔ kustomization suspended$`}})
		f.check(t, fluxCLICase{code: 1, args: []string{"reconcile", "kustomization", "apps", "-n", ns}, want: []string{`^✗ resource is suspended$`}})
		rev4 := f.repo.Commit("fourth", map[string]string{"apps/app-settings.yaml": fluxCLIConfigMap("app-settings", "maybe")})
		f.check(t, fluxCLICase{args: []string{"reconcile", "source", "git", "fleet", "-n", ns}, want: []string{`^✔ fetched revision main@sha1:` + rev4 + `$`}})
		f.check(t, fluxCLICase{args: []string{"get", "kustomizations", "apps", "-n", ns}, want: []string{
			`^apps\s+main@sha1:` + f.rev3[:8] + `\s+True\s+True\s+Applied revision: main@sha1:` + f.rev3[:8] + `\s*$`}})
		f.check(t, fluxCLICase{args: []string{"resume", "kustomization", "apps", "-n", ns}, want: []string{
			`^✔ applied revision main@sha1:` + rev4 + `$`}})
		f.rev3 = rev4
	})

	// Commands that read what only a Flux installation has: the
	// controllers' Deployments and Pods in flux-system. The example
	// controllers run in-process, not as Pods (and the test nodes serve no
	// kubelet log API), so these fail by design; `flux stats`, which only
	// reads the objects, works.
	t.Run("bydesign", func(t *testing.T) {
		for _, c := range []fluxCLICase{
			{code: 1, args: []string{"check"}, want: []string{
				`^✗ no controllers found in the 'flux-system' namespace with the label selector 'app\.kubernetes\.io/part-of=flux'$`}},
			{code: 1, args: []string{"logs", "-n", ns}, want: []string{`^✗ no Flux pods found in namespace "flux-system"$`}},
			{code: 1, args: []string{"version"}, want: []string{`^✗ no deployments found in flux-system namespace$`}},
			{args: []string{"version", "--client"}, want: []string{`^flux: v2\.9\.5$`}},
			{args: []string{"stats", "-n", ns}, want: []string{
				`^RECONCILERS\s+RUNNING\s+FAILING\s+SUSPENDED\s+STORAGE`,
				`^GitRepository\s+1\s+0\s+0\s+\d+ B\s*$`, `^Kustomization\s+3\s+1\s+0\s+-\s*$`,
				`^HelmRelease\s+2\s+1\s+0\s+-\s*$`, `^ImagePolicy\s+1\s+0\s+0\s+-\s*$`}},
		} {
			f.check(t, c)
		}
	})

	t.Run("trace", func(t *testing.T) {
		rev3 := regexp.QuoteMeta("main@sha1:" + f.rev3)
		f.check(t, fluxCLICase{args: []string{"trace", "configmap", "app-config", "-n", ns}, want: []string{
			`^Object:\s+ConfigMap/app-config$`, `^Status:\s+Managed by Flux$`,
			`^Kustomization:\s+apps$`, `^Path:\s+\./apps$`, `^Revision:\s+` + rev3 + `$`,
			`^Message:\s+Applied revision: ` + rev3 + `$`,
			`^GitRepository:\s+fleet$`, `^URL:\s+` + regexp.QuoteMeta(f.repo.URL) + `$`, `^Branch:\s+main$`,
			`^Status:\s+Last reconciled at `, `^Message:\s+stored artifact for revision '` + rev3 + `'$`,
		}})
		f.check(t, fluxCLICase{args: []string{"trace", "configmap", "web-config", "-n", ns}, want: []string{
			`^Object:\s+ConfigMap/web-config$`, `^Status:\s+Managed by Flux$`,
			`^HelmRelease:\s+web$`, `^Revision:\s+1\.0\.0$`,
			`^Message:\s+Helm upgrade succeeded for release fluxcli/web\.v2 with chart app@1\.0\.0$`,
			`^HelmChart:\s+fluxcli-web$`, `^Chart:\s+app$`,
			`^HelmRepository:\s+charts$`, `^Message:\s+stored artifact: revision 'sha256:[0-9a-f]{64}'$`,
		}})
		// The OCI artifact's source annotations are shown as its origin.
		f.check(t, fluxCLICase{args: []string{"trace", "--api-version", "v1", "--kind", "ConfigMap", "oci-config", "-n", ns}, want: []string{
			`^Kustomization:\s+oci$`, `^OCIRepository:\s+manifests$`, `^Tag:\s+v1$`,
			`^Revision:\s+v1@` + f.ociDigest + `$`,
			`^Origin Source:\s+` + regexp.QuoteMeta(f.repo.URL) + `$`,
			`^Origin Revision:\s+main@sha1:` + f.rev1 + `$`,
		}})
	})
}

// fluxCLICase is one flux command and what it must print.
type fluxCLICase struct {
	args []string
	// code is the exit status; 0 unless set.
	code int
	// want are regular expressions (multi-line mode) the output matches.
	want []string
	// exact, when want is empty, is the whole output.
	exact string
	// eventually retries the command for up to 30s until the output
	// matches (for Events, which the API server may list a moment after
	// they were emitted).
	eventually bool
}

// run runs flux with args against the control plane and returns its
// combined output and exit status.
func (f *fluxCLIFixture) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(f.flux, append([]string{"--kubeconfig", env.KubeconfigPath, "--timeout", "90s"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("flux %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), 0
}

// check runs c and reports what differs from what it expects; it
// returns the output.
func (f *fluxCLIFixture) check(t *testing.T, c fluxCLICase) string {
	t.Helper()
	mismatch := func(out string, code int) []string {
		var bad []string
		if code != c.code {
			bad = append(bad, fmt.Sprintf("exit %d, want %d", code, c.code))
		}
		for _, p := range c.want {
			if !regexp.MustCompile("(?m)" + p).MatchString(out) {
				bad = append(bad, "no match for "+p)
			}
		}
		if len(c.want) == 0 && out != c.exact {
			bad = append(bad, fmt.Sprintf("output is not %q", c.exact))
		}
		return bad
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, code := f.run(t, c.args...)
		bad := mismatch(out, code)
		if len(bad) == 0 {
			return out
		}
		if !c.eventually || time.Now().After(deadline) {
			t.Errorf("flux %s:\n  %s\noutput:\n%s", strings.Join(c.args, " "), strings.Join(bad, "\n  "), out)
			return out
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// get reads the object kind/name of the fixture's namespace.
func (f *fluxCLIFixture) get(t *testing.T, gvk schema.GroupVersionKind, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: fluxCLINamespace, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	return u
}

// suspended reports the object's spec.suspend.
func (f *fluxCLIFixture) suspended(t *testing.T, gvk schema.GroupVersionKind, name string) bool {
	t.Helper()
	s, _, _ := unstructured.NestedBool(f.get(t, gvk, name).Object, "spec", "suspend")
	return s
}

// artifactRevision is the status.artifact.revision of a source.
func (f *fluxCLIFixture) artifactRevision(t *testing.T, kind, name string) string {
	t.Helper()
	rev, _, _ := unstructured.NestedString(f.get(t, sourcev1.GroupVersion.WithKind(kind), name).Object, "status", "artifact", "revision")
	if !strings.HasPrefix(rev, "sha256:") {
		t.Fatalf("%s %s: artifact revision %q", kind, name, rev)
	}
	return rev
}

func (f *fluxCLIFixture) kustomization(t *testing.T, name string) *kustomizev1.Kustomization {
	t.Helper()
	var k kustomizev1.Kustomization
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: fluxCLINamespace, Name: name}, &k); err != nil {
		t.Fatal(err)
	}
	return &k
}

func (f *fluxCLIFixture) helmRelease(t *testing.T) *helmv2.HelmRelease {
	t.Helper()
	var hr helmv2.HelmRelease
	if err := f.c.Get(context.Background(), client.ObjectKey{Namespace: fluxCLINamespace, Name: "web"}, &hr); err != nil {
		t.Fatal(err)
	}
	return &hr
}

// fluxCLISetup starts the servers, the controllers and the objects, and
// waits until every object is Ready.
func fluxCLISetup(ctx context.Context, t *testing.T) *fluxCLIFixture {
	t.Helper()
	ns := fluxCLINamespace
	scheme, err := fluxscheme.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	f := &fluxCLIFixture{c: c, flux: testbin.Tool(t, "flux")}
	create := func(objs ...client.Object) {
		t.Helper()
		for _, o := range objs {
			if o.GetNamespace() == "" && o.GetObjectKind().GroupVersionKind().Kind != "Namespace" {
				o.SetNamespace(ns)
			}
			if err := c.Create(ctx, o); err != nil {
				t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
			}
		}
	}
	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})

	// The controllers.
	nc, err := notification.Start(ctx, env.Config, notification.Options{SkipNameValidation: true, Logger: logr.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nc.Stop(); err != nil {
			t.Errorf("notification controller: %v", err)
		}
	})
	running, err := controllers.Start(ctx, controllers.Config{
		REST: env.Config, StoreDir: t.TempDir(), SkipNameValidation: true, Logger: logr.Discard(),
		DependencyRequeueInterval: time.Second, HealthPollInterval: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := running.Stop(); err != nil {
			t.Errorf("controllers: %v", err)
		}
	})

	// Git: the apps a Kustomization applies, and a Deployment whose image
	// an ImageUpdateAutomation keeps at the policy's tag.
	reg := ocitest.New(t)
	img := reg.Host + "/web"
	if _, err := reg.PushFiles(ctx, "web", "1.0.0", map[string]string{"tag.txt": "1.0.0"}, oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	gitSrv := gittest.NewHTTPServer(t)
	f.repo = gitSrv.NewRepo(t, "fleet")
	f.rev1 = f.repo.Commit("fleet", map[string]string{
		"apps/app-config.yaml":   fluxCLIConfigMap("app-config", "hello"),
		"apps/app-settings.yaml": fluxCLIConfigMap("app-settings", "on"),
		"image/web.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: %s:1.0.0 # {"$imagepolicy": "%s:web"}
`, img, ns),
	})

	// OCI: an artifact of manifests.
	pushed, err := reg.PushFiles(ctx, "manifests", "v1", map[string]string{"cm.yaml": fluxCLIConfigMap("oci-config", "v1")},
		oci.PushOptions{Source: f.repo.URL, Revision: "main@sha1:" + f.rev1})
	if err != nil {
		t.Fatal(err)
	}
	f.ociHost, f.ociDigest, f.image = reg.Host, pushed.Digest, img

	// Helm: a chart repository with one chart.
	charts := helmtest.New(t)
	if _, err := charts.AddChart(map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: app\nversion: 1.0.0\nappVersion: \"1.0\"\n",
		"values.yaml": "greeting: hello\nhook: \"\"\n",
		// A pre-install hook whose Job fails (testenv.FailAnnotation)
		// when hook is set.
		"templates/hook.yaml": `{{- if .Values.hook }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations:
        ` + testenv.FailAnnotation + `: {{ .Values.hook | quote }}
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: migrate:1.0
{{- end }}
`,
		"templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: {{ .Values.greeting | quote }}
`,
	}); err != nil {
		t.Fatal(err)
	}

	// S3: a versitygw gateway with one bucket.
	s3 := fluxCLIStartS3(ctx, t)
	if err := s3.MakeBucket(ctx, "fleet", minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatal(err)
	}
	body := fluxCLIConfigMap("bucket-config", "one")
	if _, err := s3.PutObject(ctx, "fleet", "cm.yaml", strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	// A sink for the notification Provider.
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(sink.Close)

	hour := metav1.Duration{Duration: time.Hour}
	create(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s3-auth"},
			Data: map[string][]byte{"accesskey": []byte(fluxCLIS3Access), "secretkey": []byte(fluxCLIS3Secret)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "webhook-token"},
			Data: map[string][]byte{"token": []byte("fluxcli-token")}},
		&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}, Spec: sourcev1.GitRepositorySpec{
			URL: f.repo.URL, Interval: hour, Reference: &sourcev1.GitRepositoryRef{Branch: "main"}}},
		&sourcev1.OCIRepository{ObjectMeta: metav1.ObjectMeta{Name: "manifests"}, Spec: sourcev1.OCIRepositorySpec{
			URL: "oci://" + reg.Host + "/manifests", Insecure: true, Interval: hour, Reference: &sourcev1.OCIRepositoryRef{Tag: "v1"}}},
		&sourcev1.HelmRepository{ObjectMeta: metav1.ObjectMeta{Name: "charts"}, Spec: sourcev1.HelmRepositorySpec{
			URL: charts.URL, Interval: hour}},
		&sourcev1.HelmChart{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: sourcev1.HelmChartSpec{
			Chart: "app", Version: "*", Interval: hour,
			SourceRef: sourcev1.LocalHelmChartSourceReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"}}},
		&sourcev1.Bucket{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}, Spec: sourcev1.BucketSpec{
			Provider: sourcev1.BucketProviderGeneric, BucketName: "fleet", Endpoint: s3.EndpointURL().Host, Region: "us-east-1",
			Insecure: true, Interval: hour, SecretRef: &meta.LocalObjectReference{Name: "s3-auth"}}},
		&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "apps"}, Spec: kustomizev1.KustomizationSpec{
			Interval: hour, Path: "./apps", Prune: true, TargetNamespace: ns,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"}}},
		&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "oci"}, Spec: kustomizev1.KustomizationSpec{
			Interval: hour, Path: "./", Prune: true, TargetNamespace: ns,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.OCIRepositoryKind, Name: "manifests"}}},
		// A Kustomization whose path is not in the artifact fails.
		&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "broken"}, Spec: kustomizev1.KustomizationSpec{
			Interval: hour, Path: "./missing", Prune: true, TargetNamespace: ns,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"}}},
		&helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: helmv2.HelmReleaseSpec{
			Interval: hour, Timeout: &metav1.Duration{Duration: time.Minute},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "app", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"}}}}},
		// A release whose install fails; with no retries it stalls.
		&helmv2.HelmRelease{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: helmv2.HelmReleaseSpec{
			Interval: hour, Timeout: &metav1.Duration{Duration: time.Minute},
			Values: &apiextensionsv1.JSON{Raw: []byte(`{"hook":"no database"}`)},
			Chart: &helmv2.HelmChartTemplate{Spec: helmv2.HelmChartTemplateSpec{
				Chart: "app", SourceRef: helmv2.CrossNamespaceObjectReference{Kind: sourcev1.HelmRepositoryKind, Name: "charts"}}}}},
		&imagev1.ImageRepository{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: imagev1.ImageRepositorySpec{
			Image: img, Insecure: true, Interval: hour}},
		&imagev1.ImagePolicy{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: imagev1.ImagePolicySpec{
			ImageRepositoryRef: meta.NamespacedObjectReference{Name: "web"},
			Policy:             imagev1.ImagePolicyChoice{SemVer: &imagev1.SemVerPolicy{Range: ">=1.0.0"}}}},
		&imageautov1.ImageUpdateAutomation{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: imageautov1.ImageUpdateAutomationSpec{
			SourceRef: imageautov1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
			Interval:  hour,
			GitSpec: &imageautov1.GitSpec{Commit: imageautov1.CommitSpec{
				Author: imageautov1.CommitUser{Name: "fluxbot", Email: "fluxbot@example.com"}}},
			Update: &imageautov1.UpdateStrategy{Strategy: imageautov1.UpdateStrategySetters, Path: "./image"}}},
		&notifyv1beta3.Provider{ObjectMeta: metav1.ObjectMeta{Name: "sink"}, Spec: notifyv1beta3.ProviderSpec{
			Type: "generic", Address: sink.URL}},
		&notifyv1beta3.Alert{ObjectMeta: metav1.ObjectMeta{Name: "all"}, Spec: notifyv1beta3.AlertSpec{
			ProviderRef: meta.LocalObjectReference{Name: "sink"},
			EventSources: []notifyv1.CrossNamespaceObjectReference{
				{Kind: kustomizev1.KustomizationKind, Name: "*"}, {Kind: helmv2.HelmReleaseKind, Name: "*"}}}},
		&notifyv1.Receiver{ObjectMeta: metav1.ObjectMeta{Name: "hook"}, Spec: notifyv1.ReceiverSpec{
			Type: "generic", SecretRef: &meta.LocalObjectReference{Name: "webhook-token"},
			Resources: []notifyv1.ReceiverResource{{CrossNamespaceObjectReference: notifyv1.CrossNamespaceObjectReference{
				Kind: sourcev1.GitRepositoryKind, Name: "fleet"}}}}},
	)
	for _, o := range fluxCLIObjects() {
		if !o.static {
			fluxCLIWaitReady(t, c, o, 2*time.Minute)
		}
	}
	return f
}

// fluxCLIObjects are the objects fluxCLISetup creates.
func fluxCLIObjects() []fluxCLIObject {
	src, ks, hr := sourcev1.GroupVersion, kustomizev1.GroupVersion, helmv2.GroupVersion
	img, auto, nt, ntb := imagev1.GroupVersion, imageautov1.GroupVersion, notifyv1.GroupVersion, notifyv1beta3.GroupVersion
	return []fluxCLIObject{
		{gvk: src.WithKind(sourcev1.GitRepositoryKind), name: "fleet"},
		{gvk: src.WithKind(sourcev1.OCIRepositoryKind), name: "manifests"},
		{gvk: src.WithKind(sourcev1.HelmRepositoryKind), name: "charts"},
		{gvk: src.WithKind(sourcev1.HelmChartKind), name: "app"},
		{gvk: src.WithKind(sourcev1.BucketKind), name: "fleet"},
		{gvk: ks.WithKind(kustomizev1.KustomizationKind), name: "apps"},
		{gvk: ks.WithKind(kustomizev1.KustomizationKind), name: "oci"},
		{gvk: hr.WithKind(helmv2.HelmReleaseKind), name: "web"},
		{gvk: img.WithKind(imagev1.ImageRepositoryKind), name: "web"},
		{gvk: img.WithKind(imagev1.ImagePolicyKind), name: "web"},
		{gvk: auto.WithKind(imageautov1.ImageUpdateAutomationKind), name: "web"},
		{gvk: ntb.WithKind(notifyv1beta3.ProviderKind), name: "sink", static: true},
		{gvk: ntb.WithKind(notifyv1beta3.AlertKind), name: "all", static: true},
		{gvk: nt.WithKind(notifyv1.ReceiverKind), name: "hook"},
	}
}

// fluxCLIWait polls cond until it holds, for up to a minute.
func fluxCLIWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(context.Context) (bool, error) {
		return cond(), nil
	}); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// fluxCLIWaitReady polls o until it is Ready=True for its generation.
func fluxCLIWaitReady(t *testing.T, c client.Client, o fluxCLIObject, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(o.gvk)
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: fluxCLINamespace, Name: o.name}, u); err != nil {
			return false, err
		}
		return fluxCLIReady(u), nil
	})
	if err != nil {
		t.Fatalf("%s %s Ready: %v\nstatus: %v", o.gvk.Kind, o.name, err, u.Object["status"])
	}
}

// fluxCLIReady reports whether u has a Ready=True condition and has
// observed its generation.
func fluxCLIReady(u *unstructured.Unstructured) bool {
	gen, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var conds []metav1.Condition
	for _, r := range raw {
		m, _ := r.(map[string]any)
		typ, _ := m["type"].(string)
		status, _ := m["status"].(string)
		conds = append(conds, metav1.Condition{Type: typ, Status: metav1.ConditionStatus(status)})
	}
	return gen == u.GetGeneration() && apimeta.IsStatusConditionTrue(conds, meta.ReadyCondition)
}

// fluxCLIConfigMap is a ConfigMap manifest with one key.
func fluxCLIConfigMap(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  value: %q\n", name, value)
}

const (
	fluxCLIS3Access = "AKIAFLUXCLITEST"
	fluxCLIS3Secret = "fluxcli-secret-Hq3vT8"
)

// fluxCLIStartS3 starts a versitygw gateway (posix backend) until the
// test ends and returns a client of it.
func fluxCLIStartS3(ctx context.Context, t *testing.T) *minio.Client {
	t.Helper()
	bin := testbin.Tool(t, "versitygw")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var logs bytes.Buffer
	dir := filepath.Join(t.TempDir(), "s3")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--access", fluxCLIS3Access, "--secret", fluxCLIS3Secret, "--region", "us-east-1", "--port", addr, "posix", dir)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("versitygw output:\n%s", logs.String())
		}
	})
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := wait.PollUntilContextCancel(pctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
		}
		return err == nil, nil
	}); err != nil {
		t.Fatalf("versitygw listening on %s: %v", addr, err)
	}
	s3, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(fluxCLIS3Access, fluxCLIS3Secret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return s3
}
