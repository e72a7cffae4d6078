package helm_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// helmCLI runs bin/helm with its homes in a temporary directory.
func helmCLI(t *testing.T, dir string, args ...string) {
	t.Helper()
	bin := testbin.Tool(t, "helm")
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helm %v: %v\n%s", args, err, out)
	}
}

// helmCLIErr runs bin/helm and returns its failure, if any.
func helmCLIErr(t *testing.T, dir string, args ...string) error {
	t.Helper()
	bin := testbin.Tool(t, "helm")
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(home, "cache"), "HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_DATA_HOME="+filepath.Join(home, "data"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// copyTree copies a directory.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// appChart is a chart directory with a file:// dependency, a dependency
// from an HTTP repository, a vendored subchart archive, a .helmignore and
// a hidden template, next to the chart it depends on.
func appChart(repoURL string, ociURL ...string) map[string]string {
	extra := ""
	for _, u := range ociURL {
		extra += "- name: ocidep\n  version: \"0.x\"\n  repository: " + u + "\n"
	}
	return map[string]string{
		"app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\ndescription: the app\nappVersion: \"4.2\"\nkeywords: [a, b]\n" +
			"dependencies:\n- name: lib\n  version: \"~0.1\"\n  repository: file://../lib\n- name: remote\n  version: \">=2.0.0\"\n  repository: " + repoURL + "\n  alias: far\n" + extra,
		"app/values.yaml":            "# defaults\nreplicas: 1\nimage:\n  tag: v1\n",
		"app/values.schema.json":     "{\"type\": \"object\"}\n",
		"app/templates/cm.yaml":      "kind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
		"app/templates/_helpers.tpl": "{{- define \"x\" -}}x{{- end -}}\n",
		"app/templates/.hidden":      "hidden\n",
		"app/templates/NOTES.txt":    "notes\n",
		"app/crds/crd.yaml":          "kind: CustomResourceDefinition\n",
		"app/README.md":              "# app\n",
		"app/.helmignore":            "*.bak\nsecret/\n",
		"app/old.bak":                "ignored\n",
		"app/secret/key":             "ignored\n",
		"app/files/conf.ini":         "[a]\nb=c\n",
		"lib/Chart.yaml":             "apiVersion: v2\nname: lib\nversion: 0.1.2\ntype: library\n",
		"lib/values.yaml":            "lib: true\n",
		"lib/templates/_lib.tpl":     "{{- define \"lib\" -}}lib{{- end -}}\n",
	}
}

// remoteRepo serves the chart the app depends on.
func remoteRepo(t *testing.T) *helmtest.Server {
	t.Helper()
	srv := helmtest.New(t)
	for _, v := range []string{"1.0.0", "2.1.0", "2.2.0", "3.0.0-rc.1"} {
		if _, err := srv.AddChart(map[string]string{
			"Chart.yaml":            "apiVersion: v2\nname: remote\nversion: " + v + "\n",
			"values.yaml":           "remote: " + v + "\n",
			"templates/svc.yaml":    "kind: Service\n",
			"charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 0.0.1\n",
		}); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

// helm dependency build && helm package give the chart Build gives.
func TestHelmCLIDependencyBuildAndPackage(t *testing.T) {
	srv := remoteRepo(t)
	reg := ocitest.New(t)
	dep, err := helmtest.Package(map[string]string{"Chart.yaml": "apiVersion: v2\nname: ocidep\nversion: 0.4.0\n", "values.yaml": "oci: true\n"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := helmtest.PushOCI(context.Background(), reg, "charts/ocidep", dep); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	writeTree(t, src, appChart(srv.URL, reg.URL("charts")))

	// helm's side, in a copy: dependency build writes charts/*.tgz and
	// Chart.lock, then package.
	hdir := t.TempDir()
	copyTree(t, src, hdir)
	helmCLI(t, hdir, "dependency", "build", "app", "--plain-http")
	helmCLI(t, hdir, "package", "app", "-d", "out")

	// Ours, over the source tree with the same Chart.lock (Build, like
	// Flux, keeps a lock it finds and writes none).
	lock, err := os.ReadFile(filepath.Join(hdir, "app", "Chart.lock"))
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, src, map[string]string{"app/Chart.lock": string(lock)})
	b := &helm.Build{Root: src, Path: "app", OCIClient: func(context.Context, string) (oci.Client, error) { return reg.Client(), nil }}
	out := filepath.Join(t.TempDir(), "out")
	res, err := b.Run(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != "app" || res.Version != "1.0.0" || res.File != "app-1.0.0.tgz" || res.Dependencies != 3 || !res.Packaged {
		t.Fatalf("result %+v", res)
	}
	htop, hfiles := readChart(t, filepath.Join(hdir, "out", "app-1.0.0.tgz"))
	otop, ofiles := readChart(t, filepath.Join(out, res.File))
	if htop != otop {
		t.Errorf("top directory: helm %q, ours %q", htop, otop)
	}
	sameChart(t, hfiles, ofiles)
	for _, want := range []string{"charts/lib/Chart.yaml", "charts/remote/Chart.yaml", "charts/remote/charts/sub/Chart.yaml", "charts/ocidep/values.yaml", ".helmignore"} {
		if _, ok := ofiles[want]; !ok {
			t.Errorf("ours lacks %s", want)
		}
	}
	for _, unwanted := range []string{"old.bak", "secret/key", "templates/.hidden"} {
		if _, ok := ofiles[unwanted]; ok {
			t.Errorf("ours holds %s", unwanted)
		}
	}
}

// helm package of a directory without dependencies gives the chart Build
// gives; Build's archive is the same bytes every time.
func TestHelmCLIPackage(t *testing.T) {
	src := t.TempDir()
	files := appChart("")
	delete(files, "app/Chart.yaml")
	files["app/Chart.yaml"] = "apiVersion: v2\nname: app\nversion: 1.0.0-rc.1+build.7\nkubeVersion: \">=1.30.0\"\nmaintainers:\n- name: me\n  email: me@example.com\nannotations:\n  a: b\n"
	files["app/files/bom.txt"] = "\ufeffwith a byte order mark\n"
	files["shared/cm.yaml"] = "kind: ConfigMap\nmetadata:\n  name: shared\n"
	files["shared/dir/a.txt"] = "a\n"
	writeTree(t, src, files)
	// Links that stay inside the root are followed, as helm follows them.
	if err := os.Symlink("../../shared/cm.yaml", filepath.Join(src, "app", "templates", "linked.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../shared/dir", filepath.Join(src, "app", "linkdir")); err != nil {
		t.Fatal(err)
	}
	helmCLI(t, src, "package", "app", "-d", "out")
	b := &helm.Build{Root: src, Path: "app"}
	var digests []string
	for i := 0; i < 2; i++ {
		out := filepath.Join(t.TempDir(), "out")
		res, err := b.Run(context.Background(), out)
		if err != nil {
			t.Fatal(err)
		}
		if res.Version != "1.0.0-rc.1+build.7" {
			t.Fatalf("version %q", res.Version)
		}
		_, hfiles := readChart(t, filepath.Join(src, "out", "app-1.0.0-rc.1+build.7.tgz"))
		_, ofiles := readChart(t, filepath.Join(out, res.File))
		sameChart(t, hfiles, ofiles)
		if _, ok := ofiles["linkdir/a.txt"]; !ok || string(ofiles["templates/linked.yaml"]) != files["shared/cm.yaml"] {
			t.Errorf("linked files missing: %v", keys(ofiles))
		}
		digests = append(digests, res.Digest)
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds differ: %v", digests)
	}
}

// helm pull of a version range gives the chart Chart.Pull gives, and the
// same version.
func TestHelmCLIPull(t *testing.T) {
	srv := remoteRepo(t)
	for _, rng := range []string{"", "2.1.x", "<2.2.0", ">=3.0.0-0"} {
		t.Run(rng, func(t *testing.T) {
			hdir := t.TempDir()
			args := []string{"pull", "remote", "--repo", srv.URL, "-d", hdir}
			if rng != "" {
				args = append(args, "--version", rng)
			}
			helmCLI(t, hdir, args...)
			entries, err := os.ReadDir(hdir)
			if err != nil || len(entries) != 1 {
				t.Fatalf("helm pull wrote %v (%v)", entries, err)
			}
			c := &helm.Chart{Repository: srv.Repository(), Name: "remote", Version: rng}
			out := t.TempDir()
			res, err := c.Pull(context.Background(), out)
			if err != nil {
				t.Fatal(err)
			}
			if res.File != entries[0].Name() {
				t.Fatalf("ours %s, helm %s", res.File, entries[0].Name())
			}
			hdata, _ := os.ReadFile(filepath.Join(hdir, res.File))
			odata, _ := os.ReadFile(filepath.Join(out, res.File))
			if string(hdata) != string(odata) || res.Packaged {
				t.Errorf("pulled archives differ (packaged=%v)", res.Packaged)
			}
		})
	}
}

// A chart helm push wrote to a registry is the chart OCIChart pulls and
// helm pull pulls, and OCIChart resolves the version helm resolves.
func TestHelmCLIOCI(t *testing.T) {
	reg := ocitest.New(t)
	work := t.TempDir()
	for _, v := range []string{"1.0.0", "1.2.0+meta.1", "2.0.0-rc.1"} {
		data, err := helmtest.Package(map[string]string{
			"Chart.yaml":  "apiVersion: v2\nname: app\nversion: " + v + "\nappVersion: \"9\"\n",
			"values.yaml": "v: " + v + "\n",
		})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(work, helm.ChartFileName("app", v))
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		helmCLI(t, work, "push", file, reg.URL("charts"), "--plain-http")
	}
	for _, rng := range []string{"", "~1.0", ">=2.0.0-0"} {
		t.Run(rng, func(t *testing.T) {
			hdir := t.TempDir()
			args := []string{"pull", reg.URL("charts/app"), "--plain-http", "-d", hdir}
			if rng != "" {
				args = append(args, "--version", rng)
			}
			helmCLI(t, hdir, args...)
			entries, err := os.ReadDir(hdir)
			if err != nil || len(entries) != 1 {
				t.Fatalf("helm pull wrote %v (%v)", entries, err)
			}
			c := &helm.OCIChart{URL: reg.URL("charts"), Name: "app", Version: rng, Client: reg.Client()}
			out := t.TempDir()
			res, err := c.Pull(context.Background(), out)
			if err != nil {
				t.Fatal(err)
			}
			if res.File != entries[0].Name() {
				t.Fatalf("ours %s, helm %s", res.File, entries[0].Name())
			}
			hdata, _ := os.ReadFile(filepath.Join(hdir, res.File))
			odata, _ := os.ReadFile(filepath.Join(out, res.File))
			if string(hdata) != string(odata) || res.Packaged {
				t.Errorf("pulled archives differ (packaged=%v)", res.Packaged)
			}
		})
	}
}

// helm pull reads the charts helmtest.PushOCI writes.
func TestHelmCLIPullsHelmtestPush(t *testing.T) {
	reg := ocitest.New(t)
	data, err := helmtest.Package(map[string]string{"Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.3.0+b.1\n", "values.yaml": "a: 1\n"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := helmtest.PushOCI(context.Background(), reg, "charts/app", data); err != nil {
		t.Fatal(err)
	}
	hdir := t.TempDir()
	helmCLI(t, hdir, "pull", reg.URL("charts/app"), "--plain-http", "--version", "0.3.0+b.1", "-d", hdir)
	got, err := os.ReadFile(filepath.Join(hdir, "app-0.3.0+b.1.tgz"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("helm pulled %d bytes (%v), pushed %d", len(got), err, len(data))
	}
}

// .helmignore rules select the files helm package selects, Helm's quirks
// included (a lone "!p" rule leaves out everything else, Chart.yaml too).
func TestHelmCLIHelmignore(t *testing.T) {
	tree := map[string]string{
		"app/Chart.yaml":          "apiVersion: v2\nname: app\nversion: 1.0.0\n",
		"app/keep.bak":            "k\n",
		"app/drop.bak":            "d\n",
		"app/top.txt":             "t\n",
		"app/files/top.txt":       "t\n",
		"app/docs/a.md":           "a\n",
		"app/docs/b.txt":          "b\n",
		"app/docs/sub/c.md":       "c\n",
		"app/files/deep/x.tmp":    "x\n",
		"app/templates/.dot.yaml": "d\n",
		"app/templates/a.yaml":    "a\n",
		"app/.hidden":             "h\n",
		"app/secret/key":          "s\n",
	}
	for _, rules := range []string{
		"",
		"# comment\n\n*.bak\n",
		"/top.txt\n",
		"top.txt\n",
		"docs/*.md\n",
		"docs/\n",
		"docs\n",
		"*.tmp\nsecret/\n",
		".*\n",
		"files/*/*.tmp\n",
		"!keep.bak\n",
		"*.bak\n!keep.bak\n",
		"[a-c].md\n",
		"te?plates/a.yaml\n",
	} {
		t.Run(strings.ReplaceAll(rules, "\n", ";"), func(t *testing.T) {
			src := t.TempDir()
			files := map[string]string{"app/.helmignore": rules}
			for k, v := range tree {
				files[k] = v
			}
			writeTree(t, src, files)
			herr := helmCLIErr(t, src, "package", "app", "-d", "out")
			out := filepath.Join(t.TempDir(), "out")
			res, err := (&helm.Build{Root: src, Path: "app"}).Run(context.Background(), out)
			if (herr != nil) != (err != nil) {
				t.Fatalf("helm: %v; ours: %v", herr, err)
			}
			if err != nil {
				return
			}
			_, hfiles := readChart(t, filepath.Join(src, "out", "app-1.0.0.tgz"))
			_, ofiles := readChart(t, filepath.Join(out, res.File))
			sameChart(t, hfiles, ofiles)
		})
	}
}

// Chart versions and names as helm package reads and refuses them.
func TestHelmCLIPackageMetadata(t *testing.T) {
	for _, chartYAML := range []string{
		"apiVersion: v2\nname: t\nversion: v1.0.0\n",
		"apiVersion: v2\nname: t\nversion: 1.0\n",
		"apiVersion: v2\nname: t\nversion: 01.0.0\n",
		"apiVersion: v2\nname: t\nversion: \"1.2\"\n",
		"apiVersion: v2\nname: t\nversion: 1.0.0-rc.1+b.2\n",
		"apiVersion: v2\nname: t\nversion: one\n",
		"apiVersion: v2\nname: a/b\nversion: 1.0.0\n",
		"apiVersion: v2\nname: ..\nversion: 1.0.0\n",
		"apiVersion: v2\nname: A_b\nversion: 1.0.0\n",
		"apiVersion: v2\nname: t\nversion: 1.0.0\ntype: weird\n",
		"apiVersion: v2\nname: t\nversion: 1.0.0\ntype: library\n",
		"apiVersion: v3\nname: t\nversion: 1.0.0\n",
		"apiVersion: v1\nname: t\nversion: 1.0.0\n",
		"name: t\nversion: 1.0.0\n",
		"apiVersion: v2\nversion: 1.0.0\n",
	} {
		t.Run(chartYAML, func(t *testing.T) {
			src := t.TempDir()
			writeTree(t, src, map[string]string{"c/Chart.yaml": chartYAML, "c/values.yaml": "a: 1\n"})
			herr := helmCLIErr(t, src, "package", "c", "-d", "out")
			out := filepath.Join(t.TempDir(), "out")
			res, err := (&helm.Build{Root: src, Path: "c"}).Run(context.Background(), out)
			if (herr != nil) != (err != nil) {
				t.Fatalf("helm: %v; ours: %v", herr, err)
			}
			if err != nil {
				return
			}
			entries, _ := os.ReadDir(filepath.Join(src, "out"))
			if len(entries) != 1 || entries[0].Name() != res.File {
				t.Fatalf("helm wrote %v, ours %s", entries, res.File)
			}
			_, hfiles := readChart(t, filepath.Join(src, "out", res.File))
			_, ofiles := readChart(t, filepath.Join(out, res.File))
			sameChart(t, hfiles, ofiles)
		})
	}
}

// Files Helm's loader treats apart: locks, requirements, the schema, stray
// files in charts/, unknown Chart.yaml fields, strings it cleans.
func TestHelmCLIPackageSpecialFiles(t *testing.T) {
	lib := "apiVersion: v2\nname: lib\nversion: 0.1.0\n"
	for name, files := range map[string]map[string]string{
		"v1 requirements": {
			"Chart.yaml":            "apiVersion: v1\nname: old\nversion: 1.0.0\n",
			"requirements.yaml":     "dependencies:\n- name: lib\n  version: 0.1.0\n  repository: file://../lib\n",
			"requirements.lock":     "dependencies:\n- name: lib\n  version: 0.1.0\n  repository: file://../lib\ndigest: sha256:abc\ngenerated: \"2026-01-01T00:00:00Z\"\n",
			"charts/lib/Chart.yaml": lib,
		},
		"v2 requirements": {
			"Chart.yaml":            "apiVersion: v2\nname: new\nversion: 1.0.0\n",
			"requirements.yaml":     "dependencies:\n- name: lib\n  version: 0.1.0\n  repository: file://../lib\n",
			"Chart.lock":            "dependencies:\n- name: lib\n  version: 0.1.0\n  repository: file://../lib\ndigest: sha256:abc\ngenerated: \"2026-01-01T00:00:00Z\"\nextra: dropped\n",
			"charts/lib/Chart.yaml": lib,
		},
		"v1 Chart.lock": {
			"Chart.yaml": "name: old\nversion: 1.0.0\n",
			"Chart.lock": "dependencies: []\ndigest: sha256:abc\ngenerated: \"2026-01-01T00:00:00Z\"\n",
		},
		"stray file in charts": {
			"Chart.yaml":       "apiVersion: v2\nname: a\nversion: 1.0.0\n",
			"charts/README.md": "x\n",
		},
		"hidden entries in charts": {
			"Chart.yaml":                "apiVersion: v2\nname: a\nversion: 1.0.0\n",
			"charts/_skip/file":         "x\n",
			"charts/.skip.tgz":          "x\n",
			"charts/lib-0.1.0.tgz.prov": "signature\n",
			"charts/lib/Chart.yaml":     lib,
		},
		"invalid schema": {
			"Chart.yaml":         "apiVersion: v2\nname: a\nversion: 1.0.0\n",
			"values.schema.json": "{not json",
		},
		"values not a map": {
			"Chart.yaml":  "apiVersion: v2\nname: a\nversion: 1.0.0\n",
			"values.yaml": "- a\n- b\n",
		},
		"bad alias": {
			"Chart.yaml":            "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies:\n- name: lib\n  alias: \"a b\"\n  repository: file://charts/lib\n",
			"charts/lib/Chart.yaml": lib,
		},
		"duplicate alias": {
			"Chart.yaml":            "apiVersion: v2\nname: a\nversion: 1.0.0\ndependencies:\n- name: lib\n  repository: file://charts/lib\n- name: other\n  alias: lib\n  repository: file://charts/lib\n",
			"charts/lib/Chart.yaml": lib,
		},
		"unknown fields and odd strings": {
			"Chart.yaml":            "apiVersion: v2\nname: a\nversion: 1.0.0\nunknown: dropped\ndescription: \"tab\\there\\u0007bell\"\nappVersion: 1.10\nmaintainers:\n- name: \"m\\nx\"\n  extra: 1\nannotations:\n  k: v\ndependencies:\n- name: lib\n  repository: file://charts/lib\n  import-values: [a, {child: b, parent: c}]\n  tags: [t]\n  enabled: true\n  condition: lib.enabled\n",
			"charts/lib/Chart.yaml": lib,
		},
	} {
		t.Run(name, func(t *testing.T) {
			src := t.TempDir()
			tree := map[string]string{}
			for k, v := range files {
				tree["c/"+k] = v
			}
			writeTree(t, src, tree)
			herr := helmCLIErr(t, src, "package", "c", "-d", "out")
			out := filepath.Join(t.TempDir(), "out")
			res, err := (&helm.Build{Root: src, Path: "c"}).Run(context.Background(), out)
			if (herr != nil) != (err != nil) {
				t.Fatalf("helm: %v; ours: %v", herr, err)
			}
			if err != nil {
				return
			}
			_, hfiles := readChart(t, filepath.Join(src, "out", res.File))
			_, ofiles := readChart(t, filepath.Join(out, res.File))
			sameChart(t, hfiles, ofiles)
		})
	}
}
