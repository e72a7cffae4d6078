package helmrelease_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/helmrelease"
)

// TestReadValuesFiles reads values files from an artifact directory in
// order, confined to it, capped, and composes them.
func TestReadValuesFiles(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	write := func(dir, name, data string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(root, "envs/base.yaml", "a: 1\nb: 1")
	write(root, "envs/prod.yaml", "b: 2")
	write(outside, "secret.yaml", "stolen: true")
	if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	write(root, "big.yaml", strings.Repeat("#", 100))

	files, err := helmrelease.ReadValuesFiles(root, []string{"envs/base.yaml", "./envs/prod.yaml", "absent.yaml"}, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := helmrelease.ComposeValues(context.Background(), helmrelease.ValuesOptions{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"a": float64(1), "b": float64(2)}, got.Values); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		path string
		max  int64
	}{
		{"absent.yaml", 0}, {"../" + filepath.Base(outside) + "/secret.yaml", 0}, {"/etc/passwd", 0}, {"link.yaml", 0}, {"big.yaml", 10},
	} {
		_, err := helmrelease.ReadValuesFiles(root, []string{tc.path}, tc.max, false)
		if err == nil {
			t.Errorf("%s: read", tc.path)
			continue
		}
		if strings.Contains(err.Error(), root) {
			t.Errorf("%s: error reveals the local path: %v", tc.path, err)
		}
	}
	if _, err := helmrelease.ReadValuesFiles(root, []string{"absent.yaml"}, 0, false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
