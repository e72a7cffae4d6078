package update

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitopskit/gitopskit/imagepolicy"
)

// BenchmarkApply rewrites a tree of 2,000 YAML files of which 200 carry a
// marker (each file a Deployment of about 1 KiB), every run from a fresh
// copy so each run changes the 200 values.
func BenchmarkApply(b *testing.B) {
	src := b.TempDir()
	const files, marked = 2000, 200
	for i := range files {
		comment := "# no marker"
		if i%(files/marked) == 0 {
			comment = `# {"$imagepolicy": "apps:web"}`
		}
		doc := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-%d
  namespace: team-%d
  labels: {app: app-%d, tier: backend}
spec:
  replicas: 2
  selector:
    matchLabels: {app: app-%d}
  template:
    metadata:
      labels: {app: app-%d}
    spec:
      containers:
        - name: app
          image: ghcr.io/org/web:1.0.0 %s
          ports:
            - containerPort: 8080
          env:
            - {name: A, value: "1"}
            - {name: B, value: "2"}
          resources:
            limits: {cpu: 500m, memory: 256Mi}
`, i, i%10, i, i, i, comment)
		p := filepath.Join(src, fmt.Sprintf("d%02d", i%50), fmt.Sprintf("app-%d.yaml", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	policies := []Policy{{Namespace: "apps", Name: "web", Latest: imagepolicy.ImageRef{Name: "ghcr.io/org/web", Tag: "1.1.0"}}}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "tree")
		if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := Apply(context.Background(), dir, policies, Options{})
		if err != nil || len(res.FileChanges) != marked {
			b.Fatalf("%d files changed, %v", len(res.FileChanges), err)
		}
	}
}
