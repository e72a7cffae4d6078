// Package fluxadapter converts between Flux's API types and gitopskit's
// values, so that the example controllers hold only what their kind adds:
// a status artifact (meta.Artifact) and an artifact.Artifact, a
// Kustomization's status inventory and a reconcile.Inventory, and the
// bookkeeping every Flux status carries (observedGeneration, the handled
// reconcile.fluxcd.io/requestedAt annotation). It also holds what every
// source reconciler (GitRepository, OCIRepository, Bucket) shares: reading
// Secrets and Flux's certSecretRef and proxySecretRef formats, Flux's
// conditions and Events for a failed, stalled or stored fetch
// (SourceStatus), the finalizer's artifact removal and the controller
// registration.
//
// gitopskit's packages do not know Flux's API types; a controller for
// another Flux kind (a HelmRelease, say) adds its
// conversions here and its reconciler next to the existing ones under
// examples/, on reconcile.Lifecycle.
package fluxadapter
