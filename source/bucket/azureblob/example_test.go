package azureblob_test

import (
	"errors"
	"fmt"

	"github.com/gitopskit/gitopskit/source"
	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/azureblob"
)

// Example configures the provider for a container read with the
// account's shared key and hands it to a bucket.Bucket, whose Fetch
// would then list and download the blobs. New checks the options but
// does not contact the service; the account name comes from the
// endpoint.
func Example() {
	p, err := azureblob.New(azureblob.Options{
		Endpoint:   "https://example.blob.core.windows.net",
		Container:  "manifests",
		AccountKey: "c2VjcmV0LWtleQ==",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	src := &bucket.Bucket{Provider: p, Prefix: "apps/"}
	fmt.Println(p, src.Prefix)

	// Plain HTTP (an emulator) must be asked for.
	_, err = azureblob.New(azureblob.Options{
		Endpoint:  "http://127.0.0.1:10000/devstoreaccount1",
		Container: "manifests",
		SASToken:  "sv=2024-08-04&sr=c&sp=rl&sig=c2lnbmF0dXJl",
	})
	fmt.Println(errors.Is(err, source.ErrInvalid))
	fmt.Println(err)
	// Output:
	// manifests at https://example.blob.core.windows.net apps/
	// true
	// bucket configure manifests: invalid configuration: endpoint "http://127.0.0.1:10000/devstoreaccount1" is plain http: set Insecure to allow it
}

// ExampleAccountName shows where the account of a shared key is read from
// when Options.AccountName is empty.
func ExampleAccountName() {
	for _, endpoint := range []string{
		"https://example.blob.core.windows.net",
		"https://example.blob.core.chinacloudapi.cn/",
		"http://127.0.0.1:10000/devstoreaccount1",
		"https://storage.example",
	} {
		name, err := azureblob.AccountName(endpoint)
		fmt.Printf("%q %v\n", name, err)
	}
	// Output:
	// "example" <nil>
	// "example" <nil>
	// "devstoreaccount1" <nil>
	// "" endpoint host "storage.example" names no account: want <account>.blob.core.windows.net
}
