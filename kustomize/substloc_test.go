package kustomize_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/kustomize"
)

// substErr builds path below a tree of files with substitution on and
// returns the *SubstituteError it must fail with.
func substErr(t *testing.T, files map[string]string, path string, opts kustomize.Options) *kustomize.SubstituteError {
	t.Helper()
	root := writeTree(t, files)
	if opts.Substitute == nil {
		opts.Substitute = &kustomize.Substitution{Vars: map[string]string{"x": "y"}}
	}
	_, err := kustomize.Build(context.Background(), root, path, opts)
	var se *kustomize.SubstituteError
	if !errors.As(err, &se) {
		t.Fatalf("Build: %v, want a *SubstituteError", err)
	}
	return se
}

// checkPlace checks the place the error names, and that its message gives
// it instead of an offset in the re-serialised object.
func checkPlace(t *testing.T, se *kustomize.SubstituteError, file string, line, col int) {
	t.Helper()
	if se.File != file || se.Line != line || se.Column != col {
		t.Errorf("place %s:%d:%d, want %s:%d:%d (%v)", se.File, se.Line, se.Column, file, line, col, se)
	}
	msg := se.Error()
	if want := "substitute " + se.Object + ": "; !strings.HasPrefix(msg, want) {
		t.Errorf("message %q does not start with %q", msg, want)
	}
	if file != "" && strings.Contains(msg, "offset") {
		t.Errorf("message %q still gives an offset", msg)
	}
}

func TestSubstituteErrorNamesSourceLine(t *testing.T) {
	// The third document's seventh line (line 23 of the file) has an
	// unterminated expression; the first document holds the same text
	// escaped, which is no expression at all.
	deploy := `apiVersion: v1
kind: ConfigMap
metadata:
  name: first
data:
  escaped: "$${bad"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: second
data:
  ok: ${x}
  other: ${badger}
---
# the third document
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    metadata: {annotations: {a: "${bad"}}
`
	se := substErr(t, map[string]string{
		"app/kustomization.yaml": "resources:\n- deploy.yaml\nnamePrefix: prod-\n",
		"app/deploy.yaml":        strings.Replace(deploy, "other: ${badger}", "other: $${badger}", 1),
	}, "app", kustomize.Options{})
	checkPlace(t, se, "app/deploy.yaml", 23, 34)
	if se.Object != "Deployment/prod-web" {
		t.Errorf("object %q", se.Object)
	}
	var syn *kustomize.SyntaxError
	if !errors.Is(se, kustomize.ErrBadSubstitution) || !errors.As(se, &syn) {
		t.Errorf("cause %v: want a *SyntaxError, ErrBadSubstitution", se.Err)
	}
	if want := "substitute Deployment/prod-web: app/deploy.yaml:23:34: bad substitution: "; !strings.HasPrefix(se.Error(), want) {
		t.Errorf("message %q, want prefix %q", se.Error(), want)
	}

	// A longer expression with the same variable elsewhere does not
	// mislead: the text that ends the value wins.
	se = substErr(t, map[string]string{
		"app/kustomization.yaml": "resources:\n- deploy.yaml\nnamePrefix: prod-\n",
		"app/deploy.yaml":        deploy,
	}, "app", kustomize.Options{})
	checkPlace(t, se, "app/deploy.yaml", 23, 34)
}

func TestSubstituteErrorInNestedBase(t *testing.T) {
	// overlay → base/mid → base/mid/inner: the unset variable is written
	// two levels down; the overlay's own copy of the text is escaped.
	files := map[string]string{
		"overlay/kustomization.yaml":        "resources:\n- ../base/mid\n- own.yaml\nnamePrefix: o-\n",
		"overlay/own.yaml":                  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: own\ndata:\n  k: $${region}\n",
		"base/mid/kustomization.yaml":       "resources:\n- inner\nnameSuffix: -m\ncommonAnnotations:\n  team: a\n",
		"base/mid/inner/kustomization.yaml": "resources:\n- svc.yaml\n",
		"base/mid/inner/svc.yaml": `apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector:
    app: api
  ports:
  - name: "http-${region}"
    port: 80
`,
	}
	sub := &kustomize.Substitution{Vars: map[string]string{"x": "y"}, Strict: true}
	se := substErr(t, files, "overlay", kustomize.Options{Substitute: sub})
	checkPlace(t, se, "base/mid/inner/svc.yaml", 9, 17)
	var unset *kustomize.UnsetVarError
	if !errors.As(se, &unset) || unset.Name != "region" || !errors.Is(se, kustomize.ErrVarNotSet) {
		t.Errorf("cause %v", se.Err)
	}
	if se.Object != "Service/o-api-m" || !strings.Contains(se.Error(), `"region"`) {
		t.Errorf("message %q", se.Error())
	}
}

func TestSubstituteErrorInGeneratorLiteral(t *testing.T) {
	se := substErr(t, map[string]string{
		"kustomization.yaml": `resources:
- cm.yaml
configMapGenerator:
- name: settings
  literals:
  - mode=fast
  - greeting=hello ${name:1:}
`,
		"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  k: ${x}\n",
	}, ".", kustomize.Options{})
	checkPlace(t, se, "kustomization.yaml", 7, 20)
	if !strings.HasPrefix(se.Object, "ConfigMap/settings-") || !errors.Is(se, kustomize.ErrBadSubstitution) {
		t.Errorf("error %v", se)
	}
}

func TestSubstituteErrorInGeneratorFile(t *testing.T) {
	se := substErr(t, map[string]string{
		"kustomization.yaml": "configMapGenerator:\n- name: props\n  files:\n  - app.properties\n",
		"app.properties":     "a=1\nb=${x}\nc=${x:=1\n",
	}, ".", kustomize.Options{})
	checkPlace(t, se, "app.properties", 3, 3)
}

// A limit exceeded is located too, and keeps its variable in the message.
func TestSubstituteErrorLimitLocated(t *testing.T) {
	deep := strings.Repeat("${deep:=", 100) + "x" + strings.Repeat("}", 100)
	se := substErr(t, map[string]string{
		"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  v: " + deep + "\n",
	}, ".", kustomize.Options{})
	checkPlace(t, se, "cm.yaml", 6, 6+8*64)
	if !errors.Is(se, kustomize.ErrSubstitutionLimit) || !strings.Contains(se.Error(), `variable "deep"`) {
		t.Errorf("error %v", se)
	}
}

// An expression that is in no file (here a patch given in Options) keeps
// the offset form.
func TestSubstituteErrorNotInFiles(t *testing.T) {
	se := substErr(t, map[string]string{
		"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: ${x}\n",
	}, ".", kustomize.Options{Patches: []kustomize.Patch{{
		Patch: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  p: ${patched\n",
	}}})
	checkPlace(t, se, "", 0, 0)
	if !strings.Contains(se.Error(), "at offset") {
		t.Errorf("message %q", se.Error())
	}
}

// Two objects written alike: the error points at the document of the
// object it names.
func TestSubstituteErrorPicksObjectsDocument(t *testing.T) {
	doc := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  k: ${bad\n"
	se := substErr(t, map[string]string{
		"kustomization.yaml": "resources:\n- a.yaml\n- b.yaml\n",
		"a.yaml":             strings.Replace(doc, "%s", "alpha", 1),
		"b.yaml":             "# b\n" + strings.Replace(doc, "%s", "beta", 1),
	}, ".", kustomize.Options{})
	switch se.Object {
	case "ConfigMap/alpha":
		checkPlace(t, se, "a.yaml", 6, 6)
	case "ConfigMap/beta":
		checkPlace(t, se, "b.yaml", 7, 6)
	default:
		t.Errorf("object %q", se.Object)
	}
}
