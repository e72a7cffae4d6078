package helm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
)

// Pull the highest 1.x version of a chart from an HTTP repository.
func ExampleChart_Fetch() {
	srv := helmtest.Start(helmtest.WithBasicAuth("user", "s3cret"))
	defer srv.Close()
	for _, v := range []string{"1.0.0", "1.2.0", "2.0.0-rc.1"} {
		if _, err := srv.AddChart(map[string]string{
			"Chart.yaml":  "apiVersion: v2\nname: podinfo\nversion: " + v + "\n",
			"values.yaml": "replicas: 1\n",
		}); err != nil {
			panic(err)
		}
	}
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	chart := &helm.Chart{Repository: srv.Repository(), Name: "podinfo", Version: "1.x"}
	snap, err := chart.Fetch(context.Background(), filepath.Join(dir, "out"), "")
	if err != nil {
		panic(err)
	}
	fmt.Println(snap.Revision, snap.Metadata["file"])

	_, err = chart.Fetch(context.Background(), filepath.Join(dir, "again"), snap.Revision)
	fmt.Println(errors.Is(err, source.ErrUnchanged))
	// Output:
	// 1.2.0 podinfo-1.2.0.tgz
	// true
}

// Fetch a repository's index as a source; its revision is the index's
// digest.
func ExampleRepository_Fetch() {
	srv := helmtest.Start()
	defer srv.Close()
	if _, err := srv.AddChart(map[string]string{"Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.1.0\n"}); err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	repo := srv.Repository()
	snap, err := repo.Fetch(context.Background(), dir, "")
	if err != nil {
		panic(err)
	}
	_, err = os.Stat(filepath.Join(dir, helm.IndexFileName))
	fmt.Println(len(snap.Revision), err == nil)
	// Output: 71 true
}

// Package a chart from a directory with a values file merged in and the
// source revision in its version, as a HelmChart with
// reconcileStrategy Revision.
func ExampleBuild_Run() {
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	write := func(name, content string) {
		p := filepath.Join(root, name)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, []byte(content), 0o644)
	}
	write("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 1.0.0\n")
	write("charts/app/values.yaml", "replicas: 1\n")
	write("charts/app/templates/cm.yaml", "kind: ConfigMap\n")
	write("env/prod.yaml", "replicas: 3\n")

	b := &helm.Build{
		Root:            root,
		Path:            "charts/app",
		ValuesFiles:     []string{"charts/app/values.yaml", "env/prod.yaml"},
		VersionMetadata: helm.VersionMetadata(helm.StrategyRevision, "main@sha1:0123456789abcdef0123456789abcdef01234567", true, 4),
	}
	res, err := b.Run(context.Background(), filepath.Join(root, "out"))
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Version, res.File, res.ValuesFiles)
	// Output: 1.0.0+0123456789ab.4 app-1.0.0+0123456789ab.4.tgz [charts/app/values.yaml env/prod.yaml]
}
