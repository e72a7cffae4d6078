package fluxscheme_test

import (
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"

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

// ExampleWatchByObject filters one controller's kind by a shard's label
// selector, as Flux's --watch-label-selector flag does; the map goes into
// ctrl.Options{Cache: cache.Options{ByObject: byObject}}.
func ExampleWatchByObject() {
	byObject, err := fluxscheme.WatchByObject("sharding.fluxcd.io/key=shard1", &kustomizev1.Kustomization{})
	if err != nil {
		panic(err)
	}
	for obj, b := range byObject {
		fmt.Printf("%T: %s\n", obj, b.Label)
	}
	_, err = fluxscheme.WatchByObject("sharding.fluxcd.io/key in shard1")
	fmt.Println(err != nil)
	// Output:
	// *v1.Kustomization: sharding.fluxcd.io/key=shard1
	// true
}
