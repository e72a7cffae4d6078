package gitpush

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"golang.org/x/crypto/ssh"

	"github.com/gitopskit/gitopskit/imagepolicy"
	"github.com/gitopskit/gitopskit/imagepolicy/update"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

const deploy = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/org/web:1.0.0 # {"$imagepolicy": "flux-system:web"}
`

var author = Signature{Name: "Flux Bot", Email: "bot@example.com"}

func policies(tag string) []update.Policy {
	return []update.Policy{{Namespace: "flux-system", Name: "web", Latest: imagepolicy.ImageRef{Name: "ghcr.io/org/web", Tag: tag}}}
}

// git runs the git CLI in dir and returns its trimmed output.
func git(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestCommitAndPushHTTP(t *testing.T) {
	srv := gittest.NewHTTPServer(t, gittest.WithBasicAuth("user", "p4ssw0rd"))
	origin := srv.NewRepo(t, "app")
	base := origin.Commit("init", map[string]string{"deploy.yaml": deploy, "README": "x"})
	auth := &githttp.BasicAuth{Username: "user", Password: "p4ssw0rd"}
	ctx := context.Background()

	repo, err := Clone(ctx, t.TempDir(), CloneOptions{URL: srv.URL + "/app", Auth: auth, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if repo.CheckoutCommit() != base || repo.CheckoutRevision() != "main@sha1:"+base {
		t.Fatalf("checkout %s %s, want %s", repo.CheckoutCommit(), repo.CheckoutRevision(), base)
	}
	// Nothing changed: no commit, no push.
	if _, err := repo.CommitAndPush(ctx, CommitOptions{Author: author, Message: "m"}, PushOptions{}); !errors.Is(err, ErrNoChanges) {
		t.Fatalf("commit without changes = %v; want ErrNoChanges", err)
	}
	res, err := update.Apply(ctx, repo.Dir(), policies("1.1.0"), update.Options{})
	if err != nil || !res.Changed() {
		t.Fatalf("apply = %+v, %v", res, err)
	}
	msg, _ := update.CommitMessage("", update.TemplateData{Changed: res})
	when := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	pushed, err := repo.CommitAndPush(ctx, CommitOptions{Author: author, Message: msg, When: when},
		PushOptions{Refspec: "refs/heads/main:refs/heads/mirror"})
	if err != nil {
		t.Fatal(err)
	}
	if got := origin.Git("rev-parse", "main"); got != pushed.Commit {
		t.Fatalf("remote main = %s, pushed %s", got, pushed.Commit)
	}
	if got := origin.Git("rev-parse", "mirror"); got != pushed.Commit {
		t.Fatalf("refspec target = %s, want %s", got, pushed.Commit)
	}
	if got := origin.Git("log", "-1", "--format=%an <%ae> %aI %P %s"); got != "Flux Bot <bot@example.com> 2026-05-01T10:00:00+00:00 "+base+" "+update.DefaultMessageTemplate {
		t.Fatalf("commit = %s", got)
	}
	if got := origin.Git("show", "main:deploy.yaml"); !strings.Contains(got, "ghcr.io/org/web:1.1.0 #") {
		t.Fatalf("pushed file:\n%s", got)
	}
	if pushed.Revision != "main@sha1:"+pushed.Commit || pushed.SwitchBranch {
		t.Fatalf("result %+v", pushed)
	}

	// Wrong credentials: ErrAuth, and the password is not in the error.
	_, err = Clone(ctx, t.TempDir(), CloneOptions{URL: srv.URL + "/app", Auth: &githttp.BasicAuth{Username: "user", Password: "wrong-secret"}, Branch: "main"})
	if !errors.Is(err, source.ErrAuth) || strings.Contains(err.Error(), "wrong-secret") {
		t.Fatalf("clone with wrong password = %v", err)
	}
	_, err = Clone(ctx, t.TempDir(), CloneOptions{URL: srv.URL + "/app", Auth: auth, Branch: "nope"})
	if err == nil {
		t.Fatal("clone of a missing branch succeeded")
	}
}

func TestPushRejected(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	origin := srv.NewRepo(t, "app")
	origin.Commit("init", map[string]string{"deploy.yaml": deploy})
	ctx := context.Background()
	repo, err := Clone(ctx, t.TempDir(), CloneOptions{URL: srv.URL + "/app", Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	// Someone pushes to main after the clone.
	moved := origin.Commit("concurrent", map[string]string{"other.txt": "x"})
	update.Apply(ctx, repo.Dir(), policies("1.1.0"), update.Options{})
	_, err = repo.CommitAndPush(ctx, CommitOptions{Author: author, Message: "m"}, PushOptions{})
	if !errors.Is(err, ErrRejected) || errors.Is(err, source.ErrNetwork) {
		t.Fatalf("push over a moved branch = %v; want ErrRejected", err)
	}
	if got := origin.Git("rev-parse", "main"); got != moved {
		t.Fatalf("main = %s, want the concurrent commit %s kept", got, moved)
	}
	// An unreachable server is a network error.
	_, err = Clone(ctx, t.TempDir(), CloneOptions{URL: "http://127.0.0.1:1/app", Branch: "main"})
	if !errors.Is(err, source.ErrNetwork) {
		t.Fatalf("clone from a closed port = %v; want ErrNetwork", err)
	}
}

func TestShallow(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	origin := srv.NewRepo(t, "app")
	for i := range 5 {
		origin.Commit("c"+string(rune('0'+i)), map[string]string{"deploy.yaml": deploy, "n.txt": string(rune('0' + i))})
	}
	head := origin.Head()
	ctx := context.Background()
	for i, pushBranch := range []string{"main", "auto"} {
		repo, err := Clone(ctx, t.TempDir(), CloneOptions{URL: srv.URL + "/app", Branch: "main", PushBranch: pushBranch, Shallow: true})
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("git", "-C", repo.Dir(), "rev-list", "--count", "HEAD").Output(); err != nil || strings.TrimSpace(string(out)) != "1" {
			t.Fatalf("shallow clone has %s commits (%v)", out, err)
		}
		update.Apply(ctx, repo.Dir(), policies(fmt.Sprintf("1.%d.0", i+1)), update.Options{})
		res, err := repo.CommitAndPush(ctx, CommitOptions{Author: author, Message: "shallow"}, PushOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := origin.Git("rev-parse", pushBranch); got != res.Commit {
			t.Fatalf("%s = %s, pushed %s", pushBranch, got, res.Commit)
		}
		if parent := origin.Git("rev-parse", res.Commit+"^"); parent != head {
			t.Fatalf("parent = %s, want %s", parent, head)
		}
		origin.Git("fsck", "--no-progress")
		head = origin.Git("rev-parse", "main")
	}
}

func TestCloneTLS(t *testing.T) {
	srv := gittest.NewHTTPServer(t, gittest.WithTLS())
	origin := srv.NewRepo(t, "app")
	origin.Commit("init", map[string]string{"deploy.yaml": deploy})
	ctx := context.Background()
	if _, err := Clone(ctx, t.TempDir(), CloneOptions{URL: srv.URL + "/app", Branch: "main"}); err == nil {
		t.Fatal("clone without the server's CA succeeded")
	}
	repo, err := Clone(ctx, t.TempDir(), CloneOptions{URL: srv.URL + "/app", Branch: "main", CABundle: srv.CACert})
	if err != nil {
		t.Fatal(err)
	}
	update.Apply(ctx, repo.Dir(), policies("1.1.0"), update.Options{})
	if _, err := repo.CommitAndPush(ctx, CommitOptions{Author: author, Message: "tls"}, PushOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestPushBranch(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	origin := srv.NewRepo(t, "app")
	base := origin.Commit("init", map[string]string{"deploy.yaml": deploy})
	ctx := context.Background()
	url := srv.URL + "/app"

	// A new push branch starts at the checkout branch.
	repo, err := Clone(ctx, t.TempDir(), CloneOptions{URL: url, Branch: "main", PushBranch: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	update.Apply(ctx, repo.Dir(), policies("1.1.0"), update.Options{})
	first, err := repo.CommitAndPush(ctx, CommitOptions{Author: author, Message: "1.1.0"}, PushOptions{Options: map[string]string{"ci.skip": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	if !first.SwitchBranch || origin.Git("rev-parse", "auto") != first.Commit || origin.Git("rev-parse", "main") != base {
		t.Fatalf("first push %+v", first)
	}
	if parent := origin.Git("rev-parse", "auto^"); parent != base {
		t.Fatalf("auto's parent = %s, want %s", parent, base)
	}

	// By default the next run continues from the existing push branch.
	repo, err = Clone(ctx, t.TempDir(), CloneOptions{URL: url, Branch: "main", PushBranch: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CommitAndPush(ctx, CommitOptions{Author: author, Message: "x"}, PushOptions{}); !errors.Is(err, ErrNoChanges) {
		t.Fatalf("no-op on the push branch = %v", err)
	}
	update.Apply(ctx, repo.Dir(), policies("1.2.0"), update.Options{})
	second, err := repo.CommitAndPush(ctx, CommitOptions{Author: author, Message: "1.2.0"}, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if parent := origin.Git("rev-parse", "auto^"); parent != first.Commit {
		t.Fatalf("second commit's parent = %s, want the first %s", parent, first.Commit)
	}

	// Meanwhile main moves; ResetPushBranch starts from main and
	// force-overwrites the automation branch.
	newBase := origin.Commit("other work", map[string]string{"other.txt": "y"})
	repo, err = Clone(ctx, t.TempDir(), CloneOptions{URL: url, Branch: "main", PushBranch: "auto", ResetPushBranch: true})
	if err != nil {
		t.Fatal(err)
	}
	update.Apply(ctx, repo.Dir(), policies("1.3.0"), update.Options{})
	third, err := repo.CommitAndPush(ctx, CommitOptions{Author: author, Message: "1.3.0"}, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := origin.Git("rev-parse", "auto"); got != third.Commit {
		t.Fatalf("auto = %s, want %s", got, third.Commit)
	}
	if parent := origin.Git("rev-parse", "auto^"); parent != newBase {
		t.Fatalf("reset branch's parent = %s, want main's %s (second was %s)", parent, newBase, second.Commit)
	}
}

func TestSignedCommitsVerify(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	origin := srv.NewRepo(t, "app")
	origin.Commit("init", map[string]string{"deploy.yaml": deploy})
	ctx := context.Background()

	gpgKey := gittest.NewGPGKey(t, "Flux Bot", author.Email)
	cmd := exec.Command("gpg", "--batch", "--homedir", gpgKey.Home, "--pinentry-mode", "loopback", "--passphrase", "", "--armor", "--export-secret-keys", gpgKey.Fingerprint)
	armored, err := cmd.Output()
	if err != nil {
		t.Fatalf("exporting the GPG key: %v", err)
	}
	entity, err := GPGSignKey(armored, "")
	if err != nil {
		t.Fatal(err)
	}
	sshKey := gittest.NewSSHSigningKey(t)
	pem, err := os.ReadFile(sshKey.PrivateKeyPath)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := SSHSigner(pem, "")
	if err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(t.TempDir(), "allowed_signers")
	os.WriteFile(allowed, []byte(author.Email+" "+sshKey.AuthorizedKey+"\n"), 0o600)

	for i, tc := range []struct {
		name   string
		commit CommitOptions
		verify []string
		env    []string
		want   string
	}{
		{"gpg", CommitOptions{SignKey: entity}, []string{"verify-commit", "-v", "HEAD"}, []string{"GNUPGHOME=" + gpgKey.Home}, "Good signature"},
		{"ssh", CommitOptions{Signer: signer}, []string{"-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile=" + allowed, "verify-commit", "-v", "HEAD"}, nil, "Good \"git\" signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo, err := Clone(ctx, t.TempDir(), CloneOptions{URL: srv.URL + "/app", Branch: "main"})
			if err != nil {
				t.Fatal(err)
			}
			update.Apply(ctx, repo.Dir(), policies("2.0."+string(rune('0'+i))), update.Options{})
			c := tc.commit
			c.Author, c.Message = author, "signed "+tc.name
			res, err := repo.CommitAndPush(ctx, c, PushOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// Verify in a fresh clone made by the git CLI.
			check := t.TempDir()
			git(t, check, nil, "clone", "-q", srv.URL+"/app", ".")
			if got := git(t, check, nil, "rev-parse", "HEAD"); got != res.Commit {
				t.Fatalf("HEAD %s, pushed %s", got, res.Commit)
			}
			if out := git(t, check, tc.env, tc.verify...); !strings.Contains(out, tc.want) {
				t.Fatalf("git verify-commit:\n%s", out)
			}
		})
	}
	// A tampered signature fails git's check: sign with an unrelated SSH key.
	other := gittest.NewSSHSigningKey(t)
	otherPEM, _ := os.ReadFile(other.PrivateKeyPath)
	otherSigner, _ := SSHSigner(otherPEM, "")
	repo, _ := Clone(ctx, t.TempDir(), CloneOptions{URL: srv.URL + "/app", Branch: "main"})
	update.Apply(ctx, repo.Dir(), policies("3.0.0"), update.Options{})
	if _, err := repo.CommitAndPush(ctx, CommitOptions{Author: author, Message: "other", Signer: otherSigner}, PushOptions{}); err != nil {
		t.Fatal(err)
	}
	check := t.TempDir()
	git(t, check, nil, "clone", "-q", srv.URL+"/app", ".")
	cmd = exec.Command("git", "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", "HEAD")
	cmd.Dir = check
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("git accepted a signature by a key not in allowed_signers:\n%s", out)
	}
}

func TestPushOverSSH(t *testing.T) {
	srv := gittest.NewSSHServer(t)
	origin := srv.NewRepo(t, "app")
	origin.Commit("init", map[string]string{"deploy.yaml": deploy})
	keys, err := gitssh.NewPublicKeys("git", srv.ClientKey, "")
	if err != nil {
		t.Fatal(err)
	}
	keys.HostKeyCallback = ssh.FixedHostKey(srv.HostKey)
	ctx := context.Background()
	repo, err := Clone(ctx, t.TempDir(), CloneOptions{URL: srv.URL("app"), Auth: keys, Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	update.Apply(ctx, repo.Dir(), policies("1.1.0"), update.Options{})
	res, err := repo.CommitAndPush(ctx, CommitOptions{Author: author, Message: "over ssh"}, PushOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := origin.Git("rev-parse", "main"); got != res.Commit {
		t.Fatalf("remote main = %s, pushed %s", got, res.Commit)
	}
}

func TestSignerKeys(t *testing.T) {
	if _, err := GPGSignKey([]byte("not a key"), ""); err == nil {
		t.Error("garbage GPG key accepted")
	}
	if _, err := SSHSigner([]byte("not a key"), ""); err == nil {
		t.Error("garbage SSH key accepted")
	}
	pem, _ := gittest.NewClientKey(t, "secret-pass")
	if _, err := SSHSigner(pem, ""); err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Errorf("encrypted key without passphrase = %v", err)
	}
	if _, err := SSHSigner(pem, "secret-pass"); err != nil {
		t.Errorf("encrypted key with passphrase = %v", err)
	}
}
