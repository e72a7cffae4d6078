package cluster

import (
	"errors"
	"fmt"

	"github.com/gitopskit/gitopskit/reconcile"
)

// Inventory returns the objects of the release's manifest (hooks and the
// chart's crds directory are not part of it) as reconcile's inventory,
// namespaced objects without a namespace in the release namespace: what
// Flux records in a HelmRelease's status.inventory.
func (c *Client) Inventory(rel *Release) (reconcile.Inventory, error) {
	if rel == nil {
		return reconcile.Inventory{}, errors.New("inventory: no release")
	}
	objs, err := c.manifestObjects(rel, false)
	if err != nil {
		return reconcile.Inventory{}, fmt.Errorf("inventory of %s: %w", rel.Name, err)
	}
	return reconcile.InventoryOf(objs), nil
}
