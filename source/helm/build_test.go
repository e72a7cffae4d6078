package helm_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

func chartWithDeps(deps string) map[string]string {
	return map[string]string{
		"charts/app/Chart.yaml":  "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n" + deps,
		"charts/app/values.yaml": "a: 1\n",
		"charts/lib/Chart.yaml":  "apiVersion: v2\nname: lib\nversion: 0.2.0\n",
		"env/prod.yaml":          "a: 2\nb: 3\n",
	}
}

func TestBuildDependencies(t *testing.T) {
	srv := helmtest.New(t, helmtest.WithBasicAuth("user", "repo-pass"))
	addCharts(t, srv, "remote", "1.0.0", "1.3.0")
	reg := ocitest.New(t)
	pushChart(t, reg, "charts/ocidep", "ocidep", "0.5.0")

	root := t.TempDir()
	writeTree(t, root, chartWithDeps(
		"- name: lib\n  version: \">=0.1\"\n  repository: file://../lib\n"+
			"- name: remote\n  version: \"~1.0\"\n  repository: "+srv.URL+"\n"+
			"- name: ocidep\n  version: \"0.x\"\n  repository: "+reg.URL("charts")+"\n"))
	var asked []string
	b := &helm.Build{
		Root: root, Path: "charts/app",
		Repositories: func(_ context.Context, url string) (*helm.Repository, error) {
			asked = append(asked, url)
			return srv.Repository(), nil
		},
		OCIClient: func(context.Context, string) (oci.Client, error) { return reg.Client(), nil },
	}
	out := t.TempDir()
	res, err := b.Run(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Dependencies != 3 || len(asked) != 1 || asked[0] != srv.URL {
		t.Fatalf("result %+v, repositories asked %v", res, asked)
	}
	_, files := readChart(t, filepath.Join(out, res.File))
	for _, f := range []string{"charts/lib/Chart.yaml", "charts/remote/Chart.yaml", "charts/ocidep/Chart.yaml"} {
		if _, ok := files[f]; !ok {
			t.Errorf("no %s in %v", f, keys(files))
		}
	}
	if !strings.Contains(string(files["charts/remote/Chart.yaml"]), "version: 1.0.0") {
		t.Errorf("remote dependency %s", files["charts/remote/Chart.yaml"])
	}

	// Without credentials the HTTP dependency fails as an auth error.
	b.Repositories = nil
	if _, err := b.Run(context.Background(), t.TempDir()); !errors.Is(err, source.ErrAuth) || strings.Contains(err.Error(), "repo-pass") {
		t.Fatalf("anonymous dependency: %v", err)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestBuildConfinement(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"evil/Chart.yaml": "apiVersion: v2\nname: evil\nversion: 1.0.0\n", "values.yaml": "evil: true\n"})
	tests := []struct {
		name  string
		deps  string
		path  string
		vals  []string
		setup func(root string)
		want  error
	}{
		{name: "file dependency escapes", deps: "- name: evil\n  repository: file://../../../evil\n", want: helm.ErrPathEscape},
		{name: "absolute file dependency", deps: "- name: evil\n  repository: file://" + filepath.Join(outside, "evil") + "\n", want: helm.ErrPathEscape},
		{name: "file dependency through a link", deps: "- name: evil\n  repository: file://../link\n",
			setup: func(root string) {
				_ = os.Symlink(filepath.Join(outside, "evil"), filepath.Join(root, "charts", "link"))
			}, want: helm.ErrPathEscape},
		{name: "chart file links outside", setup: func(root string) {
			_ = os.Symlink(filepath.Join(outside, "values.yaml"), filepath.Join(root, "charts", "app", "templates.yaml"))
		}, want: helm.ErrPathEscape},
		{name: "values file escapes", vals: []string{"../" + filepath.Base(outside) + "/values.yaml"}, want: helm.ErrPathEscape},
		{name: "absolute values file", vals: []string{filepath.Join(outside, "values.yaml")}, want: helm.ErrPathEscape},
		{name: "chart path escapes", path: "../x", want: helm.ErrPathEscape},
		{name: "missing values file", vals: []string{"env/none.yaml"}, want: source.ErrRefNotFound},
		{name: "missing chart", path: "charts/none", want: source.ErrRefNotFound},
		{name: "file dependency version", deps: "- name: lib\n  version: \">=1\"\n  repository: file://../lib\n", want: source.ErrRefNotFound},
		{name: "named repository", deps: "- name: lib\n  repository: \"@stable\"\n", want: source.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			files := chartWithDeps("")
			files["charts/app/Chart.yaml"] = "apiVersion: v2\nname: app\nversion: 1.0.0\n"
			if tc.deps != "" {
				files["charts/app/Chart.yaml"] += "dependencies:\n" + tc.deps
			}
			writeTree(t, root, files)
			if tc.setup != nil {
				tc.setup(root)
			}
			path := tc.path
			if path == "" {
				path = "charts/app"
			}
			b := &helm.Build{Root: root, Path: path, ValuesFiles: tc.vals}
			out := filepath.Join(parent, "out")
			_, err := b.Run(context.Background(), out)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Error("a failed build wrote its output")
			}
		})
	}
}

func TestBuildValuesAndVersion(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, chartWithDeps("  []\n"))
	rev := "main@sha1:abcdef0123456789abcdef0123456789abcdef01"
	b := &helm.Build{Root: root, Path: "charts/app", ValuesFiles: []string{"charts/app/values.yaml", "env/missing.yaml", "env/prod.yaml"},
		IgnoreMissingValuesFiles: true, VersionMetadata: helm.VersionMetadata(helm.StrategyRevision, rev, true, 2)}
	snap, err := b.Fetch(context.Background(), filepath.Join(root, "out"), "")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != "1.0.0+abcdef012345.2" || snap.Metadata["valuesFiles"] != "charts/app/values.yaml,env/prod.yaml" {
		t.Fatalf("snapshot %+v", snap)
	}
	_, files := readChart(t, filepath.Join(root, "out", snap.Metadata["file"]))
	if string(files["values.yaml"]) != "a: 2\nb: 3\n" {
		t.Errorf("values %q", files["values.yaml"])
	}
	if _, err := b.Fetch(context.Background(), t.TempDir(), snap.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Fatalf("same revision: %v", err)
	}
}

// A packaged chart in the artifact is copied as it is, unless options
// change it.
func TestBuildPackagedChart(t *testing.T) {
	data, err := helmtest.Package(map[string]string{"Chart.yaml": "apiVersion: v1\nname: old\nversion: 0.1.0\n", "requirements.yaml": "dependencies:\n- name: x\n  repository: file://x\n", "values.yaml": "a: 1\n"})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{"old-0.1.0.tgz": string(data), "prod.yaml": "a: 2\n"})
	b := &helm.Build{Root: root, Path: "old-0.1.0.tgz"}
	out := t.TempDir()
	res, err := b.Run(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(out, res.File))
	if res.Packaged || !bytes.Equal(got, data) {
		t.Fatalf("packaged chart not copied as it is: %+v", res)
	}
	b.ValuesFiles = []string{"prod.yaml"}
	if res, err = b.Run(context.Background(), t.TempDir()); err != nil || !res.Packaged {
		t.Fatalf("with values: %+v %v", res, err)
	}
}

// As in Flux, the listed files replace values.yaml, and nothing found
// leaves it empty.
func TestBuildValuesReplaced(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, chartWithDeps("  []\n"))
	for _, tc := range []struct {
		files []string
		want  string
	}{
		{[]string{"env/prod.yaml"}, "a: 2\nb: 3\n"},
		{[]string{"env/none.yaml"}, ""},
		{[]string{"charts/app/values.yaml"}, "a: 1\n"},
	} {
		b := &helm.Build{Root: root, Path: "charts/app", ValuesFiles: tc.files, IgnoreMissingValuesFiles: true}
		out := t.TempDir()
		res, err := b.Run(context.Background(), out)
		if err != nil {
			t.Fatal(err)
		}
		_, files := readChart(t, filepath.Join(out, res.File))
		if got, ok := files["values.yaml"]; !ok || string(got) != tc.want {
			t.Errorf("%v: values.yaml %q (present %v), want %q", tc.files, got, ok, tc.want)
		}
	}
}
