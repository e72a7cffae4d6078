package artifact_test

import (
	"path/filepath"
	"testing"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/google/go-cmp/cmp"
)

func TestNewIgnoreFilter(t *testing.T) {
	type probe struct {
		path  string
		isDir bool
	}
	probes := []probe{
		{".git", true}, {".gitignore", false}, {"app/.gitmodules", false},
		{"logo.png", false}, {"charts/chart.tar.gz", false}, {".github", true},
		{"deep/dir/.sops.yaml", false}, {"deploy.yaml", false},
		{"secret.env", false}, {"sub/secret.env", false}, {"sub/tmp", true},
		{"tmp", true}, {"sub/keep.env", false},
	}
	tests := []struct {
		name     string
		files    map[string]string
		extra    string
		excluded []string
	}{
		{
			name:     "defaults only",
			excluded: []string{".git", ".gitignore", "app/.gitmodules", "logo.png", "charts/chart.tar.gz", ".github", "deep/dir/.sops.yaml"},
		},
		{
			name:     "sourceignore replaces extension and CI defaults, keeps VCS",
			files:    map[string]string{".sourceignore": "# comment\n*.env\n\n"},
			excluded: []string{".git", ".gitignore", "app/.gitmodules", "secret.env", "sub/secret.env", "sub/keep.env"},
		},
		{
			name:     "nested sourceignore is scoped to its directory, negation works",
			files:    map[string]string{"sub/.sourceignore": "*.env\r\n!keep.env\ntmp/\n"},
			excluded: []string{".git", ".gitignore", "app/.gitmodules", "sub/secret.env", "sub/tmp"},
		},
		{
			name:     "extra patterns (spec.ignore) add to sourceignore files",
			files:    map[string]string{".sourceignore": "/tmp/\n"},
			extra:    "*.png\n/secret.env\n",
			excluded: []string{".git", ".gitignore", "app/.gitmodules", "logo.png", "secret.env", "tmp"},
		},
		{
			name:     "empty extra keeps defaults",
			extra:    "# nothing\n",
			excluded: []string{".git", ".gitignore", "app/.gitmodules", "logo.png", "charts/chart.tar.gz", ".github", "deep/dir/.sops.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tt.files)
			filter, err := artifact.NewIgnoreFilter(dir, tt.extra)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range probes {
				if filter.Match(p.path, p.isDir) {
					got = append(got, p.path)
				}
			}
			if diff := cmp.Diff(tt.excluded, got); diff != "" {
				t.Errorf("excluded (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadIgnoreFilesSkipsGitDir(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{".git/.sourceignore": "*\n", "a/.sourceignore": "x\n"})
	ps, err := artifact.LoadIgnoreFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 {
		t.Errorf("loaded %d patterns, want 1 (from a/.sourceignore only)", len(ps))
	}
	if _, err := artifact.LoadIgnoreFiles(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing dir: no error")
	}
}

func TestParseIgnore(t *testing.T) {
	ig, err := artifact.ParseIgnore("*.yaml\n!keep.yaml\n", "apps")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range []string{"apps/a.yaml", "apps/keep.yaml", "a.yaml", "apps/x/b.yaml"} {
		got[p] = ig.Match(p, false)
	}
	want := map[string]bool{"apps/a.yaml": true, "apps/keep.yaml": false, "a.yaml": false, "apps/x/b.yaml": true}
	if diff := cmp.Diff(want, got); diff != "" || ig.Len() != 2 {
		t.Errorf("(-want +got):\n%s len=%d", diff, ig.Len())
	}
	var none *artifact.Ignore
	if none.Match("a", false) || none.Len() != 0 {
		t.Error("nil Ignore matched")
	}
}

func FuzzParseIgnore(f *testing.F) {
	for _, s := range []string{"*.yaml", "!a/**/b", "[", "\\", "/x/\n#c\n**", "a/**/**/[!z]"} {
		f.Add(s, "apps/x")
	}
	f.Fuzz(func(t *testing.T, patterns, probe string) {
		ig, err := artifact.ParseIgnore(patterns, "")
		if err != nil {
			return
		}
		_ = ig.Match(probe, false)
		_ = ig.Match(probe, true)
	})
}

// ignorer is the shape of kustomize.Ignorer, which a Filter satisfies
// without an adapter.
type ignorer interface {
	Match(path string, isDir bool) bool
}

var _ ignorer = artifact.Filter(nil)

func TestFilterMatch(t *testing.T) {
	var m ignorer = artifact.Filter(func(rel string, isDir bool) bool { return rel == "tmp" && isDir })
	if !m.Match("tmp", true) || m.Match("tmp", false) || m.Match("other", true) {
		t.Error("Match does not follow the filter")
	}
	dir := t.TempDir()
	filter, err := artifact.NewIgnoreFilter(dir, "*.env\n")
	if err != nil {
		t.Fatal(err)
	}
	m = filter
	if !m.Match("sub/secret.env", false) || m.Match("deploy.yaml", false) {
		t.Error("NewIgnoreFilter's Match does not apply its patterns")
	}
	var none artifact.Filter
	if none.Match("anything", false) {
		t.Error("a nil Filter excluded an entry")
	}
}
