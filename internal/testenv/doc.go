// Package testenv starts the project's local Kubernetes control plane for
// tests: etcd and kube-apiserver through controller-runtime's envtest, plus
// kube-controller-manager, kube-scheduler and kwok as child processes
// pointed at it, so Deployments, ReplicaSets, DaemonSets, Jobs, namespace
// deletion, garbage collection and service-account tokens behave as in a
// real cluster.
//
// # Nodes and Pods
//
// kwok (sigs.k8s.io/kwok) simulates nodes: Start creates three fake nodes
// (Options.Nodes changes the number), annotated with NodeAnnotation and
// untainted, and waits until kwok reports them Ready; Env.Nodes names them.
// kube-scheduler binds Pods to them and kwok writes the status a kubelet
// would, following the stages in stages.yaml. No container runs, no image
// is pulled, no Pod network exists (Pod IPs come from 10.244.0.0/16, nodes
// report 127.0.0.1, where nothing serves the kubelet API: no logs, no exec).
//
//   - A scheduled Pod starts at once: phase Running, every container running
//     and Ready, so a Deployment, StatefulSet or DaemonSet becomes Available.
//   - A Pod that runs to completion (restartPolicy Never or OnFailure: every
//     Job's Pods, Helm hooks and tests) exits after one second, or after
//     the Go duration in the RunForAnnotation ("testenv.gitopskit.io/run-for"),
//     and ends in phase Succeeded, so its Job completes.
//   - A Pod carrying FailAnnotation ("testenv.gitopskit.io/fail"), directly or
//     through a Job's or workload's pod template, fails instead, with the
//     annotation's value as its containers' termination message. With
//     restartPolicy Never or OnFailure it ends in phase Failed, exit code 1
//     (a Job with backoffLimit 0 then fails with BackoffLimitExceeded); with
//     restartPolicy Always it stays Running, never Ready, its containers in
//     CrashLoopBackOff.
//   - A Pod being deleted is removed at once, as if its containers stopped on
//     the first signal; finalizers are left to the controllers that set them.
//
// For example, a Job that must fail:
//
//	spec:
//	  backoffLimit: 0
//	  template:
//	    metadata:
//	      annotations:
//	        testenv.gitopskit.io/fail: "migration failed"
//
// # Binaries
//
// The binaries are built from source into bin/ by `make controlplane`.
// KUBEBUILDER_ASSETS overrides the directory holding etcd and kube-apiserver
// (kube-controller-manager, kube-scheduler and kwok are then looked up there
// too, and left out when absent). USE_EXISTING_CLUSTER=true runs against the
// cluster in KUBECONFIG instead of starting anything.
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
// process dies, even when a test panics or go test's timeout fires; Stop
// ends them all and waits for them.
package testenv
