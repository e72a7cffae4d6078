package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// UnitRef names a unit of reconciliation (a Kustomization, a HelmRelease,
// ...) by namespace and name.
type UnitRef struct {
	Namespace string
	Name      string
}

// String returns namespace/name.
func (r UnitRef) String() string { return r.Namespace + "/" + r.Name }

// Dependency is one entry of a unit's dependsOn (Flux's DependencyReference).
type Dependency struct {
	// Ref is the unit depended upon; an empty namespace means the
	// dependent unit's own namespace.
	Ref UnitRef
	// ReadyExpr, when set, is a CEL expression over `self` (the dependent
	// object) and `dep` (the dependency) that replaces the built-in
	// readiness check.
	ReadyExpr string
	// Kind is the kind of the unit depended upon when it differs from the
	// dependent's (a cross-kind dependency, see DependsOnAnnotation); ""
	// means the dependent's own kind.
	Kind string
}

// Unit is a node of a dependency Graph.
type Unit struct {
	Ref       UnitRef
	DependsOn []Dependency
}

// CycleError reports a dependency cycle; Cycle starts and ends with the
// same unit.
type CycleError struct {
	Cycle []UnitRef
}

// Error names the units of the cycle in order.
func (e *CycleError) Error() string {
	parts := make([]string, len(e.Cycle))
	for i, r := range e.Cycle {
		parts[i] = r.String()
	}
	return "dependency cycle: " + strings.Join(parts, " -> ")
}

// Graph is a validated set of units and their dependencies. Dependencies on
// units outside the graph are allowed (they are checked for readiness, not
// ordered).
type Graph struct {
	units map[UnitRef]Unit
	order []UnitRef
}

// NewGraph builds the graph, defaulting dependency namespaces, and rejects
// duplicate units, empty names, self-dependencies and cycles (a
// *CycleError naming the cycle).
func NewGraph(units []Unit) (*Graph, error) {
	g := &Graph{units: make(map[UnitRef]Unit, len(units))}
	for _, u := range units {
		if u.Ref.Name == "" {
			return nil, errors.New("dependency graph: unit with an empty name")
		}
		if _, dup := g.units[u.Ref]; dup {
			return nil, fmt.Errorf("dependency graph: unit %s listed twice", u.Ref)
		}
		deps := make([]Dependency, 0, len(u.DependsOn))
		for _, d := range u.DependsOn {
			if d.Ref.Name == "" {
				return nil, fmt.Errorf("dependency graph: unit %s has a dependency with an empty name", u.Ref)
			}
			if d.Ref.Namespace == "" {
				d.Ref.Namespace = u.Ref.Namespace
			}
			deps = append(deps, d)
		}
		u.DependsOn = deps
		g.units[u.Ref] = u
	}
	order, err := g.topo()
	if err != nil {
		return nil, err
	}
	g.order = order
	return g, nil
}

// Order returns every unit, dependencies before their dependents; ties are
// broken by namespace/name so the order is stable.
func (g *Graph) Order() []UnitRef { return append([]UnitRef(nil), g.order...) }

// DependsOn returns the unit's dependencies with namespaces defaulted.
func (g *Graph) DependsOn(r UnitRef) []Dependency {
	return append([]Dependency(nil), g.units[r].DependsOn...)
}

// Dependents returns the units that depend directly on r, sorted.
func (g *Graph) Dependents(r UnitRef) []UnitRef {
	var out []UnitRef
	for _, u := range g.units {
		for _, d := range u.DependsOn {
			if d.Ref == r {
				out = append(out, u.Ref)
				break
			}
		}
	}
	sortRefs(out)
	return out
}

func sortRefs(rs []UnitRef) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].String() < rs[j].String() })
}

func (g *Graph) topo() ([]UnitRef, error) {
	refs := make([]UnitRef, 0, len(g.units))
	for r := range g.units {
		refs = append(refs, r)
	}
	sortRefs(refs)
	const (
		white = iota
		grey
		black
	)
	color := make(map[UnitRef]int, len(refs))
	var order, stack []UnitRef
	var visit func(r UnitRef) error
	visit = func(r UnitRef) error {
		color[r] = grey
		stack = append(stack, r)
		deps := make([]UnitRef, 0)
		for _, d := range g.units[r].DependsOn {
			if _, in := g.units[d.Ref]; in {
				deps = append(deps, d.Ref)
			}
		}
		sortRefs(deps)
		for _, d := range deps {
			switch color[d] {
			case grey:
				i := len(stack) - 1
				for stack[i] != d {
					i--
				}
				cycle := append(append([]UnitRef(nil), stack[i:]...), d)
				return &CycleError{Cycle: cycle}
			case white:
				if err := visit(d); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[r] = black
		order = append(order, r)
		return nil
	}
	for _, r := range refs {
		if color[r] == white {
			if err := visit(r); err != nil {
				return nil, err
			}
		}
	}
	return order, nil
}

// ReadinessChecker decides whether one dependency of a unit is ready.
// Implementations return nil when ready, an error saying why not
// otherwise.
type ReadinessChecker interface {
	CheckReady(ctx context.Context, self UnitRef, dep Dependency) error
}

// ReadinessFunc adapts a function to ReadinessChecker.
type ReadinessFunc func(ctx context.Context, self UnitRef, dep Dependency) error

// CheckReady calls f.
func (f ReadinessFunc) CheckReady(ctx context.Context, self UnitRef, dep Dependency) error {
	return f(ctx, self, dep)
}

// DependencyNotReadyError lists the dependencies of a unit that are not
// ready, each with its reason. Report it with DependencyNotReadyReason.
type DependencyNotReadyError struct {
	Unit    UnitRef
	Reasons map[UnitRef]error
}

// Error names each dependency that is not ready and why.
func (e *DependencyNotReadyError) Error() string {
	refs := make([]UnitRef, 0, len(e.Reasons))
	for r := range e.Reasons {
		refs = append(refs, r)
	}
	sortRefs(refs)
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = fmt.Sprintf("%s: %v", r, e.Reasons[r])
	}
	return fmt.Sprintf("dependencies of %s not ready: %s", e.Unit, strings.Join(parts, "; "))
}

// CheckDependencies checks every dependency of unit with checker and
// returns a *DependencyNotReadyError listing those not ready, or nil.
// Dependency namespaces default to the unit's namespace.
func CheckDependencies(ctx context.Context, unit Unit, checker ReadinessChecker) error {
	notReady := map[UnitRef]error{}
	for _, d := range unit.DependsOn {
		if d.Ref.Namespace == "" {
			d.Ref.Namespace = unit.Ref.Namespace
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := checker.CheckReady(ctx, unit.Ref, d); err != nil {
			notReady[d.Ref] = err
		}
	}
	if len(notReady) > 0 {
		return &DependencyNotReadyError{Unit: unit.Ref, Reasons: notReady}
	}
	return nil
}

// DependsOnAnnotation lists dependencies of a Kustomization or HelmRelease
// beyond its spec.dependsOn, of either kind (Flux's dependsOn has no kind,
// so a Kustomization cannot depend on a HelmRelease there, nor the
// reverse): comma-separated entries `<Kind>/[<namespace>/]<name>`, Kind
// being DependsOnKindKustomization or DependsOnKindHelmRelease and the
// namespace defaulting to the dependent's. ParseDependsOn reads it.
const DependsOnAnnotation = "gitopskit.io/depends-on"

// The kinds a DependsOnAnnotation entry may name.
const (
	DependsOnKindKustomization = "Kustomization"
	DependsOnKindHelmRelease   = "HelmRelease"
)

// InvalidDependsOnReason is the Stalled reason of an object whose
// DependsOnAnnotation does not parse.
const InvalidDependsOnReason = "InvalidDependsOn"

// ParseDependsOn parses the value of DependsOnAnnotation into
// dependencies with Kind set and, where the entry names none, an empty
// namespace (the dependent's). Spaces around entries are ignored; an
// empty value has no entries. The error names the first malformed entry:
// an empty one, an unknown kind, a missing or invalid name or namespace.
func ParseDependsOn(value string) ([]Dependency, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil
	}
	var out []Dependency
	for i, entry := range strings.Split(value, ",") {
		entry = strings.TrimSpace(entry)
		d, err := parseDependsOnEntry(entry)
		if err != nil {
			return nil, fmt.Errorf("annotation %s: entry %d %q: %w", DependsOnAnnotation, i+1, entry, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func parseDependsOnEntry(entry string) (Dependency, error) {
	if entry == "" {
		return Dependency{}, errors.New("empty entry")
	}
	parts := strings.Split(entry, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Dependency{}, errors.New("want <Kind>/[<namespace>/]<name>")
	}
	kind := parts[0]
	if kind != DependsOnKindKustomization && kind != DependsOnKindHelmRelease {
		return Dependency{}, fmt.Errorf("unknown kind %q (want %s or %s)", kind, DependsOnKindKustomization, DependsOnKindHelmRelease)
	}
	d := Dependency{Kind: kind, Ref: UnitRef{Name: parts[len(parts)-1]}}
	if len(parts) == 3 {
		d.Ref.Namespace = parts[1]
		if msgs := validation.IsDNS1123Label(d.Ref.Namespace); len(msgs) > 0 {
			return Dependency{}, fmt.Errorf("invalid namespace %q: %s", d.Ref.Namespace, strings.Join(msgs, "; "))
		}
	}
	if msgs := validation.IsDNS1123Subdomain(d.Ref.Name); len(msgs) > 0 {
		return Dependency{}, fmt.Errorf("invalid name %q: %s", d.Ref.Name, strings.Join(msgs, "; "))
	}
	return d, nil
}

// KindReadiness checks each dependency with the checker of its Kind ("" for
// the dependent's own kind); the reason a cross-kind dependency is not
// ready starts with its kind. A kind without a checker is an error.
type KindReadiness map[string]ReadinessChecker

// CheckReady implements ReadinessChecker.
func (k KindReadiness) CheckReady(ctx context.Context, self UnitRef, dep Dependency) error {
	c, ok := k[dep.Kind]
	if !ok {
		return fmt.Errorf("no readiness check for kind %q", dep.Kind)
	}
	err := c.CheckReady(ctx, self, dep)
	if err != nil && dep.Kind != "" {
		return fmt.Errorf("%s: %w", dep.Kind, err)
	}
	return err
}

// AddAnnotatedDependencies appends the entries of DependsOnAnnotation in
// annotations to unit.DependsOn. Entries of ownKind (the unit's own kind)
// get an empty Kind, so that they are checked exactly as spec.dependsOn
// entries; entries of another kind keep it. The error is ParseDependsOn's,
// and unit is left unchanged then.
func AddAnnotatedDependencies(unit *Unit, annotations map[string]string, ownKind string) error {
	extra, err := ParseDependsOn(annotations[DependsOnAnnotation])
	if err != nil {
		return err
	}
	for _, d := range extra {
		if d.Kind == ownKind {
			d.Kind = ""
		}
		unit.DependsOn = append(unit.DependsOn, d)
	}
	return nil
}

// DependencyKey is the "<Kind>/<namespace>/<name>" form of a dependency
// controllers index their objects by, to find the dependents of an object
// that became ready.
func DependencyKey(kind, namespace, name string) string {
	return kind + "/" + namespace + "/" + name
}

// DependencyKeys returns the DependencyKey of each of unit's dependencies:
// an empty Kind is ownKind, an empty namespace the unit's.
func DependencyKeys(unit Unit, ownKind string) []string {
	out := make([]string, 0, len(unit.DependsOn))
	for _, d := range unit.DependsOn {
		kind, ns := d.Kind, d.Ref.Namespace
		if kind == "" {
			kind = ownKind
		}
		if ns == "" {
			ns = unit.Ref.Namespace
		}
		out = append(out, DependencyKey(kind, ns, d.Ref.Name))
	}
	return out
}
