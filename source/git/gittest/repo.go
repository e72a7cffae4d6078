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

// Repo is a working Git repository on disk driven through the git CLI.
type Repo struct {
	t testing.TB
	// Dir is the working tree; the repository is in Dir/.git.
	Dir string
	// URL is where a server serves the repository; empty for a repository
	// made with NewRepo outside a server.
	URL string

	clock atomic.Int64
}

// NewRepo initialises an empty repository in dir (created if needed) on
// branch main.
func NewRepo(t testing.TB, dir string) *Repo {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &Repo{t: t, Dir: dir}
	r.Git("init", "-q", "-b", "main")
	r.Git("config", "uploadpack.allowFilter", "true")
	r.Git("config", "uploadpack.allowReachableSHA1InWant", "true")
	r.Git("config", "receive.denyCurrentBranch", "updateInstead")
	r.Git("config", "http.receivepack", "true")
	return r
}

// env returns the environment used for every git command: no global or
// system configuration, a fixed identity and a fixed clock, so object names
// are reproducible.
func (r *Repo) env() []string {
	when := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.clock.Add(1)) * time.Minute)
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
// standard output, failing the test on error.
func (r *Repo) Git(args ...string) string {
	r.t.Helper()
	out, err := r.run(nil, args...)
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

func (r *Repo) run(extraEnv []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = r.Dir
	cmd.Env = append(r.env(), extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
}

// WriteFiles writes files (slash-separated path -> content) into the
// working tree without committing them.
func (r *Repo) WriteFiles(files map[string]string) {
	r.t.Helper()
	for p, c := range files {
		full := filepath.Join(r.Dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

// Commit writes files, stages everything and commits with message on the
// current branch, returning the commit hash. An empty file map makes an
// empty commit.
func (r *Repo) Commit(message string, files map[string]string) string {
	r.t.Helper()
	return r.commit(nil, message, files)
}

// SignedCommit is Commit with the commit signed by key.
func (r *Repo) SignedCommit(key Signer, message string, files map[string]string) string {
	r.t.Helper()
	return r.commit(key, message, files)
}

func (r *Repo) commit(key Signer, message string, files map[string]string) string {
	r.t.Helper()
	r.WriteFiles(files)
	r.Git("add", "-A")
	args := []string{"commit", "-q", "--allow-empty", "-m", message}
	var env []string
	if key != nil {
		var cfg []string
		cfg, env = key.gitConfig()
		args = append(append(cfg, args...), "-S")
	} else {
		args = append([]string{"-c", "commit.gpgsign=false"}, args...)
	}
	if _, err := r.run(env, args...); err != nil {
		r.t.Fatal(err)
	}
	return r.Head()
}

// Head returns the hash of HEAD.
func (r *Repo) Head() string {
	r.t.Helper()
	return r.Git("rev-parse", "HEAD")
}

// Branch creates branch name at HEAD and checks it out.
func (r *Repo) Branch(name string) {
	r.t.Helper()
	r.Git("checkout", "-q", "-b", name)
}

// Checkout switches to an existing branch.
func (r *Repo) Checkout(name string) {
	r.t.Helper()
	r.Git("checkout", "-q", name)
}

// Tag creates a lightweight tag at HEAD.
func (r *Repo) Tag(name string) {
	r.t.Helper()
	r.Git("tag", name)
}

// AnnotatedTag creates an annotated tag at HEAD and returns the tag
// object's hash.
func (r *Repo) AnnotatedTag(name, message string) string {
	r.t.Helper()
	r.Git("-c", "tag.gpgsign=false", "tag", "-a", "-m", message, name)
	return r.Git("rev-parse", "refs/tags/"+name)
}

// SignedTag creates an annotated tag at HEAD signed by key and returns the
// tag object's hash.
func (r *Repo) SignedTag(key Signer, name, message string) string {
	r.t.Helper()
	cfg, env := key.gitConfig()
	args := append(cfg, "tag", "-s", "-m", message, name)
	if _, err := r.run(env, args...); err != nil {
		r.t.Fatal(err)
	}
	return r.Git("rev-parse", "refs/tags/"+name)
}

// UpdateRef points a full reference name (for example "refs/pull/1/head")
// at a commit.
func (r *Repo) UpdateRef(name, commit string) {
	r.t.Helper()
	r.Git("update-ref", name, commit)
}

// AddSubmodule records the repository at url as a submodule at path,
// pinned to commit, and commits that (with .gitmodules), returning the new
// commit's hash. Nothing is cloned, so url may need credentials.
func (r *Repo) AddSubmodule(url, path, commit string) string {
	r.t.Helper()
	r.Git("config", "-f", ".gitmodules", "submodule."+path+".path", path)
	r.Git("config", "-f", ".gitmodules", "submodule."+path+".url", url)
	// An empty directory is how an uninitialised submodule looks, so later
	// "git add -A" runs keep the entry.
	if err := os.MkdirAll(filepath.Join(r.Dir, filepath.FromSlash(path)), 0o755); err != nil {
		r.t.Fatal(err)
	}
	r.Git("update-index", "--add", "--cacheinfo", "160000,"+commit+","+path)
	r.Git("add", ".gitmodules")
	r.Git("-c", "commit.gpgsign=false", "commit", "-q", "-m", "add submodule "+path)
	return r.Head()
}
