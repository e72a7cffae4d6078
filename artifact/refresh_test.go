package artifact_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/source"
)

// treeSource is a source.Fetcher over a fixed tree at a fixed revision.
type treeSource struct {
	revision string
	files    map[string]string
	fetches  int
	err      error
}

func (s *treeSource) Fetch(_ context.Context, dir, last string) (source.Snapshot, error) {
	if s.err != nil {
		return source.Snapshot{}, s.err
	}
	if last == s.revision {
		return source.Snapshot{}, source.ErrUnchanged
	}
	s.fetches++
	for name, data := range s.files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return source.Snapshot{}, err
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			return source.Snapshot{}, err
		}
	}
	return source.Snapshot{Revision: s.revision}, nil
}

func TestRefresh(t *testing.T) {
	ctx := context.Background()
	st, err := artifact.NewStore(t.TempDir(), "http://store")
	if err != nil {
		t.Fatal(err)
	}
	key := artifact.ObjectKey{Kind: "Bucket", Namespace: "apps", Name: "site"}
	src := &treeSource{revision: "sha256:" + strings.Repeat("1", 64), files: map[string]string{"a.yaml": "a", "skip/b.yaml": "b"}}
	filter := func(string) (artifact.Filter, error) {
		return func(rel string, isDir bool) bool { return isDir && rel == "skip" }, nil
	}
	opts := artifact.RefreshOptions{Filter: filter, TempDir: t.TempDir()}

	first, err := st.Refresh(ctx, key, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !first.New || first.Unchanged || first.Artifact.Revision != src.revision || !st.Exists(first.Artifact) {
		t.Fatalf("first refresh = %+v", first)
	}
	unpacked := t.TempDir()
	f, err := st.Open(first.Artifact)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := artifact.Unpack(ctx, f, unpacked, artifact.UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(unpacked, "skip")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("filtered directory was packed: %v", err)
	}

	// The same revision again: nothing is downloaded.
	opts.Last = &first.Artifact
	again, err := st.Refresh(ctx, key, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Unchanged || again.New || again.Artifact.Path != first.Artifact.Path || src.fetches != 1 {
		t.Errorf("unchanged refresh = %+v after %d fetches", again, src.fetches)
	}

	// A Last that belongs to another object is not trusted.
	other := *opts.Last
	other.Path = "bucket/apps/other/" + filepath.Base(first.Artifact.Path)
	opts.Last = &other
	if res, err := st.Refresh(ctx, key, src, opts); err != nil || res.Unchanged || src.fetches != 2 {
		t.Errorf("refresh with a foreign Last = %+v, %v after %d fetches", res, err, src.fetches)
	}

	// A Last whose file is gone is fetched again.
	gone := first.Artifact
	gone.Path = key.ArtifactPath("gone.tar.gz")
	opts.Last = &gone
	if res, err := st.Refresh(ctx, key, src, opts); err != nil || res.Unchanged || src.fetches != 3 {
		t.Errorf("refresh with a missing Last = %+v, %v after %d fetches", res, err, src.fetches)
	}
}

// RefreshOptions.File stores one fetched file as it is: its bytes, its
// digest, a content-addressed name with its extension; no-op and garbage
// collection as for a packed tree.
func TestRefreshFile(t *testing.T) {
	ctx := context.Background()
	st, err := artifact.NewStore(t.TempDir(), "http://store")
	if err != nil {
		t.Fatal(err)
	}
	key := artifact.ObjectKey{Kind: "OCIRepository", Namespace: "apps", Name: "chart"}
	blob := "\x1f\x8b not really a chart"
	src := &treeSource{revision: "v1@sha256:" + strings.Repeat("3", 64), files: map[string]string{"layer.tgz": blob, "other": "x"}}
	opts := artifact.RefreshOptions{File: "layer.tgz", TempDir: t.TempDir(),
		Filter: func(string) (artifact.Filter, error) { return nil, fmt.Errorf("not used") }}

	res, err := st.Refresh(ctx, key, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(blob))
	want := hex.EncodeToString(sum[:])
	a := res.Artifact
	if !res.New || res.Files != 1 || a.Digest != "sha256:"+want || a.Size != int64(len(blob)) ||
		a.Path != key.ArtifactPath(want+".tgz") || a.Revision != src.revision {
		t.Fatalf("refresh = %+v", res)
	}
	f, err := st.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(got) != blob {
		t.Errorf("stored %q, %v; want the file as is", got, err)
	}
	if err := st.Verify(a); err != nil {
		t.Error(err)
	}

	// Unchanged: nothing fetched, the same artifact.
	opts.Last = &a
	again, err := st.Refresh(ctx, key, src, opts)
	if err != nil || !again.Unchanged || again.New || again.Files != 0 || again.Artifact.Path != a.Path || src.fetches != 1 {
		t.Errorf("unchanged refresh = %+v, %v after %d fetches", again, err, src.fetches)
	}

	// A new revision with the same bytes keeps the file; new bytes replace
	// it, and with a retention of one record the old file is collected.
	st1, err := artifact.NewStore(t.TempDir(), "", artifact.WithRetention(1, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	first, err := st1.Refresh(ctx, key, src, artifact.RefreshOptions{File: "layer.tgz", TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	src.files["layer.tgz"] = "new bytes"
	src.revision = "v2@sha256:" + strings.Repeat("4", 64)
	second, err := st1.Refresh(ctx, key, src, artifact.RefreshOptions{File: "layer.tgz", Last: &first.Artifact, TempDir: t.TempDir()})
	if err != nil || !second.New || second.Artifact.Path == first.Artifact.Path {
		t.Fatalf("second refresh = %+v, %v", second, err)
	}
	if st1.Exists(first.Artifact) || !st1.Exists(second.Artifact) {
		t.Errorf("garbage collection kept %s or lost %s", first.Artifact.Path, second.Artifact.Path)
	}

	// A packed tree reports how many files it holds.
	src.files = map[string]string{"a": "a", "b/c": "c", "d": "d"}
	src.revision = "sha256:" + strings.Repeat("5", 64)
	packed, err := st1.Refresh(ctx, key, src, artifact.RefreshOptions{TempDir: t.TempDir()})
	if err != nil || packed.Files != 3 {
		t.Errorf("packed refresh = %+v, %v; want 3 files", packed, err)
	}
}

func TestRefreshFileErrors(t *testing.T) {
	ctx := context.Background()
	st, err := artifact.NewStore(t.TempDir(), "http://store")
	if err != nil {
		t.Fatal(err)
	}
	key := artifact.ObjectKey{Kind: "OCIRepository", Namespace: "apps", Name: "chart"}
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, file string
		fetches    int
	}{
		{"parent", "../layer.tgz", 0},
		{"absolute", "/etc/passwd", 0},
		{"backslash", `a\b.tgz`, 0},
		{"missing", "nope.tgz", 1},
		{"directory", "dir", 1},
		{"link outside", "link.tgz", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &linkSource{treeSource: treeSource{revision: "sha256:" + strings.Repeat("6", 64),
				files: map[string]string{"dir/a": "a"}}, link: "link.tgz", target: outside}
			_, err := st.Refresh(ctx, key, src, artifact.RefreshOptions{File: tc.file, TempDir: t.TempDir()})
			var se *artifact.StoreError
			if !errors.As(err, &se) || src.fetches != tc.fetches {
				t.Errorf("Refresh(File %q) = %v after %d fetches; want a *StoreError after %d", tc.file, err, src.fetches, tc.fetches)
			}
			if err != nil && strings.Contains(err.Error(), "secret") && tc.name == "link outside" {
				t.Errorf("error %q shows the file outside", err)
			}
		})
	}
	if list, err := st.List(ctx, key); err != nil || len(list) != 0 {
		t.Errorf("artifacts after failures: %v, %v", list, err)
	}
}

// linkSource is a treeSource that also writes a symbolic link to target.
type linkSource struct {
	treeSource
	link, target string
}

func (s *linkSource) Fetch(ctx context.Context, dir, last string) (source.Snapshot, error) {
	snap, err := s.treeSource.Fetch(ctx, dir, last)
	if err != nil {
		return snap, err
	}
	return snap, os.Symlink(s.target, filepath.Join(dir, s.link))
}

func TestRefreshErrors(t *testing.T) {
	ctx := context.Background()
	st, err := artifact.NewStore(t.TempDir(), "http://store")
	if err != nil {
		t.Fatal(err)
	}
	key := artifact.ObjectKey{Kind: "Bucket", Namespace: "apps", Name: "site"}
	var se *artifact.StoreError

	// A fetch failure is the source's error, as is.
	_, err = st.Refresh(ctx, key, &treeSource{err: source.ErrAuth}, artifact.RefreshOptions{TempDir: t.TempDir()})
	if !errors.Is(err, source.ErrAuth) || errors.As(err, &se) {
		t.Errorf("fetch failure = %v, want source.ErrAuth and no *StoreError", err)
	}

	// A filter that fails is a store failure.
	bad := func(string) (artifact.Filter, error) { return nil, fmt.Errorf("bad pattern") }
	src := &treeSource{revision: "sha256:" + strings.Repeat("2", 64), files: map[string]string{"a": "a"}}
	_, err = st.Refresh(ctx, key, src, artifact.RefreshOptions{Filter: bad, TempDir: t.TempDir()})
	if !errors.As(err, &se) {
		t.Errorf("filter failure = %v, want a *StoreError", err)
	}

	// A revision the store refuses is a store failure.
	_, err = st.Refresh(ctx, key, &treeSource{revision: "not a revision", files: map[string]string{"a": "a"}}, artifact.RefreshOptions{TempDir: t.TempDir()})
	if !errors.As(err, &se) {
		t.Errorf("archive failure = %v, want a *StoreError", err)
	}
}

// A source controller's work for one object: fetch, pack, store and
// garbage-collect; the second call finds the origin unchanged.
func ExampleStore_Refresh() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "store")
	defer os.RemoveAll(root)
	st, err := artifact.NewStore(root, "http://artifacts.example")
	if err != nil {
		fmt.Println(err)
		return
	}
	key := artifact.ObjectKey{Kind: "Bucket", Namespace: "apps", Name: "site"}
	src := &treeSource{revision: "sha256:" + strings.Repeat("a", 64), files: map[string]string{"deploy.yaml": "kind: ConfigMap\n"}}

	res, err := st.Refresh(ctx, key, src, artifact.RefreshOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.New, res.Artifact.Revision[:15])
	res, err = st.Refresh(ctx, key, src, artifact.RefreshOptions{Last: &res.Artifact})
	fmt.Println(res.Unchanged, err)
	// Output:
	// true sha256:aaaaaaaa
	// true <nil>
}
