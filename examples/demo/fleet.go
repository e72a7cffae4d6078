package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Names used by the demo.
const (
	demoNamespace = "gitopskit-demo"
	appsNamespace = "demo-apps"
)

// gitRepo is a working repository served by the in-process Git server,
// driven through the git CLI.
type gitRepo struct {
	dir string
	url string
}

func newGitRepo(dir, url string) (*gitRepo, error) {
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("the demo needs the git command on PATH: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	g := &gitRepo{dir: dir, url: url}
	if _, err := g.git("init", "-q", "-b", "main"); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *gitRepo) git(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Demo", "GIT_AUTHOR_EMAIL=demo@example.com",
		"GIT_COMMITTER_NAME=Demo", "GIT_COMMITTER_EMAIL=demo@example.com",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// commit writes files, removes paths and commits everything, returning
// the new commit's hash.
func (g *gitRepo) commit(msg string, files map[string]string, remove ...string) (string, error) {
	for p, content := range files {
		full := filepath.Join(g.dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	for _, p := range remove {
		if _, err := g.git("rm", "-q", p); err != nil {
			return "", err
		}
	}
	if _, err := g.git("add", "-A"); err != nil {
		return "", err
	}
	if _, err := g.git("commit", "-q", "-m", msg); err != nil {
		return "", err
	}
	return g.git("rev-parse", "HEAD")
}

// fleetV1 is the first commit of the sample fleet repository; the
// encrypted Secret is added by the caller.
func fleetV1() map[string]string {
	return map[string]string{
		"README.md": "# Sample fleet\n\ninfrastructure/ is applied first, apps/ depends on it.\n",
		"infrastructure/namespace.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: demo-apps
`,
		"infrastructure/cluster-info.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: cluster-info
  namespace: demo-apps
data:
  region: eu-west-1
`,
		"apps/kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deployment.yaml
- service.yaml
- web-config.yaml
- legacy-banner.yaml
`,
		"apps/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo-apps
  labels:
    app: web
    env: ${cluster_env}
spec:
  replicas: 0
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:${nginx_version:=1.27}
        envFrom:
        - secretRef:
            name: db-credentials
`,
		"apps/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo-apps
spec:
  selector:
    app: web
  ports:
  - port: 80
`,
		"apps/web-config.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: demo-apps
data:
  greeting: Hello from ${cluster_name}
  environment: ${cluster_env}
`,
		"apps/legacy-banner.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: legacy-banner
  namespace: demo-apps
data:
  text: this object is removed from Git in the second commit and pruned
`,
	}
}

// fleetV2 edits the apps and drops legacy-banner.yaml.
func fleetV2() (files map[string]string, remove []string) {
	v1 := fleetV1()
	files = map[string]string{
		"apps/kustomization.yaml": strings.Replace(v1["apps/kustomization.yaml"], "- legacy-banner.yaml\n", "", 1),
		"apps/web-config.yaml":    strings.Replace(v1["apps/web-config.yaml"], "Hello from", "Hello again from", 1),
		"apps/deployment.yaml":    strings.Replace(v1["apps/deployment.yaml"], "1.27", "1.28", 1),
	}
	return files, []string{"apps/legacy-banner.yaml"}
}

// dbSecret is the plain Secret the demo encrypts with SOPS before
// committing it.
func dbSecret(password string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
  namespace: demo-apps
type: Opaque
stringData:
  DB_USER: app
  DB_PASSWORD: %s
`, password)
}
