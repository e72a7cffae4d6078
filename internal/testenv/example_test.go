package testenv_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitopskit/gitopskit/internal/testenv"
)

// Example starts a control plane outside TestMain, creates a namespace and
// stops everything again.
func Example() {
	ctx := context.Background()
	e, err := testenv.Start(ctx, testenv.Options{NoControllerManager: true, NoNodes: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Stop()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "example"}}
	if err := e.Client.Create(ctx, ns); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created", ns.Name)
	// Output: created example
}
