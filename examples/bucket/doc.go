// Package bucket is an example controller for Flux's
// source.toolkit.fluxcd.io/v1 Bucket built from gitopskit's packages:
// source/bucket lists and downloads the objects of an S3-compatible bucket
// (spec.provider "generic" or "aws"; bucketName, endpoint, region, prefix,
// insecure; an accesskey/secretkey secretRef, certSecretRef, proxySecretRef;
// spec.ignore applied to the keys before any download; the no-op check on
// the listing), artifact packs them into the Store, and the status carries
// the artifact with Flux's revision "sha256:<hex>" of the key→ETag index,
// Flux's conditions (Ready, ArtifactInStorage, FetchFailed with
// BucketOperationFailed or AuthenticationFailed), observedIgnore,
// observedGeneration and lastHandledReconcileAt. The finalizer removes the
// object's artifacts.
//
// Not supported yet, and reported as Stalled with a message saying so
// rather than ignored: the "gcp" and "azure" providers, spec.sts,
// spec.serviceAccountName and a client certificate in certSecretRef. A
// Bucket without secretRef is read anonymously, also with provider "aws"
// (the cloud environment's credential chain is not consulted).
//
// The reconciler is as thin as examples/gitrepository's: reconcile.Lifecycle
// does what every kind does, artifact.Store.Refresh what every source does,
// and examples/fluxadapter holds what every source reconciler shares.
package bucket
