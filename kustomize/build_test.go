package kustomize_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/kustomize"
	"github.com/gitopskit/gitopskit/kustomize/kustomizetest"
)

func cliBuild(t testing.TB, dir string) []byte {
	t.Helper()
	cmd := exec.Command(testbin.Tool(t, "kustomize"), "build", "--load-restrictor", "LoadRestrictionsNone", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v: %s", dir, err, stderr.String())
	}
	return out
}

// copyTree copies src into a new temporary directory.
func copyTree(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestBuildMatchesCLI(t *testing.T) {
	corpus, _ := filepath.Abs("testdata/corpus")
	for _, path := range []string{"base", "overlays/prod", "generators", "plain/withkus", "numbers"} {
		t.Run(path, func(t *testing.T) {
			res, err := kustomize.Build(context.Background(), corpus, path, kustomize.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := cliBuild(t, filepath.Join(corpus, path))
			if diff := cmp.Diff(string(want), string(res.YAML())); diff != "" {
				t.Errorf("output differs from kustomize CLI (-cli +ours):\n%s", diff)
			}
			if len(res.Objects) != bytes.Count(want, []byte("\n---\n"))+1 {
				t.Errorf("got %d objects", len(res.Objects))
			}
		})
	}
}

func TestGeneratedKustomizationMatchesCLI(t *testing.T) {
	corpus, _ := filepath.Abs("testdata/corpus")
	gen, err := kustomize.Generate(context.Background(), corpus, "plain", kustomize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(corpus, "plain", "kustomization.yaml")); !os.IsNotExist(err) {
		t.Fatal("Generate wrote into the source tree")
	}
	for _, want := range []string{".hidden.yaml", "a.yaml", "sub/c.yml", "withkus"} {
		if !strings.Contains(string(gen), "- "+want+"\n") {
			t.Errorf("generated kustomization lacks %s:\n%s", want, gen)
		}
	}
	for _, not := range []string{"notes.YAML"} {
		if strings.Contains(string(gen), not) {
			t.Errorf("generated kustomization lists %s:\n%s", not, gen)
		}
	}
	res, err := kustomize.Build(context.Background(), corpus, "plain", kustomize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cp := copyTree(t, filepath.Join(corpus, "plain"))
	if err := os.WriteFile(filepath.Join(cp, "kustomization.yaml"), gen, 0o644); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(cliBuild(t, cp)), string(res.YAML())); diff != "" {
		t.Errorf("(-cli +ours):\n%s", diff)
	}
}

func TestLargeTreeMatchesCLI(t *testing.T) {
	root := t.TempDir()
	n, err := kustomizetest.WriteTree(root, 2000)
	if err != nil {
		t.Fatal(err)
	}
	res, err := kustomize.Build(context.Background(), root, ".", kustomize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != n {
		t.Fatalf("got %d objects, want %d", len(res.Objects), n)
	}
	gen, err := kustomize.Generate(context.Background(), root, ".", kustomize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "kustomization.yaml"), gen, 0o644); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(cliBuild(t, root)), string(res.YAML())); diff != "" {
		t.Errorf("(-cli +ours):\n%.3000s", diff)
	}
}

// TestOverridesMatchCLI checks the injected overrides against the CLI fed
// an equivalent hand-written kustomization.
func TestOverridesMatchCLI(t *testing.T) {
	corpus, _ := filepath.Abs("testdata/corpus")
	opts := kustomize.Options{
		TargetNamespace:   "team-a",
		NameSuffix:        "-v2",
		CommonLabels:      map[string]string{"owner": "team-a"},
		CommonAnnotations: map[string]string{"note": "managed"},
		Images:            []kustomize.Image{{Name: "ghcr.io/stefanprodan/podinfo", NewName: "example.com/podinfo", Digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"}},
		Patches: []kustomize.Patch{
			{Patch: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  replicas: 5\n"},
			{Patch: "- op: add\n  path: /metadata/labels/tier\n  value: web\n", Target: &kustomize.Selector{Kind: "Service", LabelSelector: "app.kubernetes.io/name=podinfo"}},
		},
		Components:              []string{"../components/monitoring", "../components/missing"},
		IgnoreMissingComponents: true,
	}
	res, err := kustomize.Build(context.Background(), corpus, "base", opts)
	if err != nil {
		t.Fatal(err)
	}
	cp := copyTree(t, corpus)
	kus := `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deployment.yaml, service.yaml, namespace.yaml]
labels:
  - pairs: {app.kubernetes.io/name: podinfo}
    includeSelectors: true
  - pairs: {owner: team-a}
namespace: team-a
nameSuffix: -v2
commonAnnotations: {note: managed}
images:
  - name: ghcr.io/stefanprodan/podinfo
    newName: example.com/podinfo
    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
patches:
  - patch: |
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: podinfo
      spec:
        replicas: 5
  - patch: |
      - op: add
        path: /metadata/labels/tier
        value: web
    target: {kind: Service, labelSelector: app.kubernetes.io/name=podinfo}
components: [../components/monitoring]
`
	if err := os.WriteFile(filepath.Join(cp, "base", "kustomization.yaml"), []byte(kus), 0o644); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(cliBuild(t, filepath.Join(cp, "base"))), string(res.YAML())); diff != "" {
		t.Errorf("(-cli +ours):\n%s", diff)
	}
	opts.IgnoreMissingComponents = false
	if _, err := kustomize.Build(context.Background(), corpus, "base", opts); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing component: got %v", err)
	}
}

func TestConfinement(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stolen\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(t *testing.T, dir, name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		setup   func(t *testing.T, root string)
		wantErr error
		wantMsg string
	}{
		{"symlinked resource", func(t *testing.T, root string) {
			write(t, root, "app/kustomization.yaml", "resources: [link.yaml]\n")
			if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "app", "link.yaml")); err != nil {
				t.Fatal(err)
			}
		}, kustomize.ErrOutsideRoot, "link.yaml"},
		{"dot-dot resource", func(t *testing.T, root string) {
			rel, _ := filepath.Rel(filepath.Join(root, "app"), filepath.Join(outside, "secret.yaml"))
			write(t, root, "app/kustomization.yaml", "resources: ["+rel+"]\n")
		}, kustomize.ErrOutsideRoot, "secret.yaml"},
		{"symlinked directory during generation", func(t *testing.T, root string) {
			write(t, root, "app/ok.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n")
			if err := os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "app", "evil.yaml")); err != nil {
				t.Fatal(err)
			}
		}, kustomize.ErrOutsideRoot, "evil.yaml"},
		{"git base", func(t *testing.T, root string) {
			write(t, root, "app/kustomization.yaml", "resources:\n  - https://github.com/org/repo//deploy?ref=v1\n")
		}, kustomize.ErrRemoteBase, "github.com/org/repo"},
		{"scp-like base", func(t *testing.T, root string) {
			write(t, root, "app/kustomization.yaml", "resources: [git@github.com:org/repo.git]\n")
		}, kustomize.ErrRemoteBase, "git@github.com"},
		{"host-like base in a nested kustomization", func(t *testing.T, root string) {
			write(t, root, "app/kustomization.yaml", "resources: [../base]\n")
			write(t, root, "base/kustomization.yaml", "resources: [github.com/org/repo/deploy]\n")
		}, kustomize.ErrRemoteBase, "base/kustomization.yaml"},
		{"remote patch file", func(t *testing.T, root string) {
			write(t, root, "app/kustomization.yaml", "patches:\n  - path: https://user:pw@example.com/p.yaml\n")
		}, kustomize.ErrRemoteBase, "example.com/p.yaml"},
		{"helm inflation", func(t *testing.T, root string) {
			write(t, root, "app/kustomization.yaml", "helmCharts:\n  - name: podinfo\n    repo: https://stefanprodan.github.io/podinfo\n")
		}, kustomize.ErrHelmCharts, "helmrelease"},
		{"exec plugin", func(t *testing.T, root string) {
			write(t, root, "app/kustomization.yaml", "generators: [gen.yaml]\n")
			write(t, root, "app/gen.yaml", "apiVersion: example.com/v1\nkind: Evil\nmetadata:\n  name: x\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: /bin/sh\n")
		}, nil, "plugin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			tc.setup(t, root)
			_, err := kustomize.Build(context.Background(), root, "app", kustomize.Options{})
			if err == nil {
				t.Fatal("build succeeded")
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v is not %v", err, tc.wantErr)
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.wantMsg)) {
				t.Errorf("error %q does not name %q", err, tc.wantMsg)
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("error leaks credentials: %v", err)
			}
		})
	}
	if _, err := kustomize.Build(context.Background(), outside, "../..", kustomize.Options{}); !errors.Is(err, kustomize.ErrOutsideRoot) {
		t.Errorf("path outside root: %v", err)
	}
}

func TestGenerateRejectsBadYAML(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "broken.yaml"), []byte("kind: [unclosed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := kustomize.Build(context.Background(), root, ".", kustomize.Options{})
	if err == nil || !strings.Contains(err.Error(), "broken.yaml") {
		t.Fatalf("got %v, want an error naming broken.yaml", err)
	}
}

type prefixIgnorer string

func (p prefixIgnorer) Match(path string, isDir bool) bool {
	return strings.HasPrefix(path, string(p)) || strings.HasPrefix(filepath.Base(path), ".")
}

func TestGenerateIgnorer(t *testing.T) {
	corpus, _ := filepath.Abs("testdata/corpus")
	gen, err := kustomize.Generate(context.Background(), corpus, "plain", kustomize.Options{Ignore: prefixIgnorer("plain/sub")})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(gen), "sub/") || !strings.Contains(string(gen), "a.yaml") {
		t.Errorf("ignorer not honoured:\n%s", gen)
	}
}

// TestOpenAPIField builds a kustomization with a custom OpenAPI schema in
// parallel with ordinary builds; the exclusive path must keep both correct.
func TestParallelBuilds(t *testing.T) {
	corpus, _ := filepath.Abs("testdata/corpus")
	root := t.TempDir()
	if _, err := kustomizetest.WriteTree(root, 200); err != nil {
		t.Fatal(err)
	}
	custom := t.TempDir()
	schema := `{"definitions":{"v1alpha1.MyKind":{"properties":{"spec":{"properties":{"items":{"items":{"properties":{"name":{"type":"string"},"v":{"type":"string"}},"type":"object"},"type":"array","x-kubernetes-patch-merge-key":"name","x-kubernetes-patch-strategy":"merge"}},"type":"object"}},"type":"object","x-kubernetes-group-version-kind":[{"group":"example.com","kind":"MyKind","version":"v1alpha1"}]}}}`
	files := map[string]string{
		"schema.json":        schema,
		"kustomization.yaml": "resources: [r.yaml]\nopenapi:\n  path: schema.json\npatches:\n  - patch: |\n      apiVersion: example.com/v1alpha1\n      kind: MyKind\n      metadata:\n        name: x\n      spec:\n        items:\n          - name: b\n            v: patched\n",
		"r.yaml":             "apiVersion: example.com/v1alpha1\nkind: MyKind\nmetadata:\n  name: x\nspec:\n  items:\n    - name: a\n      v: \"1\"\n    - name: b\n      v: \"2\"\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(custom, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type job struct{ root, path string }
	jobs := []job{{corpus, "base"}, {corpus, "overlays/prod"}, {corpus, "generators"}, {root, "."}, {custom, "."}}
	want := map[job]string{}
	for _, j := range jobs {
		r, err := kustomize.Build(context.Background(), j.root, j.path, kustomize.Options{})
		if err != nil {
			t.Fatal(err)
		}
		want[j] = r.Digest
	}
	if got := string(cliBuild(t, custom)); !strings.Contains(got, "v: \"1\"") || !strings.Contains(got, "patched") {
		t.Fatalf("custom schema fixture does not merge by key:\n%s", got)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		j := jobs[i%len(jobs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := kustomize.Build(context.Background(), j.root, j.path, kustomize.Options{})
			if err != nil {
				errs <- err
				return
			}
			if r.Digest != want[j] {
				errs <- fmt.Errorf("%s: digest %s, want %s", j.path, r.Digest, want[j])
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestGenerateListsAsFlux checks the generated kustomization against what
// Flux's generator lists: every *.yaml and *.yml file, dot-files and CI
// files included, no ignore rules of its own, and a file that is not a
// Kubernetes manifest fails the build unless lenient.
func TestGenerateListsAsFlux(t *testing.T) {
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n"
	tests := []struct {
		name    string
		files   map[string]string
		lenient bool
		want    []string
		wantErr string
	}{
		{"dot-files and CI files", map[string]string{"a.yaml": "a", "cloudbuild.yaml": "cb", ".github/w.yaml": "w", ".d.yml": "d"}, false, []string{"a", "cb", "d", "w"}, ""},
		{"no ignore rules of its own", map[string]string{"a.yaml": "a", "skip/b.yaml": "b", ".sourceignore": "skip/\n"}, false, []string{"a", "b"}, ""},
		{"extensions in lower case only", map[string]string{"a.yaml": "a", "b.YAML": "b", "c.Yml": "c", "d.json": "d"}, false, []string{"a"}, ""},
		{"not a manifest", map[string]string{"a.yaml": "a", "values.yaml": "!replicaCount: 1\n"}, false, nil, "values.yaml"},
		{"not a manifest, lenient", map[string]string{"a.yaml": "a", "values.yaml": "!replicaCount: 1\n"}, true, []string{"a"}, ""},
		{"empty file", map[string]string{"a.yaml": "a", "empty.yaml": "!"}, false, []string{"a"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for n, c := range tc.files {
				switch {
				case strings.HasPrefix(c, "!"):
					writeFile(t, root, n, []byte(c[1:]))
				case strings.Contains(n, "."):
					writeFile(t, root, n, []byte(fmt.Sprintf(cm, c)))
				}
				if n == ".sourceignore" {
					writeFile(t, root, n, []byte(c))
				}
			}
			res, err := kustomize.Build(context.Background(), root, ".", kustomize.Options{LenientGeneration: tc.lenient})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range res.Objects {
				got = append(got, o.GetName())
			}
			sort.Strings(got)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
