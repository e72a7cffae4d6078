package source_test

import (
	"fmt"

	"github.com/gitopskit/gitopskit/source"
)

// Example shows the revision helpers: formatting, parsing and comparing a
// current revision with Flux's legacy form.
func Example() {
	rev := source.GitRevision("main", "0123456789abcdef0123456789abcdef01234567")
	fmt.Println(rev)

	r, err := source.ParseRevision(rev)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Name, r.Algorithm)
	fmt.Println(source.RevisionsEqual(rev, "main/0123456789abcdef0123456789abcdef01234567"))
	fmt.Println(source.Redact("https://user:pass@example.com/repo.git"))
	// Output:
	// main@sha1:0123456789abcdef0123456789abcdef01234567
	// main sha1
	// true
	// https://***@example.com/repo.git
}
