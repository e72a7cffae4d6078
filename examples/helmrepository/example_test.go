package helmrepository_test

import (
	"fmt"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/gitopskit/gitopskit/examples/helmrepository"
)

// The URL of a HelmRepository must fit its type; an OCI one is static.
func ExampleCheckURL() {
	for _, spec := range []sourcev1.HelmRepositorySpec{
		{URL: "https://stefanprodan.github.io/podinfo"},
		{URL: "oci://ghcr.io/stefanprodan/charts"},
		{URL: "oci://ghcr.io/stefanprodan/charts", Type: sourcev1.HelmRepositoryTypeOCI},
	} {
		fmt.Println(helmrepository.IsOCI(spec), helmrepository.CheckURL(spec))
	}
	fmt.Println(helmrepository.HumanSize(1234567))
	// Output:
	// false <nil>
	// false invalid Helm repository URL: 'oci' URL scheme cannot be used with 'default' HelmRepository type
	// true <nil>
	// 1.235MB
}
