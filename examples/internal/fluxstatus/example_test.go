package fluxstatus_test

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/examples/internal/fluxstatus"
)

// Example walks a condition list through a failed and a successful attempt.
func Example() {
	var list []metav1.Condition
	c := fluxstatus.Conditions{List: &list, Generation: 3}
	c.Failed("BuildFailed", "kustomization path not found", false)
	for _, x := range list {
		fmt.Println(x.Type, x.Status, x.Reason)
	}
	c.Ready("ReconciliationSucceeded", "Applied revision: main@sha1:abc")
	for _, x := range list {
		fmt.Println(x.Type, x.Status, x.Reason)
	}
	fmt.Println(fluxstatus.IsReady(list, 3), fluxstatus.IsReady(list, 4))
	// Output:
	// Ready False BuildFailed
	// Reconciling True ProgressingWithRetry
	// Ready True ReconciliationSucceeded
	// true false
}
