package reconcile

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/source"
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

// RevisionRule is Flux's rule for a dependency that reads the same source
// as the dependent unit: the dependency must already have applied the
// revision the dependent is about to apply, so that, within one commit,
// dependencies are applied first. Dependencies reading another source are
// not held to it.
type RevisionRule struct {
	// Revision is the source revision the dependent unit is about to
	// apply; "" disables the rule.
	Revision string
	// StatusField is the dependency's status field holding the revision
	// it dealt with: "" means "lastAppliedRevision"; "lastAttemptedRevision"
	// accepts a dependency that has tried the revision, successfully or not.
	StatusField string
	// SameSource reports whether dep reads the same source as self; nil
	// means SameSourceRef.
	SameSource func(self, dep *unstructured.Unstructured) bool
}

// Check returns nil when the rule is disabled, dep reads another source,
// or dep's status field holds Revision (Flux's legacy revision forms
// compare equal to the current ones); otherwise an error saying which
// revision dep has dealt with instead.
func (r RevisionRule) Check(self, dep *unstructured.Unstructured) error {
	if r.Revision == "" || dep == nil {
		return nil
	}
	same := r.SameSource
	if same == nil {
		same = SameSourceRef
	}
	if !same(self, dep) {
		return nil
	}
	field := r.StatusField
	if field == "" {
		field = "lastAppliedRevision"
	}
	got, _, _ := unstructured.NestedString(dep.Object, "status", field)
	if source.RevisionsEqual(got, r.Revision) {
		return nil
	}
	if got == "" {
		return fmt.Errorf("revision %s is not applied yet (status.%s is empty)", r.Revision, field)
	}
	return fmt.Errorf("revision %s is not applied yet (status.%s is %s)", r.Revision, field, got)
}

// SameSourceRef reports whether two objects have the same spec.sourceRef
// kind, name and namespace, an empty namespace meaning the object's own,
// as Flux's Kustomizations do. Objects without a spec.sourceRef.name never
// match.
func SameSourceRef(a, b *unstructured.Unstructured) bool {
	if a == nil || b == nil {
		return false
	}
	ref := func(u *unstructured.Unstructured) (kind, name, ns string) {
		kind, _, _ = unstructured.NestedString(u.Object, "spec", "sourceRef", "kind")
		name, _, _ = unstructured.NestedString(u.Object, "spec", "sourceRef", "name")
		ns, _, _ = unstructured.NestedString(u.Object, "spec", "sourceRef", "namespace")
		if ns == "" {
			ns = u.GetNamespace()
		}
		return kind, name, ns
	}
	ak, an, ans := ref(a)
	bk, bn, bns := ref(b)
	return an != "" && ak == bk && an == bn && ans == bns
}

// ObjectReadiness checks dependencies that are objects of one kind in the
// cluster (Kustomizations depending on Kustomizations, for instance):
// DefaultReady followed by the Revision rule, or, when the dependency has a
// ReadyExpr, that expression alone (as Flux does unless its
// AdditiveCELDependencyCheck feature gate is on).
type ObjectReadiness struct {
	// Reader fetches the dependency and the dependent object.
	Reader client.Reader
	// GVK is the kind of both the unit and its dependencies.
	GVK schema.GroupVersionKind
	// New returns an empty typed object of GVK to read into, so that a
	// controller's cached client serves the reads; nil reads unstructured
	// objects (which controller-runtime's cached client sends to the API
	// server).
	New func() client.Object
	// Revision adds Flux's same-source revision rule to the built-in
	// check; the zero RevisionRule adds nothing.
	Revision RevisionRule
}

func (o ObjectReadiness) get(ctx context.Context, ref UnitRef) (*unstructured.Unstructured, error) {
	key := client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}
	if o.New == nil {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(o.GVK)
		if err := o.Reader.Get(ctx, key, u); err != nil {
			return nil, err
		}
		return u, nil
	}
	obj := o.New()
	if err := o.Reader.Get(ctx, key, obj); err != nil {
		return nil, err
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %s: %w", ref, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(o.GVK)
	return u, nil
}

// CheckReady implements ReadinessChecker.
func (o ObjectReadiness) CheckReady(ctx context.Context, self UnitRef, dep Dependency) error {
	d, err := o.get(ctx, dep.Ref)
	if err != nil {
		return fmt.Errorf("fetching dependency: %w", err)
	}
	needSelf := dep.ReadyExpr != "" || o.Revision.Revision != ""
	var s *unstructured.Unstructured
	if needSelf {
		if s, err = o.get(ctx, self); err != nil {
			return fmt.Errorf("fetching %s: %w", self, err)
		}
	}
	if dep.ReadyExpr == "" {
		if err := DefaultReady(d); err != nil {
			return err
		}
		return o.Revision.Check(s, d)
	}
	expr, err := CompileReadyExpr(dep.ReadyExpr)
	if err != nil {
		return err
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
