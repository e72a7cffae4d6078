package kustomizetest_test

import (
	"context"
	"fmt"
	"os"

	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/kustomize/kustomizetest"
)

// Example writes a small tree and builds it with substitution.
func Example() {
	dir, _ := os.MkdirTemp("", "tree")
	defer os.RemoveAll(dir)
	n, err := kustomizetest.WriteTree(dir, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := kustomize.Build(context.Background(), dir, ".", kustomize.Options{
		Substitute: &kustomize.Substitution{Vars: map[string]string{"cluster_name": "dev", "region": "eu"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(n, len(res.Objects))
	// Output: 8 8
}
