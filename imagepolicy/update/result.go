package update

import (
	"maps"
	"slices"
)

// ObjectIdentifier names the object a change was made in, as Flux's
// result does (its fields are those of kyaml's ResourceIdentifier, so a
// template's {{ .Kind }} or {{ .Name }} works unchanged). Documents without
// identity (a values file) have the zero value.
type ObjectIdentifier struct {
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
}

// Change is one field rewritten.
type Change struct {
	// OldValue and NewValue are the field's values before and after.
	OldValue string
	NewValue string
	// Setter is the marker's name: "ns:name", "ns:name:tag", ….
	Setter string
}

// ObjectChanges holds the changes made in each object.
type ObjectChanges map[ObjectIdentifier][]Change

// Result is what Apply changed: file (slash-separated, relative to the
// update path) → object → changes, as Flux's update result.
type Result struct {
	// FileChanges holds the changes by file and object.
	FileChanges map[string]ObjectChanges
	// ProblemFiles are files that contain a marker but do not parse as
	// YAML; they are left as they are (Flux skips them too).
	ProblemFiles []string
	// Skipped are markers whose value could not be replaced in place.
	Skipped []SkippedMarker
}

// SkippedMarker is a marked field that was left alone.
type SkippedMarker struct {
	// File is the file, as in FileChanges; Line is 1-based.
	File string
	Line int
	// Setter is the marker's name.
	Setter string
	// Reason says why.
	Reason string
}

// AddChange records changes for a file and object.
func (r *Result) AddChange(file string, id ObjectIdentifier, changes ...Change) {
	if r.FileChanges == nil {
		r.FileChanges = map[string]ObjectChanges{}
	}
	if r.FileChanges[file] == nil {
		r.FileChanges[file] = ObjectChanges{}
	}
	r.FileChanges[file][id] = append(r.FileChanges[file][id], changes...)
}

// Changed reports whether any file was changed.
func (r Result) Changed() bool { return len(r.FileChanges) > 0 }

// Files returns the changed files, sorted.
func (r Result) Files() []string { return slices.Sorted(maps.Keys(r.FileChanges)) }

// Changes returns every distinct change, in file order then object order.
func (r Result) Changes() []Change {
	seen := map[Change]bool{}
	var out []Change
	for _, f := range r.Files() {
		objs := r.FileChanges[f]
		for _, id := range sortedIDs(objs) {
			for _, c := range objs[id] {
				if !seen[c] {
					seen[c] = true
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// Objects returns the changes by object, whatever file they are in.
func (r Result) Objects() ObjectChanges {
	out := ObjectChanges{}
	for _, f := range r.Files() {
		objs := r.FileChanges[f]
		for _, id := range sortedIDs(objs) {
			out[id] = append(out[id], objs[id]...)
		}
	}
	return out
}

func sortedIDs(m ObjectChanges) []ObjectIdentifier {
	ids := slices.Collect(maps.Keys(m))
	slices.SortFunc(ids, func(a, b ObjectIdentifier) int {
		for _, p := range [][2]string{{a.Namespace, b.Namespace}, {a.Kind, b.Kind}, {a.Name, b.Name}, {a.APIVersion, b.APIVersion}} {
			if p[0] != p[1] {
				if p[0] < p[1] {
					return -1
				}
				return 1
			}
		}
		return 0
	})
	return ids
}
