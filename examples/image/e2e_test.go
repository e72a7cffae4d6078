package image_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/examples/internal/sourcetest"
	"github.com/gitopskit/gitopskit/source/git/gittest"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

func deployment(img string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
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
        image: %s # {"$imagepolicy": "e2e-image:web"}
`, img)
}

func pushTag(t *testing.T, reg *ocitest.Registry, repo, tag string) {
	t.Helper()
	if _, err := reg.PushFiles(context.Background(), repo, tag, map[string]string{"tag.txt": tag}, oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
}

// End to end: a new tag pushed to the registry is scanned, selected,
// committed to Git by the automation, fetched by the GitRepository and
// applied by the Kustomization.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	const ns = "e2e-image"
	namespace(t, ns)
	startControllers(t, false)

	reg := ocitest.New(t)
	pushTag(t, reg, "web", "1.0.0")
	pushTag(t, reg, "web", "1.0.0.sig")
	img := reg.Host + "/web"

	srv := gittest.NewHTTPServer(t)
	fleet := srv.NewRepo(t, "fleet")
	fleet.Commit("init", map[string]string{"web.yaml": deployment(img + ":1.0.0")})

	create(t, gitRepository(ns, "fleet", srv.URL+"/fleet"))
	sourcetest.KustomizationFor(t, env, ns, sourcev1.GitRepositoryKind, "fleet")
	image := func() string {
		var d appsv1.Deployment
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &d); err != nil {
			if apierrors.IsNotFound(err) {
				return ""
			}
			t.Fatal(err)
		}
		return d.Spec.Template.Spec.Containers[0].Image
	}
	poll(t, time.Minute, "first apply", func(context.Context) (bool, error) { return image() == img+":1.0.0", nil })

	create(t, imageRepository(ns, "web", img), semverPolicy(ns, "web", "", "web", ">=1.0.0"), automation(ns, "auto", "fleet"))

	var repo imagev1.ImageRepository
	poll(t, time.Minute, "first scan", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &repo)
		return err == nil && ready(repo.Status.Conditions) && repo.Status.LastScanResult != nil, err
	})
	if got := repo.Status.LastScanResult.TagCount; got != 1 {
		t.Errorf("tagCount = %d, want 1 (the .sig tag excluded)", got)
	}
	if repo.Status.CanonicalImageName != img || strings.Join(repo.Status.ObservedExclusionList, ",") != `^.*\.sig$` {
		t.Errorf("canonicalImageName %q, observedExclusionList %q", repo.Status.CanonicalImageName, repo.Status.ObservedExclusionList)
	}

	var auto imageautov1.ImageUpdateAutomation
	poll(t, time.Minute, "automation up to date", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "auto"}, &auto)
		return err == nil && ready(auto.Status.Conditions) && auto.Status.ObservedPolicies["web"].Tag == "1.0.0", err
	})
	if auto.Status.LastPushCommit != "" {
		t.Errorf("a commit was pushed with nothing to change: %s", auto.Status.LastPushCommit)
	}
	head := fleet.Head()

	pushTag(t, reg, "web", "1.1.0")
	pushTag(t, reg, "web", "2.0.0-rc.1")
	var pol imagev1.ImagePolicy
	poll(t, time.Minute, "policy selects 1.1.0", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &pol)
		return err == nil && pol.Status.LatestRef != nil && pol.Status.LatestRef.Tag == "1.1.0", err
	})
	if p := pol.Status.ObservedPreviousRef; p == nil || p.Tag != "1.0.0" || pol.Status.LatestRef.Name != img {
		t.Errorf("latestRef %+v, observedPreviousRef %+v", pol.Status.LatestRef, p)
	}
	poll(t, time.Minute, "automation pushes", func(ctx context.Context) (bool, error) {
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "auto"}, &auto)
		return err == nil && auto.Status.LastPushCommit != "", err
	})
	newHead := fleet.Head()
	if newHead == head || auto.Status.LastPushCommit != newHead {
		t.Fatalf("lastPushCommit %s, repository head %s (was %s)", auto.Status.LastPushCommit, newHead, head)
	}
	if auto.Status.LastPushTime == nil || auto.Status.ObservedSourceRevision != "main@sha1:"+newHead {
		t.Errorf("lastPushTime %v, observedSourceRevision %q", auto.Status.LastPushTime, auto.Status.ObservedSourceRevision)
	}
	want := fmt.Sprintf("Automation %s/auto %s:1.0.0 -> %s:1.1.0", ns, img, img)
	if msg := strings.TrimSpace(fleet.Git("log", "-1", "--format=%B")); msg != want {
		t.Errorf("commit message %q, want %q", msg, want)
	}
	if author := strings.TrimSpace(fleet.Git("log", "-1", "--format=%an <%ae>")); author != "fluxbot <fluxbot@example.com>" {
		t.Errorf("author %q", author)
	}
	content := fleet.Git("show", "HEAD:web.yaml")
	if !strings.Contains(content, "image: "+img+`:1.1.0 # {"$imagepolicy": "e2e-image:web"}`) {
		t.Errorf("committed web.yaml:\n%s", content)
	}
	poll(t, 2*time.Minute, "Kustomization applies the new image", func(context.Context) (bool, error) { return image() == img+":1.1.0", nil })
}
