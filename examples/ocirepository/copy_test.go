package ocirepository_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// The layer operation "copy" stores the selected layer's blob as it is:
// the served artifact is the blob, its digest the blob's; switching to
// "extract" packs the layer's files instead.
func TestOCIRepositoryLayerCopy(t *testing.T) {
	ctx := context.Background()
	startControllers(t)
	ns := "oci-copy"
	namespace(t, ns)
	reg := ocitest.New(t)
	const chartType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	chart := ocitest.TarGz(map[string]string{"podinfo/Chart.yaml": "apiVersion: v2\nname: podinfo\nversion: 6.0.0\n"})
	digest, err := reg.PushLayers(ctx, "charts/podinfo", "6.0.0", nil,
		ocitest.Layer{MediaType: "application/vnd.cncf.helm.config.v1+json", Data: []byte("{}")},
		ocitest.Layer{MediaType: chartType, Data: chart})
	if err != nil {
		t.Fatal(err)
	}
	obj := createRepo(t, ns, "podinfo", reg.URL("charts/podinfo"), &sourcev1.OCIRepositoryRef{Tag: "6.0.0"},
		func(o *sourcev1.OCIRepository) {
			o.Spec.SecretRef = nil
			o.Spec.LayerSelector = &sourcev1.OCILayerSelector{MediaType: chartType, Operation: sourcev1.OCILayerCopy}
		})
	got := waitFor(t, obj, "copied layer", readyAt("6.0.0@"+digest))
	a := got.Status.Artifact
	sum := sha256.Sum256(chart)
	if want := "sha256:" + hex.EncodeToString(sum[:]); a.Digest != want || a.Size == nil || *a.Size != int64(len(chart)) {
		t.Errorf("artifact digest %s size %v, want the blob's %s and %d", a.Digest, a.Size, want, len(chart))
	}
	resp, err := http.Get(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != string(chart) {
		t.Errorf("GET %s: %s, %d bytes, %v; want the layer blob as is", a.URL, resp.Status, len(body), err)
	}
	if !strings.HasSuffix(a.Path, ".tgz") {
		t.Errorf("artifact path %q", a.Path)
	}

	// Extracting the same layer instead gives a new artifact of its files.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cur sourcev1.OCIRepository
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &cur); err != nil {
			return err
		}
		cur.Spec.LayerSelector.Operation = sourcev1.OCILayerExtract
		return env.Client.Update(ctx, &cur)
	}); err != nil {
		t.Fatal(err)
	}
	extracted := waitFor(t, obj, "extracted layer", func(o *sourcev1.OCIRepository) bool {
		return readyAt("6.0.0@"+digest)(o) && o.Status.Artifact.Digest != a.Digest
	})
	if p := extracted.Status.Artifact.Path; !strings.HasSuffix(p, ".tar.gz") {
		t.Errorf("extracted artifact path %q", p)
	}
}
