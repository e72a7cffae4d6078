// Package lockdown tests the example Kustomization controller started with
// Flux's multi-tenancy lockdown (controllers.Lockdown: no cross-namespace
// references, a default service account, no remote bases) against a local
// control plane. It holds only tests.
package lockdown
