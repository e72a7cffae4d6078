package gittest_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gitopskit/gitopskit/source/git/gittest"
)

// ExampleNewHTTPServer starts a smart HTTP server, commits to a repository
// it serves and clones it with the git CLI.
func ExampleNewHTTPServer() {
	t := &testing.T{} // in a real test, use the test's own *testing.T
	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "app")
	repo.Commit("first", map[string]string{"hello.txt": "hi\n"})

	dst, _ := os.MkdirTemp("", "clone")
	defer os.RemoveAll(dst)
	if err := exec.Command("git", "clone", "-q", repo.URL, dst).Run(); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(dst, "hello.txt"))
	fmt.Print(string(b))
	fmt.Println(srv.UploadPacks() > 0)
	// Output:
	// hi
	// true
}

// ExampleInitWorktree builds and serves a repository from a program that
// has no testing.TB, reporting failures as errors.
func ExampleInitWorktree() {
	root, _ := os.MkdirTemp("", "git")
	defer os.RemoveAll(root)
	srv, err := gittest.StartHTTPServer(root)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	w, err := srv.InitWorktree("fleet")
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := w.Commit("add app", map[string]string{"app.yaml": "kind: ConfigMap\n"}); err != nil {
		fmt.Println(err)
		return
	}
	out, err := exec.Command("git", "ls-remote", "--heads", w.URL).Output()
	if err != nil {
		fmt.Println(err)
		return
	}
	head, _ := w.Head()
	fmt.Println(string(out) == head+"\trefs/heads/main\n")
	// Output:
	// true
}
