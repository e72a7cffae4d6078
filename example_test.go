package gitopskit_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/kustomize"
)

// Example walks the chain without a cluster: a tree of manifests (as a
// source fetch would write it) is packed into an artifact, the artifact is
// unpacked on the consuming side, and kustomize turns it into the objects
// that reconcile would apply.
func Example() {
	ctx := context.Background()
	src, err := os.MkdirTemp("", "fleet-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(src)
	manifest := `apiVersion: v1
kind: ConfigMap
metadata:
  name: greeting
data:
  message: hello from ${cluster}
`
	if err := os.WriteFile(filepath.Join(src, "greeting.yaml"), []byte(manifest), 0o644); err != nil {
		panic(err)
	}

	// source → artifact: pack the tree; the digest depends only on content.
	var archive bytes.Buffer
	packed, err := artifact.Pack(ctx, &archive, src, artifact.PackOptions{})
	if err != nil {
		panic(err)
	}

	// artifact → kustomize: unpack safely, then build with overrides.
	dst := filepath.Join(src, "unpacked")
	if _, err := artifact.Unpack(ctx, bytes.NewReader(archive.Bytes()), dst, artifact.UnpackOptions{}); err != nil {
		panic(err)
	}
	res, err := kustomize.Build(ctx, dst, ".", kustomize.Options{
		TargetNamespace: "apps",
		Substitute:      &kustomize.Substitution{Vars: map[string]string{"cluster": "staging"}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("digest algorithm:", packed.Digest[:7])
	for _, obj := range res.Objects {
		msg, _, _ := unstructured.NestedString(obj.Object, "data", "message")
		fmt.Printf("%s %s/%s: %s\n", obj.GetKind(), obj.GetNamespace(), obj.GetName(), msg)
	}
	// Output:
	// digest algorithm: sha256:
	// ConfigMap apps/greeting: hello from staging
}
