package main

import (
	"os"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Example_writeKustomizations prints the table the demo shows while it
// waits, in the layout of `flux get kustomizations`.
func Example_writeKustomizations() {
	k := kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}
	k.Status.LastAppliedRevision = "main@sha1:0123456789abcdef0123456789abcdef01234567"
	k.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: "True", Message: "Applied revision: main@sha1:01234567"}}
	writeKustomizations(os.Stdout, []kustomizev1.Kustomization{k})
	// Output:
	// NAME  REVISION            SUSPENDED  READY  MESSAGE
	// apps  main@sha1:01234567  false      True   Applied revision: main@sha1:01234567
}
