package git_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git"
	"github.com/gitopskit/gitopskit/source/git/gittest"
	"github.com/google/go-cmp/cmp"
)

// readTree returns every regular file under dir (slash path -> content).
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func fetch(t *testing.T, r *git.Repository, last string) (source.Snapshot, string, error) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	snap, err := r.Fetch(context.Background(), dir, last)
	return snap, dir, err
}

// refsRepo builds a repository with branches, tags and a pull request ref.
type refsRepo struct {
	repo                              *gittest.Repo
	c1, c2, c3, dev, pr, annotatedTag string
}

func newRefsRepo(t *testing.T, srv *gittest.HTTPServer) refsRepo {
	var r refsRepo
	r.repo = srv.NewRepo(t, "refs")
	r.c1 = r.repo.Commit("one", map[string]string{"v.txt": "1"})
	r.repo.Tag("v1.0.0")
	r.c2 = r.repo.Commit("two", map[string]string{"v.txt": "2"})
	r.annotatedTag = r.repo.AnnotatedTag("v1.2.0", "release 1.2.0")
	r.repo.Tag("not-a-version")
	r.c3 = r.repo.Commit("three", map[string]string{"v.txt": "3"})
	r.repo.Tag("v2.0.0")
	r.repo.Branch("dev")
	r.dev = r.repo.Commit("dev work", map[string]string{"v.txt": "dev"})
	r.repo.Checkout("main")
	r.pr = r.repo.Commit("pr", map[string]string{"v.txt": "pr"})
	r.repo.Git("reset", "-q", "--hard", r.c3)
	r.repo.UpdateRef("refs/pull/1/head", r.pr)
	return r
}

func TestFetchReferences(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	r := newRefsRepo(t, srv)
	tests := []struct {
		name    string
		ref     git.Reference
		wantRev string
		wantV   string
	}{
		{"branch main", git.Reference{Branch: "main"}, "main@sha1:" + r.c3, "3"},
		{"branch dev", git.Reference{Branch: "dev"}, "dev@sha1:" + r.dev, "dev"},
		{"lightweight tag", git.Reference{Tag: "v1.0.0"}, "v1.0.0@sha1:" + r.c1, "1"},
		{"annotated tag uses the commit", git.Reference{Tag: "v1.2.0"}, "v1.2.0@sha1:" + r.c2, "2"},
		{"semver highest match", git.Reference{SemVer: ">=1.0.0 <2.0.0"}, "v1.2.0@sha1:" + r.c2, "2"},
		{"semver any", git.Reference{SemVer: "*"}, "v2.0.0@sha1:" + r.c3, "3"},
		{"name", git.Reference{Name: "refs/pull/1/head"}, "refs/pull/1/head@sha1:" + r.pr, "pr"},
		{"name of a branch", git.Reference{Name: "refs/heads/dev"}, "refs/heads/dev@sha1:" + r.dev, "dev"},
		{"commit alone", git.Reference{Commit: r.c1}, "sha1:" + r.c1, "1"},
		{"commit within branch", git.Reference{Branch: "main", Commit: r.c2}, "main@sha1:" + r.c2, "2"},
		{"commit beats name", git.Reference{Commit: r.c1, Name: "refs/pull/1/head"}, "sha1:" + r.c1, "1"},
		{"name beats tag and semver", git.Reference{Name: "refs/pull/1/head", Tag: "v1.0.0", SemVer: "*"}, "refs/pull/1/head@sha1:" + r.pr, "pr"},
		{"tag beats semver", git.Reference{Tag: "v1.0.0", SemVer: "*"}, "v1.0.0@sha1:" + r.c1, "1"},
		{"semver beats branch", git.Reference{SemVer: "<2.0.0", Branch: "dev"}, "v1.2.0@sha1:" + r.c2, "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap, dir, err := fetch(t, &git.Repository{URL: r.repo.URL, Ref: tt.ref}, "")
			if err != nil {
				t.Fatal(err)
			}
			if snap.Revision != tt.wantRev {
				t.Errorf("Revision = %s, want %s", snap.Revision, tt.wantRev)
			}
			if d := cmp.Diff(map[string]string{"v.txt": tt.wantV}, readTree(t, dir)); d != "" {
				t.Errorf("tree (-want +got):\n%s", d)
			}
			if _, err := os.Stat(filepath.Join(dir, ".git")); err == nil {
				t.Error("the checkout contains .git")
			}
		})
	}
}

func TestFetchCommitWithoutWantBySHA(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "strict")
	old := repo.Commit("old", map[string]string{"f": "old"})
	repo.Commit("new", map[string]string{"f": "new"})
	// Servers that refuse a want by hash make Fetch fall back to history.
	repo.Git("config", "uploadpack.allowReachableSHA1InWant", "false")
	snap, dir, err := fetch(t, &git.Repository{URL: repo.URL, Ref: git.Reference{Commit: old}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != "sha1:"+old || readTree(t, dir)["f"] != "old" {
		t.Fatalf("Revision = %s, tree = %v", snap.Revision, readTree(t, dir))
	}
	// go-git sees the missing capability in the first advertisement and
	// asks again for the branches and tags.
	if n, adverts := srv.UploadPacks(), len(srv.Requests())-srv.UploadPacks(); n != 1 || adverts != 2 {
		t.Errorf("UploadPacks = %d, advertisements = %d; want 1 and 2", n, adverts)
	}
}

func TestFetchCommitMetadata(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "meta")
	h := repo.Commit("subject line\n\nbody text", map[string]string{"x": "y"})
	snap, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: git.Reference{Branch: "main"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	c := snap.Commit
	if c == nil {
		t.Fatal("no commit metadata")
	}
	got := []string{c.Hash, c.Reference, c.Author.Name, c.Author.Email, c.Committer.Name, c.ShortMessage()}
	want := []string{h, "refs/heads/main", "Test Author", "author@example.com", "Test Committer", "subject line"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("commit (-want +got):\n%s", d)
	}
	if c.Author.When.IsZero() {
		t.Error("author time is zero")
	}
}

func TestFetchShallow(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "shallow")
	for i := 0; i < 5; i++ {
		repo.Commit("c", map[string]string{"big.txt": strings.Repeat(string(rune('a'+i)), 200000)})
	}
	// A depth-1 fetch transfers one version of the file; full history
	// would be five. The server's pack is compressed, so compare against a
	// full fetch through a commit that forces history.
	if _, _, err := fetch(t, &git.Repository{URL: repo.URL, Ref: git.Reference{Branch: "main"}}, ""); err != nil {
		t.Fatal(err)
	}
	if n := srv.UploadPacks(); n != 1 {
		t.Fatalf("UploadPacks = %d, want 1", n)
	}
	out := repo.Git("rev-list", "--count", "HEAD")
	if out != "5" {
		t.Fatalf("repository has %s commits", out)
	}
}

func TestFetchErrors(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	r := newRefsRepo(t, srv)
	other := srv.NewRepo(t, "other")
	otherCommit := other.Commit("unrelated", map[string]string{"o": "o"})
	tests := []struct {
		name string
		repo git.Repository
		want error
		text string
	}{
		{"missing repository", git.Repository{URL: srv.URL + "/nope", Ref: git.Reference{Branch: "main"}}, source.ErrNotFound, "/nope"},
		{"missing branch", git.Repository{URL: r.repo.URL, Ref: git.Reference{Branch: "nope"}}, source.ErrRefNotFound, "nope"},
		{"Flux's default branch is missing", git.Repository{URL: r.repo.URL, Ref: git.Reference{Branch: git.DefaultBranch}}, source.ErrRefNotFound, "master"},
		{"missing tag", git.Repository{URL: r.repo.URL, Ref: git.Reference{Tag: "v9"}}, source.ErrRefNotFound, "v9"},
		{"missing name", git.Repository{URL: r.repo.URL, Ref: git.Reference{Name: "refs/pull/9/head"}}, source.ErrRefNotFound, "refs/pull/9/head"},
		{"semver without match", git.Repository{URL: r.repo.URL, Ref: git.Reference{SemVer: ">=5.0.0"}}, source.ErrRefNotFound, ">=5.0.0"},
		{"commit not in branch", git.Repository{URL: r.repo.URL, Ref: git.Reference{Branch: "main", Commit: r.dev}}, source.ErrRefNotFound, r.dev},
		{"commit missing", git.Repository{URL: r.repo.URL, Ref: git.Reference{Commit: otherCommit}}, source.ErrRefNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := fetch(t, &tt.repo, "")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not name %q", err, tt.text)
			}
		})
	}
}

func TestFetchConfigErrors(t *testing.T) {
	const u = "https://example.com/x"
	main := git.Reference{Branch: "main"}
	tests := []struct {
		name string
		repo git.Repository
		text string
	}{
		{"bad scheme", git.Repository{URL: "ftp://example.com/x", Ref: main}, "scheme"},
		{"empty url", git.Repository{Ref: main}, "empty"},
		{"zero reference", git.Repository{URL: u}, "name a Branch"},
		{"short commit", git.Repository{URL: u, Ref: git.Reference{Commit: "abc"}}, "40-hex"},
		{"bad branch", git.Repository{URL: u, Ref: git.Reference{Branch: "a..b"}}, `branch "a..b" is not a valid Git reference`},
		{"branch ending in a dot", git.Repository{URL: u, Ref: git.Reference{Branch: "a."}}, "not a valid Git reference"},
		{"branch component starting with a dot", git.Repository{URL: u, Ref: git.Reference{Branch: "team/.hidden"}}, "not a valid Git reference"},
		{"branch starting with a dash", git.Repository{URL: u, Ref: git.Reference{Branch: "-x"}}, "not a valid Git reference"},
		{"branch @", git.Repository{URL: u, Ref: git.Reference{Branch: "@"}}, "not a valid Git reference"},
		{"branch scoping a commit", git.Repository{URL: u, Ref: git.Reference{Branch: "a b", Commit: strings.Repeat("a", 40)}}, `branch "a b"`},
		{"bad tag", git.Repository{URL: u, Ref: git.Reference{Tag: "v1.lock"}}, `tag "v1.lock" is not a valid Git reference`},
		{"bad name", git.Repository{URL: u, Ref: git.Reference{Name: "refs/pull//head"}}, `reference name "refs/pull//head"`},
		{"name without refs/", git.Repository{URL: u, Ref: git.Reference{Name: "pull/1"}}, "refs/"},
		{"bad semver", git.Repository{URL: u, Ref: git.Reference{SemVer: "><"}}, "semver"},
		{"sparse escapes", git.Repository{URL: u, Ref: main, SparseCheckout: []string{"../x"}}, "leaves its root"},
		{"ssh without known_hosts", git.Repository{URL: "ssh://git@example.com/x", Ref: main, Auth: &git.Auth{Identity: []byte("k")}}, "known_hosts"},
		{"certificate without key", git.Repository{URL: u, Ref: main, Auth: &git.Auth{CertFile: []byte("c")}}, "CertFile and KeyFile"},
		{"proxy without host", git.Repository{URL: u, Ref: main, Proxy: &git.Proxy{URL: "proxy"}}, "proxy URL"},
		{"tag mode on a branch", git.Repository{URL: u, Ref: main, Verify: &git.Verification{Mode: git.VerifyTag, SSHKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"}}}, "needs a tag"},
		{"verify without keys", git.Repository{URL: u, Ref: main, Verify: &git.Verification{}}, "no PGP or SSH public keys"},
		{"bad verify mode", git.Repository{URL: u, Ref: main, Verify: &git.Verification{Mode: "all"}}, "not one of"},
		{"include into the root", git.Repository{URL: u, Ref: main, Include: []git.Include{{Dir: "/nonexistent"}}}, "toPath"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(op string, err error) {
				t.Helper()
				if err == nil || !strings.Contains(err.Error(), tt.text) {
					t.Fatalf("%s: err = %v, want it to contain %q", op, err, tt.text)
				}
				var gerr *git.Error
				if !errors.Is(err, source.ErrInvalid) || !errors.As(err, &gerr) || gerr.Kind != source.ErrInvalid {
					t.Errorf("%s: err = %#v, want an *Error of kind ErrInvalid", op, err)
				}
				if n := strings.Count(err.Error(), source.ErrInvalid.Error()); n != 1 {
					t.Errorf("%s: %q says %q %d times, want once", op, err, source.ErrInvalid, n)
				}
			}
			if tt.name == "include into the root" {
				// Includes are applied after the checkout, so this one
				// needs a server.
				srv := gittest.NewHTTPServer(t)
				repo := srv.NewRepo(t, "x")
				repo.Commit("c", map[string]string{"a": "a"})
				tt.repo.URL = repo.URL
			}
			_, _, err := fetch(t, &tt.repo, "")
			check("Fetch", err)
			if tt.repo.Include == nil && tt.repo.Verify == nil && tt.repo.SparseCheckout == nil {
				_, err := tt.repo.Resolve(context.Background())
				check("Resolve", err)
			}
		})
	}
}

func TestFetchIntoNonEmptyDir(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "x")
	repo.Commit("c", map[string]string{"a": "a"})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "junk"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := (&git.Repository{URL: repo.URL, Ref: git.Reference{Branch: "main"}}).Fetch(context.Background(), dir, "")
	if !errors.Is(err, source.ErrInvalid) || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("err = %v, want ErrInvalid naming the directory as not empty", err)
	}
}

func TestNoOpCheck(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	r := newRefsRepo(t, srv)
	tests := []struct {
		name string
		ref  git.Reference
	}{
		{"branch", git.Reference{Branch: "main"}},
		{"tag", git.Reference{Tag: "v1.0.0"}},
		{"annotated tag", git.Reference{Tag: "v1.2.0"}},
		{"name", git.Reference{Name: "refs/pull/1/head"}},
		{"semver", git.Reference{SemVer: "1.x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := &git.Repository{URL: r.repo.URL, Ref: tt.ref}
			snap, _, err := fetch(t, rp, "")
			if err != nil {
				t.Fatal(err)
			}
			before, packs := len(srv.Requests()), srv.UploadPacks()
			again, dir, err := fetch(t, rp, snap.Revision)
			if !errors.Is(err, source.ErrUnchanged) {
				t.Fatalf("second fetch err = %v, want ErrUnchanged", err)
			}
			if again.Revision != snap.Revision {
				t.Errorf("unchanged Revision = %q, want %q", again.Revision, snap.Revision)
			}
			if got := len(srv.Requests()) - before; got != 1 {
				t.Errorf("no-op check made %d requests, want 1 (ls-remote)", got)
			}
			if srv.UploadPacks() != packs {
				t.Error("no-op check downloaded objects")
			}
			if _, err := os.Stat(dir); err == nil {
				t.Error("no-op check wrote the destination directory")
			}
			// Flux's legacy revision form is recognised too.
			rev, _ := source.ParseRevision(snap.Revision)
			if _, _, err := fetch(t, rp, rev.Name+"/"+rev.Digest); !errors.Is(err, source.ErrUnchanged) {
				t.Errorf("legacy revision: err = %v, want ErrUnchanged", err)
			}
			// A different last revision leads to a real fetch.
			if got, _, err := fetch(t, rp, rev.Name+"@sha1:"+strings.Repeat("0", 40)); err != nil || got.Revision != snap.Revision {
				t.Errorf("fetch with stale last = %v, %v", got.Revision, err)
			}
		})
	}
}

func TestNoOpCheckSeesNewCommit(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "moving")
	repo.Commit("one", map[string]string{"f": "1"})
	rp := &git.Repository{URL: repo.URL, Ref: git.Reference{Branch: "main"}}
	first, _, err := fetch(t, rp, "")
	if err != nil {
		t.Fatal(err)
	}
	h := repo.Commit("two", map[string]string{"f": "2"})
	second, dir, err := fetch(t, rp, first.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if second.Revision != "main@sha1:"+h {
		t.Errorf("Revision = %s, want main@sha1:%s", second.Revision, h)
	}
	if got := readTree(t, dir)["f"]; got != "2" {
		t.Errorf("f = %q", got)
	}
	rev, err := rp.Resolve(context.Background())
	if err != nil || rev != second.Revision {
		t.Errorf("Resolve = %q, %v", rev, err)
	}
}

func TestSparseCheckout(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	repo := srv.NewRepo(t, "mono")
	repo.Commit("c", map[string]string{
		"README.md": "r", "apps/a/k.yaml": "a", "apps/a/sub/x.yaml": "ax", "apps/b/k.yaml": "b", "infra/i.yaml": "i",
	})
	snap, dir, err := fetch(t, &git.Repository{URL: repo.URL, Ref: git.Reference{Branch: "main"}, SparseCheckout: []string{"./apps/a", "infra"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"apps/a/k.yaml": "a", "apps/a/sub/x.yaml": "ax", "infra/i.yaml": "i"}
	if d := cmp.Diff(want, readTree(t, dir)); d != "" {
		t.Errorf("tree (-want +got):\n%s", d)
	}
	if !strings.HasPrefix(snap.Revision, "main@sha1:") {
		t.Errorf("Revision = %s", snap.Revision)
	}
	_, _, err = fetch(t, &git.Repository{URL: repo.URL, Ref: git.Reference{Branch: "main"}, SparseCheckout: []string{"apps/c"}}, "")
	if err == nil || !strings.Contains(err.Error(), `"apps/c" does not exist`) {
		t.Errorf("missing sparse dir: err = %v", err)
	}
}

func TestInclude(t *testing.T) {
	srv := gittest.NewHTTPServer(t)
	lib := srv.NewRepo(t, "lib")
	lib.Commit("lib", map[string]string{"deploy/crd.yaml": "crd", "src/main.go": "package main"})
	app := srv.NewRepo(t, "app")
	app.Commit("app", map[string]string{"k.yaml": "app"})

	_, libDir, err := fetch(t, &git.Repository{URL: lib.URL, Ref: git.Reference{Branch: "main"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	_, dir, err := fetch(t, &git.Repository{
		URL: app.URL, Ref: git.Reference{Branch: "main"},
		Include: []git.Include{{Dir: libDir, FromPath: "deploy", ToPath: "vendor/lib"}},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"k.yaml": "app", "vendor/lib/crd.yaml": "crd"}
	if d := cmp.Diff(want, readTree(t, dir)); d != "" {
		t.Errorf("tree (-want +got):\n%s", d)
	}
	_, _, err = fetch(t, &git.Repository{
		URL: app.URL, Ref: git.Reference{Branch: "main"},
		Include: []git.Include{{Dir: libDir, FromPath: "deploy", ToPath: "../escape"}},
	}, "")
	if err == nil || !strings.Contains(err.Error(), "leaves its root") {
		t.Errorf("escaping include: err = %v", err)
	}
}

func TestSubmodules(t *testing.T) {
	srv := gittest.NewHTTPServer(t, gittest.WithBasicAuth("bob", "pw-123"))
	lib := srv.NewRepo(t, "org/lib")
	libCommit := lib.Commit("lib v1", map[string]string{"lib.txt": "v1"})
	lib.Commit("lib v2", map[string]string{"lib.txt": "v2"})
	app := srv.NewRepo(t, "org/app")
	app.Commit("app", map[string]string{"app.txt": "app"})
	app.AddSubmodule(lib.URL, "vendor/abs", libCommit)
	app.AddSubmodule("../lib", "vendor/rel", libCommit)
	app.Commit("later", map[string]string{"later.txt": "l"})
	auth := &git.Auth{Username: "bob", Password: "pw-123"}

	_, dir, err := fetch(t, &git.Repository{URL: app.URL, Ref: git.Reference{Branch: "main"}, Auth: auth, RecurseSubmodules: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	got := readTree(t, dir)
	delete(got, ".gitmodules")
	want := map[string]string{"app.txt": "app", "later.txt": "l", "vendor/abs/lib.txt": "v1", "vendor/rel/lib.txt": "v1"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("tree with submodules (-want +got):\n%s", d)
	}

	_, dir, err = fetch(t, &git.Repository{URL: app.URL, Ref: git.Reference{Branch: "main"}, Auth: auth}, "")
	if err != nil {
		t.Fatal(err)
	}
	got = readTree(t, dir)
	delete(got, ".gitmodules")
	if d := cmp.Diff(map[string]string{"app.txt": "app", "later.txt": "l"}, got); d != "" {
		t.Errorf("tree without submodules (-want +got):\n%s", d)
	}
	if fi, err := os.Stat(filepath.Join(dir, "vendor", "abs")); err != nil || !fi.IsDir() {
		t.Errorf("submodule directory missing when not recursing: %v", err)
	}
}

func TestSelectSemVer(t *testing.T) {
	tags := []string{"v1.0.0", "1.0.0", "v1.2.0", "v1.10.0", "v2.0.0-rc.1", "v2.0.0", "latest", "v0.9.9"}
	tests := []struct {
		constraint string
		want       string
		ok         bool
	}{
		{"1.x", "v1.10.0", true},
		{">=1.0.0 <1.5.0", "v1.2.0", true},
		{"~1.0", "v1.0.0", true},
		{"*", "v2.0.0", true},
		{">=2.0.0-0", "v2.0.0", true},
		{">3", "", false},
	}
	for _, tt := range tests {
		got, ok, err := git.SelectSemVer(tt.constraint, tags)
		if err != nil {
			t.Fatalf("%s: %v", tt.constraint, err)
		}
		if got != tt.want || ok != tt.ok {
			t.Errorf("SelectSemVer(%q) = %q, %v; want %q, %v", tt.constraint, got, ok, tt.want, tt.ok)
		}
	}
	if _, _, err := git.SelectSemVer("not a range", tags); !errors.Is(err, source.ErrInvalid) {
		t.Errorf("a bad range: err = %v, want ErrInvalid", err)
	}
}

func FuzzSelectSemVer(f *testing.F) {
	f.Add(">=1.0.0", "v1.0.0,v1.2.0,2.0.0")
	f.Add("1.x || ~2.1", "v1.9.9,2.1.3,latest")
	f.Add("*", "")
	f.Fuzz(func(t *testing.T, constraint, list string) {
		tags := strings.Split(list, ",")
		got, ok, err := git.SelectSemVer(constraint, tags)
		if err != nil || !ok {
			return
		}
		found := false
		for _, tg := range tags {
			found = found || tg == got
		}
		if !found {
			t.Fatalf("selected %q, which is not among the tags", got)
		}
		// The choice does not depend on the order of the tags.
		rev := append([]string(nil), tags...)
		sort.Sort(sort.Reverse(sort.StringSlice(rev)))
		got2, _, _ := git.SelectSemVer(constraint, rev)
		if got2 != got {
			t.Fatalf("order-dependent selection: %q vs %q", got, got2)
		}
	})
}
