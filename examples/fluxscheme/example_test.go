package fluxscheme_test

import (
	"fmt"

	"github.com/gitopskit/gitopskit/examples/fluxscheme"
)

// Example checks that the scheme knows Flux's GitRepository kind.
func Example() {
	s, err := fluxscheme.New()
	if err != nil {
		panic(err)
	}
	for gvk := range s.AllKnownTypes() {
		if gvk.Kind == "GitRepository" && gvk.Version == "v1" {
			fmt.Println(gvk.Group)
		}
	}
	// Output: source.toolkit.fluxcd.io
}
