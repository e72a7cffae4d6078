package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
// story it tells: both revisions applied, the Secret decrypted, the
// substitution done and the removed object pruned.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := run(ctx, options{timeout: 2 * time.Minute, out: &out, skipNameValidation: true}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"Secret demo-apps/db-credentials decrypted in-cluster: DB_USER=app, DB_PASSWORD has 24 characters",
		`greeting="Hello from demo-cluster" environment="staging"`,
		`greeting="Hello again from demo-cluster"`,
		"ConfigMap demo-apps/legacy-banner: present",
		"ConfigMap demo-apps/legacy-banner: pruned",
		"Stopping the local control plane",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	revs := regexp.MustCompile(`apps +(main@sha1:[0-9a-f]{8}) +false +True +Applied revision`).FindAllStringSubmatch(s, -1)
	seen := map[string]bool{}
	for _, m := range revs {
		seen[m[1]] = true
	}
	if len(seen) != 2 {
		t.Errorf("want two distinct applied revisions for apps, got %v\n%s", seen, s)
	}
}

// TestEncryptYAMLDecryptsWithSOPS checks the demo's encryption against the
// sops command-line tool.
func TestEncryptYAMLDecryptsWithSOPS(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := encryptYAML([]byte(dbSecret("s3cr3t-value")), id.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, []byte("s3cr3t-value")) {
		t.Fatal("value left in clear")
	}
	if !bytes.Contains(enc, []byte("name: db-credentials")) {
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
	if !strings.Contains(string(plain), "DB_PASSWORD: s3cr3t-value") {
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
	for _, want := range []string{"Using the cluster of", "ConfigMap demo-apps/legacy-banner: pruned", "Cleaning up the demo objects"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q\n%s", want, s)
		}
	}
	if strings.Contains(s, "Starting a local control plane") {
		t.Error("the demo started its own control plane despite --kubeconfig")
	}
	// The Kustomizations pruned what they applied on the way out.
	var cms corev1.ConfigMapList
	if err := env.Client.List(ctx, &cms, client.InNamespace("demo-apps")); err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		if cm.Name != "kube-root-ca.crt" {
			t.Errorf("ConfigMap %s left behind", cm.Name)
		}
	}
}
