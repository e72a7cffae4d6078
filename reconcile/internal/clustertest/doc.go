// Package clustertest holds the reconcile package's tests that run against
// the local Kubernetes control plane (etcd, kube-apiserver and
// kube-controller-manager), kept apart so the pure tests of reconcile run
// with the race detector.
package clustertest
