// Package testenv starts the project's local Kubernetes control plane for
// tests: etcd and kube-apiserver through controller-runtime's envtest, plus
// kube-controller-manager as a child process pointed at it, so Deployments,
// ReplicaSets, namespace deletion, garbage collection and service-account
// tokens behave as in a real cluster.
//
// The binaries are built from source into bin/ by `make controlplane`.
// KUBEBUILDER_ASSETS overrides the directory holding etcd and kube-apiserver
// (kube-controller-manager is then looked up there too, and left out when
// absent). USE_EXISTING_CLUSTER=true runs against the cluster in KUBECONFIG
// instead of starting anything.
//
// Use it from TestMain, once per test package:
//
//	var env *testenv.Env
//
//	func TestMain(m *testing.M) {
//		testenv.Main(m, testenv.Options{FluxCRDs: true}, &env)
//	}
//
// Every child process is started so that the kernel kills it when the test
// process dies, even when a test panics or go test's timeout fires.
package testenv
