package main

import (
	"fmt"
	"strings"
)

// Names used by the demo.
const (
	demoNamespace = "gitopskit-demo"
	appsNamespace = "demo-apps"
)

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
