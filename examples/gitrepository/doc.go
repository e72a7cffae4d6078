// Package gitrepository is an example controller for Flux's
// source.toolkit.fluxcd.io/v1 GitRepository built from gitopskit's packages:
// source/git fetches the commit (every reference kind, secretRef credentials,
// proxy, signature verification, submodules, sparse checkout, includes and the
// no-op check), artifact packs it into the local Store, which the
// StorageServer serves over HTTP, and the status carries the artifact, Flux's
// conditions and reasons, observedGeneration and lastHandledReconcileAt.
//
// The reconciler is deliberately thin: the mapping from the CRD to a
// git.Repository is Repository and CredentialsFromSecrets, the rest is
// bookkeeping of conditions, events, the finalizer and garbage collection.
package gitrepository
