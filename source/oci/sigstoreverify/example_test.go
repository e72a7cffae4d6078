package sigstoreverify_test

import (
	"context"
	"fmt"
	"os"

	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
	"github.com/gitopskit/gitopskit/source/oci/sigstoreverify"
	"github.com/gitopskit/gitopskit/source/oci/sigstoreverify/sigstoretest"
)

func Example() {
	ctx := context.Background()
	reg := ocitest.Start()
	defer reg.Close()
	sigstore, _ := sigstoretest.New()

	// An artifact, signed keylessly in CI and its bundle attached as
	// `cosign sign` v3 attaches it.
	digest, _ := reg.PushLayers(ctx, "app", "v1", nil,
		ocitest.Layer{MediaType: oci.ContentMediaType, Data: ocitest.TarGz(map[string]string{"app.yaml": "kind: ConfigMap\n"})})
	bundle, _ := sigstore.SignKeyless("https://github.com/org/app/.github/workflows/release.yaml@refs/tags/v1",
		"https://token.actions.githubusercontent.com", sigstoretest.Statement(digest, sigstoreverify.CosignSignPredicateType))
	_, _ = sigstoretest.Attach(ctx, reg, "app", digest, bundle)

	// The consumer's side: the trusted root and the accepted identities.
	trustedRoot, err := sigstoreverify.ParseTrustedRoot(sigstore.TrustedRootJSON())
	if err != nil {
		fmt.Println(err)
		return
	}
	verifier, err := sigstoreverify.New(sigstoreverify.Options{
		TrustedRoot: trustedRoot,
		Identities: []sigstoreverify.Identity{{
			Subject: `^https://github\.com/org/app/\.github/workflows/release\.yaml@refs/tags/v.*$`,
			Issuer:  `^https://token\.actions\.githubusercontent\.com$`,
		}},
	})
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
