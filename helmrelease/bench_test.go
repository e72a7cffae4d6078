package helmrelease_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gitopskit/gitopskit/helmrelease"
	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/kustomize"
)

// BenchmarkRender renders the test chart (five objects, two hooks) with
// values, as `helm template` does: the side of BenchmarkHelmTemplate.
func BenchmarkRender(b *testing.B) {
	ch, err := helmrelease.LoadChartDir("testdata/app")
	if err != nil {
		b.Fatal(err)
	}
	opts := helmrelease.RenderOptions{ReleaseName: "web", Namespace: "apps", Values: map[string]any{"replicaCount": 3}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := helmrelease.Render(context.Background(), ch, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderFluxPostRenderers adds Flux's post-renderers (an image
// override, common metadata, origin labels) to BenchmarkRender.
func BenchmarkRenderFluxPostRenderers(b *testing.B) {
	ch, err := helmrelease.LoadChartDir("testdata/app")
	if err != nil {
		b.Fatal(err)
	}
	opts := helmrelease.RenderOptions{
		ReleaseName: "web", Namespace: "apps", Values: map[string]any{"replicaCount": 3},
		PostRenderers: helmrelease.FluxPostRenderers("flux-system", "web",
			[]helmrelease.Kustomize{{Images: []kustomize.Image{{Name: "ghcr.io/example/app", NewTag: "9"}}}},
			&helmrelease.CommonMetadata{Labels: map[string]string{"team": "a"}}),
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := helmrelease.Render(context.Background(), ch, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHelmTemplate runs `helm template` (bin/helm) on the same chart
// and values as BenchmarkRender, process start included, as a user or a
// CI job would.
func BenchmarkHelmTemplate(b *testing.B) {
	helm := testbin.Tool(b, "helm")
	home := b.TempDir()
	vf := filepath.Join(home, "values.yaml")
	if err := os.WriteFile(vf, []byte("replicaCount: 3\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	env := []string{"HOME=" + home, "HELM_CACHE_HOME=" + home, "HELM_CONFIG_HOME=" + home, "HELM_DATA_HOME=" + home, "KUBECONFIG=" + filepath.Join(home, "absent")}
	for b.Loop() {
		cmd := exec.Command(helm, "template", "web", "testdata/app", "-n", "apps", "-f", vf)
		cmd.Env = env
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkComposeValues composes values from two references, a target
// path and inline values, and digests them.
func BenchmarkComposeValues(b *testing.B) {
	g := helmrelease.ValuesData{
		{Kind: "ConfigMap", Name: "a"}: {"values.yaml": []byte("image:\n  repository: x\n  tag: y\nresources:\n  limits: {cpu: 1, memory: 1Gi}\nlist: [1, 2, 3]\n")},
		{Kind: "Secret", Name: "b"}:    {"token": []byte("abc")},
	}
	opts := helmrelease.ValuesOptions{
		From:   []helmrelease.ValuesReference{{Kind: "ConfigMap", Name: "a"}, {Kind: "Secret", Name: "b", ValuesKey: "token", TargetPath: "auth.token"}},
		Getter: g,
		Values: map[string]any{"replicaCount": 2, "image": map[string]any{"tag": "z"}},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := helmrelease.ComposeValues(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
}
