package helm_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

func TestChartFetch(t *testing.T) {
	srv := helmtest.New(t, helmtest.WithAbsoluteURLs())
	addCharts(t, srv, "app", "1.0.0", "1.1.0", "2.0.0-beta.1")
	c := &helm.Chart{Repository: srv.Repository(), Name: "app"}
	dir := filepath.Join(t.TempDir(), "out")
	snap, err := c.Fetch(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": "app", "version": "1.1.0", "file": "app-1.1.0.tgz", "digest": snap.Metadata["digest"]}
	if snap.Revision != "1.1.0" || !cmp.Equal(snap.Metadata, want) {
		t.Fatalf("snapshot %+v", snap)
	}
	if _, files := readChart(t, filepath.Join(dir, "app-1.1.0.tgz")); string(files["values.yaml"]) != "version: 1.1.0\nnested:\n  a: 1\n  b: 2\n" {
		t.Errorf("values %q", files["values.yaml"])
	}
	before := len(srv.Requests())
	if _, err := c.Fetch(context.Background(), t.TempDir(), "1.1.0"); !errors.Is(err, source.ErrUnchanged) {
		t.Fatalf("same version: %v", err)
	}
	for _, r := range srv.Requests()[before:] {
		if strings.HasPrefix(r.Path, "/charts/") {
			t.Errorf("unchanged fetch downloaded %s", r.Path)
		}
	}
	c.Version = ">=2.0.0-0"
	if snap, err = c.Fetch(context.Background(), t.TempDir(), "1.1.0"); err != nil || snap.Revision != "2.0.0-beta.1" {
		t.Fatalf("prerelease range: %v %v", snap.Revision, err)
	}
	c.Version = "3.x"
	if _, err := c.Fetch(context.Background(), t.TempDir(), ""); !errors.Is(err, source.ErrRefNotFound) {
		t.Fatalf("missing version: %v", err)
	}
	c.Name, c.Version = "nothing", ""
	if _, err := c.Fetch(context.Background(), t.TempDir(), ""); !errors.Is(err, source.ErrRefNotFound) {
		t.Fatalf("missing chart: %v", err)
	}
}

// Values files merged in order, with the generation in the version, as a
// HelmChart with valuesFiles from a HelmRepository.
func TestChartValuesFiles(t *testing.T) {
	srv := helmtest.New(t)
	addCharts(t, srv, "app", "1.0.0")
	c := &helm.Chart{Repository: srv.Repository(), Name: "app", Options: helm.ChartOptions{
		ValuesFiles:     []string{"values.yaml", "values-prod.yaml", "missing.yaml"},
		VersionMetadata: helm.VersionMetadata(helm.StrategyChartVersion, "", true, 7),
	}}
	if _, err := c.Pull(context.Background(), t.TempDir()); !errors.Is(err, source.ErrRefNotFound) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing values file: %v", err)
	}
	c.Options.IgnoreMissingValuesFiles = true
	dir := t.TempDir()
	snap, err := c.Fetch(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != "1.0.0+7" || snap.Metadata["file"] != "app-1.0.0+7.tgz" || snap.Metadata["valuesFiles"] != "values.yaml,values-prod.yaml" {
		t.Fatalf("snapshot %+v", snap)
	}
	_, files := readChart(t, filepath.Join(dir, "app-1.0.0+7.tgz"))
	var values, meta map[string]any
	if err := sigsyaml.Unmarshal(files["values.yaml"], &values); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"version": "1.0.0", "nested": map[string]any{"a": float64(1), "b": float64(3)}, "prod": true}
	if d := cmp.Diff(want, values); d != "" {
		t.Errorf("merged values (-want +got):\n%s", d)
	}
	if err := sigsyaml.Unmarshal(files["Chart.yaml"], &meta); err != nil || meta["version"] != "1.0.0+7" || meta["name"] != "app" {
		t.Errorf("Chart.yaml %v %v", meta, err)
	}
	if _, err := c.Fetch(context.Background(), t.TempDir(), "1.0.0+7"); !errors.Is(err, source.ErrUnchanged) {
		t.Errorf("same generation: %v", err)
	}
}

// tgz packs raw tar entries.
func tgz(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: typ, Linkname: e.link}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

type tarEntry struct {
	name, data, link string
	typ              byte
}

func TestChartHostile(t *testing.T) {
	chartYAML := tarEntry{name: "app/Chart.yaml", data: "apiVersion: v2\nname: app\nversion: 1.0.0\n"}
	tests := []struct {
		name   string
		data   []byte
		limits helm.Limits
		want   error
	}{
		{"escape", tgz(t, chartYAML, tarEntry{name: "app/../../evil", data: "x"}), helm.Limits{}, helm.ErrPathEscape},
		{"absolute", tgz(t, chartYAML, tarEntry{name: "/etc/evil", data: "x"}), helm.Limits{}, helm.ErrPathEscape},
		{"file over the cap", tgz(t, chartYAML, tarEntry{name: "app/big", data: strings.Repeat("x", 2000)}), helm.Limits{MaxFileSize: 1000}, helm.ErrTooLarge},
		{"files over the total", tgz(t, chartYAML, tarEntry{name: "app/a", data: strings.Repeat("x", 600)}, tarEntry{name: "app/b", data: strings.Repeat("x", 600)}), helm.Limits{MaxTotalSize: 1000}, helm.ErrTooLarge},
		{"chart over the cap", tgz(t, chartYAML, tarEntry{name: "app/rand", data: strings.Repeat("abcdefghij", 1000)}), helm.Limits{MaxChartSize: 100}, helm.ErrTooLarge},
		{"no Chart.yaml", tgz(t, tarEntry{name: "app/values.yaml", data: "a: 1\n"}), helm.Limits{}, helm.ErrInvalidChart},
		{"bad version", tgz(t, tarEntry{name: "app/Chart.yaml", data: "apiVersion: v2\nname: app\nversion: one\n"}), helm.Limits{}, helm.ErrInvalidChart},
		{"not gzip", []byte("plain text"), helm.Limits{}, helm.ErrInvalidChart},
		{"another version", tgz(t, tarEntry{name: "app/Chart.yaml", data: "apiVersion: v2\nname: app\nversion: 1.0.1\n"}), helm.Limits{}, helm.ErrInvalidChart},
		{"another chart", tgz(t, tarEntry{name: "other/Chart.yaml", data: "apiVersion: v2\nname: other\nversion: 1.0.0\n"}), helm.Limits{}, helm.ErrInvalidChart},
		{"top-level file", tgz(t, tarEntry{name: "Chart.yaml", data: "apiVersion: v2\nname: app\nversion: 1.0.0\n"}), helm.Limits{}, helm.ErrInvalidChart},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := helmtest.New(t)
			addCharts(t, srv, "app", "1.0.0")
			srv.SetChartData("app", "1.0.0", tc.data)
			srv.SetIndex(bytes.ReplaceAll(srv.Index(), []byte("digest:"), []byte("nodigest:")))
			c := &helm.Chart{Repository: srv.Repository(), Name: "app", Options: helm.ChartOptions{Limits: tc.limits}}
			dir := filepath.Join(t.TempDir(), "out")
			_, err := c.Pull(context.Background(), dir)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a failed pull wrote %v", entries)
			}
		})
	}
	// Symbolic links in an archive are skipped, not followed.
	srv := helmtest.New(t)
	if err := srv.AddArchive(tgz(t, chartYAML, tarEntry{name: "app/link", link: "/etc/passwd", typ: tar.TypeSymlink})); err != nil {
		t.Fatal(err)
	}
	c := &helm.Chart{Repository: srv.Repository(), Name: "app", Options: helm.ChartOptions{VersionMetadata: "1"}}
	dir := t.TempDir()
	res, err := c.Pull(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, files := readChart(t, filepath.Join(dir, res.File)); len(files) != 1 {
		t.Errorf("repackaged chart holds %v", files)
	}
}

func TestChartDigestMismatch(t *testing.T) {
	srv := helmtest.New(t)
	addCharts(t, srv, "app", "1.0.0")
	other, err := helmtest.Package(map[string]string{"Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\n", "evil.yaml": "x: 1\n"})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetChartData("app", "1.0.0", other)
	c := &helm.Chart{Repository: srv.Repository(), Name: "app"}
	dir := filepath.Join(t.TempDir(), "out")
	_, err = c.Pull(context.Background(), dir)
	if !errors.Is(err, source.ErrVerification) || !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("a chart that failed its digest check was written")
	}
}

func TestMergeValues(t *testing.T) {
	a := map[string]any{"x": 1, "m": map[string]any{"a": 1, "b": map[string]any{"c": 1}}, "l": []any{1, 2}}
	b := map[string]any{"m": map[string]any{"b": map[string]any{"d": 2}}, "l": []any{3}, "y": nil}
	c := map[string]any{"m": "scalar wins"}
	got := helm.MergeValues(a, b)
	want := map[string]any{"x": 1, "m": map[string]any{"a": 1, "b": map[string]any{"c": 1, "d": 2}}, "l": []any{3}, "y": nil}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if got := helm.MergeValues(a, b, c); got["m"] != "scalar wins" {
		t.Errorf("scalar over map: %v", got["m"])
	}
	if _, ok := a["m"].(map[string]any)["b"].(map[string]any)["d"]; ok {
		t.Error("MergeValues modified its input")
	}
}

func TestVersionMetadata(t *testing.T) {
	tests := []struct {
		strategy helm.ReconcileStrategy
		rev      string
		values   bool
		gen      int64
		want     string
	}{
		{helm.StrategyChartVersion, "main@sha1:0123456789abcdef0123456789abcdef01234567", false, 3, ""},
		{helm.StrategyChartVersion, "main@sha1:0123456789abcdef0123456789abcdef01234567", true, 3, "3"},
		{helm.StrategyRevision, "main@sha1:0123456789abcdef0123456789abcdef01234567", false, 3, "0123456789ab"},
		{helm.StrategyRevision, "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210", true, 12, "fedcba987654.12"},
		{helm.StrategyRevision, "", true, 2, "2"},
	}
	for _, tc := range tests {
		if got := helm.VersionMetadata(tc.strategy, tc.rev, tc.values, tc.gen); got != tc.want {
			t.Errorf("VersionMetadata(%s, %s, %v, %d) = %q, want %q", tc.strategy, tc.rev, tc.values, tc.gen, got, tc.want)
		}
	}
}
