// Package bucket is an example controller for Flux's
// source.toolkit.fluxcd.io/v1 Bucket built from gitopskit's packages:
// source/bucket lists and downloads the objects of a bucket through the
// provider spec.provider names: "generic" or "aws" (S3-compatible storage;
// an accesskey/secretkey secretRef), "azure" (source/bucket/azureblob:
// spec.endpoint is the account URL, spec.bucketName the container; Flux's
// Secret keys, see AzureOptions) or "gcp" (source/bucket/gcs: the
// "serviceaccount" key of the secretRef, see GCSOptions). bucketName,
// endpoint, region, prefix, insecure, certSecretRef and proxySecretRef are
// honoured; spec.ignore is applied to the keys before any download and
// the no-op check runs on the listing. artifact packs the objects into the
// Store, and the status carries the artifact with Flux's revision
// "sha256:<hex>" of the key→ETag index, Flux's conditions (Ready,
// ArtifactInStorage, FetchFailed with BucketOperationFailed or
// AuthenticationFailed), observedIgnore, observedGeneration and
// lastHandledReconcileAt. The finalizer removes the object's artifacts.
//
// Not supported yet, and reported as Stalled with a message saying so
// rather than ignored: spec.sts, spec.serviceAccountName and a client
// certificate in certSecretRef. A Bucket without secretRef is read
// anonymously (the cloud environment's credential chains and managed
// identities are not consulted).
//
// The reconciler is as thin as examples/gitrepository's: reconcile.Lifecycle
// does what every kind does, artifact.Store.Refresh what every source does,
// and examples/fluxadapter holds what every source reconciler shares.
package bucket
