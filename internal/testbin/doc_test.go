package testbin_test

import (
	"fmt"
	"path/filepath"

	"github.com/gitopskit/gitopskit/internal/testbin"
)

// Example shows how a test finds the kustomize binary built by `make tools`.
func Example() {
	p, err := testbin.Path("kustomize")
	if err != nil {
		fmt.Println("not built yet")
		return
	}
	fmt.Println(filepath.Base(p))
}
