package helmrelease

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/yaml"
)

// resmapMetadata is how CommonMetadata and OriginLabels ran before
// setMetadata: the stream loaded into a kustomize ResMap, filtered and
// written back. setMetadata must produce the same objects.
func resmapMetadata(rendered []byte, ts ...kio.Filter) ([]byte, error) {
	f := resmap.NewFactory(provider.NewDefaultDepProvider().GetResourceFactory())
	rm, err := f.NewResMapFromBytes(rendered)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if err := rm.ApplyFilter(t); err != nil {
			return nil, err
		}
	}
	return rm.AsYaml()
}

// objectsOf returns the objects of a YAML stream as Helm applies them
// (the items of Lists, nested ones included, in place of the List), each
// as canonical JSON, sorted.
func objectsOf(t *testing.T, stream []byte) []string {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var out []string
	var add func(o any)
	add = func(o any) {
		m, ok := o.(map[string]any)
		if !ok {
			if o != nil {
				t.Fatalf("document of type %T", o)
			}
			return
		}
		if kind, _ := m["kind"].(string); strings.HasSuffix(kind, "List") {
			if items, ok := m["items"]; ok {
				l, _ := items.([]any)
				for _, it := range l {
					add(it)
				}
				return
			}
		}
		js, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(js))
	}
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var o any
		if err := yaml.Unmarshal(doc, &o); err != nil {
			t.Fatalf("%v in\n%s", err, doc)
		}
		add(o)
	}
	slices.Sort(out)
	return out
}

// trickyStream has what charts render and a label pass must survive:
// "# Source:" comments, empty and comment-only documents, Lists (nested,
// empty, null items), labels: null, non-string label values, label maps
// in selectors and pod templates (which stay as they are), anchors and
// merge keys, a null document, block
// scalars, a label of ours already set, and no final newline.
const trickyStream = `---
# Source: app/templates/a.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: a
  labels: null
  annotations: null
data:
  script: |
    #!/bin/sh
    echo "---"
---
---
# only a comment
---
# Source: app/templates/list.yaml
apiVersion: v1
kind: List
metadata: {}
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: in-list
    labels:
      num: 1
      flag: true
- apiVersion: v1
  kind: ServiceAccountList
  items:
  - apiVersion: v1
    kind: ServiceAccount
    metadata:
      name: nested
      annotations:
        keep: "me"
---
apiVersion: v1
kind: SecretList
items: []
---
apiVersion: v1
kind: PodList
items: null
---
# Source: app/templates/svc.yaml
apiVersion: v1
kind: Service
metadata:
  name: s   # trailing comment
  namespace: other
  labels:
    helm.toolkit.fluxcd.io/name: preset
    app: x
spec:
  selector:
    app: x
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
  labels: &common
    app: d
spec:
  selector:
    matchLabels: *common
  template:
    metadata:
      labels: *common
    spec:
      containers:
      - name: c
        image: nginx
        args: ["--a", '--b']
---
apiVersion: example.com/v1
kind: WidgetList
metadata:
  name: not-a-list-without-items
spec: {}
---
apiVersion: v1
kind: ConfigMap
metadata:
  <<: {name: merged, labels: {m: "1"}}
  annotations: {x: z}
data: {k: "v"}
---
null
---
apiVersion: v1
kind: ConfigMap
metadata: {name: flow, labels: {a: b}}
data: {k: "v"}`

// TestSetMetadataMatchesResMap: the direct pass yields the objects the
// kustomize ResMap pass yields, on the testdata chart (manifest and
// hooks) and on trickyStream, for origin labels and common metadata.
func TestSetMetadataMatchesResMap(t *testing.T) {
	ch, err := LoadChartDir("testdata/app")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(context.Background(), ch, RenderOptions{ReleaseName: "web", Namespace: "apps", Values: map[string]any{"replicaCount": 2}})
	if err != nil {
		t.Fatal(err)
	}
	origin := labelFilter(map[string]string{"helm.toolkit.fluxcd.io/name": "web", "helm.toolkit.fluxcd.io/namespace": "flux-system"})
	common := CommonMetadata{Labels: map[string]string{"team": "a", "num": "2"}, Annotations: map[string]string{"owner": "ops", "keep": "replaced"}}
	commonFilters := []kio.Filter{labelFilter(common.Labels), annotationFilter(common.Annotations)}
	for _, in := range []struct{ name, stream string }{
		{"chart manifest", r.Manifest},
		{"chart manifest and hooks", r.String()},
		{"tricky", trickyStream},
	} {
		for _, f := range []struct {
			name string
			ts   []kio.Filter
		}{
			{"origin", []kio.Filter{origin}},
			{"common", commonFilters},
			{"both", append(slices.Clone(commonFilters), origin)},
		} {
			t.Run(in.name+"/"+f.name, func(t *testing.T) {
				want, err := resmapMetadata([]byte(in.stream), f.ts...)
				if err != nil {
					t.Fatal(err)
				}
				got, err := setMetadata(bytes.NewBufferString(in.stream), f.ts...)
				if err != nil {
					t.Fatal(err)
				}
				wo, gobjs := objectsOf(t, want), objectsOf(t, got.Bytes())
				if len(wo) < 3 {
					t.Fatalf("only %d objects", len(wo))
				}
				if d := cmp.Diff(wo, gobjs); d != "" {
					t.Errorf("objects differ from the ResMap pass (-ResMap +direct):\n%s\ndirect output:\n%s", d, got)
				}
				// Every document that holds something stays, with its
				// comments.
				for _, c := range []string{"# Source: app/templates/", "kind: List\n", "# trailing comment"} {
					if strings.Count(in.stream, c) != strings.Count(got.String(), c) {
						t.Errorf("%q occurs %d times, %d in the input", c, strings.Count(got.String(), c), strings.Count(in.stream, c))
					}
				}
			})
		}
	}
}

// TestSetMetadataRefusesWhatResMapRefuses: the metadata passes fail where
// Flux's post-renderers, which load the stream into a kustomize ResMap,
// fail (objects without metadata, kind or name, objects rendered twice,
// in a List too, no namespace counting as "default") and pass where it
// passes.
func TestSetMetadataRefusesWhatResMapRefuses(t *testing.T) {
	cm := func(apiVersion, name, ns string) string {
		s := "kind: ConfigMap\nmetadata:\n  name: " + name + "\n"
		if apiVersion != "" {
			s = "apiVersion: " + apiVersion + "\n" + s
		}
		if ns != "" {
			s += "  namespace: " + ns + "\n"
		}
		return s
	}
	for _, tc := range []struct {
		name, stream string
		fails        bool
	}{
		{"generateName only", "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n", true},
		{"empty metadata", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", true},
		{"no metadata", "foo: bar\n", true},
		{"no kind", "apiVersion: v1\nmetadata:\n  name: a\n", true},
		{"twice", cm("v1", "a", "") + "---\n" + cm("v1", "a", ""), true},
		{"twice, default namespace", cm("v1", "a", "") + "---\n" + cm("v1", "a", "default"), true},
		{"twice, same namespace", cm("v1", "a", "x") + "---\n" + cm("v1", "a", "x"), true},
		{"twice in a List", "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(strings.TrimSuffix(cm("v1", "a", ""), "\n"), "\n", "\n  ") + "\n- " + strings.ReplaceAll(strings.TrimSuffix(cm("v1", "a", ""), "\n"), "\n", "\n  ") + "\n", true},
		{"other namespaces", cm("v1", "a", "x") + "---\n" + cm("v1", "a", "y"), false},
		{"other versions", cm("v1", "a", "") + "---\n" + cm("v2", "a", ""), false},
		{"one without apiVersion", cm("v1", "a", "") + "---\n" + cm("", "a", ""), false},
		{"other names", cm("v1", "a", "") + "---\n" + cm("v1", "b", ""), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, rerr := resmapMetadata([]byte(tc.stream), labelFilter(map[string]string{"a": "b"}))
			out, err := OriginLabels{Namespace: "ns", Name: "n"}.Run(bytes.NewBufferString(tc.stream))
			if (rerr != nil) != tc.fails {
				t.Fatalf("the ResMap pass: %v, want failing %v; this case no longer shows what Flux does", rerr, tc.fails)
			}
			if (err != nil) != tc.fails {
				t.Fatalf("err = %v (output %q), want failing %v as the ResMap pass (%v)", err, out, tc.fails, rerr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "post-renderer: ") {
				t.Errorf("err = %v, want it to start with post-renderer:", err)
			}
		})
	}
	if _, err := (OriginLabels{Namespace: "ns", Name: "n"}).Run(bytes.NewBufferString("a: [b\n")); err == nil {
		t.Error("malformed YAML post-rendered")
	}
}

// BenchmarkSetMetadata compares the origin-label pass with the ResMap pass
// it replaced, on the testdata chart's manifest and hooks.
func BenchmarkSetMetadata(b *testing.B) {
	ch, err := LoadChartDir("testdata/app")
	if err != nil {
		b.Fatal(err)
	}
	r, err := Render(context.Background(), ch, RenderOptions{ReleaseName: "web", Namespace: "apps"})
	if err != nil {
		b.Fatal(err)
	}
	in := []byte(r.String())
	origin := labelFilter(map[string]string{"helm.toolkit.fluxcd.io/name": "web", "helm.toolkit.fluxcd.io/namespace": "flux-system"})
	b.Run("resmap", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := resmapMetadata(in, origin); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := setMetadata(bytes.NewBuffer(in), origin); err != nil {
				b.Fatal(err)
			}
		}
	})
}
