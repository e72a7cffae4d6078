package source_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestApplyIncludes(t *testing.T) {
	other := t.TempDir()
	writeFiles(t, other, map[string]string{"deploy/a.yaml": "a", "deploy/sub/b.yaml": "b", "other.txt": "x"})
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"keep.txt": "k", "inc/a.yaml": "old"})

	err := source.ApplyIncludes(context.Background(), root, []source.Include{{Dir: other, FromPath: "deploy", ToPath: "inc"}})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{"keep.txt": "k", "inc/a.yaml": "a", "inc/sub/b.yaml": "b"} {
		got, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "inc", "other.txt")); err == nil {
		t.Error("a file outside fromPath was copied")
	}
}

func TestApplyIncludesConfined(t *testing.T) {
	other := t.TempDir()
	writeFiles(t, other, map[string]string{"deploy/a.yaml": "a"})
	outside := t.TempDir()
	root := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	linked := t.TempDir()
	writeFiles(t, linked, map[string]string{"d/f": "x"})
	if err := os.Symlink("/etc/passwd", filepath.Join(linked, "d", "passwd")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		inc     source.Include
		want    string
		invalid bool // a configuration error, found from the paths alone
	}{
		{"to escapes", source.Include{Dir: other, FromPath: "deploy", ToPath: "../x"}, "leaves its root", true},
		{"to absolute", source.Include{Dir: other, FromPath: "deploy", ToPath: "/tmp/x"}, "absolute", true},
		{"to root", source.Include{Dir: other, FromPath: "deploy", ToPath: "."}, "below the root", true},
		{"from escapes", source.Include{Dir: other, FromPath: "../..", ToPath: "x"}, "leaves its root", true},
		{"from backslash", source.Include{Dir: other, FromPath: `deploy\a`, ToPath: "x"}, "backslash", true},
		{"from missing", source.Include{Dir: other, FromPath: "nope", ToPath: "x"}, "not found", false},
		{"through symlink", source.Include{Dir: other, FromPath: "deploy", ToPath: "link/x"}, "symbolic link", false},
		{"symlink inside", source.Include{Dir: linked, FromPath: "d", ToPath: "x"}, "not a regular file", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := source.ApplyIncludes(context.Background(), root, []source.Include{tt.inc})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if got := errors.Is(err, source.ErrInvalid); got != tt.invalid {
				t.Errorf("errors.Is(%v, ErrInvalid) = %v, want %v", err, got, tt.invalid)
			}
		})
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("files were written outside the root: %v", entries)
	}
}

// FuzzIncludePaths applies includes with hostile fromPath and toPath
// (absolute, "..", backslashes, NUL, through a symbolic link that points
// out) and checks that CleanRelPath only returns confined paths and that
// nothing is read from or written outside the two roots.
func FuzzIncludePaths(f *testing.F) {
	for _, s := range [][2]string{
		{"deploy", "inc"}, {"../secret", "inc"}, {"deploy", "../out"}, {"/etc", "x"},
		{"deploy", "/tmp/x"}, {"a\\..\\..", "b"}, {"deploy\x00", "x"}, {".", "."},
		{"deploy/../../", "in/../.."}, {"deploy", "link/x"}, {"link", "y"}, {"./deploy/", "./a/./b/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, from, to string) {
		for _, p := range []string{from, to} {
			c, err := source.CleanRelPath(p)
			if err != nil {
				continue
			}
			if c == "" || strings.HasPrefix(c, "/") || c == ".." || strings.HasPrefix(c, "../") ||
				strings.Contains(c, "/../") || strings.HasSuffix(c, "/..") || strings.ContainsAny(c, "\\\x00") {
				t.Fatalf("CleanRelPath(%q) = %q escapes its root", p, c)
			}
		}
		base := t.TempDir()
		other, root, outside := filepath.Join(base, "other"), filepath.Join(base, "root"), filepath.Join(base, "outside")
		writeFiles(t, other, map[string]string{"deploy/a.yaml": "a", "deploy/sub/b.yaml": "b"})
		writeFiles(t, outside, map[string]string{"secret.txt": "s"})
		writeFiles(t, root, map[string]string{"keep.txt": "k"})
		for _, l := range []string{filepath.Join(other, "link"), filepath.Join(root, "link")} {
			if err := os.Symlink(outside, l); err != nil {
				t.Fatal(err)
			}
		}
		_ = source.ApplyIncludes(context.Background(), root, []source.Include{{Dir: other, FromPath: from, ToPath: to}})
		entries, err := os.ReadDir(outside)
		if err != nil || len(entries) != 1 {
			t.Fatalf("the include wrote outside its root: %v %v", entries, err)
		}
		if entries, err := os.ReadDir(base); err != nil || len(entries) != 3 {
			t.Fatalf("the include wrote next to its root: %v %v", entries, err)
		}
		err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				if b, _ := os.ReadFile(p); string(b) == "s" {
					t.Errorf("the include copied a file from outside its snapshot to %s", p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
