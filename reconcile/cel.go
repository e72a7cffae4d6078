package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/engine"
	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/event"
	kstatusreaders "github.com/fluxcd/cli-utils/pkg/kstatus/polling/statusreaders"
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/cli-utils/pkg/object"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// celCostLimit bounds the work one expression evaluation may do.
const celCostLimit = 1_000_000

// Expression is a compiled CEL expression that evaluates to a bool.
type Expression struct {
	src string
	prg cel.Program
}

// ErrInvalidExpression is wrapped by the errors of CompileExpression and
// CompileHealthCheck (and so of NewManager given such a health check): an
// expression that does not compile is a problem of the spec, which
// retrying cannot fix (see IsStalling). Errors of evaluation do not wrap it.
var ErrInvalidExpression = errors.New("invalid CEL expression")

// invalidExpressionError marks err as an invalid expression, keeping its
// text.
type invalidExpressionError struct{ err error }

func (e *invalidExpressionError) Error() string { return e.err.Error() }

func (e *invalidExpressionError) Unwrap() []error { return []error{ErrInvalidExpression, e.err} }

// invalidExpression wraps a non-nil compile error in an
// invalidExpressionError, once.
func invalidExpression(err error) error {
	if err == nil || errors.Is(err, ErrInvalidExpression) {
		return err
	}
	return &invalidExpressionError{err: err}
}

// CompileExpression compiles a boolean CEL expression over the given
// variables (each of dynamic type). CEL's optional types and string
// extensions are available. The error names the expression and wraps
// ErrInvalidExpression.
func CompileExpression(src string, vars ...string) (_ *Expression, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("CEL expression %q: compiler failure: %v", src, r)
		}
		err = invalidExpression(err)
	}()
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("CEL expression is empty")
	}
	opts := []cel.EnvOption{cel.OptionalTypes(), ext.Strings()}
	for _, v := range vars {
		opts = append(opts, cel.Variable(v, cel.DynType))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("CEL expression %q: %w", src, iss.Err())
	}
	if t := ast.OutputType(); t != cel.BoolType && t != cel.DynType {
		return nil, fmt.Errorf("CEL expression %q: must evaluate to a bool, not %s", src, t)
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("CEL expression %q: %w", src, err)
	}
	return &Expression{src: src, prg: prg}, nil
}

// String returns the source text.
func (e *Expression) String() string { return e.src }

// Eval evaluates the expression with the given variables. Missing fields
// give an error (use has() or optional syntax such as status.?x.orValue(y)
// to avoid it).
func (e *Expression) Eval(ctx context.Context, vars map[string]any) (_ bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("CEL expression %q: evaluation failure: %v", e.src, r)
		}
	}()
	out, _, err := e.prg.ContextEval(ctx, vars)
	if err != nil {
		return false, fmt.Errorf("CEL expression %q: %w", e.src, err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("CEL expression %q: result is %s, not a bool", e.src, out.Type())
	}
	return bool(b), nil
}

// HealthCheckExpr is Flux's Kustomization healthCheckExprs entry: CEL
// expressions computing the health of one kind of object. Each expression
// sees the object's top-level fields as variables (apiVersion, kind,
// metadata, spec, status, data; absent ones are empty maps).
type HealthCheckExpr struct {
	// APIVersion of the kind (group/version, or v1 for the core group).
	APIVersion string `json:"apiVersion"`
	// Kind of the object.
	Kind string `json:"kind"`
	// Current is true when the object has reached its desired state. Required.
	Current string `json:"current"`
	// InProgress, optional, is true while the object is still progressing.
	InProgress string `json:"inProgress,omitempty"`
	// Failed, optional, is true when the object has failed.
	Failed string `json:"failed,omitempty"`
}

// healthVars returns the variables a health expression sees.
func healthVars() []string {
	return []string{"apiVersion", "kind", "metadata", "spec", "status", "data"}
}

// HealthEvaluator computes kstatus results from compiled health expressions.
type HealthEvaluator struct {
	gk                          schema.GroupKind
	current, inProgress, failed *Expression
}

// CompileHealthCheck validates and compiles one HealthCheckExpr. Its errors
// wrap ErrInvalidExpression.
func CompileHealthCheck(h HealthCheckExpr) (_ *HealthEvaluator, err error) {
	defer func() { err = invalidExpression(err) }()
	gv, err := schema.ParseGroupVersion(h.APIVersion)
	if err != nil || h.APIVersion == "" {
		return nil, fmt.Errorf("health check for kind %q: invalid apiVersion %q", h.Kind, h.APIVersion)
	}
	if h.Kind == "" {
		return nil, fmt.Errorf("health check for apiVersion %q: kind is required", h.APIVersion)
	}
	ev := &HealthEvaluator{gk: schema.GroupKind{Group: gv.Group, Kind: h.Kind}}
	name := h.APIVersion + "/" + h.Kind
	if ev.current, err = CompileExpression(h.Current, healthVars()...); err != nil {
		return nil, fmt.Errorf("health check %s current: %w", name, err)
	}
	if h.InProgress != "" {
		if ev.inProgress, err = CompileExpression(h.InProgress, healthVars()...); err != nil {
			return nil, fmt.Errorf("health check %s inProgress: %w", name, err)
		}
	}
	if h.Failed != "" {
		if ev.failed, err = CompileExpression(h.Failed, healthVars()...); err != nil {
			return nil, fmt.Errorf("health check %s failed: %w", name, err)
		}
	}
	return ev, nil
}

// GroupKind returns the kind the evaluator applies to.
func (h *HealthEvaluator) GroupKind() schema.GroupKind { return h.gk }

// Evaluate computes the status of u the way Flux does: InProgress while
// status.observedGeneration differs from metadata.generation; then the
// inProgress, failed and current expressions in that order, the first true
// one deciding; InProgress when none is true.
func (h *HealthEvaluator) Evaluate(ctx context.Context, u *unstructured.Unstructured) (*status.Result, error) {
	obj := u.UnstructuredContent()
	if og, ok, _ := unstructured.NestedInt64(obj, "status", "observedGeneration"); ok {
		if g, ok, _ := unstructured.NestedInt64(obj, "metadata", "generation"); ok && g != og {
			return &status.Result{Status: status.InProgressStatus, Message: fmt.Sprintf("observed generation %d, generation %d", og, g)}, nil
		}
	}
	vars := make(map[string]any, len(healthVars()))
	for _, v := range healthVars() {
		if x, ok := obj[v]; ok {
			vars[v] = x
		} else {
			vars[v] = map[string]any{}
		}
	}
	for _, step := range []struct {
		e *Expression
		s status.Status
	}{{h.inProgress, status.InProgressStatus}, {h.failed, status.FailedStatus}, {h.current, status.CurrentStatus}} {
		if step.e == nil {
			continue
		}
		ok, err := step.e.Eval(ctx, vars)
		if err != nil {
			return nil, err
		}
		if ok {
			return &status.Result{Status: step.s, Message: fmt.Sprintf("%s: %s", step.s, step.e)}, nil
		}
	}
	return &status.Result{Status: status.InProgressStatus, Message: "no health expression is true yet"}, nil
}

// celStatusReader plugs a HealthEvaluator into the kstatus poller.
type celStatusReader struct {
	ev      *HealthEvaluator
	generic engine.StatusReader
}

func newCELStatusReader(mapper apimeta.RESTMapper, ev *HealthEvaluator) engine.StatusReader {
	fn := func(u *unstructured.Unstructured) (*status.Result, error) {
		return ev.Evaluate(context.Background(), u)
	}
	return &celStatusReader{ev: ev, generic: kstatusreaders.NewGenericStatusReader(mapper, fn)}
}

func (r *celStatusReader) Supports(gk schema.GroupKind) bool { return gk == r.ev.gk }

func (r *celStatusReader) ReadStatus(ctx context.Context, reader engine.ClusterReader, id object.ObjMetadata) (*event.ResourceStatus, error) {
	return r.generic.ReadStatus(ctx, reader, id)
}

func (r *celStatusReader) ReadStatusForObject(ctx context.Context, reader engine.ClusterReader, u *unstructured.Unstructured) (*event.ResourceStatus, error) {
	return r.generic.ReadStatusForObject(ctx, reader, u)
}
