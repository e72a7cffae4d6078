package selector_test

import (
	"fmt"

	"github.com/gitopskit/gitopskit/selector"
)

// Example selects the Deployments of one namespace that carry a label.
func Example() {
	s := selector.Selector{Group: "apps", Kind: "Deployment", Namespace: "shop", LabelSelector: "tier=frontend"}
	fmt.Println(s.IsZero(), selector.Selector{}.IsZero())
	// Output: false true
}
