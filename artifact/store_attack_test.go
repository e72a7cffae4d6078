package artifact_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/google/go-cmp/cmp"
)

// snapshot records every entry under dir without following links: files
// with their content, directories as "dir", links as "-> target".
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "-> " + target
		case d.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// attackBed is a temporary directory holding a store root ("store") with
// two objects' artifacts and, next to it, a directory the store must never
// touch ("outside").
type attackBed struct {
	dir, outside string
	store        *artifact.Store
}

func newAttackBed(t *testing.T, opts ...artifact.StoreOption) *attackBed {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"store/gitrepository/ns/app/a.tar.gz":     "artifact a",
		"store/gitrepository/ns/other/b.tar.gz":   "artifact b",
		"store/gitrepository/prod/app/c.tar.gz":   "artifact c",
		"store/ocirepository/ns/app/d.tar.gz":     "artifact d",
		"outside/secret.txt":                      "SECRET",
		"outside/victim.tar.gz":                   "VICTIM",
		"outside/app/victim.tar.gz":               "VICTIM",
		"outside/ns/app/victim.tar.gz":            "VICTIM",
		"outside/gitrepository/ns/app/x.tar.gz":   "VICTIM",
		"outside/gitrepository/ns/app/.tmp-stale": "VICTIM",
	})
	s, err := artifact.NewStore(filepath.Join(dir, "store"), "http://artifacts.example", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &attackBed{dir: dir, outside: filepath.Join(dir, "outside"), store: s}
}

func TestRemoveAllRefusesInvalidObjects(t *testing.T) {
	b := newAttackBed(t)
	before := snapshot(t, b.dir)
	for _, tc := range []struct {
		kind, namespace, name string
		field                 string // named in the error
	}{
		{"", "ns", "app", "kind"},
		{".", "ns", "app", "kind"},
		{"..", "ns", "app", "kind"},
		{"Git/Repository", "ns", "app", "kind"},
		{"GitRepository/ns", "app", "x", "kind"},
		{"Git-Repository", "ns", "app", "kind"},
		{"GitRepository\x00", "ns", "app", "kind"},
		{"GitRepository", "", "app", "namespace"},
		{"GitRepository", ".", "app", "namespace"},
		{"GitRepository", "..", "app", "namespace"},
		{"GitRepository", "ns/app", "x", "namespace"},
		{"GitRepository", "NS", "app", "namespace"},
		{"GitRepository", "-ns", "app", "namespace"},
		{"GitRepository", `ns\app`, "x", "namespace"},
		{"GitRepository", "ns", "", "name"},
		{"GitRepository", "ns", ".", "name"},
		{"GitRepository", "ns", "..", "name"},
		{"GitRepository", "ns", "a/b", "name"},
		{"GitRepository", "ns", "../other", "name"},
		{"GitRepository", "ns", "/", "name"},
		{"GitRepository", "ns", "app\x00", "name"},
		{"GitRepository", "ns", ".app", "name"},
		{"GitRepository", "ns", "app.", "name"},
		{"GitRepository", "ns", "a..b", "name"},
		{"GitRepository", "ns", strings.Repeat("a", 254), "name"},
		{"..", "..", "..", "kind"},
	} {
		err := b.store.RemoveAll(artifact.ObjectKey{Kind: tc.kind, Namespace: tc.namespace, Name: tc.name})
		if !errors.Is(err, artifact.ErrInvalidPath) || !strings.Contains(err.Error(), tc.field+" ") {
			t.Errorf("RemoveAll(%q, %q, %q) = %v, want ErrInvalidPath naming the %s", tc.kind, tc.namespace, tc.name, err, tc.field)
		}
	}
	if diff := cmp.Diff(before, snapshot(t, b.dir)); diff != "" {
		t.Errorf("refused RemoveAll calls changed the tree (-before +after):\n%s", diff)
	}
}

func TestRemoveAllRemovesOneObject(t *testing.T) {
	b := newAttackBed(t)
	before := snapshot(t, b.dir)
	if err := b.store.RemoveAll(artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for k, v := range before {
		if k != "store/gitrepository/ns/app" && !strings.HasPrefix(k, "store/gitrepository/ns/app/") {
			want[k] = v
		}
	}
	if diff := cmp.Diff(want, snapshot(t, b.dir)); diff != "" {
		t.Errorf("RemoveAll removed more than the object (-want +got):\n%s", diff)
	}
	if err := b.store.RemoveAll(artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}); err != nil {
		t.Errorf("RemoveAll of an object with nothing stored: %v", err)
	}
	if err := b.store.RemoveAll(artifact.ObjectKey{Kind: "GitRepository", Namespace: "nowhere", Name: "app"}); err != nil {
		t.Errorf("RemoveAll in a namespace with nothing stored: %v", err)
	}
}

// A finalizer that removes an object's artifacts must derive what it
// deletes from the object, whatever its status claims: the status is
// writable by more hands than the object's identity.
func TestFinalizerIgnoresStatusPath(t *testing.T) {
	for _, statusPath := range []string{
		"gitrepository/ns/other/b.tar.gz",
		"gitrepository/prod/app/c.tar.gz",
		"gitrepository/ns/x.tar.gz",
		"gitrepository/x.tar.gz",
		"x.tar.gz",
		"../outside/secret.txt",
		"gitrepository/ns/app/../../../../outside/secret.txt",
		"/etc/passwd",
		"",
	} {
		b := newAttackBed(t)
		before := snapshot(t, b.dir)
		status := artifact.Artifact{Path: statusPath}
		// What the GitRepository example's finalizer does.
		finalize := func(kind, namespace, name string, _ artifact.Artifact) error {
			return b.store.RemoveAll(artifact.ObjectKey{Kind: kind, Namespace: namespace, Name: name})
		}
		if err := finalize("GitRepository", "ns", "app", status); err != nil {
			t.Fatal(err)
		}
		after := snapshot(t, b.dir)
		for k, v := range before {
			mine := k == "store/gitrepository/ns/app" || strings.HasPrefix(k, "store/gitrepository/ns/app/")
			if got, ok := after[k]; !mine && (!ok || got != v) {
				t.Errorf("status path %q: %s was changed or removed", statusPath, k)
			}
			if _, ok := after[k]; mine && ok {
				t.Errorf("status path %q: %s was not removed", statusPath, k)
			}
		}
		// Nothing that takes an Artifact reaches beyond a valid path either.
		if statusPath != "gitrepository/ns/other/b.tar.gz" && statusPath != "gitrepository/prod/app/c.tar.gz" {
			if err := b.store.Remove(status); !errors.Is(err, artifact.ErrInvalidPath) {
				t.Errorf("Remove(%q) = %v, want ErrInvalidPath", statusPath, err)
			}
			if _, err := b.store.GarbageCollect(context.Background(), status); !errors.Is(err, artifact.ErrInvalidPath) {
				t.Errorf("GarbageCollect(%q) = %v, want ErrInvalidPath", statusPath, err)
			}
		}
	}
}

func TestStoreOperationsRefuseInvalidPaths(t *testing.T) {
	ctx := context.Background()
	b := newAttackBed(t)
	before := snapshot(t, b.dir)
	for _, p := range []string{
		"", ".", "..", "/", "x.tar.gz", "gitrepository/ns/x.tar.gz", "gitrepository/ns/app/sub/x.tar.gz",
		"GitRepository/ns/app/x.tar.gz", "gitrepository/ns/app/.hidden", "gitrepository/ns/app/..",
		"gitrepository/ns/../x.tar.gz", "gitrepository/../../outside/x", "/gitrepository/ns/app/x.tar.gz",
		"gitrepository//app/x.tar.gz", "gitrepository/ns/app/", `gitrepository\ns\app\x.tar.gz`,
		"gitrepository/ns/app/x\x00.tar.gz", "gitrepository/ns/app/x\n.tar.gz",
	} {
		a := artifact.Artifact{Path: p}
		if _, err := b.store.LocalPath(a); !errors.Is(err, artifact.ErrInvalidPath) {
			t.Errorf("LocalPath(%q) = %v", p, err)
		}
		if _, err := b.store.Put(ctx, a, strings.NewReader("x")); !errors.Is(err, artifact.ErrInvalidPath) {
			t.Errorf("Put(%q) = %v", p, err)
		}
		if _, err := b.store.Archive(ctx, a, t.TempDir(), artifact.PackOptions{}); !errors.Is(err, artifact.ErrInvalidPath) {
			t.Errorf("Archive(%q) = %v", p, err)
		}
		if _, err := b.store.Open(a); !errors.Is(err, artifact.ErrInvalidPath) {
			t.Errorf("Open(%q) = %v", p, err)
		}
		if err := b.store.Remove(a); !errors.Is(err, artifact.ErrInvalidPath) {
			t.Errorf("Remove(%q) = %v", p, err)
		}
		if _, err := b.store.GarbageCollect(ctx, a); !errors.Is(err, artifact.ErrInvalidPath) {
			t.Errorf("GarbageCollect(%q) = %v", p, err)
		}
		if b.store.Exists(a) {
			t.Errorf("Exists(%q) = true", p)
		}
	}
	for _, args := range [][3]string{{"", "", ""}, {"..", "", ""}, {"GitRepository", "..", ""}, {"GitRepository", "ns", ".."}, {"GitRepository", "", "app"}} {
		if _, err := b.store.List(ctx, artifact.ObjectKey{Kind: args[0], Namespace: args[1], Name: args[2]}); !errors.Is(err, artifact.ErrInvalidPath) {
			t.Errorf("List%q = %v", args, err)
		}
	}
	if diff := cmp.Diff(before, snapshot(t, b.dir)); diff != "" {
		t.Errorf("refused operations changed the tree (-before +after):\n%s", diff)
	}
}

// Symbolic links planted in the store, to directories outside it or
// elsewhere inside it, and to files: no store operation may write, read or
// delete through them.
func TestStoreNeverFollowsPlantedLinks(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		link   string // path of the link under the store root
		target func(b *attackBed) string
		obj    [3]string // the object whose artifacts are attacked
	}{
		{name: "object directory to outside, absolute", link: "gitrepository/ns/evil",
			target: func(b *attackBed) string { return filepath.Join(b.outside, "app") }, obj: [3]string{"GitRepository", "ns", "evil"}},
		{name: "object directory to outside, relative", link: "gitrepository/ns/evil",
			target: func(*attackBed) string { return "../../../outside/app" }, obj: [3]string{"GitRepository", "ns", "evil"}},
		{name: "namespace directory to outside", link: "gitrepository/evil",
			target: func(b *attackBed) string { return filepath.Join(b.outside, "ns") }, obj: [3]string{"GitRepository", "evil", "app"}},
		{name: "kind directory to outside", link: "helmchart",
			target: func(b *attackBed) string { return filepath.Join(b.outside, "gitrepository") }, obj: [3]string{"HelmChart", "ns", "app"}},
		{name: "object directory to another object", link: "gitrepository/ns/evil",
			target: func(*attackBed) string { return "other" }, obj: [3]string{"GitRepository", "ns", "evil"}},
		{name: "namespace directory to another namespace", link: "gitrepository/evil",
			target: func(*attackBed) string { return "prod" }, obj: [3]string{"GitRepository", "evil", "app"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An hour-ahead clock makes every file collectable.
			b := newAttackBed(t, artifact.WithRetention(1, time.Second), artifact.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
			mkLink(t, filepath.Join(b.dir, "store"), tc.target(b), tc.link)
			before := snapshot(t, b.dir)
			dir := strings.ToLower(tc.obj[0]) + "/" + tc.obj[1] + "/" + tc.obj[2] + "/"
			at := func(file string) artifact.Artifact {
				return b.store.NewArtifact(artifact.ObjectKey{Kind: tc.obj[0], Namespace: tc.obj[1], Name: tc.obj[2]}, "sha256:"+strings.Repeat("0", 64), file)
			}
			wantRefused := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, artifact.ErrInvalidPath) || !strings.Contains(err.Error(), "symbolic link") {
					t.Errorf("%s = %v, want ErrInvalidPath naming the symbolic link", op, err)
				}
			}
			_, err := b.store.Put(ctx, at("x.tar.gz"), strings.NewReader("planted"))
			wantRefused("Put", err)
			src := t.TempDir()
			writeTree(t, src, map[string]string{"a.yaml": "a: 1\n"})
			_, err = b.store.Archive(ctx, at("x.tar.gz"), src, artifact.PackOptions{})
			wantRefused("Archive", err)
			_, err = b.store.Put(ctx, at("victim.tar.gz"), strings.NewReader("planted"))
			wantRefused("Put", err)
			for _, file := range []string{"victim.tar.gz", "x.tar.gz", "b.tar.gz", "c.tar.gz", "secret.txt"} {
				if f, err := b.store.Open(at(file)); err == nil {
					content, _ := io.ReadAll(f)
					f.Close()
					t.Errorf("Open(%s) read %q through the link", file, content)
				}
				if b.store.Exists(at(file)) {
					t.Errorf("Exists(%s) through the link", file)
				}
				wantRefused("Remove("+file+")", b.store.Remove(at(file)))
			}
			_, err = b.store.GarbageCollect(ctx, at("keep.tar.gz"))
			wantRefused("GarbageCollect", err)
			list, err := b.store.List(ctx, artifact.ObjectKey{Kind: tc.obj[0], Namespace: tc.obj[1], Name: tc.obj[2]})
			if err == nil {
				t.Errorf("List of the linked object = %d artifacts, want an error", len(list))
			}
			list, err = b.store.List(ctx, artifact.ObjectKey{Kind: tc.obj[0]})
			if err != nil && !errors.Is(err, artifact.ErrInvalidPath) {
				t.Errorf("List of the kind: %v", err)
			}
			for _, a := range list {
				if strings.HasPrefix(a.Path+"/", tc.link+"/") {
					t.Errorf("List of the kind shows %s through the link", a.Path)
				}
			}
			srv := httptest.NewServer(b.store.Handler())
			defer srv.Close()
			for _, file := range []string{"victim.tar.gz", "x.tar.gz", "b.tar.gz", "c.tar.gz", "secret.txt"} {
				resp, err := srv.Client().Get(srv.URL + "/" + dir + file)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("GET %s%s: %d %q, want 404", dir, file, resp.StatusCode, body)
				}
			}
			if diff := cmp.Diff(before, snapshot(t, b.dir)); diff != "" {
				t.Errorf("refused operations changed the tree (-before +after):\n%s", diff)
			}
			// RemoveAll of the object removes the link itself, nothing
			// it points at.
			err = b.store.RemoveAll(artifact.ObjectKey{Kind: tc.obj[0], Namespace: tc.obj[1], Name: tc.obj[2]})
			after := snapshot(t, b.dir)
			for k, v := range before {
				if k == "store/"+tc.link {
					continue
				}
				if after[k] != v {
					t.Errorf("RemoveAll (err %v) changed %s", err, k)
				}
			}
		})
	}
}

// A link at an artifact's own file name: reads refuse it, a write replaces
// the link (never writing through it), Remove and GC delete only the link.
func TestStoreReplacesFileLinks(t *testing.T) {
	ctx := context.Background()
	for _, target := range []string{"abs", "../other/b.tar.gz"} {
		t.Run(target, func(t *testing.T) {
			b := newAttackBed(t, artifact.WithRetention(1, time.Second), artifact.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
			if target == "abs" {
				target = filepath.Join(b.outside, "victim.tar.gz")
			}
			mkLink(t, filepath.Join(b.dir, "store"), target, "gitrepository/ns/app/x.tar.gz")
			mkLink(t, filepath.Join(b.dir, "store"), target, "gitrepository/ns/app/y.tar.gz")
			a := b.store.NewArtifact(artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}, "sha256:"+strings.Repeat("0", 64), "x.tar.gz")
			if f, err := b.store.Open(a); !errors.Is(err, artifact.ErrNotFound) {
				if err == nil {
					f.Close()
				}
				t.Errorf("Open of a link = %v, want ErrNotFound", err)
			}
			if b.store.Exists(a) {
				t.Error("Exists of a link = true")
			}
			srv := httptest.NewServer(b.store.Handler())
			defer srv.Close()
			resp, err := srv.Client().Get(srv.URL + "/" + a.Path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET of a link: %d, want 404", resp.StatusCode)
			}
			got, err := b.store.Put(ctx, a, strings.NewReader("fresh"))
			if err != nil {
				t.Fatal(err)
			}
			if err := b.store.Verify(got); err != nil {
				t.Errorf("Verify after Put: %v", err)
			}
			if fi, err := os.Lstat(filepath.Join(b.dir, "store/gitrepository/ns/app/x.tar.gz")); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("after Put, x.tar.gz is %v, %v; want a regular file", fi, err)
			}
			if err := b.store.Remove(b.store.NewArtifact(artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}, "", "y.tar.gz")); err != nil {
				t.Errorf("Remove of a link: %v", err)
			}
			mkLink(t, filepath.Join(b.dir, "store"), target, "gitrepository/ns/app/z.tar.gz")
			if _, err := b.store.GarbageCollect(ctx, got); err != nil {
				t.Errorf("GarbageCollect: %v", err)
			}
			snap := snapshot(t, b.dir)
			if snap["outside/victim.tar.gz"] != "VICTIM" || snap["store/gitrepository/ns/other/b.tar.gz"] != "artifact b" {
				t.Errorf("a link's target was changed: %v", snap)
			}
			if _, ok := snap["store/gitrepository/ns/app/y.tar.gz"]; ok {
				t.Error("Remove left the link")
			}
			if _, ok := snap["store/gitrepository/ns/app/a.tar.gz"]; ok {
				t.Error("GarbageCollect kept a superseded file")
			}
		})
	}
}

// Garbage collection, removal and writes of one object serialise: with a
// clock that makes every temporary file look stale, an unserialised
// collection would delete a write in flight.
func TestStoreConcurrentGarbageCollectionAndWrites(t *testing.T) {
	ctx := context.Background()
	s := newStore(t, artifact.WithRetention(1, time.Second), artifact.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
	key := artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}
	current := s.NewArtifact(key, "sha256:"+strings.Repeat("0", 64), "current.tar.gz")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, op := range []func() error{
		func() error { _, err := s.GarbageCollect(ctx, current); return err },
		func() error { return s.RemoveAll(key) },
		func() error { _, err := s.List(ctx, key); return err },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := op(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var writers sync.WaitGroup
	for w := range 3 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range 15 {
				a := s.NewArtifact(artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}, "", "x.tar.gz")
				if i%2 == 0 {
					a = current
				}
				data := strings.Repeat(string(rune('a'+w)), 64<<10)
				got, err := s.Put(ctx, a, &slowReader{r: strings.NewReader(data)})
				if err != nil {
					t.Errorf("Put while collecting: %v", err)
					continue
				}
				if got.Size != int64(len(data)) {
					t.Errorf("Put wrote %d bytes, want %d", got.Size, len(data))
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	wg.Wait()
}

// slowReader hands out small chunks and yields between them, so a write
// stays in flight across many scheduling points.
type slowReader struct{ r io.Reader }

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(50 * time.Microsecond)
	if len(p) > 4<<10 {
		p = p[:4<<10]
	}
	return s.r.Read(p)
}
