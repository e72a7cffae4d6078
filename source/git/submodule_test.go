package git_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source/git"
	"github.com/gitopskit/gitopskit/source/git/gittest"
	"github.com/google/go-cmp/cmp"
)

// TestSubmodulesSameHost serves a parent repository whose submodules live
// on its own host and on another one (a second server, on another port).
func TestSubmodulesSameHost(t *testing.T) {
	home := gittest.NewHTTPServer(t)
	other := gittest.NewHTTPServer(t)
	lib := home.NewRepo(t, "org/lib")
	libCommit := lib.Commit("lib", map[string]string{"lib.txt": "home"})
	foreign := other.NewRepo(t, "internal/secrets")
	foreignCommit := foreign.Commit("internal", map[string]string{"internal.txt": "internal"})

	local := home.NewRepo(t, "org/local")
	local.Commit("app", map[string]string{"app.txt": "app"})
	local.AddSubmodule(lib.URL, "vendor/abs", libCommit)
	local.AddSubmodule("../lib", "vendor/rel", libCommit)

	mixed := home.NewRepo(t, "org/mixed")
	mixed.Commit("app", map[string]string{"app.txt": "app"})
	mixed.AddSubmodule("../lib", "vendor/rel", libCommit)
	foreignWithCreds := strings.Replace(foreign.URL, "http://", "http://user:sub-pass-42@", 1)
	mixed.AddSubmodule(foreignWithCreds, "vendor/internal", foreignCommit)

	t.Run("same host passes", func(t *testing.T) {
		_, dir, err := fetch(t, &git.Repository{URL: local.URL, Ref: git.Reference{Branch: "main"}, RecurseSubmodules: true, SubmodulesSameHost: true}, "")
		if err != nil {
			t.Fatal(err)
		}
		got := readTree(t, dir)
		delete(got, ".gitmodules")
		want := map[string]string{"app.txt": "app", "vendor/abs/lib.txt": "home", "vendor/rel/lib.txt": "home"}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("tree (-want +got):\n%s", d)
		}
	})
	t.Run("other host refused", func(t *testing.T) {
		homeBefore, otherBefore := len(home.Requests()), len(other.Requests())
		_, _, err := fetch(t, &git.Repository{URL: mixed.URL, Ref: git.Reference{Branch: "main"}, RecurseSubmodules: true, SubmodulesSameHost: true}, "")
		if !errors.Is(err, git.ErrSubmoduleHost) {
			t.Fatalf("err = %v, want ErrSubmoduleHost", err)
		}
		for _, want := range []string{`"vendor/internal"`, "not the parent's host"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %s", err, want)
			}
		}
		assertNoSecret(t, err, "sub-pass-42")
		if n := len(other.Requests()) - otherBefore; n != 0 {
			t.Errorf("the other host served %d requests", n)
		}
		// The parent was fetched, but not its same-host submodule: every
		// address is checked before any submodule is fetched.
		var libFetches int
		for _, r := range home.Requests()[homeBefore:] {
			if strings.HasPrefix(r.Path, "/org/lib/") {
				libFetches++
			}
		}
		if libFetches != 0 {
			t.Errorf("the same-host submodule was fetched %d times before the refusal", libFetches)
		}
	})
	t.Run("other host allowed by default", func(t *testing.T) {
		otherBefore := len(other.Requests())
		_, dir, err := fetch(t, &git.Repository{URL: mixed.URL, Ref: git.Reference{Branch: "main"}, RecurseSubmodules: true}, "")
		if err != nil {
			t.Fatal(err)
		}
		if readTree(t, dir)["vendor/internal/internal.txt"] != "internal" {
			t.Error("the other host's submodule was not checked out")
		}
		if len(other.Requests()) == otherBefore {
			t.Error("the other host served nothing")
		}
	})
	t.Run("other scheme refused", func(t *testing.T) {
		for i, u := range []string{
			"ssh://git@" + strings.TrimPrefix(home.URL, "http://") + "/org/lib",
			"git@127.0.0.1:org/lib",
		} {
			app := home.NewRepo(t, "org/scheme"+string(rune('a'+i)))
			app.Commit("app", map[string]string{"app.txt": "app"})
			app.AddSubmodule(u, "vendor/lib", libCommit)
			_, _, err := fetch(t, &git.Repository{URL: app.URL, Ref: git.Reference{Branch: "main"}, RecurseSubmodules: true, SubmodulesSameHost: true}, "")
			if !errors.Is(err, git.ErrSubmoduleHost) || !strings.Contains(err.Error(), "scheme ssh") {
				t.Errorf("%s: err = %v, want ErrSubmoduleHost naming the scheme", u, err)
			}
		}
	})
}
