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
// # More clusters, and a cluster that goes away
//
// A test that needs further clusters (remote clusters reached through a
// kubeconfig, for example) starts them with Start as well:
// Options{NoControllerManager: true, NoNodes: true} runs etcd and
// kube-apiserver only, which is ready in 2 to 4 seconds on two cores.
// Nothing then finalizes namespaces, collects garbage or runs Pods, which
// objects such as ConfigMaps, Secrets, RBAC and CRDs do not need. The
// file at KubeconfigPath embeds the CA and a client certificate of a
// system:masters user, so its bytes can go into a kubeconfig Secret
// as they are.
//
// Env.StopAPIServer stops kube-apiserver and leaves etcd running:
// clients get "connection refused" on its address. Env.StartAPIServer
// starts it again with the same arguments, so it serves the same data on
// the same address to the same certificates, and Config, Client and the
// kubeconfig work again unchanged. Stopping takes about 1 second (at most
// 5: with clients watching, the API server is killed after 5 seconds of
// graceful shutdown), being ready again about 2. Both work on any Env
// Start started, also one with a controller manager and nodes, which
// carry on once the API server is back; Stop also stops a restarted API
// server. Not with USE_EXISTING_CLUSTER.
//
//	remote, err := testenv.Start(ctx, testenv.Options{NoControllerManager: true, NoNodes: true})
//	...
//	defer remote.Stop()
//	kubeconfig, err := os.ReadFile(remote.KubeconfigPath)
//	...
//	err = remote.StopAPIServer()  // the cluster goes away
//	err = remote.StartAPIServer(ctx) // and comes back
//
// Every child process is started so that the kernel kills it when the test
// process dies, even when a test panics or go test's timeout fires; Stop
// ends them all and waits for them.
package testenv
