package helm_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	sigsyaml "sigs.k8s.io/yaml"
)

// writeTree writes files under root.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// readChart reads a packaged chart file into its files by path below
// the top directory, and returns the top directory's name.
func readChart(t *testing.T, path string) (string, map[string][]byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	top := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		dir, rel, _ := strings.Cut(h.Name, "/")
		top = dir
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[rel] = b
	}
	return top, files
}

// sameChart compares two charts' files: the same paths, YAML files
// (Chart.yaml, values.yaml, Chart.lock, at any depth) equal once parsed,
// the others byte for byte.
func sameChart(t *testing.T, want, got map[string][]byte) {
	t.Helper()
	var wn, gn []string
	for n := range want {
		wn = append(wn, n)
	}
	for n := range got {
		gn = append(gn, n)
	}
	if d := cmp.Diff(sorted(wn), sorted(gn)); d != "" {
		t.Fatalf("files differ (-helm +ours):\n%s", d)
	}
	for n, w := range want {
		g := got[n]
		base := filepath.Base(n)
		if base == "Chart.yaml" || base == "values.yaml" || base == "Chart.lock" {
			var wm, gm any
			if err := sigsyaml.Unmarshal(w, &wm); err != nil {
				t.Fatalf("%s (helm): %v", n, err)
			}
			if err := sigsyaml.Unmarshal(g, &gm); err != nil {
				t.Fatalf("%s (ours): %v", n, err)
			}
			if d := cmp.Diff(wm, gm); d != "" {
				t.Errorf("%s differs (-helm +ours):\n%s", n, d)
			}
			continue
		}
		if !bytes.Equal(w, g) {
			t.Errorf("%s differs:\nhelm: %q\nours: %q", n, w, g)
		}
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
