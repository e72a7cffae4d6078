package reconcile

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ObjectRef identifies one Kubernetes object: its group, version and kind
// plus namespace (empty for cluster-scoped objects) and name.
type ObjectRef struct {
	Group     string
	Version   string
	Kind      string
	Namespace string
	Name      string
}

// RefOf returns the reference of an object.
func RefOf(u *unstructured.Unstructured) ObjectRef {
	gvk := u.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// ID returns the inventory identifier in Flux's format
// <namespace>_<name>_<group>_<kind> (a ':' in the name is written "__").
func (r ObjectRef) ID() string {
	return r.objMetadata().String()
}

// String returns Kind/namespace/name, or Kind/name for cluster-scoped
// objects, the subject format of Flux's events.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// GroupVersionKind returns the reference's GVK.
func (r ObjectRef) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// Unstructured returns an empty object carrying only the reference's
// apiVersion, kind, namespace and name, for Get and Delete calls.
func (r ObjectRef) Unstructured() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(r.GroupVersionKind())
	u.SetNamespace(r.Namespace)
	u.SetName(r.Name)
	return u
}

func (r ObjectRef) objMetadata() object.ObjMetadata {
	return object.ObjMetadata{Namespace: r.Namespace, Name: r.Name, GroupKind: schema.GroupKind{Group: r.Group, Kind: r.Kind}}
}

// InventoryEntry is one record of an Inventory, in Flux's ResourceRef format.
type InventoryEntry struct {
	// ID is <namespace>_<name>_<group>_<kind>.
	ID string `json:"id"`
	// Version is the API version of the object's kind (v1, v1beta2, ...).
	Version string `json:"v"`
}

// Ref parses the entry into an ObjectRef.
func (e InventoryEntry) Ref() (ObjectRef, error) {
	m, err := object.ParseObjMetadata(e.ID)
	if err != nil {
		return ObjectRef{}, fmt.Errorf("inventory entry %q: %w", e.ID, err)
	}
	if m.Name == "" || m.GroupKind.Kind == "" {
		return ObjectRef{}, fmt.Errorf("inventory entry %q: name and kind must not be empty", e.ID)
	}
	if e.Version == "" {
		return ObjectRef{}, fmt.Errorf("inventory entry %q: version must not be empty", e.ID)
	}
	return ObjectRef{Group: m.GroupKind.Group, Version: e.Version, Kind: m.GroupKind.Kind, Namespace: m.Namespace, Name: m.Name}, nil
}

// Inventory is the set of objects a reconciler manages, in Flux's
// ResourceInventory format. Entries are kept sorted by ID, each ID once.
// The zero value is an empty inventory.
type Inventory struct {
	Entries []InventoryEntry `json:"entries"`
}

// NewInventory returns an inventory of refs; when an ID appears twice the
// later version wins.
func NewInventory(refs ...ObjectRef) Inventory {
	entries := make([]InventoryEntry, 0, len(refs))
	for _, r := range refs {
		entries = append(entries, InventoryEntry{ID: r.ID(), Version: r.Version})
	}
	return normalize(entries)
}

// InventoryOf returns the inventory of a set of objects.
func InventoryOf(objs []*unstructured.Unstructured) Inventory {
	refs := make([]ObjectRef, 0, len(objs))
	for _, o := range objs {
		refs = append(refs, RefOf(o))
	}
	return NewInventory(refs...)
}

func normalize(entries []InventoryEntry) Inventory {
	idx := make(map[string]int, len(entries))
	out := make([]InventoryEntry, 0, len(entries))
	for _, e := range entries {
		if i, ok := idx[e.ID]; ok {
			out[i] = e
			continue
		}
		idx[e.ID] = len(out)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return Inventory{Entries: out}
}

// Len returns the number of entries.
func (inv Inventory) Len() int { return len(inv.Entries) }

// Contains reports whether the inventory holds the object, whatever its version.
func (inv Inventory) Contains(r ObjectRef) bool {
	id := r.ID()
	for _, e := range inv.Entries {
		if e.ID == id {
			return true
		}
	}
	return false
}

// Refs parses every entry. The first malformed entry is reported.
func (inv Inventory) Refs() ([]ObjectRef, error) {
	out := make([]ObjectRef, 0, len(inv.Entries))
	for _, e := range inv.Entries {
		r, err := e.Ref()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Union returns the entries of both inventories; for an ID in both, other's
// version wins.
func (inv Inventory) Union(other Inventory) Inventory {
	all := make([]InventoryEntry, 0, len(inv.Entries)+len(other.Entries))
	all = append(all, inv.Entries...)
	all = append(all, other.Entries...)
	return normalize(all)
}

// Stale returns the entries of inv (the previous inventory) whose objects
// are absent from next: the objects to prune. Identity ignores the version,
// so an object moving from v1beta1 to v1 is not stale.
func (inv Inventory) Stale(next Inventory) Inventory {
	keep := make(map[string]struct{}, len(next.Entries))
	for _, e := range next.Entries {
		keep[e.ID] = struct{}{}
	}
	var out []InventoryEntry
	for _, e := range inv.Entries {
		if _, ok := keep[e.ID]; !ok {
			out = append(out, e)
		}
	}
	return normalize(out)
}

// String lists the IDs, comma separated.
func (inv Inventory) String() string {
	ids := make([]string, len(inv.Entries))
	for i, e := range inv.Entries {
		ids[i] = e.ID
	}
	return strings.Join(ids, ",")
}
