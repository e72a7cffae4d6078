package reconcile

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// minListGroup is the smallest number of objects of one kind in one
// namespace for which Apply lists them in one request instead of reading
// them one by one.
const minListGroup = 4

// noopCache remembers, per object, what was last applied and our
// server-side apply record of the live object at that time. While both are
// the same, a dry-run would find no drift: any write to a field we own
// moves its ownership and so changes our managed-fields entry (with its
// timestamp), a recreated object has a new UID, and a changed desired
// object has a new hash.
type noopCache struct {
	mu sync.Mutex
	m  map[string]noopRecord
}

// Memory holds what a Manager remembers of its applies so that unchanged
// objects are recognised without a dry-run (see Options.FullDryRun). A
// controller that builds a new Manager for every reconciliation can keep
// one Memory per owner and pass it in Options.Memory. The zero value is
// empty and ready to use; it is safe for concurrent use.
type Memory struct {
	cache noopCache
}

type noopRecord struct {
	desired, live [sha256.Size]byte
}

func (c *noopCache) get(id string) (noopRecord, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[id]
	return r, ok
}

func (c *noopCache) put(id string, r noopRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]noopRecord{}
	}
	c.m[id] = r
}

func (c *noopCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// hashDesired hashes the desired object together with the options that
// change what an apply does, so a Memory shared by Managers with
// different options never mixes their records.
func (m *Manager) hashDesired(o *unstructured.Unstructured) ([sha256.Size]byte, bool) {
	b, err := json.Marshal([]any{m.optsKey, o.Object})
	if err != nil {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256(b), true
}

// liveFingerprint hashes the parts of a live object that decide whether an
// apply of an unchanged desired object would write: its UID, our apply
// entry in managedFields, and the presence of the metadata that the apply
// cleans up (kubectl's managers and last-applied annotation).
func (m *Manager) liveFingerprint(live *unstructured.Unstructured) ([sha256.Size]byte, bool) {
	var parts []any
	parts = append(parts, string(live.GetUID()))
	var ours bool
	for _, mf := range live.GetManagedFields() {
		if mf.Subresource != "" {
			continue
		}
		if mf.Manager == m.opts.FieldManager && mf.Operation == metav1.ManagedFieldsOperationApply {
			ours = true
			parts = append(parts, mf)
			continue
		}
		if mf.Manager == "kubectl" || mf.Manager == "before-first-apply" || mf.Manager == m.opts.FieldManager {
			parts = append(parts, mf.Manager+"/"+string(mf.Operation))
		}
	}
	if !ours {
		return [sha256.Size]byte{}, false
	}
	_, lastApplied := live.GetAnnotations()[corev1.LastAppliedConfigAnnotation]
	parts = append(parts, lastApplied)
	b, err := json.Marshal(parts)
	if err != nil {
		return [sha256.Size]byte{}, false
	}
	return sha256.Sum256(b), true
}

// excludedFromFastPath reports whether the object's annotations ask for
// behaviour only the full apply path implements.
func excludedFromFastPath(o *unstructured.Unstructured) bool {
	if o.GroupVersionKind().Group == "apiextensions.k8s.io" {
		return true
	}
	for _, md := range []map[string]string{o.GetAnnotations(), o.GetLabels()} {
		if md[AnnotationSSA] != "" || md[AnnotationReconcile] != "" || md[AnnotationForce] != "" {
			return true
		}
	}
	return false
}

type groupKey struct {
	gvk schema.GroupVersionKind
	ns  string
}

// listExisting reads the live objects of large kind/namespace groups with
// one LIST each. The result maps object index to the live object (nil when
// absent); indexes of groups that were not listed are missing.
func (m *Manager) listExisting(ctx context.Context, objs []*unstructured.Unstructured) map[int]*unstructured.Unstructured {
	groups := map[groupKey][]int{}
	for i, o := range objs {
		if excludedFromFastPath(o) {
			continue
		}
		k := groupKey{gvk: o.GroupVersionKind(), ns: o.GetNamespace()}
		groups[k] = append(groups[k], i)
	}
	out := map[int]*unstructured.Unstructured{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for k, idx := range groups {
		if len(idx) < minListGroup {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
			var opts []client.ListOption
			if k.ns != "" {
				opts = append(opts, client.InNamespace(k.ns))
			}
			if err := m.c.List(ctx, list, opts...); err != nil {
				// Not allowed to list, unknown kind, ...: the full path
				// reads each object and reports precise errors.
				return
			}
			byName := make(map[string]*unstructured.Unstructured, len(list.Items))
			for i := range list.Items {
				byName[list.Items[i].GetName()] = &list.Items[i]
			}
			mu.Lock()
			defer mu.Unlock()
			for _, i := range idx {
				out[i] = byName[objs[i].GetName()]
			}
		}()
	}
	wg.Wait()
	return out
}

// fastApply handles an object whose live state was listed: absent objects
// are created with one server-side apply request, objects unchanged since
// this Manager last applied them are reported without any request. It
// returns ok=false when the full path must handle the object.
func (m *Manager) fastApply(ctx context.Context, o, live *unstructured.Unstructured) (ChangeSetEntry, bool, error) {
	ref := RefOf(o)
	desired, hashed := m.hashDesired(o)
	if !hashed {
		return ChangeSetEntry{}, false, nil
	}
	if live != nil {
		rec, ok := m.memory.cache.get(ref.ID())
		fp, fpOK := m.liveFingerprint(live)
		if ok && fpOK && rec.desired == desired && rec.live == fp {
			return ChangeSetEntry{Ref: ref, Action: Unchanged}, true, nil
		}
		return ChangeSetEntry{}, false, nil
	}
	applied := o.DeepCopy()
	err := m.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), client.ForceOwnership, client.FieldOwner(m.opts.FieldManager))
	if err != nil {
		if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
			return ChangeSetEntry{}, false, nil
		}
		return ChangeSetEntry{}, true, &ApplyError{Ref: ref, Err: wrapApply(ref, err)}
	}
	m.remember(ref, desired, applied)
	return ChangeSetEntry{Ref: ref, Action: Created}, true, nil
}

func (m *Manager) remember(ref ObjectRef, desired [sha256.Size]byte, live *unstructured.Unstructured) {
	if fp, ok := m.liveFingerprint(live); ok {
		m.memory.cache.put(ref.ID(), noopRecord{desired: desired, live: fp})
	} else {
		m.memory.cache.forget(ref.ID())
	}
}

type applyErr struct {
	ref ObjectRef
	err error
}

func (e *applyErr) Error() string {
	msg := e.err.Error()
	if strings.Contains(msg, e.ref.String()) {
		return msg
	}
	return e.ref.String() + " apply failed: " + msg
}

func (e *applyErr) Unwrap() error { return e.err }

func wrapApply(ref ObjectRef, err error) error { return &applyErr{ref: ref, err: err} }

// newToOwner reports whether o is, as far as the owner knows, not in the
// cluster yet: it is not in the owner's previous inventory (known, by
// entry ID) and this Manager's Memory has no record of it.
func (m *Manager) newToOwner(o *unstructured.Unstructured, known map[string]bool) bool {
	id := RefOf(o).ID()
	if known[id] {
		return false
	}
	_, remembered := m.memory.cache.get(id)
	return !remembered
}

// createBlind applies an object new to its owner with one request, without
// reading it first, and reports Created when the response shows the apply
// created it: our apply entry is the only field manager and was written
// when the object was (within the second). Otherwise (the object existed: adopted from
// another owner or tool, or the apply failed) it returns ok=false and the
// full path takes over: it cleans up what other tools left and reports
// precise errors. existed says the apply went through to an object that
// was there: it changed it unless the object was already ours and
// identical, so the caller reports such an object Configured rather than
// Unchanged.
func (m *Manager) createBlind(ctx context.Context, o *unstructured.Unstructured) (e ChangeSetEntry, ok, existed bool) {
	ref := RefOf(o)
	desired, hashed := m.hashDesired(o)
	if !hashed {
		return ChangeSetEntry{}, false, false
	}
	applied := o.DeepCopy()
	err := m.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), client.ForceOwnership, client.FieldOwner(m.opts.FieldManager))
	if err != nil {
		return ChangeSetEntry{}, false, false
	}
	if !m.createdByApply(applied) {
		return ChangeSetEntry{}, false, true
	}
	m.remember(ref, desired, applied)
	return ChangeSetEntry{Ref: ref, Action: Created}, true, false
}

// createdByApply reports whether live, as returned by our apply, was
// created by it: our apply entry is its only field manager and carries
// the object's creation time.
func (m *Manager) createdByApply(live *unstructured.Unstructured) bool {
	mf := live.GetManagedFields()
	if len(mf) != 1 || mf[0].Manager != m.opts.FieldManager || mf[0].Operation != metav1.ManagedFieldsOperationApply || mf[0].Time == nil {
		return false
	}
	// Both are taken in the same request, but each on its own reading
	// of the clock, at one-second resolution.
	d := mf[0].Time.Sub(live.GetCreationTimestamp().Time)
	return d >= 0 && d <= time.Second
}
