package ocitest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// Example pushes a raw two-layer artifact and fetches its second layer as
// a blob, then counts the requests the registry served.
func Example() {
	ctx := context.Background()
	reg := ocitest.Start() // in a test, ocitest.New(t) closes it at the end
	defer reg.Close()

	digest, err := reg.PushLayers(ctx, "charts/demo", "1.0.0", nil,
		ocitest.Layer{MediaType: oci.ContentMediaType, Data: ocitest.TarGz(map[string]string{"a.yaml": "a"})},
		ocitest.Layer{MediaType: oci.HelmChartLayerMediaType, Data: []byte("chart bytes")},
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	repo := &oci.Repository{
		URL:    reg.URL("charts/demo"),
		Ref:    oci.Reference{Digest: digest},
		Layer:  oci.LayerSelector{MediaType: oci.HelmChartLayerMediaType, Operation: oci.LayerCopy, CopyName: "chart.tgz"},
		Client: reg.Client(),
	}
	out, _ := os.MkdirTemp("", "ocitest-example-*")
	defer os.RemoveAll(out)
	reg.ResetRequests()
	snap, err := repo.Fetch(ctx, filepath.Join(out, "dir"), "")
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(out, "dir", "chart.tgz"))
	fmt.Println(snap.Revision == digest, string(b))
	blobs := 0
	for _, r := range reg.Requests() {
		if r.IsBlob() {
			blobs++
		}
	}
	fmt.Println("blob requests:", blobs)
	// Output:
	// true chart bytes
	// blob requests: 1
}
