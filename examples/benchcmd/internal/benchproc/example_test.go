package benchproc_test

import (
	"context"
	"fmt"
	"time"

	"github.com/gitopskit/gitopskit/examples/benchcmd/internal/benchproc"
)

func Example() {
	kib, err := benchproc.PeakRSS()
	fmt.Println(kib > 0, err)
	calls := 0
	err = benchproc.WaitFor(context.Background(), 5*time.Second, func() (bool, error) {
		calls++
		return calls == 2, nil
	})
	fmt.Println(calls, err)
	// Output:
	// true <nil>
	// 2 <nil>
}
