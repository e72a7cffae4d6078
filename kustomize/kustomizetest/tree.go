package kustomizetest

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteTree writes below dir a tree of about `resources` Kubernetes objects
// in Flux's usual layout: no kustomization at the top, one directory per
// application holding its own kustomization.yaml (a Deployment, a Service, a
// ConfigMap and a ServiceAccount, with ${cluster_name}-style variables for
// post-build substitution). It returns the number of objects written.
func WriteTree(dir string, resources int) (int, error) {
	apps := max(resources/4, 1)
	for i := range apps {
		name := fmt.Sprintf("app-%04d", i)
		d := filepath.Join(dir, "apps", name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
		files := map[string]string{
			"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: " + name + "\nresources:\n  - deploy.yaml\n  - svc.yaml\n  - cm.yaml\n  - sa.yaml\n",
			"deploy.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels:
    app: %[1]s
    cluster: ${cluster_name}
spec:
  replicas: ${replicas:=1}
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      serviceAccountName: %[1]s
      containers:
        - name: app
          image: registry.example.com/%[1]s:1.0.%[2]d
          ports:
            - containerPort: 8080
              name: http
          env:
            - name: REGION
              value: ${region}
          resources:
            requests:
              cpu: 10m
              memory: 32Mi
`, name, i),
			"svc.yaml": fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %[1]s\nspec:\n  selector:\n    app: %[1]s\n  ports:\n    - port: 80\n      targetPort: http\n", name),
			"cm.yaml":  fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %[1]s-config\ndata:\n  cluster: ${cluster_name}\n  index: \"%[2]d\"\n  greeting: hello from %[1]s\n", name, i),
			"sa.yaml":  fmt.Sprintf("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: %s\n", name),
		}
		for f, c := range files {
			if err := os.WriteFile(filepath.Join(d, f), []byte(c), 0o644); err != nil {
				return 0, err
			}
		}
	}
	return apps * 4, nil
}
