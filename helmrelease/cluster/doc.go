// Package cluster runs a release's Helm actions on a cluster with Flux's
// options: Install, Upgrade, Test, Rollback, Uninstall and Unlock (a stale
// pending release marked failed), through the Helm 4 SDK with release
// Secrets in a storage namespace, Helm's kstatus watcher for waits, and
// Helm's logs routed to the logr.Logger of the context.
//
// A Client is built from a rest.Config that already carries the
// HelmRelease's identity (reconcile's ImpersonateFor for
// serviceAccountName, RESTConfigFromKubeConfig for kubeConfig), so RBAC
// applies to every object Helm touches and to the release Secrets.
//
// ValuesGetter reads the ConfigMaps and Secrets of valuesFrom through a
// controller-runtime client, for helmrelease.ComposeValues.
//
// Observe compares the release in storage with what the HelmRelease asks
// for and returns Flux's release status; Step feeds an Observation to
// helmrelease.NextAction and runs the chosen action, returning a
// StepResult (decision, release revision, tests, failure) so a reconciler
// stays thin: observe, step, record the result in status, requeue.
//
// Drift diffs the release manifest's objects with the cluster through
// reconcile's server-side dry-run (ignore rules, per-object opt-out
// annotation) and returns a typed DriftReport; CorrectDrift re-applies the
// drifted objects (Flux's driftDetection mode "enabled").
//
// CRD policies are Flux's: Skip, Create (install default; on upgrade only
// when asked, since Helm never touches crds/ on upgrade) and
// CreateReplace (server-side applied, existing CRDs updated).
//
// Actions wait with Helm's kstatus watcher unless Wait.Disable is set
// (hooks only) or Wait.Legacy (Helm 3's wait); Wait.HealthChecks give the
// watcher reconcile's CEL health expressions for their kinds, so that a
// failing expression fails the action as Flux's poller strategy does.
// WaitHealthy waits with reconcile's health rules instead (kstatus,
// Flux's Job rule and CEL health expressions), as a Kustomization waits.
// Inventory lists a release's objects for Flux's status.inventory.
//
// Helm checks, before each install or upgrade, whether the server
// validates the fields of each kind the chart renders, by downloading and
// parsing the server's OpenAPI documents. A FieldValidation shared by the
// Clients of a controller (Options.FieldValidation) remembers the kinds
// the server validates, so that those documents are read once per kind
// rather than on every action; a kind not yet seen, such as one a CRD
// policy just installed, is looked up as before.
//
// Release Secrets are written and read in Helm's own format (name
// sh.helm.release.v1.<release>.v<revision>, type helm.sh/release.v1,
// Helm's labels, the release as base64 of gzipped JSON), so the helm CLI
// and Flux's helm-controller share the records, but with compression
// state reused from record to record: StorageBuffers shared by the
// Clients of a controller (Options.StorageBuffers) keep it across
// reconciles.
//
// Each Client otherwise downloads the server's discovery documents and
// builds its own REST mapping. A Discovery shared by the Clients of a
// controller (Options.Discovery) keeps one per API server and identity,
// which Clients needing data newer than it download again together: a
// Client never sees discovery data older than its creation or its last
// invalidation (Helm invalidates before each action and after installing
// CRDs), as without sharing.
package cluster
