// Package helmrepository is an example controller for Flux's
// source.toolkit.fluxcd.io/v1 HelmRepository built from gitopskit's
// packages: source/helm downloads the repository's index.yaml (under its
// 50 MiB cap; basic credentials from spec.secretRef's "username" and
// "password", a CA and client certificate from spec.certSecretRef's
// "ca.crt", "tls.crt" and "tls.key", spec.passCredentials), the index must
// parse, and the file is stored as it is (not packed) in the Store. The
// status carries the artifact with Flux's revision "sha256:<hex>" of the
// index file (which is also the artifact's digest), status.url (the
// artifact's URL), Flux's conditions (Ready, ArtifactInStorage, FetchFailed
// with Failed, AuthenticationFailed, IndexationFailed for an index that
// does not load, or URLInvalid, which stalls), observedGeneration and
// lastHandledReconcileAt; a NewArtifact Event reports "stored fetched
// index of size ... from '<url>'". An index whose digest is the stored
// revision is a no-op. The finalizer removes the object's artifacts.
//
// A HelmRepository of type "oci" is static, as in Flux: it has no
// artifact, no finalizer and an empty status (one that had them, say
// after a change of type, loses them once); the HelmChart controller
// (examples/helmchart) reads its URL, Secrets and spec.insecure.
//
// Differences from Flux: the index is stored as the server sent it, in a
// file named after its digest (Flux re-encodes it as JSON into
// "index-<hex>.yaml"; both are index files Helm reads), status.url is
// the artifact's URL (Flux points it at an "index.yaml" symbolic link in
// its storage), and spec.provider other than "generic" is refused by
// Unsupported for HelmChart pulls rather than logging into a cloud.
//
// The reconciler is as thin as examples/ocirepository's:
// reconcile.Lifecycle does what every kind does, artifact.Store.Refresh
// what every source does, and examples/fluxadapter holds what every
// source reconciler shares.
package helmrepository
