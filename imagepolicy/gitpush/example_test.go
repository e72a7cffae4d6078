package gitpush_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/gitopskit/gitopskit/imagepolicy"
	"github.com/gitopskit/gitopskit/imagepolicy/gitpush"
	"github.com/gitopskit/gitopskit/imagepolicy/update"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

// The automation loop's Git side: clone, rewrite the marked fields, commit
// and push to an automation branch; a second run with nothing to change is
// a no-op.
func ExampleRepo_CommitAndPush() {
	root, _ := os.MkdirTemp("", "srv")
	defer os.RemoveAll(root)
	srv, err := gittest.StartHTTPServer(root)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	origin, _ := srv.InitWorktree("fleet")
	origin.Commit("init", map[string]string{"apps/web.yaml": "image: ghcr.io/org/web:1.0.0 # {\"$imagepolicy\": \"flux-system:web\"}\n"})

	ctx := context.Background()
	policies := []update.Policy{{Namespace: "flux-system", Name: "web", Latest: imagepolicy.ImageRef{Name: "ghcr.io/org/web", Tag: "1.1.0"}}}
	for range 2 {
		dir, _ := os.MkdirTemp("", "work")
		defer os.RemoveAll(dir)
		repo, err := gitpush.Clone(ctx, dir, gitpush.CloneOptions{URL: srv.URL + "/fleet", Branch: "main", PushBranch: "image-updates"})
		if err != nil {
			fmt.Println(err)
			return
		}
		changed, err := update.Apply(ctx, repo.Dir(), policies, update.Options{Path: "apps"})
		if err != nil {
			fmt.Println(err)
			return
		}
		msg, _ := update.CommitMessage(`Update {{ range .Changed.Changes }}{{ .NewValue }}{{ end }}`, update.TemplateData{Changed: changed})
		res, err := repo.CommitAndPush(ctx, gitpush.CommitOptions{
			Author:  gitpush.Signature{Name: "fluxbot", Email: "fluxbot@example.com"},
			Message: msg,
		}, gitpush.PushOptions{})
		if errors.Is(err, gitpush.ErrNoChanges) {
			fmt.Println("nothing to push")
			continue
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(res.Branch, res.Message)
	}
	// Output:
	// image-updates Update ghcr.io/org/web:1.1.0
	// nothing to push
}
