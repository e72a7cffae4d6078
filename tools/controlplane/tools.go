//go:build tools

// Package controlplane pins the Kubernetes commands that the tests run as a
// local control plane. It is a separate module so that the main module's
// dependency graph stays free of k8s.io/kubernetes.
package controlplane

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
