package testbin_test

import (
	"fmt"
	"path/filepath"

	"github.com/gitopskit/gitopskit/internal/testbin"
)

// Example finds the git CLI, which the Git tests drive (the system's git
// when bin/ does not hold one).
func Example() {
	p, err := testbin.Path("git")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filepath.Base(p))
	// Output: git
}
