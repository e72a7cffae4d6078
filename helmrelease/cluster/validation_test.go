package cluster_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/helmrelease/cluster"
)

// openAPICounter counts the requests for the server's OpenAPI documents.
type openAPICounter struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c openAPICounter) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.Path, "/openapi/") {
		c.n.Add(1)
	}
	return c.next.RoundTrip(req)
}

func countingConfig(n *atomic.Int64) *rest.Config {
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return openAPICounter{next: rt, n: n} })
	return cfg
}

// gadgetChart is a chart whose crds/ defines a kind of its own group and
// whose templates use it, so that its first install validates a kind the
// server did not know before the action.
func gadgetChart(t *testing.T) *helmrelease.Chart {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: gadgets\nversion: 0.1.0\n",
		"crds/gadgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.validation.example.com
spec:
  group: validation.example.com
  names: {kind: Gadget, listKind: GadgetList, plural: gadgets, singular: gadget}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
`,
		"templates/gadget.yaml":    "apiVersion: validation.example.com/v1\nkind: Gadget\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  size: 3\n",
		"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  a: b\n",
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ch, err := helmrelease.LoadChartDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestFieldValidationShared: a release whose CRD policy installs a new
// kind validates it with a FieldValidation shared beforehand; a second
// Client sharing it installs without reading the OpenAPI documents again;
// a Client without one reads them on every install, as Helm does.
func TestFieldValidationShared(t *testing.T) {
	ctx := context.Background()
	ch := gadgetChart(t)
	fv := cluster.NewFieldValidation()
	opts := cluster.InstallOptions{Timeout: time.Minute, Wait: cluster.Wait{Disable: true}}

	// Known kinds first, so that the Gadget kind is new to a warm cache.
	var warm atomic.Int64
	namespace(t, "fv-warm")
	c, err := cluster.New(ctx, cluster.Options{Config: countingConfig(&warm), Namespace: "fv-warm", FieldValidation: fv})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Install(ctx, "warm", chart(t), map[string]any{"hook": map[string]any{"enabled": false}}, opts); err != nil {
		t.Fatalf("install with a new FieldValidation: %v", err)
	}

	install := func(ns string, shared *cluster.FieldValidation) int64 {
		t.Helper()
		var n atomic.Int64
		namespace(t, ns)
		c, err := cluster.New(ctx, cluster.Options{Config: countingConfig(&n), Namespace: ns, FieldValidation: shared})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Install(ctx, "gadget", ch, nil, opts); err != nil {
			t.Fatalf("install in %s: %v", ns, err)
		}
		return n.Load()
	}
	// Before its CRD exists, the Gadget kind cannot be validated; that
	// failure must not stick once the CRD policy installs it.
	namespace(t, "fv-skip")
	skip, err := cluster.New(ctx, cluster.Options{Config: env.Config, Namespace: "fv-skip", FieldValidation: fv})
	if err != nil {
		t.Fatal(err)
	}
	skipOpts := opts
	skipOpts.CRDs = cluster.CRDsSkip
	if _, err := skip.Install(ctx, "gadget", ch, nil, skipOpts); err == nil {
		t.Fatal("a kind without its CRD installed")
	}
	if n := install("fv-first", fv); n == 0 {
		t.Error("the kind the CRD policy installed was not looked up")
	}
	if n := install("fv-second", fv); n != 0 {
		t.Errorf("a Client sharing the FieldValidation read the OpenAPI documents %d times", n)
	}
	if n := install("fv-none", nil); n == 0 {
		t.Error("a Client without a FieldValidation did not read the OpenAPI documents")
	}
}
