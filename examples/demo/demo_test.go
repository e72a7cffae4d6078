package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gitopskit/gitopskit/internal/testbin"
	"github.com/gitopskit/gitopskit/internal/testenv"
)

// TestDemo runs the whole demo on a local control plane and checks the
// story it tells: the HelmRelease installed with the value decrypted from
// Git, the OCI apps applied after it, the image update committed and
// applied, both commits fetched through the Receiver, the change upgraded
// and pruned, and the notifications at the sink.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := run(ctx, options{timeout: 2 * time.Minute, out: &out, skipNameValidation: true}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"HelmRelease backend: release demo-apps/backend v1, chart backend 1.0.0, deployed",
		"Secret demo-apps/backend-database rendered by Helm: DB_USER=app, DB_PASSWORD (24 characters) matches the value SOPS-encrypted in Git",
		`ConfigMap demo-apps/backend-settings (inline values): greeting="Hello from the inline values" replicas="2"`,
		`ConfigMap demo-apps/web-config from the OCI artifact (post-build substitution): greeting="Hello from demo-cluster" environment="staging"`,
		"then Kustomization apps applied at",
		"ImagePolicy edge-proxy picked 1.1.0; ImageUpdateAutomation fleet pushed commit",
		"HelmRelease backend upgraded: release v2 deployed",
		`greeting="Hello again from the inline values"`,
		"ConfigMap demo-apps/legacy-banner: pruned",
		"Stopping the local control plane",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(s, "WARNING") {
		t.Errorf("Kustomization apps was applied before its HelmRelease dependency was Ready:\n%s", s)
	}
	// The automation's commit, with the new tag, reached the Deployment.
	if !regexp.MustCompile(`fluxbot: Update images: 127\.0\.0\.1:\d+/edge-proxy:1\.0\.0 -> 127\.0\.0\.1:\d+/edge-proxy:1\.1\.0`).MatchString(s) ||
		!regexp.MustCompile(`Deployment demo-apps/edge-proxy now runs 127\.0\.0\.1:\d+/edge-proxy:1\.1\.0`).MatchString(s) {
		t.Errorf("the image update was not committed and applied:\n%s", s)
	}
	// Both pushes were fetched through the Receiver, well within the
	// GitRepository's ten-minute interval.
	fetched := regexp.MustCompile(`GitRepository fleet fetched (main@sha1:[0-9a-f]{8}) ([0-9.]+)s after the webhook`).FindAllStringSubmatch(s, -1)
	if len(fetched) != 2 || fetched[0][1] == fetched[1][1] {
		t.Fatalf("want two commits fetched after webhooks, got %v\n%s", fetched, s)
	}
	for _, m := range fetched {
		if secs, err := strconv.ParseFloat(m[2], 64); err != nil || secs > 60 {
			t.Errorf("%s fetched %ss after the webhook", m[1], m[2])
		}
	}
	// The notifications of every step reached the sink.
	_, sink, _ := strings.Cut(s, "The notification sink received")
	for _, want := range []string{
		"info  ImageUpdateAutomation/fleet Succeeded: pushed commit",
		"info  GitRepository/fleet NewArtifact",
		"info  Kustomization/infrastructure ReconciliationSucceeded",
		"info  HelmRelease/backend UpgradeSucceeded",
	} {
		if !strings.Contains(sink, want) {
			t.Errorf("the sink's last lines lack %q:\n%s", want, sink)
		}
	}
}

// TestEncryptYAMLDecryptsWithSOPS checks the demo's encryption against the
// sops command-line tool.
func TestEncryptYAMLDecryptsWithSOPS(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encryptYAML([]byte(backendValues("s3cr3t-value")), id.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, []byte("s3cr3t-value")) {
		t.Fatal("value left in clear")
	}
	if !bytes.Contains(enc, []byte("name: backend-values")) {
		t.Errorf("metadata should stay in clear:\n%s", enc)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "secret.yaml")
	if err := os.WriteFile(file, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testbin.Tool(t, "sops"), "--decrypt", file)
	cmd.Env = append(os.Environ(), "SOPS_AGE_KEY="+id.String())
	plain, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sops --decrypt: %v\n%s", err, plain)
	}
	if !strings.Contains(string(plain), "password: s3cr3t-value") {
		t.Errorf("decrypted:\n%s", plain)
	}
}

// TestDemoAgainstKubeconfig runs the demo against an existing cluster
// reached through --kubeconfig (a control plane the test starts without
// Flux's CRDs), which the demo must install and clean up after itself.
func TestDemoAgainstKubeconfig(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	env, err := testenv.Start(ctx, testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Stop()
	var out bytes.Buffer
	if err := run(ctx, options{kubeconfig: env.KubeconfigPath, timeout: 2 * time.Minute, out: &out, skipNameValidation: true}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"Using the cluster of", "HelmRelease backend upgraded", "ConfigMap demo-apps/legacy-banner: pruned", "Cleaning up the demo objects"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q\n%s", want, s)
		}
	}
	if strings.Contains(s, "Starting a local control plane") {
		t.Error("the demo started its own control plane despite --kubeconfig")
	}
	// The Kustomizations pruned what they applied on the way out and the
	// release was uninstalled.
	var cms corev1.ConfigMapList
	if err := env.Client.List(ctx, &cms, client.InNamespace("demo-apps")); err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		if cm.Name != "kube-root-ca.crt" {
			t.Errorf("ConfigMap %s left behind", cm.Name)
		}
	}
	var secrets corev1.SecretList
	if err := env.Client.List(ctx, &secrets, client.InNamespace("demo-apps")); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets.Items {
		t.Errorf("Secret %s left behind", s.Name)
	}
}

// TestDemoShortRevision checks the revisions of the status table: digests
// shortened as the flux CLI prints them, other values left alone.
func TestDemoShortRevision(t *testing.T) {
	for in, want := range map[string]string{
		"main@sha1:0123456789abcdef0123456789abcdef01234567": "main@sha1:01234567",
		"latest@sha256:" + strings.Repeat("ab", 32):          "latest@sha256:abababab",
		"sha256:" + strings.Repeat("cd", 32):                 "sha256:cdcdcdcd",
		"sha1:0123456789abcdef0123456789abcdef01234567":      "sha1:01234567",
		"edge-proxy:1.1.0":                                   "edge-proxy:1.1.0",
		"1.0.0 (v1)":                                         "1.0.0 (v1)",
		"":                                                   "",
	} {
		if got := shortRevision(in); got != want {
			t.Errorf("shortRevision(%q) = %q, want %q", in, got, want)
		}
	}
}
