package oci_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/oci"
	"github.com/gitopskit/gitopskit/source/oci/ocitest"
)

// Example pushes a directory as a Flux artifact to an in-process registry,
// fetches it by semver range, then asks again with the last revision: the
// second call resolves the manifest digest only.
func Example() {
	ctx := context.Background()
	reg := ocitest.Start(ocitest.WithTLS(), ocitest.WithBasicAuth("user", "pass"))
	defer reg.Close()

	src, _ := os.MkdirTemp("", "example-src-*")
	defer os.RemoveAll(src)
	_ = os.WriteFile(filepath.Join(src, "app.yaml"), []byte("kind: ConfigMap\n"), 0o640)

	client := oci.Client{
		Auth: &oci.Auth{Username: "user", Password: "pass"},
		TLS:  &oci.TLS{CA: reg.CA()},
	}
	url := reg.URL("manifests/app")
	pushed, err := client.Push(ctx, url, "v1.2.0", src, oci.PushOptions{
		Source:   "https://example.com/app.git",
		Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567",
		Created:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	repo := &oci.Repository{URL: url, Ref: oci.Reference{SemVer: "1.x"}, Client: client}
	out, _ := os.MkdirTemp("", "example-out-*")
	defer os.RemoveAll(out)
	dir := filepath.Join(out, "tree")
	snap, err := repo.Fetch(ctx, dir, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	content, _ := os.ReadFile(filepath.Join(dir, "app.yaml"))
	fmt.Println(snap.Revision == pushed.Revision, strings.HasPrefix(snap.Revision, "v1.2.0@sha256:"))
	fmt.Print(string(content))
	fmt.Println(snap.Metadata[oci.RevisionAnnotation])

	_, err = repo.Fetch(ctx, filepath.Join(out, "again"), snap.Revision)
	fmt.Println(errors.Is(err, source.ErrUnchanged))
	// Output:
	// true true
	// kind: ConfigMap
	// main@sha1:0123456789abcdef0123456789abcdef01234567
	// true
}

// ExampleKeychainFromDockerConfig reads the content of a
// kubernetes.io/dockerconfigjson Secret.
func ExampleKeychainFromDockerConfig() {
	secret := []byte(`{"auths":{"registry.example.com":{"username":"ci","password":"token"}}}`)
	kc, err := oci.KeychainFromDockerConfig(secret)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = oci.Client{Keychain: kc}
	_, err = oci.KeychainFromDockerConfig([]byte("not json"))
	fmt.Println(errors.Is(err, source.ErrInvalid))
	// Output: true
}

// ExampleSelectSemVer picks a tag as Flux's OCIRepository does:
// prereleases only when the range names one.
func ExampleSelectSemVer() {
	tags := []string{"v1.0.0", "v1.1.0-rc.1", "v1.0.1", "latest", "v2.0.0"}
	tag, _, _ := oci.SelectSemVer("1.x", "", tags)
	fmt.Println(tag)
	tag, _, _ = oci.SelectSemVer(">=1.1.0-0 <2.0.0", "", tags)
	fmt.Println(tag)
	tag, _, _ = oci.SelectSemVer("*", `^v1\.0\.`, tags)
	fmt.Println(tag)
	// Output:
	// v1.0.1
	// v1.1.0-rc.1
	// v1.0.1
}
