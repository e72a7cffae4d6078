package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
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
