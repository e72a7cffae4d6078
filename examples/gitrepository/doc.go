// Package gitrepository is an example controller for Flux's
// source.toolkit.fluxcd.io/v1 GitRepository built from gitopskit's packages:
// source/git fetches the commit (every reference kind, secretRef credentials,
// proxy, signature verification, submodules, sparse checkout, includes and the
// no-op check), artifact packs it into the local Store, which the
// StorageServer serves over HTTP, and the status carries the artifact, Flux's
// conditions and reasons, observedGeneration and lastHandledReconcileAt.
//
// The reconciler is deliberately thin: reconcile.Lifecycle does what every
// kind does (get, finalizer, suspension, status patch), artifact's
// Store.Refresh does what every source does (fetch, pack, store, garbage
// collection), examples/fluxadapter converts between Flux's API types and
// gitopskit's; the mapping from the CRD to a git.Repository is Repository
// and Verification, and controller.go holds the rest: credentials,
// includes and Flux's reasons. examples/ocirepository and examples/bucket
// are this package with another source.Fetcher (an OCI or bucket source) in
// place of the git.Repository, on the same shared steps.
package gitrepository
