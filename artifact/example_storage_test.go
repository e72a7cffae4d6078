package artifact_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gitopskit/gitopskit/artifact"
)

// A store lists what it holds for a kind, a namespace or one object.
func ExampleStore_List() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "store")
	defer os.RemoveAll(root)
	fsStore, err := artifact.NewStore(root, "http://artifacts.example")
	if err != nil {
		fmt.Println(err)
		return
	}
	st := fsStore

	a := st.NewArtifact(artifact.ObjectKey{Kind: "OCIRepository", Namespace: "apps", Name: "podinfo"}, "v1.0.0@sha256:"+strings.Repeat("a", 64), "manifests.tar.gz")
	a, err = st.Put(ctx, a, strings.NewReader("not really a tarball"))
	if err != nil {
		fmt.Println(err)
		return
	}
	list, _ := st.List(ctx, artifact.ObjectKey{Kind: "OCIRepository", Namespace: "apps"})
	for _, l := range list {
		fmt.Println(l.Path, l.Size, l.URL)
	}
	// Output:
	// ocirepository/apps/podinfo/manifests.tar.gz 20 http://artifacts.example/ocirepository/apps/podinfo/manifests.tar.gz
}

// With ResolveSymlinks, links inside the tree are packed as their targets
// and a link leaving it is refused.
func ExamplePack_symlinks() {
	src, _ := os.MkdirTemp("", "src")
	defer os.RemoveAll(src)
	_ = os.MkdirAll(filepath.Join(src, "base"), 0o755)
	_ = os.WriteFile(filepath.Join(src, "base", "cm.yaml"), []byte("kind: ConfigMap\n"), 0o644)
	_ = os.Symlink("base", filepath.Join(src, "overlay"))

	res, err := artifact.Pack(context.Background(), io.Discard, src, artifact.PackOptions{Symlinks: artifact.ResolveSymlinks})
	fmt.Println(res.Files, err)

	_ = os.Symlink("/etc/hostname", filepath.Join(src, "host"))
	_, err = artifact.Pack(context.Background(), io.Discard, src, artifact.PackOptions{Symlinks: artifact.ResolveSymlinks})
	var se *artifact.SymlinkError
	fmt.Println(errors.As(err, &se), se.Link)
	// Output:
	// 2 <nil>
	// true host
}

// A finalizer removes an object's artifacts by its identity, never by a
// path read from its status; values that are not single path segments are
// refused before anything is deleted.
func ExampleStore_RemoveAll() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "store")
	defer os.RemoveAll(root)
	store, err := artifact.NewStore(root, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	a := store.NewArtifact(artifact.ObjectKey{Kind: "GitRepository", Namespace: "apps", Name: "podinfo"}, "main@sha1:"+strings.Repeat("a", 40), "podinfo.tar.gz")
	if _, err := store.Put(ctx, a, strings.NewReader("not really a tarball")); err != nil {
		fmt.Println(err)
		return
	}

	err = store.RemoveAll(artifact.ObjectKey{Kind: "GitRepository", Namespace: "apps", Name: ".."})
	fmt.Println(errors.Is(err, artifact.ErrInvalidPath), store.Exists(a))

	err = store.RemoveAll(artifact.ObjectKey{Kind: "GitRepository", Namespace: "apps", Name: "podinfo"})
	fmt.Println(err, store.Exists(a))
	// Output:
	// true true
	// <nil> false
}
