package helmrelease

import (
	"context"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gitopskit/gitopskit/helmrelease/cluster"
	"github.com/gitopskit/gitopskit/reconcile"
)

// Inventory converts reconcile's inventory to Flux's
// status.inventory (entries "<namespace>_<name>_<group>_<kind>" with the
// API version); an empty inventory is an empty list, as Flux writes it.
func Inventory(inv reconcile.Inventory) *helmv2.ResourceInventory {
	out := &helmv2.ResourceInventory{Entries: make([]helmv2.ResourceRef, 0, len(inv.Entries))}
	for _, e := range inv.Entries {
		out.Entries = append(out.Entries, helmv2.ResourceRef{ID: e.ID, Version: e.Version})
	}
	return out
}

// updateInventory sets status.inventory to the objects of rel, the latest
// release; no release clears it. A manifest that cannot be mapped keeps
// the previous inventory and is logged: the release itself is not at
// fault.
func updateInventory(ctx context.Context, c *cluster.Client, obj *helmv2.HelmRelease, rel *cluster.Release) {
	if rel == nil {
		obj.Status.Inventory = nil
		return
	}
	inv, err := c.Inventory(rel)
	if err != nil {
		logf.FromContext(ctx).Error(err, "building the inventory", "release", rel.Name, "revision", rel.Revision)
		return
	}
	obj.Status.Inventory = Inventory(inv)
}
