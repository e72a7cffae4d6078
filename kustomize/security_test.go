package kustomize_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/internal/yamlguard"
	"github.com/gitopskit/gitopskit/kustomize"
)

// writeTree writes files (slash-separated names) below a new root.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  k: v\n"

// TestRemoteReferencesRefused tries every way a kustomization can make
// kustomize fetch something; with remote bases off, each is refused, the
// error names the file and the field, and the server sees no request.
func TestRemoteReferencesRefused(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintf(w, cm, "fetched")
	}))
	defer srv.Close()
	u := srv.URL                                                // http://127.0.0.1:port
	cred := strings.Replace(u, "://", "://deploy:hunter22@", 1) // credentials in the URL
	local := fmt.Sprintf(cm, "local")

	tests := []struct {
		name, kust, field string
		extra             map[string]string
	}{
		{"configMapGenerator files", "configMapGenerator:\n- name: c\n  files: [" + u + "/f]\n", "configMapGenerator[0].files[0]", nil},
		{"configMapGenerator files key=url", "configMapGenerator:\n- name: c\n  files: [\"key=" + u + "/f\"]\n", "configMapGenerator[0].files[0]", nil},
		{"configMapGenerator envs", "configMapGenerator:\n- name: c\n  envs: [" + u + "/e]\n", "configMapGenerator[0].envs[0]", nil},
		{"secretGenerator files", "secretGenerator:\n- name: s\n  files: [" + cred + "/f]\n", "secretGenerator[0].files[0]", nil},
		{"patchesStrategicMerge", "resources: [cm.yaml]\npatchesStrategicMerge: [" + u + "/p.yaml]\n", "patchesStrategicMerge[0]", nil},
		{"patchesJson6902 path", "resources: [cm.yaml]\npatchesJson6902:\n- target: {kind: ConfigMap, name: local}\n  path: " + u + "/p.yaml\n", "patchesJson6902[0].path", nil},
		{"replacements path", "resources: [cm.yaml]\nreplacements:\n- path: " + u + "/r.yaml\n", "replacements[0].path", nil},
		{"openapi path", "resources: [cm.yaml]\nopenapi:\n  path: " + u + "/schema.json\n", "openapi.path", nil},
		{"configurations", "resources: [cm.yaml]\nconfigurations: [" + u + "/c.yaml]\n", "configurations[0]", nil},
		{"generators", "generators: [" + u + "/g.yaml]\n", "generators[0]", nil},
		{"transformers", "resources: [cm.yaml]\ntransformers: [" + u + "/t.yaml]\n", "transformers[0]", nil},
		{"validators", "resources: [cm.yaml]\nvalidators: [" + u + "/v.yaml]\n", "validators[0]", nil},
		{"inline generator config", "generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata:\n    name: c\n  files: [" + u + "/f]\n", "generators[0].files[0]", nil},
		{"generator config file", "generators: [gen.yaml]\n", "files[0]", map[string]string{
			"app/gen.yaml": "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: c\nfiles: [" + u + "/f]\n"}},
		{"transformer config file", "resources: [cm.yaml]\ntransformers: [t.yaml]\n", "path", map[string]string{
			"app/t.yaml": "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: " + u + "/p.yaml\ntarget: {kind: ConfigMap}\n"}},
		{"scp-like with another user and a dotless host", "resources: [\"deploy@internal-git:org/repo\"]\n", "resources[0]", nil},
		{"upper-case git prefix", "resources: [\"GIT::" + u + "/org/repo\"]\n", "resources[0]", nil},
		{"upper-case scheme", "resources: [\"HTTPS://example.com/org/repo//x?ref=v1\"]\n", "resources[0]", nil},
		{"github shorthand", "resources: [\"GitHub.com/org/repo\"]\n", "resources[0]", nil},
		{"file scheme", "resources: [\"file:///etc/kubernetes\"]\n", "resources[0]", nil},
		{"component", "resources: [cm.yaml]\ncomponents: [" + u + "/comp]\n", "components[0]", nil},
		{"in a base", "resources: [../base]\n", "resources[0]", map[string]string{
			"base/kustomization.yaml": "resources: [" + u + "/x.yaml]\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"app/kustomization.yaml": tc.kust, "app/cm.yaml": local}
			for k, v := range tc.extra {
				files[k] = v
			}
			root := writeTree(t, files)
			before := hits.Load()
			_, err := kustomize.Build(context.Background(), root, "app", kustomize.Options{})
			if !errors.Is(err, kustomize.ErrRemoteBase) {
				t.Fatalf("got %v, want ErrRemoteBase", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name the field %q", err, tc.field)
			}
			if strings.Contains(err.Error(), "hunter22") {
				t.Errorf("error leaks the password: %v", err)
			}
			if n := hits.Load() - before; n != 0 {
				t.Errorf("the server saw %d requests", n)
			}
		})
	}
}

// TestRemoteLookalikesBuild checks that values kustomize never loads may
// hold URLs, and local paths that merely look odd still build.
func TestRemoteLookalikesBuild(t *testing.T) {
	root := writeTree(t, map[string]string{
		"app/kustomization.yaml": `resources: [cm.yaml, v1.2/other.yaml]
commonAnnotations:
  docs: https://example.com/docs
configMapGenerator:
- name: gen
  literals: ["URL=https://example.com/x", "SSH=git@github.com:org/repo"]
  options:
    annotations:
      link: https://example.com/y
images:
- name: nginx
  newName: registry.local:5000/nginx
patches:
- target: {kind: ConfigMap, name: local}
  patch: |
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: local
      annotations:
        source: https://example.com/z
`,
		"app/cm.yaml":         fmt.Sprintf(cm, "local"),
		"app/v1.2/other.yaml": fmt.Sprintf(cm, "other"),
	})
	res, err := kustomize.Build(context.Background(), root, "app", kustomize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 3 {
		t.Fatalf("got %d objects, want 3", len(res.Objects))
	}
}

// aliasBomb is a ConfigMap holding a 9×9 "billion laughs": a few hundred
// bytes that expand to 387 million nodes.
func aliasBomb() string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n" + yamlguard.AliasBomb(9, 9)
}

func TestAliasBombRefused(t *testing.T) {
	for _, tc := range []struct{ name, kust string }{
		{"listed resource", "resources: [bomb.yaml]\n"},
		{"generated kustomization", ""},
		{"in the kustomization", "resources: [cm.yaml]\n" + strings.ReplaceAll(aliasBomb(), "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n", "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"app/bomb.yaml": aliasBomb()}
			if tc.kust != "" {
				files["app/kustomization.yaml"] = tc.kust
				files["app/cm.yaml"] = fmt.Sprintf(cm, "x")
			}
			root := writeTree(t, files)
			_, err := kustomize.Build(context.Background(), root, "app", kustomize.Options{})
			if !errors.Is(err, yamlguard.ErrAliasBomb) {
				t.Fatalf("got %v, want an alias-bomb refusal", err)
			}
		})
	}
}

// doubling writes levels kustomizations, each including the one below twice
// under different name prefixes: 2^levels objects from a few kilobytes.
func doubling(levels int) map[string]string {
	files := map[string]string{"l0/kustomization.yaml": "resources: [cm.yaml]\n", "l0/cm.yaml": fmt.Sprintf(cm, "x")}
	for i := 1; i <= levels; i++ {
		files[fmt.Sprintf("l%d/a/kustomization.yaml", i)] = fmt.Sprintf("namePrefix: a-\nresources: [../../l%d]\n", i-1)
		files[fmt.Sprintf("l%d/b/kustomization.yaml", i)] = fmt.Sprintf("namePrefix: b-\nresources: [../../l%d]\n", i-1)
		files[fmt.Sprintf("l%d/kustomization.yaml", i)] = "resources: [a, b]\n"
	}
	return files
}

func TestObjectCap(t *testing.T) {
	root := writeTree(t, doubling(4)) // 16 objects
	if _, err := kustomize.Build(context.Background(), root, "l4", kustomize.Options{MaxObjects: 16}); err != nil {
		t.Fatalf("16 objects under a cap of 16: %v", err)
	}
	_, err := kustomize.Build(context.Background(), root, "l4", kustomize.Options{MaxObjects: 15})
	if !errors.Is(err, kustomize.ErrBuildTooLarge) || !strings.Contains(err.Error(), "MaxObjects") {
		t.Fatalf("got %v, want ErrBuildTooLarge naming MaxObjects", err)
	}
}

// TestExponentialInclusionStopped builds a tree that would hold 2^20
// objects; the read bounds stop it while kustomize is still reading.
func TestExponentialInclusionStopped(t *testing.T) {
	root := writeTree(t, doubling(20))
	_, err := kustomize.Build(context.Background(), root, "l20", kustomize.Options{MaxObjects: 100})
	if !errors.Is(err, kustomize.ErrBuildTooLarge) {
		t.Fatalf("got %v, want ErrBuildTooLarge", err)
	}
}

func TestBuildHonoursContext(t *testing.T) {
	root := writeTree(t, doubling(3))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := kustomize.Build(ctx, root, "l3", kustomize.Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestTargetNamespaceRestriction(t *testing.T) {
	base := map[string]string{
		"app/cm.yaml": fmt.Sprintf(cm, "a") + "---\n" + fmt.Sprintf(cm, "b"),
	}
	tests := []struct {
		name, kust   string
		allowCluster bool
		want         string // offending object named in the error, "" for success
	}{
		{"all in place", "resources: [cm.yaml]\n", false, ""},
		{"json6902 moves an object", "resources: [cm.yaml]\npatchesJson6902:\n- target: {version: v1, kind: ConfigMap, name: a}\n  path: move.yaml\n", false, "ConfigMap/kube-system/a"},
		{"replacement moves an object", "resources: [cm.yaml]\nreplacements:\n- source: {kind: ConfigMap, name: a, fieldPath: data.k}\n  targets:\n  - select: {kind: ConfigMap, name: b}\n    fieldPaths: [metadata.namespace]\n", false, "ConfigMap/v/b"},
		{"cluster-scoped object", "resources: [cm.yaml, ns.yaml]\n", false, "ClusterRole/other (cluster-scoped)"},
		{"cluster-scoped allowed", "resources: [cm.yaml, ns.yaml]\n", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"app/kustomization.yaml": tc.kust, "app/ns.yaml": "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: other\n",
				"app/move.yaml": "- op: add\n  path: /metadata/namespace\n  value: kube-system\n"}
			for k, v := range base {
				files[k] = v
			}
			root := writeTree(t, files)
			opts := kustomize.Options{TargetNamespace: "tenant", RestrictToTargetNamespace: true, AllowClusterScoped: tc.allowCluster}
			_, err := kustomize.Build(context.Background(), root, "app", opts)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, kustomize.ErrOutsideTargetNamespace) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrOutsideTargetNamespace naming %s", err, tc.want)
			}
			// Without the restriction the same tree builds: the check is what refuses it.
			opts.RestrictToTargetNamespace = false
			if _, err := kustomize.Build(context.Background(), root, "app", opts); err != nil {
				t.Fatalf("unrestricted build: %v", err)
			}
		})
	}
	if _, err := kustomize.Build(context.Background(), t.TempDir(), ".", kustomize.Options{RestrictToTargetNamespace: true}); err == nil {
		t.Error("RestrictToTargetNamespace without TargetNamespace accepted")
	}
}

// FuzzBuildHostile builds arbitrary kustomization and resource files:
// nothing may panic, reach the network with remote bases off, or take
// unbounded time or memory.
func FuzzBuildHostile(f *testing.F) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintf(w, cm, "fetched")
	}))
	defer srv.Close()
	u := srv.URL
	res := fmt.Sprintf(cm, "a")
	f.Add("resources: [cm.yaml]\n", res)
	f.Add("resources: ["+u+"/x.yaml]\n", res)
	f.Add("configMapGenerator:\n- name: c\n  files: [k="+u+"/f]\n", res)
	f.Add("generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata: {name: c}\n  envs: ["+u+"/e]\n", res)
	f.Add("resources: [cm.yaml]\npatchesStrategicMerge: ["+strings.ToUpper(u)+"/p]\n", res)
	f.Add("resources: [\"GIT::"+u+"/r\"]\n", res)
	f.Add("resources: [cm.yaml]\n", aliasBomb())
	f.Add("resources: [cm.yaml]\nnamespace: x\nreplacements:\n- path: cm.yaml\n", res)
	f.Fuzz(func(t *testing.T, kust, resource string) {
		if len(kust)+len(resource) > 4096 {
			return
		}
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range map[string]string{"kustomization.yaml": kust, "cm.yaml": resource} {
			if err := os.WriteFile(filepath.Join(root, "app", name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		before := hits.Load()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = kustomize.Build(ctx, root, "app", kustomize.Options{MaxObjects: 100})
		if n := hits.Load() - before; n != 0 {
			t.Fatalf("the build fetched %d URLs with remote bases off:\n%s", n, kust)
		}
	})
}

func TestBuildPathAsFlux(t *testing.T) {
	root := writeTree(t, map[string]string{"apps/cm.yaml": fmt.Sprintf(cm, "a")})
	for _, p := range []string{"apps", "./apps", "/apps", "apps/", "/./apps", filepath.Join(root, "apps")} {
		res, err := kustomize.Build(context.Background(), root, p, kustomize.Options{})
		if err != nil || len(res.Objects) != 1 {
			t.Errorf("path %q: %v", p, err)
		}
	}
	for _, p := range []string{"../apps", "/../apps", "apps/../../x"} {
		if _, err := kustomize.Build(context.Background(), root, p, kustomize.Options{}); !errors.Is(err, kustomize.ErrOutsideRoot) {
			t.Errorf("path %q: got %v, want ErrOutsideRoot", p, err)
		}
	}
}

// TestRemoteFilesAllowed builds remote files with remote bases allowed:
// Build downloads them itself (same output as the kustomize CLI), and a body
// over the cap is refused.
func TestRemoteFilesAllowed(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/cm.yaml":
			fmt.Fprintf(w, cm, "remote")
		case "/app.conf":
			fmt.Fprint(w, "level=debug\n")
		case "/patch.yaml":
			fmt.Fprint(w, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local\ndata:\n  patched: \"yes\"\n")
		case "/big.yaml":
			w.Write(bytes.Repeat([]byte("# padding\n"), 10000))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	u := srv.URL
	root := writeTree(t, map[string]string{
		"app/kustomization.yaml": "resources: [cm.yaml, " + u + "/cm.yaml]\n" +
			"configMapGenerator:\n- name: conf\n  files: [" + u + "/app.conf, \"renamed.conf=" + u + "/app.conf\"]\n" +
			"patches:\n- path: " + u + "/patch.yaml\n",
		"app/cm.yaml": fmt.Sprintf(cm, "local"),
	})
	res, err := kustomize.Build(context.Background(), root, "app", kustomize.Options{AllowRemoteBases: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 3 { // one GET per distinct URL, no git clone attempt
		t.Errorf("the build made %d requests, want 3", n)
	}
	if diff := cmp.Diff(string(cliBuild(t, filepath.Join(root, "app"))), string(res.YAML())); diff != "" {
		t.Errorf("output differs from the kustomize CLI (-cli +ours):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(root, ".gitopskit-remote")); !os.IsNotExist(err) {
		t.Error("downloads were written into the source tree")
	}

	// An inline plugin configuration's remote file is downloaded the same way.
	before := hits.Load()
	inline := writeTree(t, map[string]string{"app/kustomization.yaml": "generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata:\n    name: inline\n  files: [" + u + "/app.conf]\n"})
	res, err = kustomize.Build(context.Background(), inline, "app", kustomize.Options{AllowRemoteBases: true})
	if err != nil {
		t.Fatal(err)
	}
	if n := hits.Load() - before; n != 1 {
		t.Errorf("the inline configuration's build made %d requests, want 1", n)
	}
	if len(res.Objects) != 1 || !strings.Contains(string(res.YAML()), "level=debug") {
		t.Errorf("inline generator output:\n%s", res.YAML())
	}
	inlineBig := writeTree(t, map[string]string{"app/kustomization.yaml": "generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata:\n    name: inline\n  files: [" + u + "/big.yaml]\n"})
	_, err = kustomize.Build(context.Background(), inlineBig, "app", kustomize.Options{AllowRemoteBases: true, MaxRemoteFileSize: 50_000})
	if !errors.Is(err, kustomize.ErrBuildTooLarge) {
		t.Fatalf("inline configuration over the cap: got %v, want ErrBuildTooLarge", err)
	}

	big := writeTree(t, map[string]string{"app/kustomization.yaml": "resources: [" + u + "/big.yaml]\n"})
	_, err = kustomize.Build(context.Background(), big, "app", kustomize.Options{AllowRemoteBases: true, MaxRemoteFileSize: 50_000})
	if !errors.Is(err, kustomize.ErrBuildTooLarge) || !strings.Contains(err.Error(), "resources[0]") {
		t.Fatalf("got %v, want ErrBuildTooLarge naming resources[0]", err)
	}
	cred := strings.Replace(u, "://", "://deploy:hunter22@", 1)
	missing := writeTree(t, map[string]string{"app/kustomization.yaml": "patches:\n- path: " + cred + "/nope.yaml\n"})
	_, err = kustomize.Build(context.Background(), missing, "app", kustomize.Options{AllowRemoteBases: true})
	if err == nil || !strings.Contains(err.Error(), "404") || strings.Contains(err.Error(), "hunter22") {
		t.Fatalf("got %v, want a 404 error without the password", err)
	}
}
