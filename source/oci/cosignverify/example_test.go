package cosignverify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/cosignverify"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

func Example() {
	ctx := context.Background()
	reg := ocitest.Start()
	defer reg.Close()

	// An artifact and its signature, as `cosign sign --key` pushes it.
	digest, _ := reg.PushLayers(ctx, "app", "v1", nil,
		ocitest.Layer{MediaType: oci.ContentMediaType, Data: ocitest.TarGz(map[string]string{"app.yaml": "kind: ConfigMap\n"})})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	payload := fmt.Appendf(nil, `{"critical":{"identity":{"docker-reference":%q},"image":{"docker-manifest-digest":%q},"type":%q},"optional":null}`,
		strings.TrimPrefix(reg.URL("app"), oci.URLPrefix), digest, cosignverify.SignatureType)
	h := sha256.Sum256(payload)
	sig, _ := ecdsa.SignASN1(rand.Reader, key, h[:])
	_, _ = reg.PushLayers(ctx, "app", cosignverify.SignatureTag(digest), nil, ocitest.Layer{
		MediaType:   cosignverify.SimpleSigningMediaType,
		Data:        payload,
		Annotations: map[string]string{cosignverify.SignatureAnnotation: base64.StdEncoding.EncodeToString(sig)},
	})

	// The consumer's side: cosign.pub and a verified fetch.
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	verifier, err := cosignverify.New(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		fmt.Println(err)
		return
	}
	repo := &oci.Repository{URL: reg.URL("app"), Ref: oci.Reference{Tag: "v1"}, Client: reg.Client(), Verify: verifier}
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	snap, err := repo.Fetch(ctx, dir, "")
	fmt.Println(err == nil, snap.Revision == "v1@"+digest)
	// Output: true true
}
