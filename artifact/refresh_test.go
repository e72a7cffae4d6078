package artifact_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
