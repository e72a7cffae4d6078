package helm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/helm"
	"github.com/gitopskit/gitopskit/source/helm/helmtest"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/cosignverify"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

func pushChart(t *testing.T, reg *ocitest.Registry, repo, name, version string) string {
	t.Helper()
	data, err := helmtest.Package(map[string]string{
		"Chart.yaml":       "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n",
		"values.yaml":      "v: " + version + "\n",
		"values-prod.yaml": "prod: true\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := helmtest.PushOCI(context.Background(), reg, repo, data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOCIChart(t *testing.T) {
	reg := ocitest.New(t, ocitest.WithBasicAuth("user", "oci-secret"))
	for _, v := range []string{"1.0.0", "1.1.0+build.2", "2.0.0-rc.1"} {
		pushChart(t, reg, "charts/app", "app", v)
	}
	c := &helm.OCIChart{URL: reg.URL("charts"), Name: "app", Client: reg.Client()}
	dir := t.TempDir()
	snap, err := c.Fetch(context.Background(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if snap.Revision != "1.1.0+build.2" || snap.Metadata["file"] != "app-1.1.0+build.2.tgz" || !strings.HasPrefix(snap.Metadata["ociDigest"], "sha256:") {
		t.Fatalf("snapshot %+v", snap)
	}
	if _, files := readChart(t, filepath.Join(dir, snap.Metadata["file"])); string(files["values.yaml"]) != "v: 1.1.0+build.2\n" {
		t.Errorf("values %q", files["values.yaml"])
	}
	reg.ResetRequests()
	if _, err := c.Fetch(context.Background(), t.TempDir(), snap.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Fatalf("same version: %v", err)
	}
	for _, r := range reg.Requests() {
		if r.IsBlob() {
			t.Errorf("unchanged fetch downloaded %s", r.Path)
		}
	}
	c.Version = "~1.0"
	c.Options = helm.ChartOptions{ValuesFiles: []string{"values.yaml", "values-prod.yaml"}, VersionMetadata: "5"}
	res, err := c.Pull(context.Background(), t.TempDir())
	if err != nil || res.Version != "1.0.0+5" || !res.Packaged {
		t.Fatalf("values files: %+v %v", res, err)
	}
	c.Version = ">=3"
	if _, err := c.Pull(context.Background(), t.TempDir()); !errors.Is(err, source.ErrRefNotFound) {
		t.Fatalf("no match: %v", err)
	}
	// An exact version is read from its tag, without the tag list.
	reg.ResetRequests()
	c.Version, c.Options = "1.1.0+build.2", helm.ChartOptions{}
	if res, err := c.Pull(context.Background(), t.TempDir()); err != nil || res.Version != "1.1.0+build.2" {
		t.Fatalf("exact version: %+v %v", res, err)
	}
	for _, r := range reg.Requests() {
		if strings.HasSuffix(r.Path, "/tags/list") {
			t.Errorf("exact version listed the tags")
		}
	}
	c.Version = "1.9.9"
	if _, err := c.Pull(context.Background(), t.TempDir()); !errors.Is(err, source.ErrNotFound) && !errors.Is(err, source.ErrRefNotFound) {
		t.Fatalf("missing exact version: %v", err)
	}
	anon := &helm.OCIChart{URL: reg.URL("charts"), Name: "app", Client: oci.Client{Insecure: true}}
	_, err = anon.Pull(context.Background(), t.TempDir())
	if !errors.Is(err, source.ErrAuth) || strings.Contains(err.Error(), "oci-secret") {
		t.Fatalf("anonymous: %v", err)
	}
	bad := &helm.OCIChart{URL: reg.URL("charts"), Name: "../x", Client: reg.Client()}
	if _, err := bad.Pull(context.Background(), t.TempDir()); !errors.Is(err, source.ErrInvalid) {
		t.Fatalf("bad name: %v", err)
	}
}

// The chart at the reference must carry the name asked for.
func TestOCIChartWrongName(t *testing.T) {
	reg := ocitest.New(t)
	pushChart(t, reg, "charts/app", "other", "1.0.0")
	c := &helm.OCIChart{URL: reg.URL("charts"), Name: "app", Client: reg.Client()}
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := c.Pull(context.Background(), dir); !errors.Is(err, helm.ErrInvalidChart) {
		t.Fatalf("got %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("wrote %v", entries)
	}
}

// cosign signatures with a public key, through source/oci/cosignverify.
func TestOCIChartCosign(t *testing.T) {
	reg := ocitest.New(t)
	signed := pushChart(t, reg, "charts/app", "app", "1.0.0")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	v, err := cosignverify.New(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	c := &helm.OCIChart{URL: reg.URL("charts"), Name: "app", Client: reg.Client(), Verify: v}
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := c.Pull(context.Background(), dir); !errors.Is(err, source.ErrVerification) {
		t.Fatalf("unsigned: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("an unverified chart was written")
	}
	payload := fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":"cosign container image signature"},"optional":null}`,
		strings.TrimPrefix(reg.URL("charts/app"), oci.URLPrefix), signed)
	h := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.PushLayers(context.Background(), "charts/app", cosignverify.SignatureTag(signed), nil, ocitest.Layer{
		MediaType: cosignverify.SimpleSigningMediaType, Data: payload,
		Annotations: map[string]string{cosignverify.SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Pull(context.Background(), dir)
	if err != nil || res.Version != "1.0.0" {
		t.Fatalf("signed: %+v %v", res, err)
	}
}
