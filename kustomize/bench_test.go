package kustomize_test

import (
	"context"
	"testing"

	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/kustomize/kustomizetest"
)

func BenchmarkBuild2000(b *testing.B) {
	root := b.TempDir()
	if _, err := kustomizetest.WriteTree(root, 2000); err != nil {
		b.Fatal(err)
	}
	opts := kustomize.Options{Substitute: &kustomize.Substitution{Vars: map[string]string{"cluster_name": "prod", "region": "eu"}}}
	b.ResetTimer()
	for b.Loop() {
		if _, err := kustomize.Build(context.Background(), root, ".", opts); err != nil {
			b.Fatal(err)
		}
	}
}
