package reconcile

import (
	"sort"
	"strings"
)

// Action says what happened to one object.
type Action string

// The actions of a ChangeSet, with Flux's wording.
const (
	// Created: the object did not exist and was created.
	Created Action = "created"
	// Configured: the object existed and drifted; it was updated.
	Configured Action = "configured"
	// Unchanged: the object already matched; nothing was written.
	Unchanged Action = "unchanged"
	// Deleted: the object was deleted (or was already gone).
	Deleted Action = "deleted"
	// Skipped: the object was left alone by policy (ssa: Ignore or
	// IfNotPresent, prune: disabled, not owned by us).
	Skipped Action = "skipped"
)

// ChangeSetEntry is the result for one object.
type ChangeSetEntry struct {
	// Ref identifies the object.
	Ref ObjectRef
	// Action is what was done.
	Action Action
	// Reason explains a Skipped entry; empty otherwise.
	Reason string
	// NotPresent marks a Skipped object that does not exist in the
	// cluster (ssa: Ignore before it was ever created); Inventory leaves
	// it out.
	NotPresent bool
}

// String returns "Kind/namespace/name action".
func (e ChangeSetEntry) String() string {
	return e.Ref.String() + " " + string(e.Action)
}

// ChangeSet is the typed result of Apply, Prune and Sync: one entry per
// object processed, in processing order.
type ChangeSet struct {
	Entries []ChangeSetEntry
}

// Add appends entries.
func (cs *ChangeSet) Add(e ...ChangeSetEntry) { cs.Entries = append(cs.Entries, e...) }

// Len returns the number of entries.
func (cs ChangeSet) Len() int { return len(cs.Entries) }

// Changed reports whether any object was created, configured or deleted.
func (cs ChangeSet) Changed() bool {
	for _, e := range cs.Entries {
		switch e.Action {
		case Created, Configured, Deleted:
			return true
		}
	}
	return false
}

// Count returns how many entries have each action.
func (cs ChangeSet) Count() map[Action]int {
	m := map[Action]int{}
	for _, e := range cs.Entries {
		m[e.Action]++
	}
	return m
}

// Filter returns the entries whose action is one of actions.
func (cs ChangeSet) Filter(actions ...Action) []ChangeSetEntry {
	var out []ChangeSetEntry
	for _, e := range cs.Entries {
		for _, a := range actions {
			if e.Action == a {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// Inventory returns the objects that exist after this change set: every
// entry except deleted ones and skipped ones that are not present.
func (cs ChangeSet) Inventory() Inventory {
	var refs []ObjectRef
	for _, e := range cs.Entries {
		if e.Action != Deleted && !e.NotPresent {
			refs = append(refs, e.Ref)
		}
	}
	return NewInventory(refs...)
}

// String returns one "Kind/namespace/name action" line per created,
// configured or deleted entry, sorted: the message of Flux's change events.
func (cs ChangeSet) String() string {
	var lines []string
	for _, e := range cs.Filter(Created, Configured, Deleted) {
		lines = append(lines, e.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
