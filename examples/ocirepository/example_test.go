package ocirepository_test

import (
	"fmt"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/gitopskit/gitopskit/examples/ocirepository"
)

// The spec of an OCIRepository maps to an oci.Repository; credentials,
// TLS and proxy come from its Secrets, and what is not implemented is
// refused by name.
func ExampleRepository() {
	spec := sourcev1.OCIRepositorySpec{
		URL:       "oci://ghcr.io/stefanprodan/manifests/podinfo",
		Reference: &sourcev1.OCIRepositoryRef{SemVer: ">=6.0.0", Tag: "latest"},
		Verify:    &sourcev1.OCIRepositoryVerification{Provider: "notation"},
	}
	repo := ocirepository.Repository(spec)
	fmt.Println(repo.URL, repo.Ref.SemVer)
	fmt.Println(ocirepository.Unsupported(spec))
	// Output:
	// oci://ghcr.io/stefanprodan/manifests/podinfo >=6.0.0
	// spec.verify provider 'notation' is not supported yet: use 'cosign'
}
