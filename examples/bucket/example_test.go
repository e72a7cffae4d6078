package bucket_test

import (
	"fmt"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"

	"github.com/gitopskit/gitopskit/examples/bucket"
)

// The spec of a Bucket maps to source/bucket's S3 options; the access keys,
// TLS and proxy come from its Secrets, and fields that are not
// implemented are refused by name.
func ExampleS3Options() {
	spec := sourcev1.BucketSpec{
		Provider: sourcev1.BucketProviderGeneric, BucketName: "manifests",
		Endpoint: "minio.example.com:9000", Region: "us-east-1",
	}
	opts := bucket.S3Options(spec)
	fmt.Println(opts.Bucket, opts.Endpoint, opts.Insecure)
	fmt.Println(bucket.Unsupported(spec))
	spec.ServiceAccountName = "reader"
	fmt.Println(bucket.Unsupported(spec))
	// Output:
	// manifests minio.example.com:9000 false
	// <nil>
	// spec.serviceAccountName is not supported yet: use spec.secretRef
}
