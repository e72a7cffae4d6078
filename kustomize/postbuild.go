package kustomize

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	yaml3 "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/internal/yamlguard"
)

// Flux's per-object opt-out annotations/labels and their value.
const (
	// SubstituteKey set to DisabledValue on an object's labels or
	// annotations skips variable substitution for it.
	SubstituteKey = "kustomize.toolkit.fluxcd.io/substitute"
	// DecryptKey set to DisabledValue on an object's annotations skips SOPS
	// decryption for it (the object is then passed through as is).
	DecryptKey = "kustomize.toolkit.fluxcd.io/decrypt"
	// DisabledValue is the value that opts an object out.
	DisabledValue = "disabled"
)

// ErrVarsNotFound is returned by a VarsProvider whose source does not
// exist; an optional provider returning it is skipped.
var ErrVarsNotFound = errors.New("variables source not found")

// VarsProvider supplies substitution variables, e.g. from a ConfigMap or a
// Secret.
type VarsProvider interface {
	LoadVars(ctx context.Context) (map[string]string, error)
}

// VarsFrom is one entry of Substitution.From.
type VarsFrom struct {
	// Name identifies the source in errors (e.g. "ConfigMap/vars").
	Name string
	// Provider loads the variables.
	Provider VarsProvider
	// Optional skips the source when it reports ErrVarsNotFound.
	Optional bool
}

// StaticVars is a VarsProvider over a fixed map.
type StaticVars map[string]string

// LoadVars implements VarsProvider.
func (s StaticVars) LoadVars(context.Context) (map[string]string, error) { return s, nil }

// Substitution configures post-build variable substitution (Flux's
// spec.postBuild). Variables come from From in order (later sources win),
// then Vars, which win over all. Newlines are removed from values, as Flux
// does. Substitution runs when at least one variable is defined or Strict
// is set.
type Substitution struct {
	Vars map[string]string
	From []VarsFrom
	// Strict makes a reference to an unset variable without a default an
	// error naming the object and the variable.
	Strict bool
}

// SubstituteError names the object and wraps the cause (an
// *UnsetVarError, a *SyntaxError, a *LimitError or a YAML error).
//
// When the cause is an expression (a syntax error, an unset variable in
// strict mode, a limit exceeded), File, Line and Column say where that
// expression is written among the files the build read, and the message
// reads
//
//	substitute Deployment/apps/web: apps/deploy.yaml:7:14: bad substitution: missing closing brace
//
// rather than giving the expression's offset in the object as re-serialised
// after kustomize (the cause's Offset). kustomize does not record where an
// object's text came from, so the place is found by searching those files
// for the expression's text; it is left empty when the text is not in any
// of them (a patch given in Options, a value rewritten by a transformer, a
// decrypted source).
type SubstituteError struct {
	Object string // Kind/namespace/name
	// File is the file in which the expression is written, relative to
	// the build root and slash-separated: a manifest, or the
	// kustomization whose generator made the object. Empty when unknown.
	File string
	// Line and Column are the 1-based line and column (counting bytes) of
	// the expression's "${" in File; zero when File is empty.
	Line, Column int
	Err          error
}

// Error implements error.
func (e *SubstituteError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("substitute %s: %v", e.Object, e.Err)
	}
	return fmt.Sprintf("substitute %s: %s:%d:%d: %s", e.Object, e.File, e.Line, e.Column, exprMessage(e.Err))
}

// Unwrap returns the cause.
func (e *SubstituteError) Unwrap() error { return e.Err }

// LoadVars merges the variables of s, validating their names.
func (s *Substitution) LoadVars(ctx context.Context) (map[string]string, error) {
	vars := map[string]string{}
	for _, f := range s.From {
		if f.Provider == nil {
			return nil, fmt.Errorf("substitute from %s: no provider", f.Name)
		}
		m, err := f.Provider.LoadVars(ctx)
		if err != nil {
			if f.Optional && errors.Is(err, ErrVarsNotFound) {
				continue
			}
			return nil, fmt.Errorf("substitute from %s: %w", f.Name, err)
		}
		for k, v := range m {
			if !ValidVarName(k) {
				return nil, fmt.Errorf("substitute from %s: %w", f.Name, &InvalidVarNameError{Name: k})
			}
			vars[k] = strings.ReplaceAll(v, "\n", "")
		}
	}
	for k, v := range s.Vars {
		if !ValidVarName(k) {
			return nil, &InvalidVarNameError{Name: k}
		}
		vars[k] = strings.ReplaceAll(v, "\n", "")
	}
	return vars, nil
}

func resRef(res *resource.Resource) string {
	return objectRef(res.GetKind(), res.GetNamespace(), res.GetName())
}

// postBuild substitutes variables, decrypts Secrets and refuses objects
// that are still encrypted. fsys, when not nil, is searched for the source of a failing expression.
func postBuild(ctx context.Context, m resmap.ResMap, opts Options, dec *decryption, fsys *confinedFS) error {
	var vars map[string]string
	strict := false
	if s := opts.Substitute; s != nil {
		var err error
		if vars, err = s.LoadVars(ctx); err != nil {
			return fmt.Errorf("kustomize: %w", err)
		}
		strict = s.Strict
	}
	substitute := opts.Substitute != nil && (len(vars) > 0 || strict)
	lookup := func(name string) (string, bool) {
		v, ok := vars[name]
		if !strict {
			return v, true
		}
		return v, ok
	}
	for _, res := range m.Resources() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if substitute && res.GetLabels()[SubstituteKey] != DisabledValue && res.GetAnnotations()[SubstituteKey] != DisabledValue {
			if err := substituteResource(res, lookup, fsys); err != nil {
				return fmt.Errorf("kustomize: %w", err)
			}
		}
		disabled := res.GetAnnotations()[DecryptKey] == DisabledValue
		if dec != nil && !disabled {
			if err := dec.decryptResource(ctx, res); err != nil {
				return fmt.Errorf("kustomize: %w", err)
			}
		}
		if !disabled && isSOPSEncrypted(res) {
			return fmt.Errorf("kustomize: %s: %w", resRef(res), ErrStillEncrypted)
		}
	}
	return nil
}

// hasDollar reports whether any key or value below n contains '$'; objects
// without one cannot change under substitution.
func hasDollar(n *yaml3.Node) bool {
	if n == nil {
		return false
	}
	if strings.Contains(n.Value, "$") {
		return true
	}
	for _, c := range n.Content {
		if hasDollar(c) {
			return true
		}
	}
	return false
}

func substituteResource(res *resource.Resource, lookup func(string) (string, bool), fsys *confinedFS) error {
	if !hasDollar(res.YNode()) {
		return nil
	}
	data, err := res.AsYAML()
	if err != nil {
		return &SubstituteError{Object: resRef(res), Err: err}
	}
	out, err := Expand(string(data), lookup)
	if err != nil {
		se := &SubstituteError{Object: resRef(res), Err: err}
		if off, ok := exprOffset(err); ok && fsys != nil {
			if pos, ok := fsys.locateExpr(string(data), off, res.GetKind(), res.GetName()); ok {
				se.File, se.Line, se.Column = pos.file, pos.line, pos.col
			}
		}
		return se
	}
	if out == string(data) {
		return nil
	}
	// Substituted values may bring YAML anchors and aliases of their own.
	if err := yamlguard.Check([]byte(out)); err != nil {
		return &SubstituteError{Object: resRef(res), Err: fmt.Errorf("result: %w", err)}
	}
	js, err := yaml.YAMLToJSON([]byte(out))
	if err != nil {
		return &SubstituteError{Object: resRef(res), Err: fmt.Errorf("result is not valid YAML: %w", err)}
	}
	if err := res.UnmarshalJSON(js); err != nil {
		return &SubstituteError{Object: resRef(res), Err: err}
	}
	return nil
}
