package artifact

import (
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzStoreBed is a temporary directory with a store root ("store") that
// holds two objects' artifacts, and files next to it ("outside") that the
// store must never touch or serve.
type fuzzStoreBed struct {
	dir   string
	store *Store
}

var fuzzBedFiles = map[string]string{
	"store/gitrepository/ns/app/a.tar.gz":   "artifact-a",
	"store/gitrepository/ns/app/.tmp-x":     "TEMPFILE",
	"store/gitrepository/ns/other/b.tar.gz": "artifact-b",
	"outside/secret.txt":                    "SECRET",
	"outside/app/secret.tar.gz":             "SECRET",
}

func newFuzzStoreBed(f *testing.F) *fuzzStoreBed {
	f.Helper()
	dir := f.TempDir()
	b := &fuzzStoreBed{dir: dir}
	b.restore(f)
	links := map[string]string{
		"store/gitrepository/ns/link":           filepath.Join(dir, "outside", "app"),
		"store/gitrepository/ns/app/s.tar.gz":   filepath.Join(dir, "outside", "secret.txt"),
		"store/gitrepository/ns/app/rel.tar.gz": "../../../../outside/secret.txt",
		"store/gitrepository/evil":              "../../outside",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			f.Fatal(err)
		}
	}
	s, err := NewStore(filepath.Join(dir, "store"), "http://artifacts.example")
	if err != nil {
		f.Fatal(err)
	}
	b.store = s
	return b
}

// restore recreates any of the bed's files that are missing.
func (b *fuzzStoreBed) restore(tb testing.TB) {
	tb.Helper()
	for name, content := range fuzzBedFiles {
		full := filepath.Join(b.dir, filepath.FromSlash(name))
		if _, err := os.Lstat(full); err == nil {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// inside reports whether p lies strictly inside root, lexically.
func inside(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != "." && !filepath.IsAbs(rel) && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// FuzzStorePath feeds arbitrary strings to the store's path validators,
// LocalPath and RemoveAll: an accepted value is always a path inside the
// root, and RemoveAll never deletes anything but the one object named.
func FuzzStorePath(f *testing.F) {
	for _, seed := range [][4]string{
		{"GitRepository", "ns", "app", "a.tar.gz"},
		{"gitrepository", "ns", "other", "b.tar.gz"},
		{"", "", "", ""},
		{".", ".", ".", "."},
		{"..", "..", "..", ".."},
		{"GitRepository", "ns", "a/b", "x"},
		{"GitRepository", "ns/app", "", "x"},
		{"GitRepository", "ns", "link", "secret.tar.gz"},
		{"GitRepository", "evil", "app", "secret.tar.gz"},
		{"Git\x00Repository", "ns\\app", "app.", ".tmp-x"},
		{"GitRepository", "ns", "a.b-c.d", "x y.tar.gz"},
		{"GitRepository", "-ns", "app-", "/etc/passwd"},
		{"gitrepository/ns/app/a.tar.gz", "", "", ""},
		{"ÄÖÜ", "ns", "ａｐｐ", "é.tar.gz"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	b := newFuzzStoreBed(f)
	root := b.store.Root()
	f.Fuzz(func(t *testing.T, kind, namespace, name, file string) {
		// The validators accept single, non-relative path segments only.
		for _, v := range []struct {
			value string
			check func(string) error
		}{{kind, validateKind}, {namespace, validateNamespace}, {name, validateName}, {file, validateFile}} {
			err := v.check(v.value)
			if err != nil {
				if !errors.Is(err, ErrInvalidPath) {
					t.Fatalf("validator error %v does not wrap ErrInvalidPath", err)
				}
				continue
			}
			if v.value == "" || v.value == "." || v.value == ".." || strings.ContainsAny(v.value, "/\\\x00") {
				t.Fatalf("validator accepted %q", v.value)
			}
			if j := filepath.Join(root, v.value); filepath.Dir(j) != root {
				t.Fatalf("accepted segment %q is not a child of the root: %s", v.value, j)
			}
		}

		// Every string is also tried as a whole store path.
		p := strings.ToLower(kind) + "/" + namespace + "/" + name + "/" + file
		for _, candidate := range []string{p, kind, namespace + "/" + name, file} {
			clean, err := cleanStorePath(candidate)
			local, lerr := b.store.LocalPath(Artifact{Path: candidate})
			if (err == nil) != (lerr == nil) {
				t.Fatalf("cleanStorePath and LocalPath disagree on %q: %v / %v", candidate, err, lerr)
			}
			if err != nil {
				if !errors.Is(err, ErrInvalidPath) {
					t.Fatalf("cleanStorePath(%q) error %v does not wrap ErrInvalidPath", candidate, err)
				}
				continue
			}
			if clean != candidate {
				t.Fatalf("cleanStorePath(%q) = %q, want the path unchanged", candidate, clean)
			}
			if !inside(root, local) || filepath.Clean(local) != local {
				t.Fatalf("LocalPath(%q) = %q, outside the root %q", candidate, local, root)
			}
			if rel, _ := filepath.Rel(root, local); filepath.ToSlash(rel) != candidate {
				t.Fatalf("LocalPath(%q) = %q, not that path under the root", candidate, local)
			}
			if strings.Count(candidate, "/") != 3 {
				t.Fatalf("cleanStorePath accepted %q, not four segments", candidate)
			}
		}

		// RemoveAll deletes the one object named, or nothing.
		err := b.store.RemoveAll(ObjectKey{Kind: kind, Namespace: namespace, Name: name})
		var removed string
		if err == nil {
			if validateKind(kind) != nil || validateNamespace(namespace) != nil || validateName(name) != nil {
				t.Fatalf("RemoveAll(%q, %q, %q) accepted an invalid value", kind, namespace, name)
			}
			removed = "store/" + strings.ToLower(kind) + "/" + namespace + "/" + name + "/"
		} else if !errors.Is(err, ErrInvalidPath) {
			t.Fatalf("RemoveAll(%q, %q, %q) = %v", kind, namespace, name, err)
		}
		for fname, content := range fuzzBedFiles {
			got, err := os.ReadFile(filepath.Join(b.dir, filepath.FromSlash(fname)))
			if removed != "" && strings.HasPrefix(fname, removed) {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("RemoveAll(%q, %q, %q) left %s", kind, namespace, name, fname)
				}
				continue
			}
			if err != nil || string(got) != content {
				t.Fatalf("RemoveAll(%q, %q, %q) touched %s: %v", kind, namespace, name, fname, err)
			}
		}
		if removed != "" {
			b.restore(t)
		}
	})
}

// FuzzStoreHandler sends arbitrary request paths to Store.Handler: it
// never panics, never serves anything but a stored artifact at its exact
// path, and never reads through a planted link or outside the root.
func FuzzStoreHandler(f *testing.F) {
	for _, seed := range []string{
		"/gitrepository/ns/app/a.tar.gz",
		"gitrepository/ns/app/a.tar.gz",
		"/gitrepository/ns/other/b.tar.gz",
		"/",
		"",
		"/gitrepository/ns/app/",
		"/gitrepository/ns/app/.tmp-x",
		"/gitrepository/ns/app/s.tar.gz",
		"/gitrepository/ns/app/rel.tar.gz",
		"/gitrepository/ns/link/secret.tar.gz",
		"/gitrepository/evil/app/secret.tar.gz",
		"/../outside/secret.txt",
		"/gitrepository/ns/app/../../../../outside/secret.txt",
		"//gitrepository/ns/app/a.tar.gz",
		"/gitrepository/ns/app/a.tar.gz/",
		"/gitrepository/ns/app/./a.tar.gz",
		"/%2e%2e/outside/secret.txt",
		"/gitrepository/ns/app/a.tar.gz\x00",
		"/GitRepository/ns/app/a.tar.gz",
	} {
		f.Add(seed)
	}
	b := newFuzzStoreBed(f)
	h := b.store.Handler()
	artifacts := map[string]string{
		"gitrepository/ns/app/a.tar.gz":   "artifact-a",
		"gitrepository/ns/other/b.tar.gz": "artifact-b",
	}
	f.Fuzz(func(t *testing.T, p string) {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req := &http.Request{Method: method, URL: &url.URL{Path: p}, Header: http.Header{}, Host: "artifacts.example"}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if strings.Contains(body, "SECRET") || strings.Contains(body, "TEMPFILE") {
				t.Fatalf("%s %q served %q", method, p, body)
			}
			if rec.Code == http.StatusOK {
				want, ok := artifacts[strings.TrimPrefix(p, "/")]
				if !ok {
					t.Fatalf("%s %q answered 200, not a stored artifact's path", method, p)
				}
				if method == http.MethodGet && body != want {
					t.Fatalf("GET %q served %q, want %q", p, body, want)
				}
				continue
			}
			if rec.Code != http.StatusNotFound {
				t.Fatalf("%s %q answered %d", method, p, rec.Code)
			}
		}
	})
}
