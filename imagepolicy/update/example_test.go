package update_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gitopskit/gitopskit/imagepolicy"
	"github.com/gitopskit/gitopskit/imagepolicy/update"
)

// Apply rewrites the marked fields in place; CommitMessage renders the
// commit message from the result with a Flux message template.
func ExampleApply() {
	dir, _ := os.MkdirTemp("", "update")
	defer os.RemoveAll(dir)
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
spec:
  template:
    spec:
      containers:
        - name: web
          image: ghcr.io/org/web:1.0.0 # {"$imagepolicy": "flux-system:web"}
`
	_ = os.WriteFile(filepath.Join(dir, "deploy.yaml"), []byte(manifest), 0o644)

	res, err := update.Apply(context.Background(), dir, []update.Policy{{
		Namespace: "flux-system", Name: "web",
		Latest: imagepolicy.ImageRef{Name: "ghcr.io/org/web", Tag: "1.1.0"},
	}}, update.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(filepath.Join(dir, "deploy.yaml"))
	fmt.Print(string(b[len(b)-68:]))

	msg, _ := update.CommitMessage(`{{ range .Changed.Changes }}{{ .Setter }}: {{ .OldValue }} -> {{ .NewValue }}{{ end }}`,
		update.TemplateData{AutomationObject: update.NamespacedName{Namespace: "flux-system", Name: "auto"}, Changed: res})
	fmt.Println(msg)
	// Output:
	//  image: ghcr.io/org/web:1.1.0 # {"$imagepolicy": "flux-system:web"}
	// flux-system:web: ghcr.io/org/web:1.0.0 -> ghcr.io/org/web:1.1.0
}
