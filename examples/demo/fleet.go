package main

import (
	"fmt"
	"strings"
)

// Names used by the demo.
const (
	demoNamespace = "gitopskit-demo"
	appsNamespace = "demo-apps"
	// proxyImage is the repository, in the in-process registry, of the
	// image the image automation keeps up to date.
	proxyImage = "edge-proxy"
	// appsArtifact is the repository of the apps OCI artifact.
	appsArtifact = "fleet/apps"
)

// fleetV1 is the first commit of the sample fleet repository: the
// infrastructure, with a HelmRelease whose values come partly from a
// SOPS-encrypted Secret (added by the caller, encrypted) and an image the
// automation updates. image is "<registry host>/edge-proxy".
func fleetV1(image string) map[string]string {
	return map[string]string{
		"README.md": "# Sample fleet\n\ninfrastructure/ is applied from Git; the apps come from an OCI artifact and depend on the backend HelmRelease.\n",
		"infrastructure/namespace.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: demo-apps
`,
		"infrastructure/backend.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: backend
  namespace: gitopskit-demo
spec:
  interval: 10m
  releaseName: backend
  targetNamespace: demo-apps
  chart:
    spec:
      chart: backend
      version: 1.x
      interval: 10m
      sourceRef:
        kind: HelmRepository
        name: charts
  # The database password comes from the Secret the Kustomization
  # decrypted; the rest is inline.
  valuesFrom:
  - kind: Secret
    name: backend-values
    valuesKey: values.yaml
  values:
    greeting: Hello from the inline values
    replicas: 2
`,
		"infrastructure/edge-proxy.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: edge-proxy
  namespace: demo-apps
spec:
  replicas: 0
  selector:
    matchLabels:
      app: edge-proxy
  template:
    metadata:
      labels:
        app: edge-proxy
    spec:
      containers:
      - name: proxy
        image: %s:1.0.0 # {"$imagepolicy": "gitopskit-demo:edge-proxy"}
`, image),
		"infrastructure/legacy-banner.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: legacy-banner
  namespace: demo-apps
data:
  text: this object is removed from Git later and pruned
`,
	}
}

// fleetV2 is a change made by hand after the image automation's commit:
// a new inline greeting for the HelmRelease (an upgrade) and
// legacy-banner.yaml removed (a prune).
func fleetV2(image string) (files map[string]string, remove []string) {
	v1 := fleetV1(image)
	files = map[string]string{
		"infrastructure/backend.yaml": strings.Replace(v1["infrastructure/backend.yaml"], "Hello from the inline values", "Hello again from the inline values", 1),
	}
	return files, []string{"infrastructure/legacy-banner.yaml"}
}

// backendValues is the plain Secret, holding values for the backend
// HelmRelease, that the demo encrypts with SOPS before committing it.
func backendValues(password string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: backend-values
  namespace: gitopskit-demo
type: Opaque
stringData:
  values.yaml: |
    database:
      user: app
      password: %s
`, password)
}

// backendChart is the chart the in-process Helm repository serves: a
// ConfigMap of the inline values and a Secret of the database values.
func backendChart() map[string]string {
	return map[string]string{
		"Chart.yaml": `apiVersion: v2
name: backend
description: The demo's backend
version: 1.0.0
appVersion: "3.2.1"
`,
		"values.yaml": `greeting: Hello from the chart's defaults
replicas: 1
database:
  user: ""
  password: ""
`,
		"templates/settings.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-settings
data:
  greeting: {{ .Values.greeting | quote }}
  replicas: {{ .Values.replicas | quote }}
`,
		"templates/database.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-database
type: Opaque
stringData:
  DB_USER: {{ .Values.database.user | quote }}
  DB_PASSWORD: {{ .Values.database.password | quote }}
`,
	}
}

// appsFiles is the content of the apps OCI artifact.
func appsFiles() map[string]string {
	return map[string]string{
		"kustomization.yaml": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deployment.yaml
- service.yaml
- web-config.yaml
`,
		"deployment.yaml": `apiVersion: apps/v1
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
        image: nginx:1.27
        envFrom:
        - secretRef:
            name: backend-database
`,
		"service.yaml": `apiVersion: v1
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
		"web-config.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: demo-apps
data:
  greeting: Hello from ${cluster_name}
  environment: ${cluster_env}
`,
	}
}
