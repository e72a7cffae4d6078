package bucket_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/buckettest"
)

// Example fetches the objects under a prefix, then asks again with the
// revision it got: nothing has changed, so nothing is downloaded. With a
// real server the Provider comes from NewS3.
func Example() {
	objects := buckettest.New(map[string]string{
		".sourceignore":       "*.md\n",
		"apps/deploy.yaml":    "kind: Deployment\n",
		"apps/README.md":      "# notes\n",
		"clusters/prod.yaml":  "kind: Kustomization\n",
		"apps/overlay/x.yaml": "kind: ConfigMap\n",
	})
	src := &bucket.Bucket{Provider: objects, Prefix: "apps/", Workers: 4}

	root, _ := os.MkdirTemp("", "bucket-example")
	defer os.RemoveAll(root)
	dir := filepath.Join(root, "tree")
	snap, err := src.Fetch(context.Background(), dir, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			fmt.Println(filepath.ToSlash(rel))
		}
		return nil
	})
	fmt.Println(snap.Revision == bucket.Revision(map[string]string{
		"apps/deploy.yaml":    objects.Put("apps/deploy.yaml", []byte("kind: Deployment\n")),
		"apps/overlay/x.yaml": objects.Put("apps/overlay/x.yaml", []byte("kind: ConfigMap\n")),
	}))

	downloads := objects.Gets()
	_, err = src.Fetch(context.Background(), filepath.Join(root, "again"), snap.Revision)
	fmt.Println(errors.Is(err, source.ErrUnchanged), objects.Gets()-downloads)
	// Output:
	// .sourceignore
	// apps/deploy.yaml
	// apps/overlay/x.yaml
	// true
	// true 0
}

// ExampleNewS3 configures the provider for an S3-compatible server.
// NewS3 checks the options but does not contact the server.
func ExampleNewS3() {
	s3, err := bucket.NewS3(bucket.S3Options{
		Endpoint:  "minio.example.com:9000",
		Region:    "us-east-1",
		Bucket:    "manifests",
		AccessKey: "AKIAEXAMPLE",
		SecretKey: "example-secret-key",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s3)
	src := &bucket.Bucket{Provider: s3, Prefix: "clusters/prod/", Ignore: "*.md\n"}
	_ = src // src.Fetch(ctx, dir, lastRevision)

	_, err = bucket.NewS3(bucket.S3Options{Endpoint: "http://minio.example.com:9000", Bucket: "manifests"})
	fmt.Println(errors.Is(err, source.ErrInvalid))
	// Output:
	// manifests at https://minio.example.com:9000
	// true
}
