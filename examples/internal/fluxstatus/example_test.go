package fluxstatus_test

import (
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/gitopskit/gitopskit/examples/internal/fluxstatus"
)

// Example echoes a `flux reconcile` request into the status.
func Example() {
	var st meta.ReconcileRequestStatus
	fluxstatus.HandleRequest(map[string]string{meta.ReconcileRequestAnnotation: "2026-01-02T03:04:05Z"}, &st)
	fmt.Println(st.LastHandledReconcileAt)
	// Output:
	// 2026-01-02T03:04:05Z
}
