package gitpush_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/imagepolicy"
	"github.com/gitopskit/gitopskit/imagepolicy/gitpush"
	"github.com/gitopskit/gitopskit/imagepolicy/update"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git"
	"github.com/gitopskit/gitopskit/source/git/gittest"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// TestAutomationLoop runs the whole loop with the real servers and without
// a cluster: a new tag in the registry is scanned and selected, the
// manifest in Git is rewritten, committed and pushed, and the Git source
// sees the new revision with the new image; a second pass changes nothing.
func TestAutomationLoop(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.New(t)
	for _, tag := range []string{"1.0.0", "1.0.1", "2.0.0-rc.1"} {
		if _, err := reg.PushFiles(ctx, "team/web", tag, map[string]string{"f": tag}, oci.PushOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	client := reg.Client()
	image, err := imagepolicy.ParseImage(reg.Host+"/team/web", true)
	if err != nil {
		t.Fatal(err)
	}
	srv := gittest.NewHTTPServer(t)
	origin := srv.NewRepo(t, "fleet")
	origin.Commit("init", map[string]string{"apps/web.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: " + image.Name + ":1.0.0 # {\"$imagepolicy\": \"flux-system:web\"}\n"})
	gitSource := &git.Repository{URL: srv.URL + "/fleet", Ref: git.Reference{Branch: "main"}}
	first, err := gitSource.Fetch(ctx, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}

	policy := imagepolicy.Policy{SemVer: &imagepolicy.SemVerPolicy{Range: "1.x"}}
	var previous *imagepolicy.ImageRef
	pass := func() (gitpush.Result, error) {
		// ImageRepository: scan.
		scan, err := imagepolicy.Scan(ctx, &client, image, imagepolicy.ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// ImagePolicy: select and reflect the digest.
		tag, err := imagepolicy.Select(policy, scan.Tags)
		if err != nil {
			t.Fatal(err)
		}
		latest, err := imagepolicy.LatestRef(ctx, &client, image, tag, imagepolicy.ReflectIfNotPresent, previous)
		if err != nil {
			t.Fatal(err)
		}
		previous = &latest
		// ImageUpdateAutomation: clone, rewrite, commit, push.
		repo, err := gitpush.Clone(ctx, t.TempDir(), gitpush.CloneOptions{URL: srv.URL + "/fleet", Branch: "main"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := update.Apply(ctx, repo.Dir(), []update.Policy{{Namespace: "flux-system", Name: "web", Latest: latest}}, update.Options{Path: "apps"})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := update.CommitMessage("", update.TemplateData{Changed: res})
		if err != nil {
			t.Fatal(err)
		}
		return repo.CommitAndPush(ctx, gitpush.CommitOptions{Author: gitpush.Signature{Name: "bot", Email: "bot@example.com"}, Message: msg}, gitpush.PushOptions{})
	}

	pushed, err := pass()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	snap, err := gitSource.Fetch(ctx, dir, first.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != pushed.Revision {
		t.Fatalf("Git source revision %s, pushed %s", snap.Revision, pushed.Revision)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "apps", "web.yaml"))
	if want := "image: " + previous.String() + " #"; !strings.Contains(string(b), want) || !strings.Contains(previous.String(), ":1.0.1@sha256:") {
		t.Fatalf("manifest:\n%s\nwant %q", b, want)
	}
	// Nothing new in the registry: no commit, and the source is unchanged.
	if _, err := pass(); !errors.Is(err, gitpush.ErrNoChanges) {
		t.Fatalf("second pass = %v; want ErrNoChanges", err)
	}
	if _, err := gitSource.Fetch(ctx, t.TempDir(), snap.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Fatalf("second fetch = %v; want ErrUnchanged", err)
	}
}
