// Package ocirepository is an example controller for Flux's
// source.toolkit.fluxcd.io/v1 OCIRepository built from gitopskit's packages:
// source/oci fetches the artifact (spec.ref by tag, semver range with
// semverFilter, or digest; spec.layerSelector's media type and extract or
// copy operation; a dockerconfigjson or basic-auth secretRef, certSecretRef,
// proxySecretRef, insecure; the no-op check on the manifest digest),
// artifact packs it into the Store (spec.ignore applied; with the layer
// operation "copy" the selected layer's blob itself is the artifact, a
// Helm chart's .tgz say, its digest the blob's, as in Flux), and the status
// carries the artifact with Flux's revision "<tag>@sha256:<hex>" (or
// "sha256:<hex>" for a digest) and the manifest's OCI annotations as its
// metadata, Flux's conditions (Ready, ArtifactInStorage, FetchFailed with
// OCIArtifactPullFailed or AuthenticationFailed), observedIgnore,
// observedLayerSelector, observedGeneration and lastHandledReconcileAt.
// The finalizer removes the object's artifacts.
//
// spec.verify with provider "cosign" verifies the artifact's signature
// before anything is downloaded (source/oci/sigstoreverify, offline): the
// Sigstore bundles cosign v3 attaches as OCI 1.1 referrers (or under the
// referrers tag), and, with public keys, the legacy "sha256-<hex>.sig"
// signatures when there is no bundle. With a secretRef, any of the
// Secret's "*.pub" public keys may have signed. Without one it is keyless:
// the Fulcio certificate must match any of spec.verify.matchOIDCIdentity's
// subject and issuer regular expressions, and chain, with its SCT and Rekor
// entry, to the trusted root of spec.verify.trustedRootSecretRef
// ("trusted_root.json") or else the Reconciler's TrustedRoot (Flux fetches
// the public-good root online; this controller does not). SourceVerified
// True (Succeeded, "verified signature of revision ..."), or False with
// VerificationError, Ready False and no artifact stored.
//
// Not supported yet, and reported as Stalled with a message saying so
// rather than ignored: the notation provider, a spec.provider other than
// "generic" and spec.serviceAccountName.
//
// The reconciler is as thin as examples/gitrepository's: reconcile.Lifecycle
// does what every kind does, artifact.Store.Refresh what every source does,
// and examples/fluxadapter holds what every source reconciler shares
// (Secrets, conditions, Events, finalizer, registration).
package ocirepository
