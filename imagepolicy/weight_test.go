package imagepolicy

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/internal/depcheck"
)

// TestWeight keeps the pure core light: a program that only scans and
// selects tags links no Git library, no YAML library and no registry
// client (source/oci comes in only through the caller's TagLister), and
// no sub-package links a cloud SDK, SOPS, Helm, Sigstore or client-go;
// only gitpush links go-git.
func TestWeight(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const module = "github.com/gitopskit/gitopskit/"
	heavy := []string{"github.com/aws/aws-sdk-go", "github.com/Azure/azure-sdk-for-go", "cloud.google.com/go",
		"google.golang.org/api", "github.com/getsops/sops", "helm.sh/helm", "github.com/sigstore", "k8s.io/client-go"}
	gogit := "github.com/go-git/go-git"
	for pkg, forbidden := range map[string][]string{
		"imagepolicy": append([]string{gogit, "go.yaml.in/yaml", "sigs.k8s.io/kustomize", "github.com/google/go-containerregistry/pkg/v1/remote",
			module + "source/oci", module + "imagepolicy/update", module + "imagepolicy/gitpush", module + "imagepolicy/pullrequest"}, heavy...),
		"imagepolicy/update":      append([]string{gogit, "sigs.k8s.io/kustomize"}, heavy...),
		"imagepolicy/gitpush":     heavy,
		"imagepolicy/pullrequest": append([]string{gogit}, heavy...),
	} {
		g, err := depcheck.Load(ctx, goCmd, ".", module+pkg)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := g[module+pkg]; !ok {
			t.Fatalf("go list did not report %s", pkg)
		}
		for _, v := range depcheck.Forbidden(g, module+pkg, forbidden) {
			t.Errorf("%s links %s", pkg, v)
		}
		t.Logf("%s links %d packages", pkg, len(g))
	}
}
