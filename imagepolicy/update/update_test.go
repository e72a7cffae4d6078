package update

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/imagepolicy"
	"github.com/gitopskit/gitopskit/source"
)

const digest = "sha256:0f5a7b9e2c4d6e8f0a1b3c5d7e9f1a2b4c6d8e0f2a4b6c8d0e2f4a6b8c0d2e4f"

var testPolicies = []Policy{
	{Namespace: "apps", Name: "web", Latest: imagepolicy.ImageRef{Name: "registry.example/web", Tag: "v2.1.0"}},
	{Namespace: "apps", Name: "steady", Latest: imagepolicy.ImageRef{Name: "img", Tag: "v1.0.0"}},
	{Namespace: "apps", Name: "pinned", Latest: imagepolicy.ImageRef{Name: "img", Tag: "v1.0.0", Digest: digest}},
	{Namespace: "apps", Name: "nodigest", Latest: imagepolicy.ImageRef{Name: "img", Tag: "v3"}},
	{Namespace: "apps", Name: "notag"},
}

// The cases reproduce what Flux's setter tests check: a kustomization
// named Kustomization and one named *.yml with name, tag and digest
// markers and a block-scalar patch next to them (flux2#3284), a CronJob
// with a changed and an unchanged container, a policy of another namespace
// and an unmarked file left alone.
var tree = map[string][2]string{
	"Kustomization": {`# not a working kustomization
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: container
    newName: old # {"$imagepolicy": "apps:web:name"}
    newTag: v1 # {"$imagepolicy": "apps:web:tag"}
`, `# not a working kustomization
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
  - name: container
    newName: registry.example/web # {"$imagepolicy": "apps:web:name"}
    newTag: v2.1.0 # {"$imagepolicy": "apps:web:tag"}
`},
	"deep/kustomization.yml": {`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
- name: container
  newTag: v1 # {"$imagepolicy": "apps:web:tag"}
  newDigest: sha256:1234 # {"$imagepolicy": "apps:pinned:digest"}
patches:
- patch: |
    - op: replace
      path: /spec/template/spec/containers/0/volumeMounts
      value:
        - mountPath: /a/very/long/path/that/kyaml/might/fold/if/it/reserialized/this/file
          name: cfg
  target:
    kind: Deployment
    image: img # {"$imagepolicy": "apps:pinned"}
`, `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
images:
- name: container
  newTag: v2.1.0 # {"$imagepolicy": "apps:web:tag"}
  newDigest: ` + digest + ` # {"$imagepolicy": "apps:pinned:digest"}
patches:
- patch: |
    - op: replace
      path: /spec/template/spec/containers/0/volumeMounts
      value:
        - mountPath: /a/very/long/path/that/kyaml/might/fold/if/it/reserialized/this/file
          name: cfg
  target:
    kind: Deployment
    image: img:v1.0.0@` + digest + ` # {"$imagepolicy": "apps:pinned"}
`},
	"cron.yaml": {`apiVersion: batch/v1
kind: CronJob
metadata:
  name: job
  namespace: team
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: c
            image: img:v1.0.0   # {"$imagepolicy": "apps:web"}
          - name: d
            image: img:v1.0.0 # {"$imagepolicy": "apps:steady"}
`, `apiVersion: batch/v1
kind: CronJob
metadata:
  name: job
  namespace: team
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers:
          - name: c
            image: registry.example/web:v2.1.0   # {"$imagepolicy": "apps:web"}
          - name: d
            image: img:v1.0.0 # {"$imagepolicy": "apps:steady"}
`},
	"other-namespace.yaml": {`apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  template:
    spec:
      containers:
      - image: user:v1.0.0 # {"$imagepolicy": "elsewhere:web"}
`, ""},
	"unmarked.yaml": {`apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
spec:
  containers:
  - image: img:v1.0.0 # same image, no marker
`, ""},
	"not-yaml.txt": {`image: img # {"$imagepolicy": "apps:web"}` + "\n", ""},
	"broken.yaml":  {"a: [\n# {\"$imagepolicy\": \"apps:web\"}\n", ""},
}

func writeTree(t *testing.T, files map[string][2]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, c := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c[0]), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestApplyFluxCases(t *testing.T) {
	dir := writeTree(t, tree)
	old := time.Now().Add(-time.Hour)
	for name := range tree {
		os.Chtimes(filepath.Join(dir, name), old, old)
	}
	res, err := Apply(context.Background(), dir, testPolicies, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range tree {
		p := filepath.Join(dir, filepath.FromSlash(name))
		got, _ := os.ReadFile(p)
		want := c[1]
		if want == "" {
			want = c[0]
			if fi, _ := os.Stat(p); !fi.ModTime().Equal(old) {
				t.Errorf("%s was rewritten though unchanged", name)
			}
		} else if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
			t.Errorf("%s mode = %v", name, fi.Mode())
		}
		if diff := cmp.Diff(want, string(got)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	kust := ObjectIdentifier{APIVersion: "kustomize.config.k8s.io/v1beta1", Kind: "Kustomization"}
	want := Result{
		FileChanges: map[string]ObjectChanges{
			"Kustomization": {kust: {
				{OldValue: "old", NewValue: "registry.example/web", Setter: "apps:web:name"},
				{OldValue: "v1", NewValue: "v2.1.0", Setter: "apps:web:tag"},
			}},
			"deep/kustomization.yml": {kust: {
				{OldValue: "v1", NewValue: "v2.1.0", Setter: "apps:web:tag"},
				{OldValue: "sha256:1234", NewValue: digest, Setter: "apps:pinned:digest"},
				{OldValue: "img", NewValue: "img:v1.0.0@" + digest, Setter: "apps:pinned"},
			}},
			"cron.yaml": {{APIVersion: "batch/v1", Kind: "CronJob", Name: "job", Namespace: "team"}: {
				{OldValue: "img:v1.0.0", NewValue: "registry.example/web:v2.1.0", Setter: "apps:web"},
			}},
		},
		ProblemFiles: []string{"broken.yaml"},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("result (-want +got):\n%s", diff)
	}
	if got := len(res.Changes()); got != 5 {
		t.Fatalf("Changes() has %d distinct changes, want 5", got)
	}
	if got := res.Objects()[kust]; len(got) != 5 {
		t.Fatalf("Objects()[kustomization] = %v", got)
	}

	// A second run changes nothing and writes nothing.
	again, err := Apply(context.Background(), dir, testPolicies, Options{})
	if err != nil || again.Changed() {
		t.Fatalf("second run = %+v, %v", again, err)
	}
}

func TestApplyPath(t *testing.T) {
	dir := writeTree(t, tree)
	res, err := Apply(context.Background(), dir, testPolicies, Options{Path: "deep"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"kustomization.yml"}, res.Files()); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cron.yaml")); string(b) != tree["cron.yaml"][0] {
		t.Fatal("a file outside the path changed")
	}
	res, err = Apply(context.Background(), dir, testPolicies, Options{Path: "cron.yaml"})
	if err != nil || !cmp.Equal(res.Files(), []string{"cron.yaml"}) {
		t.Fatalf("single-file path = %v, %v", res.Files(), err)
	}
	for _, bad := range []string{"../x", "/etc"} {
		if _, err := Apply(context.Background(), dir, testPolicies, Options{Path: bad}); !errors.Is(err, source.ErrInvalid) {
			t.Errorf("path %q = %v; want ErrInvalid", bad, err)
		}
	}
	if _, err := Apply(context.Background(), dir, testPolicies, Options{Path: "missing"}); err == nil {
		t.Error("a missing path is not an error")
	}
}

func TestApplySkipsSymlinks(t *testing.T) {
	outside := writeTree(t, map[string][2]string{"victim.yaml": {tree["cron.yaml"][0], ""}})
	dir := writeTree(t, nil)
	if err := os.Symlink(filepath.Join(outside, "victim.yaml"), filepath.Join(dir, "link.yaml")); err != nil {
		t.Fatal(err)
	}
	res, err := Apply(context.Background(), dir, testPolicies, Options{})
	if err != nil || res.Changed() {
		t.Fatalf("Apply = %+v, %v", res, err)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "victim.yaml")); string(b) != tree["cron.yaml"][0] {
		t.Fatal("a file behind a symbolic link was rewritten")
	}
	// A directory link inside the tree is not followed, and an update path
	// through it is refused.
	if err := os.Symlink(outside, filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	if res, err := Apply(context.Background(), dir, testPolicies, Options{}); err != nil || res.Changed() {
		t.Fatalf("Apply with a directory link = %+v, %v", res, err)
	}
	if _, err := Apply(context.Background(), dir, testPolicies, Options{Path: "linkdir/victim.yaml"}); err == nil {
		t.Fatal("an update path through a link out of the root was accepted")
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "victim.yaml")); string(b) != tree["cron.yaml"][0] {
		t.Fatal("a file behind a directory link was rewritten")
	}
}

func TestRewriteStyles(t *testing.T) {
	setters := Setters([]Policy{
		{Namespace: "ns", Name: "p", Latest: imagepolicy.ImageRef{Name: "r.example/app", Tag: "1.10"}},
		{Namespace: "ns", Name: "q", Latest: imagepolicy.ImageRef{Name: "r.example/app", Tag: "it's"}},
		{Namespace: "ns", Name: "y", Latest: imagepolicy.ImageRef{Name: "r", Tag: "yes"}},
	})
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "tag: v1 # {\"$imagepolicy\": \"ns:p:name\"}\n", "tag: r.example/app # {\"$imagepolicy\": \"ns:p:name\"}\n"},
		{"plain number becomes quoted", "tag: v1 # {\"$imagepolicy\": \"ns:p:tag\"}\n", "tag: \"1.10\" # {\"$imagepolicy\": \"ns:p:tag\"}\n"},
		{"yaml 1.1 bool quoted", "tag: v1 # {\"$imagepolicy\": \"ns:y:tag\"}\n", "tag: \"yes\" # {\"$imagepolicy\": \"ns:y:tag\"}\n"},
		{"single quotes kept", "tag: 'v1' # {\"$imagepolicy\": \"ns:q:tag\"}\n", "tag: 'it''s' # {\"$imagepolicy\": \"ns:q:tag\"}\n"},
		{"double quotes kept", "tag: \"v1\" # {\"$imagepolicy\": \"ns:p:tag\"}\n", "tag: \"1.10\" # {\"$imagepolicy\": \"ns:p:tag\"}\n"},
		{"crlf", "a: 1\r\ntag: v1 # {\"$imagepolicy\": \"ns:p:tag\"}\r\nb: 2\r\n", "a: 1\r\ntag: \"1.10\" # {\"$imagepolicy\": \"ns:p:tag\"}\r\nb: 2\r\n"},
		{"sequence item", "- v1 # {\"$imagepolicy\": \"ns:p:name\"}\n", "- r.example/app # {\"$imagepolicy\": \"ns:p:name\"}\n"},
		{"head comment", "list:\n  # {\"$imagepolicy\": \"ns:p:name\"}\n  - v1\n", "list:\n  # {\"$imagepolicy\": \"ns:p:name\"}\n  - r.example/app\n"},
		{"flow mapping", "c: {image: v1} # {\"$imagepolicy\": \"ns:p:name\"}\n", "c: {image: v1} # {\"$imagepolicy\": \"ns:p:name\"}\n"},
		{"unicode before", "ü: {x: y}\nnäme: v1 # {\"$imagepolicy\": \"ns:p:name\"}\n", "ü: {x: y}\nnäme: r.example/app # {\"$imagepolicy\": \"ns:p:name\"}\n"},
		{"several documents", "---\na: v1 # {\"$imagepolicy\": \"ns:p:name\"}\n---\n# c\nb: v0 # {\"$imagepolicy\": \"ns:p:tag\"}\n", "---\na: r.example/app # {\"$imagepolicy\": \"ns:p:name\"}\n---\n# c\nb: \"1.10\" # {\"$imagepolicy\": \"ns:p:tag\"}\n"},
		{"long form", "tag: v1 # {\"$ref\": \"#/definitions/io.k8s.cli.setters.ns:p:name\"}\n", "tag: r.example/app # {\"$ref\": \"#/definitions/io.k8s.cli.setters.ns:p:name\"}\n"},
		{"not a marker", "tag: v1 # {\"$imagepolicy\": \"ns:p\", \"x\": 1}\n", "tag: v1 # {\"$imagepolicy\": \"ns:p\", \"x\": 1}\n"},
		{"unknown policy", "tag: v1 # {\"$imagepolicy\": \"ns:zz\"}\n", "tag: v1 # {\"$imagepolicy\": \"ns:zz\"}\n"},
		{"no digest leaves the field", "d: sha256:1 # {\"$imagepolicy\": \"ns:p:digest\"}\n", "d: sha256:1 # {\"$imagepolicy\": \"ns:p:digest\"}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := Rewrite([]byte(tc.in), setters)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(out)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestRewriteSkips(t *testing.T) {
	setters := map[string]string{"ns:p": "new"}
	for _, in := range []string{
		"a: &x old # {\"$imagepolicy\": \"ns:p\"}\n",
		"a: !!str old # {\"$imagepolicy\": \"ns:p\"}\n",
		"a: | # {\"$imagepolicy\": \"ns:p\"}\n  old\n",
		"a: \"old\n  more\" # {\"$imagepolicy\": \"ns:p\"}\n",
	} {
		out, fr, err := Rewrite([]byte(in), setters)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if string(out) != in || len(fr.Changes) != 0 {
			t.Errorf("%q was rewritten to %q", in, out)
		}
		if len(fr.Skipped) != 1 || fr.Skipped[0].Reason == "" || fr.Skipped[0].Setter != "ns:p" {
			t.Errorf("%q: skipped = %+v", in, fr.Skipped)
		}
	}
}

func TestCommitMessage(t *testing.T) {
	dir := writeTree(t, map[string][2]string{"cron.yaml": tree["cron.yaml"]})
	res, err := Apply(context.Background(), dir, testPolicies, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data := TemplateData{AutomationObject: NamespacedName{Namespace: "flux-system", Name: "auto"}, Changed: res, Values: map[string]string{"env": "prod"}}
	// A template in the form Flux's documentation gives.
	tmpl := `Automated image update ({{ .Values.env }})

Automation name: {{ .AutomationObject }}

Files:
{{ range $filename, $_ := .Changed.FileChanges -}}
- {{ $filename }}
{{ end -}}

Objects:
{{ range $resource, $changes := .Changed.Objects -}}
- {{ $resource.Kind | lower }} {{ $resource.Namespace }}/{{ $resource.Name }}
  Changes:
{{- range $_, $change := $changes }}
    - {{ $change.OldValue }} -> {{ $change.NewValue }}
{{ end -}}
{{ end -}}
Images: {{ range .Changed.Changes }}{{ .NewValue }} {{ end }}`
	got, err := CommitMessage(tmpl, data)
	if err != nil {
		t.Fatal(err)
	}
	want := `Automated image update (prod)

Automation name: flux-system/auto

Files:
- cron.yaml
Objects:
- cronjob team/job
  Changes:
    - img:v1.0.0 -> registry.example/web:v2.1.0
Images: registry.example/web:v2.1.0 `
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if got, _ := CommitMessage("", data); got != DefaultMessageTemplate {
		t.Fatalf("default message = %q", got)
	}
	for _, bad := range []string{"{{ .Updated }}", "{{ .Changed.ImageResult }}"} {
		if _, err := CommitMessage(bad, data); err == nil || !strings.Contains(err.Error(), "removed") {
			t.Errorf("%s = %v; want the removed-field error", bad, err)
		}
	}
	if _, err := CommitMessage("{{ now }}", data); err == nil {
		t.Error("a non-hermetic function was allowed")
	}
	if _, err := CommitMessage(`{{ range until 2000000 }}x{{ end }}`, data); err == nil {
		t.Error("a 2 MB message was allowed")
	}
}
