package reconcile_test

import (
	"fmt"
	"time"

	"github.com/gitopskit/gitopskit/reconcile"
)

// Prune candidates are the previous inventory's entries missing from the
// next one.
func ExampleInventory_Stale() {
	web := reconcile.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"}
	cfg := reconcile.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "web-config"}
	previous := reconcile.NewInventory(web, cfg)
	next := reconcile.NewInventory(web)
	for _, e := range previous.Stale(next).Entries {
		fmt.Println(e.ID, e.Version)
	}
	// Output: shop_web-config__ConfigMap v1
}

func ExampleNewGraph() {
	g, err := reconcile.NewGraph([]reconcile.Unit{
		{Ref: reconcile.UnitRef{Namespace: "flux-system", Name: "apps"}, DependsOn: []reconcile.Dependency{{Ref: reconcile.UnitRef{Name: "infra"}}}},
		{Ref: reconcile.UnitRef{Namespace: "flux-system", Name: "infra"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.Order())
	_, err = reconcile.NewGraph([]reconcile.Unit{
		{Ref: reconcile.UnitRef{Namespace: "n", Name: "a"}, DependsOn: []reconcile.Dependency{{Ref: reconcile.UnitRef{Name: "b"}}}},
		{Ref: reconcile.UnitRef{Namespace: "n", Name: "b"}, DependsOn: []reconcile.Dependency{{Ref: reconcile.UnitRef{Name: "a"}}}},
	})
	fmt.Println(err)
	// Output:
	// [flux-system/infra flux-system/apps]
	// dependency cycle: n/a -> n/b -> n/a
}

func ExampleRequeuePolicy() {
	p := reconcile.RequeuePolicy{Interval: 10 * time.Minute, RetryInterval: 30 * time.Second, MaxRetryInterval: 5 * time.Minute}
	for _, failures := range []int{0, 1, 2, 3, 6} {
		fmt.Println(failures, p.After(failures))
	}
	// Output:
	// 0 10m0s
	// 1 30s
	// 2 1m0s
	// 3 2m0s
	// 6 5m0s
}
