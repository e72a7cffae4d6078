package gittest_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/source/git/gittest"
)

func gitClone(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "credential.helper=", "clone", "-q"}, args...)...)
	cmd.Env = append(os.Environ(), append(env, "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_GLOBAL=/dev/null")...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestHTTPServerWithGitCLI(t *testing.T) {
	srv := gittest.NewHTTPServer(t, gittest.WithBasicAuth("alice", "s3cret"))
	repo := srv.NewRepo(t, "app")
	head := repo.Commit("first", map[string]string{"a.txt": "hello"})

	u := strings.Replace(srv.URL, "http://", "http://alice:s3cret@", 1) + "/app"
	dst := filepath.Join(t.TempDir(), "c")
	if out, err := gitClone(t, nil, "-c", "protocol.version=1", u, dst); err != nil {
		t.Fatalf("clone: %v: %s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dst, "a.txt"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("a.txt = %q, %v", got, err)
	}
	if out, _ := exec.Command("git", "-C", dst, "rev-parse", "HEAD").Output(); strings.TrimSpace(string(out)) != head {
		t.Errorf("HEAD = %s, want %s", out, head)
	}
	if srv.UploadPacks() != 1 {
		t.Errorf("UploadPacks = %d, want 1", srv.UploadPacks())
	}

	bad := strings.Replace(srv.URL, "http://", "http://alice:wrong@", 1) + "/app"
	if out, err := gitClone(t, nil, "-c", "protocol.version=1", bad, filepath.Join(t.TempDir(), "d")); err == nil {
		t.Fatalf("clone with a wrong password succeeded: %s", out)
	}
}

func TestSSHServerWithOpenSSH(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Fatalf("ssh client not installed: %v", err)
	}
	srv := gittest.NewSSHServer(t)
	repo := srv.NewRepo(t, "org/app")
	repo.Commit("first", map[string]string{"a.txt": "over ssh"})

	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	kh := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(key, srv.ClientKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kh, srv.KnownHosts, 0o600); err != nil {
		t.Fatal(err)
	}
	sshCmd := "ssh -F /dev/null -i " + key + " -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=" + kh
	dst := filepath.Join(dir, "c")
	if out, err := gitClone(t, []string{"GIT_SSH_COMMAND=" + sshCmd}, srv.URL("org/app"), dst); err != nil {
		t.Fatalf("clone: %v: %s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dst, "a.txt")); string(got) != "over ssh" {
		t.Fatalf("a.txt = %q", got)
	}
	if srv.Sessions() != 1 {
		t.Errorf("Sessions = %d, want 1", srv.Sessions())
	}
	// Push back through git-receive-pack.
	push := exec.Command("git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "pushed")
	push.Dir = dst
	if out, err := push.CombinedOutput(); err != nil {
		t.Fatalf("commit: %v: %s", err, out)
	}
	push = exec.Command("git", "push", "-q", "origin", "HEAD:refs/heads/pushed")
	push.Dir = dst
	push.Env = append(os.Environ(), "GIT_SSH_COMMAND="+sshCmd, "GIT_CONFIG_GLOBAL=/dev/null")
	if out, err := push.CombinedOutput(); err != nil {
		t.Fatalf("push: %v: %s", err, out)
	}
	if got := repo.Git("log", "-1", "--format=%s", "refs/heads/pushed"); got != "pushed" {
		t.Errorf("pushed branch head = %q", got)
	}
	// An empty known_hosts makes OpenSSH refuse the server.
	if err := os.WriteFile(kh, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := gitClone(t, []string{"GIT_SSH_COMMAND=" + sshCmd}, srv.URL("org/app"), filepath.Join(dir, "d")); err == nil {
		t.Fatalf("clone with an unknown host key succeeded: %s", out)
	}
}

func TestSignedObjects(t *testing.T) {
	repo := gittest.NewRepo(t, t.TempDir())
	gpgKey := gittest.NewGPGKey(t, "Signer", "signer@example.com")
	sshKey := gittest.NewSSHSigningKey(t)
	repo.SignedCommit(gpgKey, "pgp signed", map[string]string{"a": "1"})
	if out := repo.Git("cat-file", "commit", "HEAD"); !strings.Contains(out, "BEGIN PGP SIGNATURE") {
		t.Fatalf("commit is not PGP-signed:\n%s", out)
	}
	repo.SignedCommit(sshKey, "ssh signed", map[string]string{"a": "2"})
	if out := repo.Git("cat-file", "commit", "HEAD"); !strings.Contains(out, "BEGIN SSH SIGNATURE") {
		t.Fatalf("commit is not SSH-signed:\n%s", out)
	}
	repo.SignedTag(sshKey, "v1", "release")
	if out := repo.Git("cat-file", "tag", "v1"); !strings.Contains(out, "BEGIN SSH SIGNATURE") {
		t.Fatalf("tag is not SSH-signed:\n%s", out)
	}
}

// TestWorktreeWithoutTB drives a served repository through the
// error-returning Worktree, as a program without a testing.TB would, and
// checks each commit (files added, changed and removed) by cloning it with
// the git CLI.
func TestWorktreeWithoutTB(t *testing.T) {
	srv, err := gittest.StartHTTPServer(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	w, err := srv.InitWorktree("org/fleet")
	if err != nil {
		t.Fatal(err)
	}
	if want := srv.URL + "/org/fleet"; w.URL != want {
		t.Fatalf("URL = %q, want %q", w.URL, want)
	}
	first, err := w.Commit("first", map[string]string{"apps/a.yaml": "a: 1\n", "apps/b.yaml": "b: 1\n", "infra/c.yaml": "c: 1\n"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Remove("apps/b.yaml", "infra"); err != nil {
		t.Fatal(err)
	}
	second, err := w.Commit("second", map[string]string{"apps/a.yaml": "a: 2\n"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Tag("v1"); err != nil {
		t.Fatal(err)
	}
	if first == second || len(second) != 40 {
		t.Fatalf("commits %q and %q", first, second)
	}

	tests := []struct {
		ref  string
		want map[string]string
	}{
		{first, map[string]string{"apps/a.yaml": "a: 1\n", "apps/b.yaml": "b: 1\n", "infra/c.yaml": "c: 1\n"}},
		{"v1", map[string]string{"apps/a.yaml": "a: 2\n"}},
	}
	dst := filepath.Join(t.TempDir(), "c")
	if out, err := gitClone(t, nil, w.URL, dst); err != nil {
		t.Fatalf("clone: %v: %s", err, out)
	}
	for _, tt := range tests {
		if out, err := exec.Command("git", "-C", dst, "checkout", "-q", tt.ref).CombinedOutput(); err != nil {
			t.Fatalf("checkout %s: %v: %s", tt.ref, err, out)
		}
		got := map[string]string{}
		err := filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				if d != nil && d.Name() == ".git" {
					return filepath.SkipDir
				}
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(dst, p)
			got[filepath.ToSlash(rel)] = string(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("tree at %s (-want +got):\n%s", tt.ref, diff)
		}
	}
}

func TestWorktreeErrors(t *testing.T) {
	w, err := gittest.InitWorktree(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit("first", map[string]string{"a": "1"}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(w.Dir, "a")
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"checkout of a missing branch", func() error { return w.Checkout("nope") }, "gittest: git checkout -q nope: exit status 1: error: pathspec 'nope' did not match"},
		{"existing branch", func() error { return w.Branch("main") }, "gittest: git checkout -q -b main: exit status 128: fatal: a branch named 'main' already exists"},
		{"missing path", func() error { return w.Remove("nope/x") }, "gittest: remove: lstat " + filepath.Join(w.Dir, "nope", "x") + ": no such file or directory"},
		{"init below a file", func() error { _, err := gittest.InitWorktree(filepath.Join(file, "sub")); return err }, "gittest: mkdir " + file + ": not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want one starting with %q", err, tt.want)
			}
		})
	}
}
