package depcheck_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitopskit/gitopskit/internal/depcheck"
)

// heavy are the dependencies a light package must not link: cloud SDKs,
// SOPS (and its key services), Helm, Sigstore and client-go.
var heavy = []string{
	"github.com/aws/aws-sdk-go",
	"github.com/Azure/azure-sdk-for-go",
	"cloud.google.com/go",
	"google.golang.org/api",
	"github.com/getsops/sops",
	"helm.sh/helm",
	"github.com/sigstore",
	"k8s.io/client-go",
}

const module = "github.com/gitopskit/gitopskit/"

// notifyVendors are the SDKs that only notify's provider sub-packages may
// link: the NATS client (natsprovider), the OpenTelemetry SDK and exporter
// (otelprovider) and gRPC; Google Pub/Sub is served over its REST API.
var notifyVendors = []string{"github.com/nats-io", "go.opentelemetry.io", "google.golang.org/grpc"}

// TestLightPackages fails when a package gains a dependency its users must
// not pay for: a program that only builds Kustomizations, or only fetches
// Git, must stay small; notify and its HTTP provider clients link no vendor
// SDK; source/oci links signature verification only through cosignverify
// or sigstoreverify, which a program opts into; sigstoreverify links
// Sigstore but no cloud SDK, SOPS, Helm or client-go.
func TestLightPackages(t *testing.T) {
	goCmd, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on PATH
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"kustomize", heavy},
		{"artifact", heavy},
		{"source", heavy},
		{"source/git", heavy},
		{"source/oci", slices.Concat([]string{module + "source/oci/cosignverify", module + "source/oci/sigstoreverify"}, heavy)},
		{"source/oci/sigstoreverify", slices.DeleteFunc(slices.Clone(heavy), func(p string) bool { return p == "github.com/sigstore" })},
		{"source/oci/cosignverify", heavy},
		{"source/bucket", heavy},
		{"source/helm", slices.Concat([]string{module + "source/oci/cosignverify", module + "source/oci/sigstoreverify"}, heavy)},
		{"source/helm/helmtest", heavy},
		{"imagepolicy", slices.Concat([]string{"github.com/go-git/go-git", "go.yaml.in/yaml", "github.com/google/go-containerregistry/pkg/v1/remote", module + "source/oci"}, heavy)},
		{"imagepolicy/update", slices.Concat([]string{"github.com/go-git/go-git", "sigs.k8s.io/kustomize"}, heavy)},
		{"imagepolicy/gitpush", heavy},
		{"imagepolicy/pullrequest", slices.Concat([]string{"github.com/go-git/go-git"}, heavy)},
		// Helm's SDK, and client-go with it, only in helmrelease.
		{"helmrelease", []string{"github.com/aws/aws-sdk-go", "github.com/Azure/azure-sdk-for-go", "cloud.google.com/go",
			"google.golang.org/api", "github.com/getsops/sops", "github.com/sigstore"}},
		{"helmrelease/cluster", []string{"github.com/aws/aws-sdk-go", "github.com/Azure/azure-sdk-for-go", "cloud.google.com/go",
			"google.golang.org/api", "github.com/getsops/sops", "github.com/sigstore"}},
		{"reconcile", []string{"helm.sh/helm", "github.com/getsops/sops", "github.com/sigstore"}},
		// Each cloud provider links its own SDK and no other.
		{"source/bucket/azureblob", []string{"github.com/Azure/azure-sdk-for-go/sdk/azidentity", "github.com/AzureAD",
			"github.com/aws/aws-sdk-go", "cloud.google.com/go", "google.golang.org/api", "github.com/getsops/sops",
			"helm.sh/helm", "github.com/sigstore", "k8s.io/client-go"}},
		{"source/bucket/gcs", []string{"github.com/aws/aws-sdk-go", "github.com/Azure/azure-sdk-for-go",
			"github.com/getsops/sops", "helm.sh/helm", "github.com/sigstore", "k8s.io/client-go"}},
		{"notify", slices.Concat(notifyVendors, heavy)},
		{"notify/provider", slices.Concat(notifyVendors, heavy)},
		// SOPS's key services but not its configuration package, which pulls
		// in the Google Cloud Storage client and gRPC's xDS (envoy) packages.
		{"kustomize/sopsdecrypt", []string{"github.com/getsops/sops/v3/config", "github.com/getsops/sops/v3/publish",
			"cloud.google.com/go/storage", "google.golang.org/grpc/xds", "github.com/envoyproxy"}},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			g, err := depcheck.Load(ctx, goCmd, ".", module+tc.pkg)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := g[module+tc.pkg]; !ok {
				t.Fatalf("go list did not report %s", tc.pkg)
			}
			for _, v := range depcheck.Forbidden(g, module+tc.pkg, tc.forbidden) {
				t.Errorf("%s links %s", tc.pkg, v)
			}
			t.Logf("%s links %d packages", tc.pkg, len(g))
		})
	}
}

func TestForbidden(t *testing.T) {
	g := depcheck.Graph{
		"app":                              {"lib", "github.com/aws/aws-sdk-go-v2/aws"},
		"lib":                              {"k8s.io/client-go/rest", "k8s.io/client-gopher"},
		"github.com/aws/aws-sdk-go-v2/aws": {"github.com/aws/smithy-go"},
		"k8s.io/client-go/rest":            {"k8s.io/client-go/transport"},
	}
	got := fmt.Sprint(depcheck.Forbidden(g, "app", []string{"github.com/aws/aws-sdk-go", "k8s.io/client-go"}))
	want := "[github.com/aws/aws-sdk-go-v2/aws (via app → github.com/aws/aws-sdk-go-v2/aws) k8s.io/client-go/rest (via app → lib → k8s.io/client-go/rest)]"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if v := depcheck.Forbidden(g, "lib", []string{"k8s.io/client-gox"}); len(v) != 0 {
		t.Errorf("prefix matched a different path: %v", v)
	}
}

func Example() {
	g := depcheck.Graph{
		"example.com/app":            {"example.com/lib", "strings"},
		"example.com/lib":            {"helm.sh/helm/v4/pkg/action"},
		"helm.sh/helm/v4/pkg/action": nil,
	}
	for _, v := range depcheck.Forbidden(g, "example.com/app", []string{"helm.sh/helm"}) {
		fmt.Println(strings.Join(v.Chain, " → "))
	}
	// Output: example.com/app → example.com/lib → helm.sh/helm/v4/pkg/action
}
