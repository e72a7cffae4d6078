package depcheck_test

import (
	"context"
	"fmt"
	"os/exec"
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

// TestLightPackages fails when a package that builds or fetches desired
// state gains a heavy dependency: a program that only builds
// Kustomizations, or only fetches Git, must stay small.
func TestLightPackages(t *testing.T) {
	goCmd, err := exec.LookPath("go") // go test puts its own GOROOT/bin first on PATH
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const module = "github.com/gitopskit/gitopskit/"
	for _, pkg := range []string{"kustomize", "artifact", "source", "source/git", "source/oci", "source/bucket"} {
		t.Run(pkg, func(t *testing.T) {
			g, err := depcheck.Load(ctx, goCmd, ".", module+pkg)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := g[module+pkg]; !ok {
				t.Fatalf("go list did not report %s", pkg)
			}
			for _, v := range depcheck.Forbidden(g, module+pkg, heavy) {
				t.Errorf("%s links %s", pkg, v)
			}
			t.Logf("%s links %d packages", pkg, len(g))
		})
	}
}

// TestNotifyPlainHTTP fails when notify or its HTTP provider clients gain a
// heavy dependency or a vendor SDK: the NATS client belongs to
// notify/provider/natsprovider and the OpenTelemetry SDK and exporter to
// notify/provider/otelprovider only, linked by programs that ask for them;
// Google Pub/Sub is served over its REST API, without a Google SDK or gRPC.
func TestNotifyPlainHTTP(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const module = "github.com/gitopskit/gitopskit/"
	forbidden := append([]string{"github.com/nats-io", "go.opentelemetry.io", "google.golang.org/grpc"}, heavy...)
	for _, pkg := range []string{"notify", "notify/provider"} {
		t.Run(pkg, func(t *testing.T) {
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
		})
	}
}

// TestVerificationOptional fails when source/oci links signature
// verification: only a program that sets oci.Repository.Verify to a
// cosignverify.Verifier pays for it.
func TestVerificationOptional(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const module = "github.com/gitopskit/gitopskit/"
	for pkg, forbidden := range map[string][]string{
		"source/oci":              {module + "source/oci/cosignverify", "github.com/sigstore"},
		"source/oci/cosignverify": heavy,
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
