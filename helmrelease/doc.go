// Package helmrelease is Flux's helm-controller as a library: it composes
// a release's values, names the release, and renders a chart offline with
// post-renderers, on the Helm 4 SDK (helm.sh/helm/v4). It is the only
// package of the module that links Helm; charts reach it as the .tgz
// files source/helm writes.
//
// # Values
//
// ComposeValues composes values exactly as Flux does for a HelmRelease:
// spec.valuesFrom entries (ValuesReference) in order, each either a YAML
// document merged at the root or, with a TargetPath, a single value set
// with Helm's --set parser (SetPath: quoted values stay strings, Literal
// follows --set-literal); then the inline spec.values on top, so that they
// win over every reference, as in Flux. Flux also merges the inline values
// into the result before each TargetPath entry, so that --set list indices
// see them, and that merge shares the maps and lists only the inline
// values hold: a TargetPath reaching into those writes into the inline
// values and so wins over them, while elsewhere the inline values win.
// ComposeValues reproduces this on a copy (the caller's map is never
// modified), so it gives Flux's result in both cases. An Optional reference tolerates
// only an absent object or key. The ConfigMap and Secret data comes from a
// ValuesGetter, so values compose without an API server (ValuesData holds
// them in memory). Errors are *ValuesError values that name the reference
// and key and wrap a sentinel (ErrNotFound, ErrKeyNotFound,
// ErrUnsupportedKind, ErrValuesRead, ErrValueMerge); they never quote a
// value, not even when Helm's parsers would.
//
// Two things Flux users keep asking for are here, behind options:
// ValuesOptions.Files are values documents from another source artifact
// (a GitRepository, OCIRepository or Bucket path; ReadValuesFiles reads
// them from the unpacked artifact, confined to it and size-capped), merged
// in order before the references, without repackaging the chart; and
// ValuesOptions.Decryptor (the kustomize package's Decryptor, implemented
// by kustomize/sopsdecrypt with SOPS's key sources) decrypts values
// documents and Secret or ConfigMap keys encrypted with SOPS. Without a
// Decryptor, encrypted input fails with kustomize.ErrStillEncrypted rather
// than reaching the release as ciphertext.
//
// DigestValues gives the digest Flux records for the composed values
// (status.lastAttemptedValuesChecksum style, "sha256:<hex>").
//
// # Names
//
// ReleaseName derives the release name as Flux does
// ("[<targetNamespace>-]<name>", or spec.releaseName), and ShortenName
// shortens a name over 53 characters to its first 40, "-" and 12
// hexadecimal digits of its SHA-256.
//
// # Offline render
//
// Render renders a Chart (LoadChart reads the .tgz) with composed values
// as `helm template` does: client-side dry-run, Helm's default
// capabilities unless RenderOptions set the Kubernetes version and extra
// API versions, .Release.Name and .Release.Namespace from the options. It
// runs post-renderers over manifests and hooks (Helm 4's "combined"
// strategy, which Flux uses): Kustomize (strategic merge and JSON 6902
// patches with targets, image overrides), CommonMetadata and
// OriginLabels; FluxPostRenderers lists them in Flux's order for a
// HelmRelease. The Rendered result holds the release manifest, the hooks,
// the notes and the objects; Rendered.String prints them as helm template
// does. Helm's slog records go to the logr.Logger of the context.
//
// # Release state machine
//
// NextAction is Flux's helm-controller decision as a pure function: from
// the observed ReleaseStatus (Absent, Unmanaged, OutOfSync, Drifted,
// Locked, Untested, InSync, Failed) and the remediation settings and
// failure counters in an Observation, it returns the next Action
// (install, upgrade, test, rollback, uninstall, unlock, correct-drift or
// none) with its reason, or ErrRetriesExhausted / ErrMissingRollbackTarget.
// Retries are counted as Flux counts them (negative retries: forever),
// rollback is the upgrade default and uninstall the only install
// strategy, RetryOnFailure retries without remediating, remediateLastFailure
// keeps Flux's defaults, and a pending forceAt token forces an upgrade or
// install. ResetFailures says when the failure counters start over (a new
// generation, chart version or values, or a resetAt token) and
// TargetChanged when the release must be uninstalled and installed anew
// (storage namespace, namespace, release name, or chart name unless the
// change is asked to happen in place).
//
// # For a reconciler
//
// A HelmRelease reconciler fetches and unpacks the chart artifact, calls
// LoadChart, ComposeValues (a ValuesGetter over its client,
// kustomize/sopsdecrypt as Decryptor when spec.decryption is set),
// ReleaseName, TargetChanged and ResetFailures; then, with the
// helmrelease/cluster package, Observe (the ReleaseStatus) and Step (which
// runs NextAction's choice and returns a typed result), Drift when drift
// detection is on, and records the result in the object's status. Render
// with FluxPostRenderers serves dry runs and diffs without a cluster.
package helmrelease
