package image_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/acl"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"

	"github.com/gitopskit/gitopskit/examples/image"
	"github.com/gitopskit/gitopskit/imagepolicy"
	"github.com/gitopskit/gitopskit/imagepolicy/gitpush"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		choice  imagev1.ImagePolicyChoice
		tags    []string
		want    string
		invalid bool
	}{
		{"alphabetical upper-case order", imagev1.ImagePolicyChoice{Alphabetical: &imagev1.AlphabeticalPolicy{Order: "DESC"}}, []string{"b", "a", "c"}, "a", false},
		{"alphabetical default", imagev1.ImagePolicyChoice{Alphabetical: &imagev1.AlphabeticalPolicy{}}, []string{"b", "a", "c"}, "c", false},
		{"numerical", imagev1.ImagePolicyChoice{Numerical: &imagev1.NumericalPolicy{Order: "asc"}}, []string{"9", "10", "2"}, "10", false},
		{"none", imagev1.ImagePolicyChoice{}, nil, "", true},
		{"two", imagev1.ImagePolicyChoice{Numerical: &imagev1.NumericalPolicy{}, Alphabetical: &imagev1.AlphabeticalPolicy{}}, nil, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := image.Policy(imagev1.ImagePolicySpec{Policy: tc.choice})
			if tc.invalid {
				if !errors.Is(err, source.ErrInvalid) {
					t.Fatalf("err = %v, want source.ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := imagepolicy.Select(p, tc.tags)
			if err != nil || got != tc.want {
				t.Fatalf("Select = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestAccessAllowed(t *testing.T) {
	any := &acl.AccessFrom{NamespaceSelectors: []acl.NamespaceSelector{{}}}
	if !image.AccessAllowed(any, nil) {
		t.Error("an empty selector must match every namespace")
	}
	none := &acl.AccessFrom{}
	if image.AccessAllowed(none, map[string]string{"a": "b"}) {
		t.Error("no selectors must match no namespace")
	}
	two := &acl.AccessFrom{NamespaceSelectors: []acl.NamespaceSelector{{MatchLabels: map[string]string{"a": "1"}}, {MatchLabels: map[string]string{"b": "2"}}}}
	if !image.AccessAllowed(two, map[string]string{"b": "2"}) || image.AccessAllowed(two, map[string]string{"a": "2"}) {
		t.Error("selectors are ORed, labels within one ANDed")
	}
}

func TestGitTransport(t *testing.T) {
	a, err := image.GitTransport(&git.Auth{Username: "u", Password: "p"}, "https://example.com/r.git")
	if b, ok := a.(*githttp.BasicAuth); err != nil || !ok || b.Username != "u" || b.Password != "p" {
		t.Errorf("basic: %#v, %v", a, err)
	}
	a, err = image.GitTransport(&git.Auth{BearerToken: "tok"}, "https://example.com/r.git")
	if b, ok := a.(*githttp.TokenAuth); err != nil || !ok || b.Token != "tok" {
		t.Errorf("bearer: %#v, %v", a, err)
	}
	if a, err := image.GitTransport(nil, "https://example.com/r.git"); a != nil || err != nil {
		t.Errorf("anonymous: %#v, %v", a, err)
	}
	_, err = image.GitTransport(&git.Auth{CertFile: []byte("c"), KeyFile: []byte("k")}, "https://example.com/r.git")
	if err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("client certificate: %v", err)
	}
	key, _ := gittest.NewClientKey(t, "")
	_, err = image.GitTransport(&git.Auth{Identity: key}, "ssh://git@example.com/r.git")
	if err == nil || !strings.Contains(err.Error(), "known_hosts") {
		t.Errorf("SSH without known_hosts: %v", err)
	}
	_, err = image.GitTransport(&git.Auth{Identity: []byte("not a key secret-material"), KnownHosts: []byte("x")}, "ssh://git@example.com/r.git")
	if err == nil || strings.Contains(err.Error(), "secret-material") {
		t.Errorf("bad identity: %v", err)
	}
}

// The SSH transport pushes to a real SSH server that is checked against
// known_hosts, and refuses one whose key is not listed.
func TestGitTransportSSH(t *testing.T) {
	ctx := context.Background()
	srv := gittest.NewSSHServer(t)
	other := gittest.NewSSHServer(t)
	r := srv.NewRepo(t, "r")
	r.Commit("init", map[string]string{"a.yaml": "k: v\n"})
	for _, tc := range []struct {
		name       string
		knownHosts []byte
		ok         bool
	}{{"listed", srv.KnownHosts, true}, {"other host", other.KnownHosts, false}} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := image.GitTransport(&git.Auth{Identity: srv.ClientKey, KnownHosts: tc.knownHosts}, srv.URL("r"))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := a.(*gitssh.PublicKeys); !ok {
				t.Fatalf("%T", a)
			}
			repo, err := gitpush.Clone(ctx, t.TempDir(), gitpush.CloneOptions{URL: srv.URL("r"), Auth: a, Branch: "main", PushBranch: "auto-" + tc.name[:5]})
			if !tc.ok {
				if err == nil {
					t.Fatal("cloned from a host not in known_hosts")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(repo.Dir(), "a.yaml"), []byte("k: w\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			res, err := repo.CommitAndPush(ctx, gitpush.CommitOptions{Author: gitpush.Signature{Name: "a", Email: "a@example.com"}, Message: "m"}, gitpush.PushOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(r.Git("rev-parse", "auto-liste")); got != res.Commit {
				t.Errorf("pushed %s, branch at %s", res.Commit, got)
			}
		})
	}
}
