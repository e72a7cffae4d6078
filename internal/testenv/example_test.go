package testenv_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

// ExampleEnv_StopAPIServer starts a cheap cluster (etcd and kube-apiserver
// only), makes it go away and brings it back with its data.
func ExampleEnv_StopAPIServer() {
	ctx := context.Background()
	e, err := testenv.Start(ctx, testenv.Options{NoControllerManager: true, NoNodes: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer e.Stop()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}
	if err := e.Client.Create(ctx, ns); err != nil {
		fmt.Println(err)
		return
	}
	if err := e.StopAPIServer(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("away:", e.Client.Get(ctx, client.ObjectKeyFromObject(ns), ns) != nil)
	if err := e.StartAPIServer(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("back:", e.Client.Get(ctx, client.ObjectKeyFromObject(ns), ns))
	// Output:
	// away: true
	// back: <nil>
}
