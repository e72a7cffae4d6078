package kustomize_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/kustomize"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"name": "Podinfo", "empty": "", "path": "a/b/c.tar.gz", "file": "c.tar.gz"}
	strict := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	tests := []struct {
		in, want string
		err      error
	}{
		{"plain $name text", "plain $name text", nil},
		{"${name}", "Podinfo", nil},
		{"x-${name}-y", "x-Podinfo-y", nil},
		{"$${name}", "${name}", nil},
		{"cost: $$5", "cost: $5", nil},
		{"${missing:=dflt}", "dflt", nil},
		{"${missing:-dflt}", "dflt", nil},
		{"${empty:-dflt}", "dflt", nil},
		{"${name:-dflt}", "Podinfo", nil},
		{"${missing=dflt}", "dflt", nil},
		{"${missing:=${name}-x}", "Podinfo-x", nil},
		{"${name:1:3}", "odi", nil},
		{"${name:2}", "dinfo", nil},
		{"${name:-3}", "Podinfo", nil}, // ":-" is the default operator, as in bash
		{"${name:1:-1}", "odinf", nil},
		{"${name:9}", "", nil},
		{"${#name}", "7", nil},
		{"${name^^}", "PODINFO", nil},
		{"${name,,}", "podinfo", nil},
		{"${name,}", "podinfo", nil},
		{"${empty^}", "", nil},
		{"${path/\\//_}", "a_b/c.tar.gz", nil},
		{"${path//\\//_}", "a_b_c.tar.gz", nil},
		{"${path/#a/z}", "z/b/c.tar.gz", nil},
		{"${path/%gz/xz}", "a/b/c.tar.xz", nil},
		{"${path/b}", "", kustomize.ErrBadSubstitution},
		{"${path/b/}", "a//c.tar.gz", nil},
		{"${file#*.}", "tar.gz", nil},
		{"${file##*.}", "gz", nil},
		{"${path#*.}", "a/b/c.tar.gz", nil}, // * does not cross "/"
		{"${path%.*}", "a/b/c.tar", nil},
		{"${path%%.*}", "a/b/c", nil},
		{"${missing}", "", kustomize.ErrVarNotSet},
		{"${missing^^}", "", kustomize.ErrVarNotSet},
		{"${#missing}", "", kustomize.ErrVarNotSet},
		{"${name", "", kustomize.ErrBadSubstitution},
		{"${}", "", kustomize.ErrBadSubstitution},
		{"${name-x}", "", kustomize.ErrBadSubstitution},
		{"${na me}", "", kustomize.ErrBadSubstitution},
		{"${name:=unterminated", "", kustomize.ErrBadSubstitution},
	}
	for _, tc := range tests {
		got, err := kustomize.Expand(tc.in, strict)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("Expand(%q): error %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	// Non-strict lookups yield empty strings for unset variables.
	got, err := kustomize.Expand("[${missing}]", func(k string) (string, bool) { return vars[k], true })
	if err != nil || got != "[]" {
		t.Errorf("non-strict: %q, %v", got, err)
	}
}

func TestValidVarName(t *testing.T) {
	for name, want := range map[string]bool{"a": true, "_x1": true, "Cluster_Name": true, "1a": false, "a-b": false, "": false, "é": false, "a.b": false} {
		if got := kustomize.ValidVarName(name); got != want {
			t.Errorf("ValidVarName(%q) = %v", name, got)
		}
	}
}

type mapProvider struct {
	vars map[string]string
	err  error
}

func (m mapProvider) LoadVars(context.Context) (map[string]string, error) { return m.vars, m.err }

func TestSubstitutionInBuild(t *testing.T) {
	root := t.TempDir()
	manifests := `apiVersion: v1
kind: ConfigMap
metadata:
  name: app-${env}
  namespace: ${ns:=default}
data:
  region: ${region}
  multi: "${greeting}"
  literal: $${region}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: raw
  annotations:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  keep: ${region}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: raw-label
  labels:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  keep: ${unset}
`
	if err := os.WriteFile(filepath.Join(root, "cm.yaml"), []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := &kustomize.Substitution{
		Vars: map[string]string{"env": "prod"},
		From: []kustomize.VarsFrom{
			{Name: "ConfigMap/a", Provider: mapProvider{vars: map[string]string{"region": "eu", "env": "dev", "greeting": "hel\nlo"}}},
			{Name: "Secret/b", Provider: mapProvider{vars: map[string]string{"region": "us"}}},
			{Name: "Secret/c", Provider: mapProvider{err: kustomize.ErrVarsNotFound}, Optional: true},
		},
		Strict: true,
	}
	res, err := kustomize.Build(context.Background(), root, ".", kustomize.Options{Substitute: sub})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]any{}
	for _, o := range res.Objects {
		got[o.GetNamespace()+"/"+o.GetName()] = o.Object["data"].(map[string]any)
	}
	want := map[string]map[string]any{
		"default/app-prod": {"region": "us", "multi": "hello", "literal": "${region}"},
		"/raw":             {"keep": "${region}"},
		"/raw-label":       {"keep": "${unset}"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// A required source that is missing fails, naming it.
	sub.From[2].Optional = false
	if _, err := kustomize.Build(context.Background(), root, ".", kustomize.Options{Substitute: sub}); err == nil || !strings.Contains(err.Error(), "Secret/c") {
		t.Errorf("missing required source: %v", err)
	}
	sub.From[2].Optional = true

	// Strict mode names the object and the variable.
	delete(sub.From[0].Provider.(mapProvider).vars, "greeting")
	_, err = kustomize.Build(context.Background(), root, ".", kustomize.Options{Substitute: sub})
	var se *kustomize.SubstituteError
	if !errors.As(err, &se) || se.Object != "ConfigMap/${ns:=default}/app-${env}" || !strings.Contains(err.Error(), `"greeting"`) {
		t.Errorf("strict: %v", err)
	}

	// Invalid names are refused.
	_, err = kustomize.Build(context.Background(), root, ".", kustomize.Options{Substitute: &kustomize.Substitution{Vars: map[string]string{"bad-name": "x"}}})
	var ie *kustomize.InvalidVarNameError
	if !errors.As(err, &ie) || ie.Name != "bad-name" {
		t.Errorf("invalid name: %v", err)
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"${a}", "$${a}", "${a:=b}", "${a:1:2}", "${#a}", "${a/b/c}", "${a//\\//x}", "${a^^}", "${a##*.}", "${a:=${b:-c}}", "${", "$$", "}",
		"${a:1:9223372036854775807}", "${a%[a-z]*}", "${a%%*[^/]}", "${a#[]}", "${a##\\*}", "${a///x}", "${a#${a}}",
		strings.Repeat("${a:=", 70) + "x" + strings.Repeat("}", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		vars := map[string]string{"a": "héllo/wörld.tar", "b": ""}
		out, err := kustomize.Expand(s, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
		if err != nil {
			if !errors.Is(err, kustomize.ErrBadSubstitution) && !errors.Is(err, kustomize.ErrVarNotSet) && !errors.Is(err, kustomize.ErrSubstitutionLimit) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if !strings.Contains(s, "$") && out != s {
			t.Fatalf("text without $ changed: %q -> %q", s, out)
		}
	})
}

func FuzzHasManifests(f *testing.F) {
	for _, s := range []string{"apiVersion: v1\nkind: ConfigMap\n", "---\n---\n", "a: [", "- 1\n- 2\n", "apiVersion: v1\nkind: X\n---\nfoo: bar\n", "!!binary x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = kustomize.HasManifests(data)
	})
}
