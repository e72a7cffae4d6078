package buckettest_test

import (
	"context"
	"fmt"

	"github.com/gitopskit/gitopskit/source/bucket"
	"github.com/gitopskit/gitopskit/source/bucket/buckettest"
)

// Example pages a listing of three objects two keys at a time.
func Example() {
	p := buckettest.New(map[string]string{"a.yaml": "a", "b.yaml": "b", "c/d.yaml": "d"})
	p.PageSize = 2
	p.List(context.Background(), "", func(o bucket.Object) error {
		fmt.Println(o.Key, o.ETag, o.Size)
		return nil
	})
	fmt.Println("pages:", p.Pages())
	// Output:
	// a.yaml 0cc175b9c0f1b6a831c399e269772661 1
	// b.yaml 92eb5ffee6ae2fec3ad71c777531578f 1
	// c/d.yaml 8277e0910d750195b448797616e091ad 1
	// pages: 2
}
