// Package reconciletest gives tests of code built on package reconcile a
// real Kubernetes API server: Start (or New, for a testing.TB) runs etcd and
// kube-apiserver (and, with Options.Workloads, kube-controller-manager,
// kube-scheduler and kwok's simulated nodes, so Deployments become
// Available and Jobs complete) and returns a client, a rest.Config and a
// kubeconfig file; Stop, or the test's cleanup, ends every process.
//
// # Why not controller-runtime's fake client
//
// reconcile.Manager works through server-side apply, dry-runs, managed
// fields and the REST mapper; the fake client has none of them:
//
//   - a re-sync of unchanged objects reports them created again, because the
//     fake client neither stores managed fields nor answers server-side
//     dry-run applies, so reconcile cannot tell "unchanged" from "new";
//   - Wait fails at once: it needs a REST mapper that knows every kind it
//     polls, and a status that controllers (Deployments, Jobs) write;
//   - pruning cannot check ownership labels written by an apply that never
//     happened server-side, and admission (defaults, validation, immutable
//     fields) is absent, so errors users meet are never seen.
//
// The control plane here is the real one, and fast enough for unit tests
// (a few seconds to start; start it once per package from TestMain).
//
// # Binaries
//
// Inside this repository `make controlplane` builds them into bin/. Elsewhere,
// point KUBEBUILDER_ASSETS at a directory holding etcd and kube-apiserver
// (and, for Options.Workloads, kube-controller-manager, kube-scheduler and
// kwok). USE_EXISTING_CLUSTER=true with KUBECONFIG uses a running cluster
// instead of starting one; use a throw-away cluster.
package reconciletest
