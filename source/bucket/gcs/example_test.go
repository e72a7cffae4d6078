package gcs_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/gcs"
)

// ExampleNew configures the provider for a bucket on Google Cloud
// Storage and a Bucket source over it. New checks the options but does not
// contact the server; credentials come only from the options (here none:
// a public bucket).
func ExampleNew() {
	ctx := context.Background()
	p, err := gcs.New(ctx, gcs.Options{Bucket: "manifests"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()
	fmt.Println(p)
	src := &bucket.Bucket{Provider: p, Prefix: "clusters/prod/"}
	_ = src // src.Fetch(ctx, dir, lastRevision)

	// Only service-account keys are accepted: an external-account
	// configuration could name programs to run or files to read.
	_, err = gcs.New(ctx, gcs.Options{Bucket: "manifests",
		ServiceAccountKey: []byte(`{"type": "external_account", "credential_source": {"file": "/etc/token"}}`)})
	fmt.Println(errors.Is(err, source.ErrInvalid))
	fmt.Println(err)
	// Output:
	// manifests at https://storage.googleapis.com
	// true
	// bucket configure manifests: invalid configuration: the key's type is "external_account": only "service_account" keys are accepted
}
