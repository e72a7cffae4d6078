package artifact_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/google/go-cmp/cmp"
)

// mkLink creates the symbolic link name -> target under dir.
func mkLink(t *testing.T, dir, target, name string) {
	t.Helper()
	full := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, full); err != nil {
		t.Fatal(err)
	}
}

// packTree packs dir with opts and returns the files the archive holds.
func packTree(t *testing.T, dir string, opts artifact.PackOptions) (map[string]string, error) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := artifact.Pack(context.Background(), &buf, dir, opts); err != nil {
		return nil, err
	}
	dst := t.TempDir()
	if _, err := artifact.Unpack(context.Background(), &buf, dst, artifact.UnpackOptions{}); err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	return readTree(t, dst), nil
}

func TestPackSymlinks(t *testing.T) {
	base := map[string]string{
		"app/deploy.yaml":      "kind: Deployment\n",
		"app/config/cm.yaml":   "kind: ConfigMap\n",
		"shared/base.yaml":     "kind: Service\n",
		"kustomization.yaml":   "resources: [app]\n",
		"other/deep/file.yaml": "deep\n",
	}
	type link struct{ target, name string }
	tests := []struct {
		name    string
		links   []link
		outside bool // create the links' targets in a sibling directory
		skipped map[string]string
		want    map[string]string // with ResolveSymlinks; nil when it must fail
		errLink string
		errText string
	}{
		{
			name:  "file link inside the root",
			links: []link{{"../shared/base.yaml", "app/base.yaml"}},
			want:  map[string]string{"app/base.yaml": "kind: Service\n"},
		},
		{
			name:  "directory link inside the root",
			links: []link{{"../other", "app/other"}},
			want:  map[string]string{"app/other/deep/file.yaml": "deep\n"},
		},
		{
			name:  "chain of links",
			links: []link{{"b.yaml", "a.yaml"}, {"shared/base.yaml", "b.yaml"}},
			want:  map[string]string{"a.yaml": "kind: Service\n", "b.yaml": "kind: Service\n"},
		},
		{
			name:  "absolute link that stays inside",
			links: []link{{"@ROOT@/kustomization.yaml", "abs.yaml"}},
			want:  map[string]string{"abs.yaml": "resources: [app]\n"},
		},
		{
			name:  "link through a linked directory",
			links: []link{{"other", "o"}, {"../o/deep/file.yaml", "app/via.yaml"}},
			want:  map[string]string{"o/deep/file.yaml": "deep\n", "app/via.yaml": "deep\n"},
		},
		{
			name:    "relative link leaving the root",
			links:   []link{{"../../outside/secret.txt", "app/secret.txt"}},
			outside: true,
			errLink: "app/secret.txt",
			errText: "leaves the packed directory",
		},
		{
			name:    "absolute link leaving the root",
			links:   []link{{"/etc/passwd", "passwd"}},
			errLink: "passwd",
			errText: "leaves the packed directory",
		},
		{
			name:    "directory link leaving the root",
			links:   []link{{"../outside", "ext"}},
			outside: true,
			errLink: "ext",
			errText: "leaves the packed directory",
		},
		{
			name:    "dangling link",
			links:   []link{{"missing.yaml", "app/dangling.yaml"}},
			errLink: "app/dangling.yaml",
			errText: "points to nothing",
		},
		{
			name:    "link to the root",
			links:   []link{{"..", "app/up"}},
			errLink: "app/up",
			errText: "makes a loop",
		},
		{
			name:    "link to its own directory",
			links:   []link{{".", "app/config/self"}},
			errLink: "app/config/self",
			errText: "makes a loop",
		},
		{
			name:    "loop through two directory links",
			links:   []link{{"../../other", "app/config/o"}, {"../../app", "other/deep/back"}},
			errLink: "app/config/o/deep/back",
			errText: "makes a loop",
		},
		{
			name:    "links pointing at each other",
			links:   []link{{"y", "x"}, {"x", "y"}},
			errLink: "x",
			errText: "cannot be resolved",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			writeTree(t, root, base)
			if tt.outside {
				writeTree(t, filepath.Join(parent, "outside"), map[string]string{"secret.txt": "s3cret\n"})
			}
			for _, l := range tt.links {
				mkLink(t, root, strings.ReplaceAll(l.target, "@ROOT@", root), l.name)
			}

			// Default: links are left out, whatever they point to.
			got, err := packTree(t, root, artifact.PackOptions{})
			if err != nil {
				t.Fatalf("default Pack: %v", err)
			}
			if diff := cmp.Diff(base, got); diff != "" {
				t.Errorf("default Pack (-want +got):\n%s", diff)
			}

			got, err = packTree(t, root, artifact.PackOptions{Symlinks: artifact.ResolveSymlinks})
			if tt.want == nil {
				var se *artifact.SymlinkError
				if !errors.As(err, &se) || !errors.Is(err, artifact.ErrSymlink) {
					t.Fatalf("err = %v, want a *SymlinkError", err)
				}
				if se.Link != tt.errLink || !strings.Contains(err.Error(), tt.errText) || !strings.Contains(err.Error(), tt.errLink) {
					t.Errorf("err = %v (link %q), want link %q and %q", err, se.Link, tt.errLink, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pack: %v", err)
			}
			want := map[string]string{}
			for k, v := range base {
				want[k] = v
			}
			for k, v := range tt.want {
				want[k] = v
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("resolved Pack (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPackResolvedSymlinksAreReproducible(t *testing.T) {
	// A resolved link packs exactly like a copy of its target.
	linked, copied := t.TempDir(), t.TempDir()
	files := map[string]string{"base/a.yaml": "a\n", "base/sub/b.yaml": "b\n", "file.txt": "f\n"}
	writeTree(t, linked, files)
	writeTree(t, copied, files)
	mkLink(t, linked, "base", "overlay")
	mkLink(t, linked, "file.txt", "copy.txt")
	writeTree(t, copied, map[string]string{"overlay/a.yaml": "a\n", "overlay/sub/b.yaml": "b\n", "copy.txt": "f\n"})
	opts := artifact.PackOptions{Symlinks: artifact.ResolveSymlinks}
	_, rl := packDir(t, linked, opts)
	_, rc := packDir(t, copied, opts)
	if rl.Digest != rc.Digest || rl.Files != 6 {
		t.Errorf("linked tree %+v, copied tree %+v: want the same digest and 6 files", rl, rc)
	}
	// Filters see the link's own path.
	opts.Filter = func(rel string, isDir bool) bool { return rel == "overlay" }
	got, err := packTree(t, linked, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["overlay/a.yaml"]; ok || len(got) != 4 {
		t.Errorf("filtered link still packed: %v", got)
	}
}

func TestPackSymlinkExpansionIsCapped(t *testing.T) {
	// Each level holds ten links to the next: 10^5 paths from 50 links.
	root := t.TempDir()
	writeTree(t, root, map[string]string{"l5/leaf.yaml": "x"})
	for lvl := 0; lvl < 5; lvl++ {
		for i := range 10 {
			mkLink(t, root, "../l"+string(rune('1'+lvl)), "l"+string(rune('0'+lvl))+"/n"+string(rune('0'+i)))
		}
	}
	_, err := artifact.Pack(context.Background(), &bytes.Buffer{}, root, artifact.PackOptions{Symlinks: artifact.ResolveSymlinks})
	if !errors.Is(err, artifact.ErrSymlink) || !strings.Contains(err.Error(), "too many") {
		t.Errorf("err = %v, want the link cap", err)
	}
	if _, err := artifact.Pack(context.Background(), &bytes.Buffer{}, root, artifact.PackOptions{Symlinks: 7}); err == nil {
		t.Error("unknown policy accepted")
	}
}
