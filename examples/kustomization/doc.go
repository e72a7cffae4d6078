// Package kustomization is an example controller for Flux's
// kustomize.toolkit.fluxcd.io/v1 Kustomization built from gitopskit's
// packages: artifact fetches the source's artifact by URL and verifies its
// digest, kustomize builds it (spec overrides, post-build substitution from
// the spec and from ConfigMaps and Secrets, SOPS decryption with keys from a
// Secret), and reconcile applies it server-side, prunes what left the
// inventory, waits for health (kstatus, healthChecks, healthCheckExprs),
// orders dependsOn and finalizes by deletionPolicy.
//
// Cross-kind dependencies (Flux's dependsOn has no kind): the annotation
// reconcile.DependsOnAnnotation ("gitopskit.io/depends-on") lists further
// dependencies, comma-separated, each "<Kind>/[<namespace>/]<name>" with
// Kind Kustomization or HelmRelease, the namespace defaulting to the
// Kustomization's (reconcile.ParseDependsOn reads it, Dependencies merges
// it with spec.dependsOn). A Kustomization entry is checked as a
// spec.dependsOn entry (Ready at its generation and, reading the same
// source, at the source's revision); a HelmRelease entry as helm-controller
// checks its own dependencies (Ready at its generation). While one is not
// ready the Kustomization waits with Flux's DependencyNotReady reason and
// DependencyRequeueInterval, and a dependency of either kind becoming
// Ready requeues it at once. A malformed entry or an unknown kind stalls
// it (reason InvalidDependsOn, naming the entry); NoCrossNamespaceRefs
// refuses entries in other namespaces (AccessDenied).
//
// SOPSDecryptor builds the decryptor of spec.decryption.secretRef from the
// Secret's keys (sopsdecrypt.KeysFromSecretData, which the HelmRelease
// controller uses for its SOPS-encrypted values too).
//
// Status follows Flux: inventory, lastAppliedRevision,
// lastAttemptedRevision, lastHandledReconcileAt, observedGeneration and the
// Ready, Reconciling, Stalled and Healthy conditions with Flux's reasons;
// Events are recorded as kustomize-controller with the revision annotation.
//
// Flux's lockdown flags are Reconciler fields: NoCrossNamespaceRefs (which
// also confines a Kustomization with a targetNamespace to that namespace,
// through kustomize's RestrictToTargetNamespace and reconcile's Tenancy),
// DefaultServiceAccount and AllowRemoteBases (remote bases are refused
// unless set).
//
// controller.go holds only what a Kustomization adds: reconcile.Lifecycle
// runs the steps every kind shares (get, finalizer, suspension, status
// patch), reconcile.Clients picks the client an object is applied with,
// reconcile.ObjectVars reads substituteFrom, and examples/fluxadapter
// converts Flux's API types. A HelmRelease controller takes the same
// shape, with a Helm render in place of kustomize.Build.
package kustomization
