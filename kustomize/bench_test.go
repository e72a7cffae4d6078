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

func roots8(b *testing.B) []string {
	var roots []string
	for range 8 {
		r := b.TempDir()
		if _, err := kustomizetest.WriteTree(r, 250); err != nil {
			b.Fatal(err)
		}
		roots = append(roots, r)
	}
	return roots
}

func BenchmarkBuildSequential8(b *testing.B) {
	roots := roots8(b)
	b.ResetTimer()
	for b.Loop() {
		for _, r := range roots {
			if _, err := kustomize.Build(context.Background(), r, ".", kustomize.Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkBuildParallel8(b *testing.B) {
	roots := roots8(b)
	b.ResetTimer()
	for b.Loop() {
		done := make(chan error, len(roots))
		for _, r := range roots {
			go func() {
				_, err := kustomize.Build(context.Background(), r, ".", kustomize.Options{})
				done <- err
			}()
		}
		for range roots {
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
	}
}
