package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// PruneError reports deletions that failed. Remaining holds their entries:
// they still exist, so they must stay in the stored inventory.
type PruneError struct {
	Remaining Inventory
	Errs      []error
}

// Error counts the objects that could not be deleted and gives each failure.
func (e *PruneError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return fmt.Sprintf("prune failed for %d object(s): %s", len(e.Errs), strings.Join(msgs, "; "))
}

// Unwrap returns the individual failures.
func (e *PruneError) Unwrap() []error { return e.Errs }

// Prune deletes the objects of old that are absent from next. An object is
// deleted only when it carries this Manager's owner labels; objects labelled
// or annotated kustomize.toolkit.fluxcd.io/prune: disabled, and objects
// owned by someone else, are Skipped (with a Reason). Objects already gone
// count as Deleted. Failed deletions give a *PruneError whose Remaining
// inventory must be kept. Deletion propagates in the background.
func (m *Manager) Prune(ctx context.Context, old, next Inventory) (ChangeSet, error) {
	return m.deleteInventory(ctx, old.Stale(next))
}

func (m *Manager) deleteInventory(ctx context.Context, inv Inventory) (ChangeSet, error) {
	var cs ChangeSet
	owner := m.OwnerLabels()
	if owner == nil {
		return cs, ErrNoOwner
	}
	refs, err := inv.Refs()
	if err != nil {
		return cs, err
	}
	objs := make([]*unstructured.Unstructured, len(refs))
	for i, r := range refs {
		objs[i] = r.Unstructured()
	}
	// Dependents before what they depend on: reverse apply order.
	sort.Sort(sort.Reverse(ssa.SortableUnstructureds(objs)))
	entries := make([]ChangeSetEntry, len(objs))
	errs := make([]error, len(objs))
	sem := make(chan struct{}, m.opts.Concurrency)
	var wg sync.WaitGroup
	for i, o := range objs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			entries[i], errs[i] = m.deleteOne(ctx, o, owner)
		}()
	}
	wg.Wait()
	var remaining []ObjectRef
	var failed []error
	for i, e := range entries {
		if errs[i] != nil {
			remaining = append(remaining, RefOf(objs[i]))
			failed = append(failed, errs[i])
			continue
		}
		cs.Add(e)
	}
	if len(failed) > 0 {
		return cs, &PruneError{Remaining: NewInventory(remaining...), Errs: failed}
	}
	return cs, nil
}

func (m *Manager) deleteOne(ctx context.Context, o *unstructured.Unstructured, owner map[string]string) (ChangeSetEntry, error) {
	ref := RefOf(o)
	entry := ChangeSetEntry{Ref: ref, Action: Deleted}
	m.memory.cache.forget(ref.ID())
	m.applied.forget(ref.ID())
	live := ref.Unstructured()
	if err := m.c.Get(ctx, client.ObjectKeyFromObject(o), live); err != nil {
		if apierrors.IsNotFound(err) {
			return entry, nil
		}
		return entry, fmt.Errorf("%s: reading before delete: %w", ref, err)
	}
	labels, ann := live.GetLabels(), live.GetAnnotations()
	if strings.EqualFold(labels[AnnotationPrune], Disabled) || strings.EqualFold(ann[AnnotationPrune], Disabled) {
		entry.Action, entry.Reason = Skipped, AnnotationPrune+": "+Disabled
		return entry, nil
	}
	for k, v := range owner {
		if labels[k] != v {
			entry.Action, entry.Reason = Skipped, fmt.Sprintf("not owned by %s/%s (label %s is %q)", m.opts.Owner.Namespace, m.opts.Owner.Name, k, labels[k])
			return entry, nil
		}
	}
	if !live.GetDeletionTimestamp().IsZero() {
		return entry, nil
	}
	uid := live.GetUID()
	err := m.c.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid})
	if err != nil && !apierrors.IsNotFound(err) {
		return entry, fmt.Errorf("%s: delete failed: %w", ref, err)
	}
	return entry, nil
}

// DeletionPolicy is Flux's Kustomization spec.deletionPolicy: what happens
// to the inventory when its owner is deleted.
type DeletionPolicy string

// Flux's deletion policies.
const (
	// MirrorPrune deletes the objects when pruning is enabled (the default).
	MirrorPrune DeletionPolicy = "MirrorPrune"
	// Delete deletes the objects whatever the prune setting.
	Delete DeletionPolicy = "Delete"
	// WaitForTermination deletes the objects and waits until they are gone.
	WaitForTermination DeletionPolicy = "WaitForTermination"
	// Orphan leaves the objects in the cluster.
	Orphan DeletionPolicy = "Orphan"
)

// FinalizeOptions configures Finalize. The zero value is MirrorPrune with
// pruning disabled, which deletes nothing.
type FinalizeOptions struct {
	// Policy is the deletion policy; "" means MirrorPrune.
	Policy DeletionPolicy
	// Prune is the owner's prune setting, consulted by MirrorPrune.
	Prune bool
	// Timeout bounds WaitForTermination; 0 means five minutes.
	Timeout time.Duration
}

// Finalize handles the inventory of an owner being deleted, according to
// the deletion policy. The same ownership and prune-disabled rules as
// Prune apply.
func (m *Manager) Finalize(ctx context.Context, inv Inventory, opts FinalizeOptions) (ChangeSet, error) {
	switch opts.Policy {
	case "", MirrorPrune:
		if !opts.Prune {
			return ChangeSet{}, nil
		}
	case Delete, WaitForTermination:
	case Orphan:
		return ChangeSet{}, nil
	default:
		return ChangeSet{}, fmt.Errorf("reconcile: unknown deletion policy %q (want MirrorPrune, Delete, WaitForTermination or Orphan)", opts.Policy)
	}
	cs, err := m.deleteInventory(ctx, inv)
	if err != nil || opts.Policy != WaitForTermination {
		return cs, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, e := range cs.Filter(Deleted) {
		o := e.Ref.Unstructured()
		err := wait.PollUntilContextCancel(wctx, m.opts.PollInterval, true, func(ctx context.Context) (bool, error) {
			err := m.c.Get(ctx, client.ObjectKeyFromObject(o), o.DeepCopy())
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
		if err != nil {
			return cs, fmt.Errorf("waiting for %s to terminate: %w", e.Ref, err)
		}
	}
	return cs, nil
}

// SyncOptions configures Sync. The zero value applies without pruning.
type SyncOptions struct {
	// Prune deletes objects of the previous inventory that are gone from
	// the new set.
	Prune bool
}

// SyncResult is what Sync did and the inventory to store.
type SyncResult struct {
	// ChangeSet has the apply entries followed by the prune entries.
	ChangeSet ChangeSet
	// Inventory describes exactly what exists and is ours, also when Sync
	// fails: store it in the owner's status whatever the error.
	Inventory Inventory
}

// Sync is the reconciler's main call: Apply objs, then (with Prune) delete
// what left the previous inventory. When the apply fails part way, nothing
// is pruned and the inventory is the previous one plus what was applied;
// when some deletions fail, they stay in the inventory.
func (m *Manager) Sync(ctx context.Context, objs []*unstructured.Unstructured, previous Inventory, opts SyncOptions) (SyncResult, error) {
	cs, err := m.apply(ctx, objs, &previous)
	if err != nil {
		return SyncResult{ChangeSet: cs, Inventory: previous.Union(cs.Inventory())}, err
	}
	next := cs.Inventory()
	if !opts.Prune {
		return SyncResult{ChangeSet: cs, Inventory: next}, nil
	}
	pcs, err := m.Prune(ctx, previous, next)
	cs.Add(pcs.Entries...)
	if err != nil {
		var pe *PruneError
		if errors.As(err, &pe) {
			next = next.Union(pe.Remaining)
		} else {
			next = next.Union(previous.Stale(next))
		}
		return SyncResult{ChangeSet: cs, Inventory: next}, err
	}
	return SyncResult{ChangeSet: cs, Inventory: next}, nil
}
