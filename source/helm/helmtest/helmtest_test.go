package helmtest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

func TestServerTLSAndAuth(t *testing.T) {
	srv := helmtest.New(t, helmtest.WithTLS(), helmtest.WithBasicAuth("u", "p4ss"))
	if srv.CA() == nil || srv.URL[:8] != "https://" {
		t.Fatalf("TLS server %s", srv.URL)
	}
	data, err := srv.AddChart(map[string]string{"Chart.yaml": "apiVersion: v2\nname: a\nversion: 1.0.0\n"})
	if err != nil {
		t.Fatal(err)
	}
	c := &helm.Chart{Repository: srv.Repository(), Name: "a"}
	dir := t.TempDir()
	res, err := c.Pull(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, res.File))
	if string(got) != string(data) {
		t.Error("served chart differs from the added one")
	}
	anon := &helm.Repository{URL: srv.URL, Client: helm.Client{TLS: &helm.TLS{CA: srv.CA()}}}
	if _, err := anon.Index(context.Background()); !errors.Is(err, source.ErrAuth) {
		t.Fatalf("anonymous: %v", err)
	}
	if err := srv.AddArchive([]byte("not a chart")); err == nil {
		t.Error("AddArchive accepted bytes that are not a chart")
	}
	if _, err := helmtest.Package(map[string]string{"values.yaml": "a: 1\n"}); err == nil {
		t.Error("Package accepted a chart without Chart.yaml")
	}
}

func TestPushOCITLS(t *testing.T) {
	reg := ocitest.New(t, ocitest.WithTLS(), ocitest.WithBasicAuth("u", "p4ss"))
	data, err := helmtest.Package(map[string]string{"Chart.yaml": "apiVersion: v2\nname: a\nversion: 1.0.0+x\n"})
	if err != nil {
		t.Fatal(err)
	}
	digest, err := helmtest.PushOCI(context.Background(), reg, "charts/a", data)
	if err != nil {
		t.Fatal(err)
	}
	c := &helm.OCIChart{URL: reg.URL("charts"), Name: "a", Client: reg.Client()}
	snap, err := c.Fetch(context.Background(), t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != "1.0.0+x" || snap.Metadata["ociDigest"] != digest {
		t.Fatalf("snapshot %+v, pushed %s", snap, digest)
	}
}
