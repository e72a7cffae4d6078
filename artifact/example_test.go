package artifact_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gitopskit/gitopskit/artifact"
)

// Pack a tree with Flux's ignore rules, then unpack it elsewhere.
func ExamplePack() {
	ctx := context.Background()
	src, _ := os.MkdirTemp("", "src")
	defer os.RemoveAll(src)
	_ = os.MkdirAll(filepath.Join(src, "apps"), 0o755)
	_ = os.WriteFile(filepath.Join(src, "apps", "deploy.yaml"), []byte("kind: Deployment\n"), 0o644)
	_ = os.WriteFile(filepath.Join(src, "logo.png"), []byte("\x89PNG"), 0o644)

	filter, err := artifact.NewIgnoreFilter(src, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	var buf bytes.Buffer
	res, err := artifact.Pack(ctx, &buf, src, artifact.PackOptions{Filter: filter})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("files packed:", res.Files)

	dst, _ := os.MkdirTemp("", "dst")
	defer os.RemoveAll(dst)
	if _, err := artifact.Unpack(ctx, &buf, dst, artifact.UnpackOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(dst, "apps", "deploy.yaml"))
	fmt.Print(string(b))
	// Output:
	// files packed: 1
	// kind: Deployment
}

// Store an artifact and garbage-collect the ones it supersedes.
func ExampleStore() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "store")
	defer os.RemoveAll(root)
	store, err := artifact.NewStore(root, "http://artifacts.example")
	if err != nil {
		fmt.Println(err)
		return
	}
	src, _ := os.MkdirTemp("", "src")
	defer os.RemoveAll(src)
	_ = os.WriteFile(filepath.Join(src, "cm.yaml"), []byte("kind: ConfigMap\n"), 0o644)

	a := store.NewArtifact(artifact.ObjectKey{Kind: "GitRepository", Namespace: "flux-system", Name: "podinfo"}, "main@sha1:0123456789abcdef0123456789abcdef01234567", "0123456.tar.gz")
	a, err = store.Archive(ctx, a, src, artifact.PackOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a.URL)
	fmt.Println(store.Verify(a) == nil)
	removed, _ := store.GarbageCollect(ctx, a)
	fmt.Println("removed:", len(removed))
	// Output:
	// http://artifacts.example/gitrepository/flux-system/podinfo/0123456.tar.gz
	// true
	// removed: 0
}
