// Command demo shows gitopskit's example controllers delivering a fleet
// end to end, every kind at once, in about ten seconds.
//
// It starts a local Kubernetes control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok nodes from the
// repository's bin/ directory; or uses the cluster of --kubeconfig), runs
// every example controller in-process (sources, Kustomization, HelmRelease,
// image reflector and automation, and the notification controller with its
// event and webhook servers), starts in-process servers a fleet lives on (a
// Git smart HTTP server, a Helm chart repository, an OCI registry and an
// HTTP notification sink) and creates the objects a Flux user would, in
// namespace gitopskit-demo:
//
//   - GitRepository fleet (interval 10m) with infrastructure/: a Namespace,
//     a Deployment edge-proxy whose image carries an image policy setter
//     marker, a ConfigMap, and HelmRelease backend of chart backend from
//     HelmRepository charts, whose values are partly inline and partly in
//     Secret backend-values, SOPS-encrypted in Git (age key generated at
//     start, in Secret sops-age) and decrypted by Kustomization
//     infrastructure — Flux's documented way — and read through valuesFrom;
//   - Kustomization apps from OCIRepository apps, an artifact the demo
//     pushes to the registry, with post-build substitution; it depends on
//     Kustomization infrastructure (spec.dependsOn) and, across kinds, on
//     HelmRelease backend (annotation gitopskit.io/depends-on);
//   - ImageRepository, ImagePolicy (semver >=1.0.0) and
//     ImageUpdateAutomation for the edge-proxy image in the registry;
//   - Receiver github (push events, HMAC secret) for GitRepository fleet;
//   - Provider sink (generic webhook to the sink) and Alert everything
//     (every kind, severity info).
//
// While it converges it prints a status table like `flux get all -A`: one
// row per object with its revision, Ready status and message. Then:
//
//   - it pushes edge-proxy:1.1.0; the ImagePolicy picks it, the
//     ImageUpdateAutomation commits the new tag to Git;
//   - it calls the Receiver as GitHub does after a push (X-GitHub-Event:
//     push, X-Hub-Signature-256), so the GitRepository fetches the commit
//     at once instead of at its 10m interval, and shows the new image
//     applied and how long after the webhook;
//   - it commits a change by hand (a new inline value for the HelmRelease
//     and a removed manifest), calls the Receiver again and shows the
//     release upgraded and the removed object pruned;
//   - it prints the last notifications the sink received.
//
// Every process it started is stopped on exit, also on Ctrl-C (exit status
// 130). With --kubeconfig it installs Flux's CRDs if needed and deletes
// what it created before exiting, the release uninstalled and the applied
// objects pruned.
//
// Usage:
//
//	go run ./examples/demo [--kubeconfig FILE] [--timeout 3m] [-v]
//
// or `make demo`, which builds the control plane first when bin/ lacks it.
//
// Flux's multi-tenancy lockdown flags configure the controllers:
// --no-cross-namespace-refs (default false) stalls objects whose source or
// dependencies are in another namespace, with reason AccessDenied, and
// confines a Kustomization with a targetNamespace to that namespace (no
// other namespace, no cluster-scoped object); --default-service-account
// NAME (default "") impersonates NAME in the object's namespace when the
// object names no service account; --no-remote-bases (default true, unlike
// Flux) refuses remote bases, --no-remote-bases=false allows them.
// --metrics-addr serves the controllers' metrics and --leader-elect runs
// them under leader election.
package main
