package image_test

import (
	"context"
	"strings"
	"testing"
	"time"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/source/git/gittest"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// An automation run with the same policies and the same branch head does
// not clone; a new commit upstream makes the next run clone again. The
// push goes to an automation branch.
func TestAutomationSkipsWithoutChanges(t *testing.T) {
	ctx := context.Background()
	const ns = "skip"
	namespace(t, ns)
	startControllers(t, false)

	reg := ocitest.New(t)
	pushTag(t, reg, "web", "1.0.0")
	img := reg.Host + "/web"
	srv := gittest.NewHTTPServer(t)
	fleet := srv.NewRepo(t, "fleet")
	fleet.Commit("init", map[string]string{"apps/web.yaml": "image: " + img + `:0.9.0 # {"$imagepolicy": "skip:web"}` + "\n"})

	src := gitRepository(ns, "fleet", srv.URL+"/fleet")
	src.Spec.Suspend = true // only the automation talks to the server
	pol := semverPolicy(ns, "web", "", "web", ">=0.1.0")
	pol.Labels = map[string]string{"auto": "yes"}
	other := semverPolicy(ns, "other", "", "web", ">=0.1.0")
	auto := automation(ns, "auto", "fleet")
	auto.Spec.GitSpec.Push = &imageautov1.PushSpec{Branch: "image-updates"}
	auto.Spec.Update.Path = "apps"
	auto.Spec.PolicySelector = &metav1.LabelSelector{MatchLabels: map[string]string{"auto": "yes"}}
	create(t, src, imageRepository(ns, "web", img), pol, other, auto)

	get := func(ctx context.Context) (*imageautov1.ImageUpdateAutomation, error) {
		var a imageautov1.ImageUpdateAutomation
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "auto"}, &a)
		return &a, err
	}
	var a *imageautov1.ImageUpdateAutomation
	poll(t, time.Minute, "first push", func(ctx context.Context) (bool, error) {
		var err error
		a, err = get(ctx)
		return err == nil && a.Status.LastPushCommit != "", err
	})
	if got := strings.TrimSpace(fleet.Git("rev-parse", "image-updates")); got != a.Status.LastPushCommit {
		t.Errorf("image-updates at %s, lastPushCommit %s", got, a.Status.LastPushCommit)
	}
	if _, ok := a.Status.ObservedPolicies["other"]; ok || a.Status.ObservedPolicies["web"].Tag != "1.0.0" {
		t.Errorf("observedPolicies %+v: want only the selected policy", a.Status.ObservedPolicies)
	}
	if a.Status.ObservedSourceRevision != "main@sha1:"+fleet.Head() {
		t.Errorf("observedSourceRevision %q, main at %s", a.Status.ObservedSourceRevision, fleet.Head())
	}

	// Nothing changed: the run ends after an ls-remote.
	packs, last := srv.UploadPacks(), a.Status.LastAutomationRunTime.Time
	time.Sleep(1100 * time.Millisecond) // the run time has a one-second resolution
	touch := func() {
		var p imagev1.ImagePolicy
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &p); err != nil {
			t.Fatal(err)
		}
		p.Labels["touched"] = time.Now().Format("150405.000000")
		if err := env.Client.Update(ctx, &p); err != nil {
			t.Fatal(err)
		}
	}
	touch()
	poll(t, time.Minute, "second run", func(ctx context.Context) (bool, error) {
		var err error
		a, err = get(ctx)
		return err == nil && a.Status.LastAutomationRunTime.After(last), err
	})
	if n := srv.UploadPacks(); n != packs {
		t.Errorf("the run without changes fetched %d times", n-packs)
	}
	if c := apimeta.FindStatusCondition(a.Status.Conditions, meta.ReadyCondition); c == nil || c.Status != metav1.ConditionTrue || c.Message != "repository up-to-date" {
		t.Errorf("Ready %+v", c)
	}

	// A new commit on the checkout branch: the next run clones.
	head := fleet.Commit("unrelated", map[string]string{"README": "x\n"})
	touch()
	poll(t, time.Minute, "run after upstream commit", func(ctx context.Context) (bool, error) {
		var err error
		a, err = get(ctx)
		return err == nil && a.Status.ObservedSourceRevision == "main@sha1:"+head, err
	})
	if srv.UploadPacks() == packs {
		t.Error("the run after an upstream commit did not fetch")
	}
}
