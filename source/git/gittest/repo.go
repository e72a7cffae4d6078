package gittest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Worktree is a working Git repository on disk driven through the git CLI
// that reports failures as errors, for programs (demos, benchmarks) that
// have no testing.TB. Repo is the same thing for tests. Commands run with
// no global or system configuration, a fixed identity and a clock that
// starts at 2024-01-01 and advances a minute per command, so object names
// are reproducible.
type Worktree struct {
	// Dir is the working tree; the repository is in Dir/.git.
	Dir string
	// URL is where a server serves the repository; empty for a repository
	// made with InitWorktree or NewRepo outside a server.
	URL string

	clock atomic.Int64
}

// InitWorktree initialises an empty repository in dir (created if needed)
// on branch "main" (fetch it with git.Reference{Branch: "main"}: a
// Reference has no default branch), configured so that the servers of
// this package serve it with every feature on (filters, wants by hash,
// pushes to the checked-out branch).
func InitWorktree(dir string) (*Worktree, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("gittest: %w", err)
	}
	w := &Worktree{Dir: dir}
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"config", "uploadpack.allowFilter", "true"},
		{"config", "uploadpack.allowReachableSHA1InWant", "true"},
		{"config", "receive.denyCurrentBranch", "updateInstead"},
		{"config", "http.receivepack", "true"},
	} {
		if _, err := w.Git(args...); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// env returns the environment used for every git command.
func (w *Worktree) env() []string {
	when := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(w.clock.Add(1)) * time.Minute)
	date := fmt.Sprintf("%d +0000", when.Unix())
	return append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Test Author", "GIT_AUTHOR_EMAIL=author@example.com", "GIT_AUTHOR_DATE="+date,
		"GIT_COMMITTER_NAME=Test Committer", "GIT_COMMITTER_EMAIL=committer@example.com", "GIT_COMMITTER_DATE="+date,
		"GIT_TERMINAL_PROMPT=0",
	)
}

// Git runs git with args in the repository and returns its trimmed
// standard output; the error includes git's standard error.
func (w *Worktree) Git(args ...string) (string, error) {
	return w.run(nil, args...)
}

func (w *Worktree) run(extraEnv []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = w.Dir
	cmd.Env = append(w.env(), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("gittest: git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// WriteFiles writes files (slash-separated path -> content) into the
// working tree without committing them.
func (w *Worktree) WriteFiles(files map[string]string) error {
	for p, c := range files {
		full := filepath.Join(w.Dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("gittest: %w", err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			return fmt.Errorf("gittest: %w", err)
		}
	}
	return nil
}

// Remove deletes files or directories (slash-separated paths) from the
// working tree; the next commit records their removal. A path that does not
// exist is an error.
func (w *Worktree) Remove(paths ...string) error {
	for _, p := range paths {
		full := filepath.Join(w.Dir, filepath.FromSlash(p))
		if _, err := os.Lstat(full); err != nil {
			return fmt.Errorf("gittest: remove: %w", err)
		}
		if err := os.RemoveAll(full); err != nil {
			return fmt.Errorf("gittest: remove: %w", err)
		}
	}
	return nil
}

// Commit writes files, stages everything (including removals) and commits
// with message on the current branch, returning the commit hash. An empty
// file map makes an empty commit unless other changes are pending.
func (w *Worktree) Commit(message string, files map[string]string) (string, error) {
	return w.commit(nil, message, files)
}

// SignedCommit is Commit with the commit signed by key.
func (w *Worktree) SignedCommit(key Signer, message string, files map[string]string) (string, error) {
	return w.commit(key, message, files)
}

func (w *Worktree) commit(key Signer, message string, files map[string]string) (string, error) {
	if err := w.WriteFiles(files); err != nil {
		return "", err
	}
	if _, err := w.Git("add", "-A"); err != nil {
		return "", err
	}
	args := []string{"commit", "-q", "--allow-empty", "-m", message}
	var env []string
	if key != nil {
		var cfg []string
		cfg, env = key.gitConfig()
		args = append(append(cfg, args...), "-S")
	} else {
		args = append([]string{"-c", "commit.gpgsign=false"}, args...)
	}
	if _, err := w.run(env, args...); err != nil {
		return "", err
	}
	return w.Head()
}

// Head returns the hash of HEAD.
func (w *Worktree) Head() (string, error) {
	return w.Git("rev-parse", "HEAD")
}

// Branch creates branch name at HEAD and checks it out.
func (w *Worktree) Branch(name string) error {
	_, err := w.Git("checkout", "-q", "-b", name)
	return err
}

// Checkout switches to an existing branch.
func (w *Worktree) Checkout(name string) error {
	_, err := w.Git("checkout", "-q", name)
	return err
}

// Tag creates a lightweight tag at HEAD.
func (w *Worktree) Tag(name string) error {
	_, err := w.Git("tag", name)
	return err
}

// AnnotatedTag creates an annotated tag at HEAD and returns the tag
// object's hash.
func (w *Worktree) AnnotatedTag(name, message string) (string, error) {
	if _, err := w.Git("-c", "tag.gpgsign=false", "tag", "-a", "-m", message, name); err != nil {
		return "", err
	}
	return w.Git("rev-parse", "refs/tags/"+name)
}

// SignedTag creates an annotated tag at HEAD signed by key and returns the
// tag object's hash.
func (w *Worktree) SignedTag(key Signer, name, message string) (string, error) {
	cfg, env := key.gitConfig()
	if _, err := w.run(env, append(cfg, "tag", "-s", "-m", message, name)...); err != nil {
		return "", err
	}
	return w.Git("rev-parse", "refs/tags/"+name)
}

// UpdateRef points a full reference name (for example "refs/pull/1/head")
// at a commit.
func (w *Worktree) UpdateRef(name, commit string) error {
	_, err := w.Git("update-ref", name, commit)
	return err
}

// AddSubmodule records the repository at url as a submodule at path,
// pinned to commit, and commits that (with .gitmodules), returning the new
// commit's hash. Nothing is cloned, so url may need credentials.
func (w *Worktree) AddSubmodule(url, path, commit string) (string, error) {
	steps := [][]string{
		{"config", "-f", ".gitmodules", "submodule." + path + ".path", path},
		{"config", "-f", ".gitmodules", "submodule." + path + ".url", url},
	}
	for _, args := range steps {
		if _, err := w.Git(args...); err != nil {
			return "", err
		}
	}
	// An empty directory is how an uninitialised submodule looks, so later
	// "git add -A" runs keep the entry.
	if err := os.MkdirAll(filepath.Join(w.Dir, filepath.FromSlash(path)), 0o755); err != nil {
		return "", fmt.Errorf("gittest: %w", err)
	}
	steps = [][]string{
		{"update-index", "--add", "--cacheinfo", "160000," + commit + "," + path},
		{"add", ".gitmodules"},
		{"-c", "commit.gpgsign=false", "commit", "-q", "-m", "add submodule " + path},
	}
	for _, args := range steps {
		if _, err := w.Git(args...); err != nil {
			return "", err
		}
	}
	return w.Head()
}

// Repo is a Worktree for tests: its methods fail the test instead of
// returning errors. Dir and URL are the embedded Worktree's; the
// Worktree's own methods are shadowed by Repo's of the same names.
type Repo struct {
	*Worktree
	t testing.TB
}

// NewRepo initialises an empty repository in dir (created if needed) on
// branch main, as InitWorktree does, failing the test on error.
func NewRepo(t testing.TB, dir string) *Repo {
	t.Helper()
	w, err := InitWorktree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return &Repo{Worktree: w, t: t}
}

// check fails the test when err is not nil.
func (r *Repo) check(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// value fails the test when err is not nil and returns s.
func (r *Repo) value(s string, err error) string {
	r.t.Helper()
	r.check(err)
	return s
}

// Git runs git with args in the repository and returns its trimmed
// standard output, failing the test on error.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	return r.value(r.Worktree.Git(args...))
}

// WriteFiles writes files (slash-separated path -> content) into the
// working tree without committing them.
func (r *Repo) WriteFiles(files map[string]string) {
	r.t.Helper()
	r.check(r.Worktree.WriteFiles(files))
}

// Remove deletes files or directories from the working tree; the next
// commit records their removal.
func (r *Repo) Remove(paths ...string) {
	r.t.Helper()
	r.check(r.Worktree.Remove(paths...))
}

// Commit writes files, stages everything and commits with message on the
// current branch, returning the commit hash. An empty file map makes an
// empty commit.
func (r *Repo) Commit(message string, files map[string]string) string {
	r.t.Helper()
	return r.value(r.Worktree.Commit(message, files))
}

// SignedCommit is Commit with the commit signed by key.
func (r *Repo) SignedCommit(key Signer, message string, files map[string]string) string {
	r.t.Helper()
	return r.value(r.Worktree.SignedCommit(key, message, files))
}

// Head returns the hash of HEAD.
func (r *Repo) Head() string {
	r.t.Helper()
	return r.value(r.Worktree.Head())
}

// Branch creates branch name at HEAD and checks it out.
func (r *Repo) Branch(name string) {
	r.t.Helper()
	r.check(r.Worktree.Branch(name))
}

// Checkout switches to an existing branch.
func (r *Repo) Checkout(name string) {
	r.t.Helper()
	r.check(r.Worktree.Checkout(name))
}

// Tag creates a lightweight tag at HEAD.
func (r *Repo) Tag(name string) {
	r.t.Helper()
	r.check(r.Worktree.Tag(name))
}

// AnnotatedTag creates an annotated tag at HEAD and returns the tag
// object's hash.
func (r *Repo) AnnotatedTag(name, message string) string {
	r.t.Helper()
	return r.value(r.Worktree.AnnotatedTag(name, message))
}

// SignedTag creates an annotated tag at HEAD signed by key and returns the
// tag object's hash.
func (r *Repo) SignedTag(key Signer, name, message string) string {
	r.t.Helper()
	return r.value(r.Worktree.SignedTag(key, name, message))
}

// UpdateRef points a full reference name (for example "refs/pull/1/head")
// at a commit.
func (r *Repo) UpdateRef(name, commit string) {
	r.t.Helper()
	r.check(r.Worktree.UpdateRef(name, commit))
}

// AddSubmodule records the repository at url as a submodule at path,
// pinned to commit, and commits that (with .gitmodules), returning the new
// commit's hash. Nothing is cloned, so url may need credentials.
func (r *Repo) AddSubmodule(url, path, commit string) string {
	r.t.Helper()
	return r.value(r.Worktree.AddSubmodule(url, path, commit))
}
