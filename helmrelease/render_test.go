package helmrelease_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/kustomize"
)

// helmCmd runs bin/helm hermetically (no home directory, no cluster).
func helmCmd(t testing.TB, args ...string) []byte {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(testbin.Tool(t, "helm"), args...)
	cmd.Env = []string{
		"HOME=" + home,
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
		"KUBECONFIG=" + filepath.Join(home, "absent"),
		"PATH=" + os.Getenv("PATH"),
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestRenderAsHelmTemplate renders the test chart with the same values,
// names and capabilities as `helm template` (bin/helm) and compares the
// output byte for byte.
func TestRenderAsHelmTemplate(t *testing.T) {
	valuesDoc := "replicaCount: 3\nimage:\n  tag: v9\nconfig:\n  list: [x, y, z]\n"
	dir := t.TempDir()
	vf := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(vf, []byte(valuesDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	helmOut := helmCmd(t, "package", "testdata/app", "-d", dir)
	tgz := strings.TrimSpace(string(helmOut[bytes.LastIndexByte(bytes.TrimSpace(helmOut), ' ')+1:]))
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	packed, err := helmrelease.LoadChart(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	unpacked, err := helmrelease.LoadChartDir("testdata/app")
	if err != nil {
		t.Fatal(err)
	}
	vals, err := helmrelease.ReadValues([]byte(valuesDoc))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		opts helmrelease.RenderOptions
	}{
		{name: "defaults", args: nil, opts: helmrelease.RenderOptions{}},
		{
			name: "values, names, capabilities, CRDs",
			args: []string{"web", "-n", "apps", "-f", vf, "--kube-version", "v1.35.2", "--api-versions", "example.com/v1", "--include-crds"},
			opts: helmrelease.RenderOptions{ReleaseName: "web", Namespace: "apps", Values: vals, KubeVersion: "v1.35.2", APIVersions: []string{"example.com/v1"}, IncludeCRDs: true},
		},
		{
			name: "upgrade",
			args: []string{"web", "-n", "apps", "--is-upgrade", "--set", "hook.enabled=false"},
			opts: helmrelease.RenderOptions{ReleaseName: "web", Namespace: "apps", IsUpgrade: true, Values: map[string]any{"hook": map[string]any{"enabled": false}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"template"}, tc.args...)
			if len(tc.args) == 0 {
				args = append(args, "testdata/app")
			} else {
				args = append(args[:2], append([]string{"testdata/app"}, args[2:]...)...)
			}
			want := string(helmCmd(t, args...))
			for _, ch := range []*helmrelease.Chart{unpacked, packed} {
				got, err := helmrelease.Render(context.Background(), ch, tc.opts)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got.String()); diff != "" {
					t.Errorf("render differs from helm template (-helm +render):\n%s", diff)
				}
			}
		})
	}
}

func decodeAll(t testing.TB, s string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(s), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return out
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

func byID(objs []*unstructured.Unstructured) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, o := range objs {
		out[o.GetKind()+"/"+o.GetName()] = o.Object
	}
	return out
}

// TestPostRenderersAsKustomize: the Kustomize post-renderer (strategic
// merge and JSON 6902 patches with targets, images) gives what the
// kustomize CLI gives on helm template's output with the same
// kustomization, hooks included, and Flux's labels follow.
func TestPostRenderersAsKustomize(t *testing.T) {
	patches := []kustomize.Patch{
		{Patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: any\nspec:\n  replicas: 5\n", Target: &kustomize.Selector{Kind: "Deployment"}},
		{Patch: `[{"op": "add", "path": "/metadata/annotations/patched", "value": "json6902"}]`, Target: &kustomize.Selector{Kind: "Job", LabelSelector: "app.kubernetes.io/name=app"}},
		{Patch: "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-app-test\n  labels:\n    smp: hook\n"},
	}
	images := []kustomize.Image{{Name: "ghcr.io/example/app", NewName: "registry.example/app", NewTag: "7.0.0"}}

	dir := t.TempDir()
	helmOut := helmCmd(t, "template", "web", "testdata/app", "-n", "apps")
	if err := os.WriteFile(filepath.Join(dir, "helm.yaml"), helmOut, 0o600); err != nil {
		t.Fatal(err)
	}
	kus := map[string]any{"resources": []string{"helm.yaml"}, "images": []map[string]string{{"name": images[0].Name, "newName": images[0].NewName, "newTag": images[0].NewTag}}}
	var kp []map[string]any
	for _, p := range patches {
		e := map[string]any{"patch": p.Patch}
		if p.Target != nil {
			e["target"] = p.Target
		}
		kp = append(kp, e)
	}
	kus["patches"] = kp
	data, _ := yaml.Marshal(kus)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(testbin.Tool(t, "kustomize"), "build", dir).Output()
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	want := byID(decodeAll(t, string(out)))

	ch, err := helmrelease.LoadChartDir("testdata/app")
	if err != nil {
		t.Fatal(err)
	}
	got, err := helmrelease.Render(context.Background(), ch, helmrelease.RenderOptions{
		ReleaseName: "web", Namespace: "apps",
		PostRenderers: []helmrelease.PostRenderer{helmrelease.Kustomize{Patches: patches, Images: images}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := got.HookObjects()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, byID(append(got.Objects, hooks...))); diff != "" {
		t.Errorf("post-rendered objects differ from kustomize build (-kustomize +render):\n%s", diff)
	}
	if len(got.Hooks) != 2 {
		t.Errorf("hooks %d, want 2 (post-rendering must keep them hooks)", len(got.Hooks))
	}
}

// TestFluxPostRenderers: common metadata and origin labels on every
// object, hooks included; origin labels win a collision.
func TestFluxPostRenderers(t *testing.T) {
	ch, err := helmrelease.LoadChartDir("testdata/app")
	if err != nil {
		t.Fatal(err)
	}
	got, err := helmrelease.Render(context.Background(), ch, helmrelease.RenderOptions{
		ReleaseName: "web", Namespace: "apps",
		PostRenderers: helmrelease.FluxPostRenderers("flux-system", "web", nil, &helmrelease.CommonMetadata{
			Labels:      map[string]string{"team": "a", "helm.toolkit.fluxcd.io/name": "other"},
			Annotations: map[string]string{"owner": "ops"},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	hooks, err := got.HookObjects()
	if err != nil {
		t.Fatal(err)
	}
	all := append(got.Objects, hooks...)
	if len(all) != 5 {
		t.Fatalf("%d objects, want 5", len(all))
	}
	var ids []string
	for _, o := range all {
		ids = append(ids, o.GetKind())
		l, a := o.GetLabels(), o.GetAnnotations()
		if l["team"] != "a" || a["owner"] != "ops" || l["helm.toolkit.fluxcd.io/name"] != "web" || l["helm.toolkit.fluxcd.io/namespace"] != "flux-system" {
			t.Errorf("%s/%s: labels %v annotations %v", o.GetKind(), o.GetName(), l, a)
		}
	}
	sort.Strings(ids)
	if diff := cmp.Diff([]string{"ConfigMap", "Deployment", "Job", "Pod", "Service"}, ids); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
}

// TestRenderLogsToContextLogger: Helm's slog records reach the logr
// logger of the context.
func TestRenderLogsToContextLogger(t *testing.T) {
	var lines []string
	log := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{Verbosity: 10})
	ch, err := helmrelease.LoadChartDir("testdata/app")
	if err != nil {
		t.Fatal(err)
	}
	_, err = helmrelease.Render(logr.NewContext(context.Background(), log), ch, helmrelease.RenderOptions{ReleaseName: "Not_A_Valid_Name"})
	if err == nil {
		t.Fatal("an invalid release name rendered")
	}
	if !strings.Contains(strings.Join(lines, "\n"), "release name check failed") {
		t.Errorf("Helm's log record did not reach the logger: %q", lines)
	}
}

// TestRenderErrors: a chart that fails to render reports the template.
func TestRenderErrors(t *testing.T) {
	ch, err := helmrelease.LoadChartDir("testdata/app")
	if err != nil {
		t.Fatal(err)
	}
	_, err = helmrelease.Render(context.Background(), ch, helmrelease.RenderOptions{Values: map[string]any{"config": "not-a-map"}})
	if err == nil || !strings.Contains(err.Error(), "configmap.yaml") {
		t.Errorf("error %v does not name the failing template", err)
	}
	if _, err := helmrelease.LoadChart(strings.NewReader("not a tgz")); err == nil {
		t.Error("a non-archive loaded")
	}
	if _, err := helmrelease.Render(context.Background(), ch, helmrelease.RenderOptions{KubeVersion: "banana"}); err == nil {
		t.Error("an invalid kube version rendered")
	}
}

// TestRenderConcurrently renders with post-renderers from several
// goroutines, as a controller does for many releases (run with -race).
func TestRenderConcurrently(t *testing.T) {
	ch, err := helmrelease.LoadChartDir("testdata/app")
	if err != nil {
		t.Fatal(err)
	}
	opts := helmrelease.RenderOptions{ReleaseName: "web", PostRenderers: helmrelease.FluxPostRenderers("ns", "web",
		[]helmrelease.Kustomize{{Images: []kustomize.Image{{Name: "ghcr.io/example/app", NewTag: "2"}}}}, &helmrelease.CommonMetadata{Labels: map[string]string{"a": "b"}})}
	want, err := helmrelease.Render(context.Background(), ch, opts)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			got, err := helmrelease.Render(context.Background(), ch, opts)
			if err == nil && got.String() != want.String() {
				err = errors.New("concurrent render differs")
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
