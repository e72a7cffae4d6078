package main

import (
	"os"
)

// Example_writeTable prints the status table the demo shows while it
// waits, in the layout of `flux get all -A`.
func Example_writeTable() {
	writeTable(os.Stdout, []row{
		{Name: "gitrepository/fleet", Revision: "main@sha1:0123456789abcdef0123456789abcdef01234567", Ready: "True",
			Message: "stored artifact for revision 'main@sha1:0123456789abcdef0123456789abcdef01234567'"},
		{Name: "helmrelease/backend", Revision: "1.0.0 (v1)", Ready: "True", Message: "Helm install succeeded for release demo-apps/backend.v1 with chart backend@1.0.0"},
		{Name: "kustomization/apps", Ready: "False", Message: "dependency 'gitopskit-demo/backend' is not ready"},
	})
	// Output:
	// NAME                 REVISION            SUSPENDED  READY  MESSAGE
	// gitrepository/fleet  main@sha1:01234567  false      True   stored artifact for revision 'main@sha1:0123456789abcdef0123456789abcdef01234...
	// helmrelease/backend  1.0.0 (v1)          false      True   Helm install succeeded for release demo-apps/backend.v1 with chart backend@1.0.0
	// kustomization/apps                       false      False  dependency 'gitopskit-demo/backend' is not ready
}
