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

	"github.com/gitopskit/gitopskit/internal/testbin"
)

// TestDemo runs the whole demo on a local control plane and checks the
// story it tells: both revisions applied, the Secret decrypted, the
// substitution done and the removed object pruned.
func TestDemo(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if err := run(ctx, options{timeout: 2 * time.Minute, out: &out}); err != nil {
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
