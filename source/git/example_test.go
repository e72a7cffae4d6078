package git_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

// Example fetches a branch from a smart HTTP server, then asks again with
// the last revision: the second call is a single ls-remote.
func Example() {
	t := &testing.T{} // in a test, use its own *testing.T
	srv := gittest.NewHTTPServer(t, gittest.WithBasicAuth("user", "pass"))
	repo := srv.NewRepo(t, "app")
	repo.Commit("add manifests", map[string]string{"deploy/app.yaml": "kind: ConfigMap\n"})

	auth, err := git.AuthFromSecretData(map[string][]byte{
		"username": []byte("user"), "password": []byte("pass"),
	}, repo.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	src := &git.Repository{URL: repo.URL, Ref: git.Reference{Branch: "main"}, Auth: auth}

	tmp, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(tmp)
	snap, err := src.Fetch(context.Background(), filepath.Join(tmp, "1"), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(tmp, "1", "deploy", "app.yaml"))
	fmt.Println(strings.HasPrefix(snap.Revision, "main@sha1:"), snap.Commit.ShortMessage())
	fmt.Print(string(b))

	_, err = src.Fetch(context.Background(), filepath.Join(tmp, "2"), snap.Revision)
	fmt.Println(errors.Is(err, source.ErrUnchanged))
	// Output:
	// true add manifests
	// kind: ConfigMap
	// true
}

// ExampleReference shows that a Reference names what to check out: the
// zero value is a configuration error, found before any network traffic,
// rather than a guess between Flux's default branch ("master") and the
// "main" of most hosts and of gittest.
func ExampleReference() {
	src := &git.Repository{URL: "https://git.example.com/fleet.git"}
	_, err := src.Resolve(context.Background())
	fmt.Println(errors.Is(err, source.ErrInvalid))
	fmt.Println(err)

	// Flux's default, named: git.Reference{Branch: git.DefaultBranch}.
	// Output:
	// true
	// git resolve https://git.example.com/fleet.git: invalid configuration: no reference to check out: name a Branch, Tag, SemVer, Name or Commit (for Flux's default, branch "master", set Branch: git.DefaultBranch)
}
