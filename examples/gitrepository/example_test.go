package gitrepository_test

import (
	"fmt"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/gitopskit/gitopskit/examples/gitrepository"
)

// ExampleRepository maps a GitRepository spec to the git source that
// fetches it.
func ExampleRepository() {
	spec := sourcev1.GitRepositorySpec{
		URL:            "https://example.com/fleet.git",
		Reference:      &sourcev1.GitRepositoryRef{SemVer: ">=1.0.0 <2.0.0"},
		SparseCheckout: []string{"clusters/prod"},
	}
	repo := gitrepository.Repository(spec)
	fmt.Println(repo.URL, repo.Ref.SemVer, repo.SparseCheckout)
	// Output:
	// https://example.com/fleet.git >=1.0.0 <2.0.0 [clusters/prod]
}
