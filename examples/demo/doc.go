// Command demo shows gitopskit's example controllers delivering a fleet
// repository end to end.
//
// It starts a local Kubernetes control plane (etcd, kube-apiserver and
// kube-controller-manager from the repository's bin/ directory; or uses the
// cluster of --kubeconfig), runs the GitRepository and Kustomization
// controllers in-process, serves a sample fleet repository from an in-process
// Git smart HTTP server and creates the Flux objects a Flux user would:
//
//   - GitRepository flux-system/fleet;
//   - Kustomization infrastructure: a Namespace, a ConfigMap and a
//     SOPS-encrypted Secret (age key generated at start, stored in the
//     sops-age Secret, decrypted in-cluster);
//   - Kustomization apps, dependsOn infrastructure: a Deployment
//     (replicas 0), a Service and ConfigMaps with post-build substitution
//     from spec.postBuild.substitute and a ConfigMap.
//
// It prints a status table like `flux get kustomizations` while waiting,
// then commits a change that edits the apps and removes one manifest, and
// shows the new revision applied and the removed object pruned. Every process
// it started is stopped on exit, also on Ctrl-C.
//
// Usage:
//
//	go run ./examples/demo [--kubeconfig FILE] [--timeout 3m]
//
// Flux's multi-tenancy lockdown flags configure the controllers:
// --no-cross-namespace-refs (default false) stalls objects whose source or
// dependencies are in another namespace, with reason AccessDenied, and
// confines a Kustomization with a targetNamespace to that namespace (no
// other namespace, no cluster-scoped object); --default-service-account
// NAME (default "") impersonates NAME in the object's namespace when the
// object names no service account; --no-remote-bases (default true, unlike
// Flux) refuses remote bases, --no-remote-bases=false allows them.
//
// or `make demo`, which builds the control plane first when bin/ lacks it.
package main
