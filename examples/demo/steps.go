package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	notifyv1 "github.com/fluxcd/notification-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Status table names of the objects the steps wait for.
const (
	rowGit        = "gitrepository/fleet"
	rowInfra      = "kustomization/infrastructure"
	rowApps       = "kustomization/apps"
	rowBackend    = "helmrelease/backend"
	rowPolicy     = "imagepolicy/" + proxyImage
	rowAutomation = "imageupdateautomation/fleet"
	rowReceiver   = "receiver/github"
)

// view is one poll of the status table.
type view map[string]row

// ready reports whether the named rows are Ready for their generation.
func (v view) ready(names ...string) bool {
	for _, n := range names {
		if !v[n].Current {
			return false
		}
	}
	return true
}

// waitFor prints the status table whenever it changes until done holds.
func (d *demo) waitFor(ctx context.Context, what string, done func(context.Context, view) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, d.o.timeout)
	defer cancel()
	last, lastPrint := "", time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		rows, err := statusRows(ctx, d.c, demoNamespace)
		if err == nil {
			v := view{}
			for _, r := range rows {
				v[r.Name] = r
			}
			d.observe(v)
			var b bytes.Buffer
			writeTable(&b, rows)
			if table := b.String(); table != last {
				fmt.Fprintf(d.o.out, "[%6.1fs]\n%s", time.Since(d.start).Seconds(), indent(table))
				last, lastPrint = table, time.Now()
			} else if time.Since(lastPrint) > 5*time.Second {
				fmt.Fprintf(d.o.out, "[%6.1fs] still waiting for %s...\n", time.Since(d.start).Seconds(), what)
				lastPrint = time.Now()
			}
			ok, err := done(ctx, v)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w\n%s", what, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// observe records when rows first became Ready, and whether apps was
// applied before its HelmRelease dependency was ever Ready. The table
// lists Kustomizations before HelmReleases: a HelmRelease that was Ready
// before apps was applied is seen Ready in the same poll.
func (d *demo) observe(v view) {
	now := time.Since(d.start)
	for name, r := range v {
		if _, seen := d.firstSeen[name]; !seen && r.Current {
			d.firstSeen[name] = now
		}
	}
	if apps := v[rowApps]; d.appsWaiting == "" && apps.Ready == "False" && strings.Contains(apps.Message, "HelmRelease") {
		d.appsWaiting = apps.Message
	}
	if _, seen := d.firstSeen["applied:apps"]; !seen && v[rowApps].Revision != "" {
		d.firstSeen["applied:apps"] = now
		if _, ready := d.firstSeen[rowBackend]; !ready {
			d.orderViolated = true
		}
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

// converge waits for every object to be Ready: the infrastructure at
// gitRev, the HelmRelease installed, the apps at ociRev, the image policy
// at 1.0.0 and the Receiver serving its path.
func (d *demo) converge(ctx context.Context, gitRev, ociRev string) error {
	d.step("Waiting for everything to become Ready (infrastructure at %s, apps at %s)", shortRevision(gitRev), shortRevision(ociRev))
	err := d.waitFor(ctx, "every object to be Ready", func(_ context.Context, v view) (bool, error) {
		for _, r := range v {
			if !r.Current {
				return false, nil
			}
		}
		return v[rowInfra].Revision == gitRev && v[rowApps].Revision == ociRev && v.ready(rowBackend, rowPolicy, rowAutomation, rowReceiver) &&
			strings.HasSuffix(v[rowPolicy].Revision, ":1.0.0"), nil
	})
	if err != nil {
		return err
	}
	// What the HelmRelease installed.
	var hr helmv2.HelmRelease
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: demoNamespace, Name: "backend"}, &hr); err != nil {
		return err
	}
	if snap := hr.Status.History.Latest(); snap != nil {
		d.info("HelmRelease backend: release %s/%s v%d, chart %s %s, %s", snap.Namespace, snap.Name, snap.Version, snap.ChartName, snap.ChartVersion, snap.Status)
	}
	var db corev1.Secret
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: appsNamespace, Name: "backend-database"}, &db); err != nil {
		return err
	}
	match := "does NOT match"
	if string(db.Data["DB_PASSWORD"]) == d.password {
		match = "matches"
	}
	d.info("Secret %s/backend-database rendered by Helm: DB_USER=%s, DB_PASSWORD (%d characters) %s the value SOPS-encrypted in Git (valuesFrom Secret backend-values, decrypted by the Kustomization)",
		appsNamespace, db.Data["DB_USER"], len(db.Data["DB_PASSWORD"]), match)
	if err := d.showSettings(ctx); err != nil {
		return err
	}
	var cm corev1.ConfigMap
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: appsNamespace, Name: "web-config"}, &cm); err != nil {
		return err
	}
	d.info("ConfigMap %s/web-config from the OCI artifact (post-build substitution): greeting=%q environment=%q", appsNamespace, cm.Data["greeting"], cm.Data["environment"])
	hrAt, appsAt := d.firstSeen[rowBackend], d.firstSeen["applied:apps"]
	if d.orderViolated {
		d.info("WARNING: Kustomization apps was applied at %.1fs, before HelmRelease backend was Ready", appsAt.Seconds())
	} else {
		d.info("HelmRelease backend Ready at %.1fs, then Kustomization apps applied at %.1fs: apps waited for its dependency across kinds",
			hrAt.Seconds(), appsAt.Seconds())
	}
	if d.appsWaiting != "" {
		d.info("while waiting, apps reported: %s", d.appsWaiting)
	}
	return nil
}

func (d *demo) showSettings(ctx context.Context) error {
	var cm corev1.ConfigMap
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: appsNamespace, Name: "backend-settings"}, &cm); err != nil {
		return err
	}
	d.info("ConfigMap %s/backend-settings (inline values): greeting=%q replicas=%q", appsNamespace, cm.Data["greeting"], cm.Data["replicas"])
	return nil
}

// imageUpdate pushes a newer tag, waits for the policy to pick it and the
// automation to commit it, calls the Receiver and waits for the commit to
// be applied.
func (d *demo) imageUpdate(ctx context.Context) error {
	d.step("Pushing %s:1.1.0 to the registry and requesting a scan (flux reconcile image repository)", proxyImage)
	if err := d.pushImage(ctx, "1.1.0"); err != nil {
		return err
	}
	if err := d.requestReconcile(ctx, &imagev1.ImageRepository{ObjectMeta: objectMeta(proxyImage)}); err != nil {
		return err
	}
	var auto imageautov1.ImageUpdateAutomation
	err := d.waitFor(ctx, "the automation's commit", func(ctx context.Context, v view) (bool, error) {
		if !strings.HasSuffix(v[rowPolicy].Revision, ":1.1.0") {
			return false, nil
		}
		if err := d.c.Get(ctx, client.ObjectKey{Namespace: demoNamespace, Name: "fleet"}, &auto); err != nil {
			return false, err
		}
		return auto.Status.LastPushCommit != "", nil
	})
	if err != nil {
		return err
	}
	commit := auto.Status.LastPushCommit
	msg, err := d.repo.Git("log", "-1", "--format=%an: %s", commit)
	if err != nil {
		return err
	}
	d.info("ImagePolicy %s picked 1.1.0; ImageUpdateAutomation fleet pushed commit %s (%s)", proxyImage, commit[:8], strings.TrimSpace(msg))
	return d.webhookAndApply(ctx, commit, func(ctx context.Context) (bool, error) {
		var dep appsv1.Deployment
		if err := d.c.Get(ctx, client.ObjectKey{Namespace: appsNamespace, Name: proxyImage}, &dep); err != nil {
			return false, err
		}
		img := dep.Spec.Template.Spec.Containers[0].Image
		if img != d.image+":1.1.0" {
			return false, nil
		}
		d.info("Deployment %s/%s now runs %s", appsNamespace, proxyImage, img)
		return true, nil
	})
}

// webhookAndApply calls the Receiver as GitHub does after a push of
// commit, then waits for the infrastructure to apply it and applied to
// report the result.
func (d *demo) webhookAndApply(ctx context.Context, commit string, applied func(context.Context) (bool, error)) error {
	var rcv notifyv1.Receiver
	if err := d.c.Get(ctx, client.ObjectKey{Namespace: demoNamespace, Name: "github"}, &rcv); err != nil {
		return err
	}
	d.step("Calling the Receiver as GitHub would: push event for %s, signed with the webhook secret (X-Hub-Signature-256)", commit[:8])
	sent := time.Now()
	if err := postGitHubPush(ctx, d.receiverURL+rcv.Status.WebhookPath, d.webhookSecret, d.repo.URL, commit); err != nil {
		return err
	}
	rev := "main@sha1:" + commit
	var fetched time.Duration
	err := d.waitFor(ctx, "the infrastructure to apply "+shortRevision(rev), func(ctx context.Context, v view) (bool, error) {
		if fetched == 0 && v[rowGit].Revision == rev {
			fetched = time.Since(sent)
		}
		if v[rowInfra].Revision != rev || !v[rowInfra].Current {
			return false, nil
		}
		return applied(ctx)
	})
	if err != nil {
		return err
	}
	d.info("GitRepository fleet fetched %s %.1fs after the webhook, applied %.1fs after it (its interval is %s)",
		shortRevision(rev), fetched.Seconds(), time.Since(sent).Seconds(), gitInterval)
	return nil
}

// change commits a change by hand (a HelmRelease values edit and a removed
// manifest) and announces it through the Receiver.
func (d *demo) change(ctx context.Context) error {
	d.step("Committing a change: a new inline greeting for the HelmRelease, legacy-banner.yaml removed")
	files, removed := fleetV2(d.image)
	if err := d.repo.Remove(removed...); err != nil {
		return err
	}
	commit, err := d.repo.Commit("New greeting, drop the legacy banner", files)
	if err != nil {
		return err
	}
	return d.webhookAndApply(ctx, commit, func(ctx context.Context) (bool, error) {
		var hr helmv2.HelmRelease
		if err := d.c.Get(ctx, client.ObjectKey{Namespace: demoNamespace, Name: "backend"}, &hr); err != nil {
			return false, err
		}
		snap := hr.Status.History.Latest()
		if snap == nil || snap.Version < 2 || snap.Status != "deployed" || hr.Status.ObservedGeneration != hr.Generation {
			return false, nil
		}
		err := d.c.Get(ctx, client.ObjectKey{Namespace: appsNamespace, Name: "legacy-banner"}, &corev1.ConfigMap{})
		if !apierrors.IsNotFound(err) {
			return false, client.IgnoreNotFound(err)
		}
		d.info("HelmRelease backend upgraded: release v%d %s", snap.Version, snap.Status)
		if err := d.showSettings(ctx); err != nil {
			return false, err
		}
		d.info("ConfigMap %s/legacy-banner: pruned (removed from Git, deleted from the cluster)", appsNamespace)
		return true, nil
	})
}

// showSink waits, up to ten seconds, for the notification of the last
// change (the HelmRelease's upgrade: events travel asynchronously through
// the event server) and prints the last notifications the sink received.
func (d *demo) showSink(ctx context.Context) {
	deadline := time.Now().Add(10 * time.Second)
	for !slices.ContainsFunc(d.sink.Lines(), func(l string) bool { return strings.Contains(l, "HelmRelease/backend UpgradeSucceeded") }) &&
		time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
	lines := d.sink.Lines()
	const last = 20
	d.step("The notification sink received %d notifications (Provider sink, Alert everything); the last %d:", len(lines), min(last, len(lines)))
	for _, l := range lines[max(0, len(lines)-last):] {
		fmt.Fprintf(d.o.out, "    %s\n", l)
	}
}
