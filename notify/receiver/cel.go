package receiver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
)

// celCostLimit bounds the work one evaluation may do, so that a request
// body cannot make a filter run for long.
const celCostLimit = 1_000_000

// celExpr is a compiled CEL expression.
type celExpr struct {
	src string
	prg cel.Program
}

// invalidExpressionError marks an expression that does not compile.
type invalidExpressionError struct{ err error }

func (e *invalidExpressionError) Error() string   { return e.err.Error() }
func (e *invalidExpressionError) Unwrap() []error { return []error{ErrInvalidExpression, e.err} }

// compileCEL compiles src over the given variables, each a JSON object
// (google.protobuf.Struct, as in Flux), with Flux's CEL environment:
// optional types and the strings, sets and encoders extensions. When
// boolean, the output must be a bool (or dynamic, checked when evaluated).
func compileCEL(src string, boolean bool, vars ...string) (_ *celExpr, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("CEL expression %q: compiler failure: %v", src, r)
		}
		if err != nil && !errors.Is(err, ErrInvalidExpression) {
			err = &invalidExpressionError{err: err}
		}
	}()
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("CEL expression is empty")
	}
	opts := []cel.EnvOption{
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
	}
	for _, v := range vars {
		opts = append(opts, cel.Variable(v, cel.ObjectType("google.protobuf.Struct")))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("CEL environment: %w", err)
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, fmt.Errorf("CEL expression %q: %w", src, iss.Err())
	}
	if t := ast.OutputType(); boolean && t != cel.BoolType && t != cel.DynType {
		return nil, fmt.Errorf("CEL expression %q: must evaluate to a bool, not %s", src, t)
	}
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(100),
		cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("CEL expression %q: %w", src, err)
	}
	return &celExpr{src: src, prg: prg}, nil
}

// eval evaluates the expression.
func (e *celExpr) eval(ctx context.Context, vars map[string]any) (_ ref.Val, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("CEL expression %q: evaluation failure: %v", e.src, r)
		}
	}()
	out, _, err := e.prg.ContextEval(ctx, vars)
	if err != nil {
		return nil, fmt.Errorf("CEL expression %q: %w", e.src, err)
	}
	return out, nil
}

// evalBool evaluates a boolean expression.
func (e *celExpr) evalBool(ctx context.Context, vars map[string]any) (bool, error) {
	out, err := e.eval(ctx, vars)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("CEL expression %q: result is %s, not a bool", e.src, out.Type())
	}
	return bool(b), nil
}

// filterVars are the variables of a resource filter.
func filterVars(withClaims bool) []string {
	if withClaims {
		return []string{"res", "req", "claims"}
	}
	return []string{"res", "req"}
}

// compileFilter compiles a resource filter; claims is declared only for
// generic-oidc receivers, as in Flux.
func compileFilter(src string, withClaims bool) (*celExpr, error) {
	return compileCEL(src, true, filterVars(withClaims)...)
}

// claimsProcessor holds the compiled variables and validations of an
// OIDCProvider.
type claimsProcessor struct {
	names       []string
	variables   []*celExpr
	validations []*celExpr
	messages    []string
}

// compileClaims compiles an OIDCProvider's expressions.
func compileClaims(p OIDCProvider) (*claimsProcessor, error) {
	cp := &claimsProcessor{}
	for _, v := range p.Variables {
		e, err := compileCEL(v.Expression, false, "claims", "vars")
		if err != nil {
			return nil, fmt.Errorf("variable %q: %w", v.Name, err)
		}
		cp.names = append(cp.names, v.Name)
		cp.variables = append(cp.variables, e)
	}
	for _, v := range p.Validations {
		e, err := compileCEL(v.Expression, true, "claims", "vars")
		if err != nil {
			return nil, fmt.Errorf("validation %q: %w", v.Message, err)
		}
		cp.validations = append(cp.validations, e)
		cp.messages = append(cp.messages, v.Message)
	}
	return cp, nil
}

// evaluate runs the variables in order, then every validation; the
// messages of the failing ones are joined into one error wrapping
// ErrUnauthenticated.
func (cp *claimsProcessor) evaluate(ctx context.Context, claims map[string]any) error {
	vars := map[string]any{}
	data := map[string]any{"claims": claims, "vars": vars}
	for i, e := range cp.variables {
		v, err := e.eval(ctx, data)
		if err != nil {
			return fmt.Errorf("%w: variable %q: %v", ErrUnauthenticated, cp.names[i], err)
		}
		vars[cp.names[i]] = v
	}
	var failures []string
	for i, e := range cp.validations {
		ok, err := e.evalBool(ctx, data)
		if err != nil {
			return fmt.Errorf("%w: validation %q: %v", ErrUnauthenticated, cp.messages[i], err)
		}
		if !ok {
			failures = append(failures, cp.messages[i])
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("%w: token validation failed: %s", ErrUnauthenticated, strings.Join(failures, "; "))
	}
	return nil
}
