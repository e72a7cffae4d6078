package oci_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// fluxFiles is a tree with nested directories, an empty file and a file
// without a trailing newline; none of its names is in the flux CLI's
// default ignore list.
var fluxFiles = map[string]string{
	"kustomization.yaml":           "resources:\n- apps/deploy.yaml\n",
	"apps/deploy.yaml":             "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
	"apps/config/settings.env":     "LEVEL=debug",
	"apps/config/empty.txt":        "",
	"infra/namespaces/prod.yaml":   "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n",
	"infra/namespaces/stage.yaml":  "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: stage\n",
	"docs/README.md":               "# manifests\n",
	"apps/config/nested/deep.json": "{\"a\": [1, 2, 3]}\n",
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sameTree(t *testing.T, got, want map[string]string) {
	t.Helper()
	for p, c := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s missing", p)
		case g != c:
			t.Errorf("%s: got %q, want %q", p, g, c)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: not pushed", p)
		}
	}
}

// runFlux runs the flux CLI with a HOME of its own (so no Docker config
// of the machine is read) and the extra environment given.
func runFlux(t *testing.T, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx(t), testbin.Tool(t, "flux"), args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"), "KUBECONFIG="+filepath.Join(home, "kubeconfig"))
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("flux %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// ociRef turns "oci://host/repo" and a tag into the flux CLI's
// "oci://host/repo:tag".
func ociRef(url, tag string) string { return url + ":" + tag }

func TestFluxPullsWhatPushPushes(t *testing.T) {
	reg := ocitest.New(t)
	c := reg.Client()
	res, err := c.Push(ctx(t), reg.URL("flux/pull"), "v1.2.3", writeTree(t, fluxFiles), oci.PushOptions{
		Source:   "https://example.com/fleet.git",
		Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567",
	})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir() // flux wants an existing directory
	runFlux(t, nil, "pull", "artifact", ociRef(reg.URL("flux/pull"), "v1.2.3"), "--output", out, "--insecure-registry")
	sameTree(t, readTree(t, out), fluxFiles)

	// By digest too, as `flux pull artifact oci://host/repo@sha256:<hex>`.
	out2 := t.TempDir()
	runFlux(t, nil, "pull", "artifact", reg.URL("flux/pull")+"@"+res.Digest, "--output", out2, "--insecure-registry")
	sameTree(t, readTree(t, out2), fluxFiles)
}

func TestFluxPullsOverTLSWithCredentials(t *testing.T) {
	reg := ocitest.New(t, ocitest.WithTLS(), ocitest.WithBasicAuth("flux", "s3cret-pass"))
	c := reg.Client()
	if _, err := c.Push(ctx(t), reg.URL("flux/tls"), "v1", writeTree(t, fluxFiles), oci.PushOptions{}); err != nil {
		t.Fatal(err)
	}
	// The CLI trusts the system roots; SSL_CERT_FILE makes the registry's
	// self-signed certificate one of them.
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, reg.CA(), 0o600); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir() // flux wants an existing directory
	runFlux(t, []string{"SSL_CERT_FILE=" + ca}, "pull", "artifact", ociRef(reg.URL("flux/tls"), "v1"), "--output", out, "--creds", "flux:s3cret-pass")
	sameTree(t, readTree(t, out), fluxFiles)
}

func TestFetchOfFluxPush(t *testing.T) {
	reg := ocitest.New(t)
	const (
		src = "https://example.com/fleet.git"
		rev = "v2.0.0@sha1:89abcdef0123456789abcdef0123456789abcdef"
	)
	stdout := runFlux(t, nil, "push", "artifact", ociRef(reg.URL("flux/push"), "v2.0.0"),
		"--path="+writeTree(t, fluxFiles), "--source="+src, "--revision="+rev,
		"--insecure-registry", "--output", "json")
	var pushed struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
		Digest     string `json:"digest"`
	}
	if err := json.Unmarshal(stdout, &pushed); err != nil {
		t.Fatalf("flux push output %q: %v", stdout, err)
	}
	if !strings.HasPrefix(pushed.Digest, "sha256:") {
		t.Fatalf("flux push digest %q", pushed.Digest)
	}
	c := reg.Client()
	if d, err := c.Resolve(ctx(t), reg.URL("flux/push"), "v2.0.0"); err != nil || d != pushed.Digest {
		t.Errorf("Resolve: %q %v, flux said %q", d, err, pushed.Digest)
	}

	repo := &oci.Repository{URL: reg.URL("flux/push"), Ref: oci.Reference{Tag: "v2.0.0"}, Client: c}
	dir := filepath.Join(t.TempDir(), "out")
	snap, err := repo.Fetch(ctx(t), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "v2.0.0@" + pushed.Digest; snap.Revision != want {
		t.Errorf("revision %q, want %q", snap.Revision, want)
	}
	sameTree(t, readTree(t, dir), fluxFiles)
	if snap.Metadata[oci.SourceAnnotation] != src || snap.Metadata[oci.RevisionAnnotation] != rev {
		t.Errorf("metadata %v", snap.Metadata)
	}
	if snap.Metadata[oci.CreatedAnnotation] == "" {
		t.Errorf("no %s in metadata %v", oci.CreatedAnnotation, snap.Metadata)
	}

	// The no-op check sees the same revision.
	if _, err := repo.Fetch(ctx(t), filepath.Join(t.TempDir(), "again"), snap.Revision); !errors.Is(err, source.ErrUnchanged) {
		t.Errorf("second fetch: %v, want source.ErrUnchanged", err)
	}
}
