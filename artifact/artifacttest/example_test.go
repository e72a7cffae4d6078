package artifacttest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitopskit/gitopskit/artifact"
	"github.com/gitopskit/gitopskit/artifact/artifacttest"
)

func TestPublishAndFetch(t *testing.T) {
	srv := artifacttest.NewServer(t)
	rev := "main@sha1:" + strings.Repeat("a", 40)
	a := srv.Publish(t, artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}, rev, map[string]string{"deploy.yaml": "kind: Deployment\n", "sub/cm.yaml": "kind: ConfigMap\n"})
	b := srv.Publish(t, artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}, rev, map[string]string{"deploy.yaml": "kind: Deployment\nspec: {}\n"})
	if a.URL == b.URL || !strings.HasPrefix(a.URL, srv.URL()+"/gitrepository/ns/app/") || a.Revision != rev {
		t.Fatalf("urls %s %s", a.URL, b.URL)
	}
	dst := t.TempDir()
	var f artifact.Fetcher
	if _, err := f.Fetch(context.Background(), a, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dst, "sub", "cm.yaml"))
	if err != nil || string(got) != "kind: ConfigMap\n" {
		t.Fatalf("cm.yaml = %q, %v", got, err)
	}
	if _, err := srv.PublishFiles(context.Background(), artifact.ObjectKey{Kind: "GitRepository", Namespace: "ns", Name: "app"}, rev, map[string]string{"../x": "x"}); err == nil {
		t.Error("path leaving the tree accepted")
	}
	if srv.Requests() != 1 {
		t.Errorf("requests = %d", srv.Requests())
	}
}

// Example serves one artifact and fetches it back. Tests use NewServer and
// Publish, which fail the test on error and clean up after it.
func Example() {
	root, _ := os.MkdirTemp("", "store")
	defer os.RemoveAll(root)
	srv, err := artifacttest.Start(root)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	ctx := context.Background()
	a, err := srv.PublishFiles(ctx, artifact.ObjectKey{Kind: "OCIRepository", Namespace: "default", Name: "manifests"}, "latest@sha256:"+strings.Repeat("0", 64), map[string]string{"cm.yaml": "kind: ConfigMap\n"})
	if err != nil {
		fmt.Println(err)
		return
	}
	dst, _ := os.MkdirTemp("", "fetched")
	defer os.RemoveAll(dst)
	res, err := (&artifact.Fetcher{}).Fetch(ctx, a, dst)
	fmt.Println(res.Files, err)
	// Output:
	// 1 <nil>
}
