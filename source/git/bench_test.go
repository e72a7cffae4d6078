package git_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/git"
	"github.com/gitopskit/gitopskit/source/git/gittest"
)

func benchRepo(b *testing.B) (*git.Repository, string) {
	srv := gittest.NewHTTPServer(b)
	repo := srv.NewRepo(b, "bench")
	files := map[string]string{}
	for i := 0; i < 500; i++ {
		files[fmt.Sprintf("d%02d/f%03d.yaml", i%20, i)] = fmt.Sprintf("kind: ConfigMap\nname: cm-%d\n", i)
	}
	repo.Commit("files", files)
	src := &git.Repository{URL: repo.URL, Ref: git.Reference{Branch: "main"}}
	snap, err := src.Fetch(context.Background(), filepath.Join(b.TempDir(), "warm"), "")
	if err != nil {
		b.Fatal(err)
	}
	return src, snap.Revision
}

// BenchmarkFetch measures a shallow fetch of a 500-file repository over
// smart HTTP.
func BenchmarkFetch(b *testing.B) {
	src, _ := benchRepo(b)
	root := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := src.Fetch(context.Background(), filepath.Join(root, fmt.Sprint(i)), ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNoOpCheck measures the ls-remote answer when nothing changed.
func BenchmarkNoOpCheck(b *testing.B) {
	src, rev := benchRepo(b)
	root := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := src.Fetch(context.Background(), filepath.Join(root, fmt.Sprint(i)), rev); !errors.Is(err, source.ErrUnchanged) {
			b.Fatal(err)
		}
	}
}
