package yamlguard_test

import (
	"errors"
	"fmt"

	"github.com/gitopskit/gitopskit/internal/yamlguard"
)

func Example() {
	doc := []byte(`a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
`)
	err := yamlguard.Check(doc)
	fmt.Println(errors.Is(err, yamlguard.ErrAliasBomb))
	// Output: true
}
