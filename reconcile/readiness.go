package reconcile

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReadyExpression is a compiled dependsOn readyExpr: a CEL expression over
// `self` (the dependent object) and `dep` (the dependency), both as maps.
type ReadyExpression struct{ e *Expression }

// CompileReadyExpr compiles a readyExpr.
func CompileReadyExpr(src string) (*ReadyExpression, error) {
	e, err := CompileExpression(src, "self", "dep")
	if err != nil {
		return nil, fmt.Errorf("readyExpr: %w", err)
	}
	return &ReadyExpression{e: e}, nil
}

// Ready evaluates the expression.
func (r *ReadyExpression) Ready(ctx context.Context, self, dep *unstructured.Unstructured) (bool, error) {
	var s, d map[string]any
	if self != nil {
		s = self.Object
	}
	if dep != nil {
		d = dep.Object
	}
	return r.e.Eval(ctx, map[string]any{"self": s, "dep": d})
}

// DefaultReady is Flux's built-in dependency check: the object's Ready
// condition is True and status.observedGeneration equals
// metadata.generation.
func DefaultReady(dep *unstructured.Unstructured) error {
	gen := dep.GetGeneration()
	og, found, _ := unstructured.NestedInt64(dep.Object, "status", "observedGeneration")
	if found && og != gen {
		return fmt.Errorf("observed generation %d is behind generation %d", og, gen)
	}
	conds, _, _ := unstructured.NestedSlice(dep.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != ReadyCondition {
			continue
		}
		if m["status"] == "True" {
			if !found {
				return fmt.Errorf("status.observedGeneration is not set")
			}
			return nil
		}
		return fmt.Errorf("Ready is %v: %v", m["status"], m["message"])
	}
	return fmt.Errorf("no Ready condition")
}

// ObjectReadiness checks dependencies that are objects of one kind in the
// cluster (Kustomizations depending on Kustomizations, for instance):
// DefaultReady, or the dependency's ReadyExpr when set.
type ObjectReadiness struct {
	// Reader fetches the dependency and the dependent object.
	Reader client.Reader
	// GVK is the kind of both the unit and its dependencies.
	GVK schema.GroupVersionKind
}

// CheckReady implements ReadinessChecker.
func (o ObjectReadiness) CheckReady(ctx context.Context, self UnitRef, dep Dependency) error {
	d := &unstructured.Unstructured{}
	d.SetGroupVersionKind(o.GVK)
	if err := o.Reader.Get(ctx, client.ObjectKey{Namespace: dep.Ref.Namespace, Name: dep.Ref.Name}, d); err != nil {
		return fmt.Errorf("fetching dependency: %w", err)
	}
	if dep.ReadyExpr == "" {
		return DefaultReady(d)
	}
	expr, err := CompileReadyExpr(dep.ReadyExpr)
	if err != nil {
		return err
	}
	s := &unstructured.Unstructured{}
	s.SetGroupVersionKind(o.GVK)
	if err := o.Reader.Get(ctx, client.ObjectKey{Namespace: self.Namespace, Name: self.Name}, s); err != nil {
		return fmt.Errorf("fetching %s: %w", self, err)
	}
	ok, err := expr.Ready(ctx, s, d)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("readyExpr %q is false", dep.ReadyExpr)
	}
	return nil
}
