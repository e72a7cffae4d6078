package reconciletest_test

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitopskit/gitopskit/reconcile"
	"github.com/gitopskit/gitopskit/reconcile/reconciletest"
)

func configMap(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace("default")
	u.SetName(name)
	_ = unstructured.SetNestedField(u.Object, "v", "data", "k")
	return u
}

// Example syncs two objects, re-syncs them (nothing changes), drops one
// (it is pruned) and waits for the rest to be healthy, against a real API
// server.
func Example() {
	ctx := context.Background()
	env, err := reconciletest.Start(ctx, reconciletest.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer env.Stop()

	m, err := reconcile.NewManager(env.Client, reconcile.Options{
		Owner: reconcile.Owner{Name: "example", Namespace: "default"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var inv reconcile.Inventory
	for _, objs := range [][]*unstructured.Unstructured{
		{configMap("a"), configMap("b")}, // first sync: both created
		{configMap("a"), configMap("b")}, // re-sync: both unchanged
		{configMap("a")},                 // b is gone from the set: pruned
	} {
		res, err := m.Sync(ctx, objs, inv, reconcile.SyncOptions{Prune: true})
		if err != nil {
			fmt.Println(err)
			return
		}
		inv = res.Inventory
		for _, e := range res.ChangeSet.Entries {
			fmt.Println(e)
		}
	}
	fmt.Println("healthy:", m.Wait(ctx, inv, reconcile.WaitOptions{}) == nil)
	// Output:
	// ConfigMap/default/a created
	// ConfigMap/default/b created
	// ConfigMap/default/a unchanged
	// ConfigMap/default/b unchanged
	// ConfigMap/default/a unchanged
	// ConfigMap/default/b deleted
	// healthy: true
}
