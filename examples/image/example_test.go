package image_test

import (
	"fmt"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/acl"

	"github.com/gitopskit/gitopskit/examples/image"
	"github.com/gitopskit/gitopskit/imagepolicy"
)

// An ImagePolicy's spec maps to an imagepolicy.Policy, which selects
// among the scanned tags; an ImageRepository's accessFrom decides which
// other namespaces' policies may read its tags.
func ExamplePolicy() {
	spec := imagev1.ImagePolicySpec{
		Policy:     imagev1.ImagePolicyChoice{SemVer: &imagev1.SemVerPolicy{Range: "1.x"}},
		FilterTags: &imagev1.TagFilter{Pattern: `^v(?P<version>.*)$`, Extract: "$version"},
	}
	p, err := image.Policy(spec)
	if err != nil {
		fmt.Println(err)
		return
	}
	tag, err := imagepolicy.Select(p, []string{"v1.0.0", "v1.2.0", "v2.0.0", "1.9.0"})
	fmt.Println(p.Kind(), tag, err)

	from := &acl.AccessFrom{NamespaceSelectors: []acl.NamespaceSelector{{MatchLabels: map[string]string{"team": "web"}}}}
	fmt.Println(image.AccessAllowed(from, map[string]string{"team": "web", "env": "prod"}))
	fmt.Println(image.AccessAllowed(from, map[string]string{"team": "db"}))
	fmt.Println(image.AccessAllowed(nil, map[string]string{"team": "web"}))
	// Output:
	// semver v1.2.0 <nil>
	// true
	// false
	// false
}
