package artifact_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/artifact"
)

func benchTree(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	files := map[string]string{}
	for i := range 500 {
		files[fmt.Sprintf("apps/app-%02d/manifest-%03d.yaml", i%20, i)] = strings.Repeat(fmt.Sprintf("key-%d: value-%d\n", i, i), 100)
	}
	writeTree(b, dir, files)
	return dir
}

func BenchmarkPack(b *testing.B) {
	dir := benchTree(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := artifact.Pack(ctx, io.Discard, dir, artifact.PackOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnpack(b *testing.B) {
	dir := benchTree(b)
	ctx := context.Background()
	var buf bytes.Buffer
	if _, err := artifact.Pack(ctx, &buf, dir, artifact.PackOptions{}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := artifact.Unpack(ctx, bytes.NewReader(data), b.TempDir(), artifact.UnpackOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
