package kustomize_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gitopskit/gitopskit/kustomize"
)

// Example builds a directory without a kustomization.yaml, injecting a
// target namespace and substituting a variable.
func Example() {
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	_ = os.WriteFile(filepath.Join(root, "cm.yaml"), []byte(`apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  cluster: ${cluster_name:=dev}
`), 0o644)

	res, err := kustomize.Build(context.Background(), root, ".", kustomize.Options{
		TargetNamespace: "apps",
		Substitute:      &kustomize.Substitution{Vars: map[string]string{"cluster_name": "prod-eu"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(res.YAML()))
	// Output:
	// apiVersion: v1
	// data:
	//   cluster: prod-eu
	// kind: ConfigMap
	// metadata:
	//   name: settings
	//   namespace: apps
}

// ExampleExpand shows Flux's variable syntax.
func ExampleExpand() {
	vars := map[string]string{"app": "podinfo"}
	out, _ := kustomize.Expand("${app^^} ${missing:=fallback} ${#app} $${app}", func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	})
	fmt.Println(out)
	// Output: PODINFO fallback 7 ${app}
}
