// Package helmrelease is the example HelmRelease controller
// (helm.toolkit.fluxcd.io/v2): Flux's helm-controller built from the
// helmrelease and helmrelease/cluster packages on reconcile.Lifecycle.
//
// A reconciliation checks spec.dependsOn (other HelmReleases, Ready at
// their generation or satisfying their readyExpr), gets the chart (the
// HelmChart that spec.chart's template creates and owns, named
// "<namespace>-<name>" in the namespace of the chart's sourceRef, or the
// OCIRepository, HelmChart or ExternalArtifact of spec.chartRef),
// downloads and verifies its artifact, composes spec.valuesFrom and spec.values, and then runs release
// actions one step at a time: cluster.Client.Observe gives Flux's release
// status and cluster.Client.Step runs the action helmrelease.NextAction
// picks (install, upgrade, test, rollback or uninstall remediation,
// unlock), until the release is in sync, a remediation ran or the retries
// are used up (Stalled, reason RetriesExceeded). A rollback remediation
// with no previous release in status.history to roll back to (a release
// this HelmRelease took over, say) stalls with reason
// MissingRollbackTarget, as in Flux.
//
// Retries are Flux's: a failed reconciliation returns its error, and a
// remediation with retries left returns ErrRemediated, so that
// controller-runtime's rate limiter runs the next attempt with
// exponential back-off; used-up retries end with a terminal error (no
// retry until the HelmRelease changes). Under a RetryOnFailure strategy a
// failed install or upgrade is not remediated: the next attempt follows
// after its retryInterval (jittered by up to 5%, as spec.interval is),
// and so does the retry of any other failure, where Flux backs off.
// Reconciler.RetryInterval, when set, replaces the back-off with a fixed
// wait. A chart source without an artifact is waited for with
// DependencyRequeueInterval, as in Flux.
//
// The status is Flux's: history snapshots (with test hooks),
// installFailures and upgradeFailures (reset on a new chart version,
// values digest or generation, or a reconcile.fluxcd.io/resetAt token),
// lastAttemptedRevision, lastAttemptedConfigDigest,
// lastAttemptedGeneration, lastAttemptedReleaseAction, storageNamespace,
// observedPostRenderersDigest, helmChart, and the conditions Ready,
// Released, TestSuccess and Remediated with Flux's reasons
// (InstallSucceeded, UpgradeFailed, TestSucceeded, RollbackSucceeded, ...).
// A reconcile.fluxcd.io/forceAt token forces the next release. Each action
// records an Event annotated with the chart version and appVersion
// (RevisionAnnotation, AppVersionAnnotation).
//
// With spec.driftDetection.mode warn or enabled, an in-sync release is
// diffed with the cluster through reconcile's server-side dry-run
// (spec.driftDetection.ignore as ignore rules): the Drifted condition says
// what differs, and mode enabled re-applies the drifted objects. A new
// release name, namespace, storage namespace or chart name (unless
// spec.upgrade.chartNameChangeStrategy is InPlaceUpdate) uninstalls the
// old release before the new one is installed.
//
// Helm acts as spec.serviceAccountName, else DefaultServiceAccount, or on
// the cluster of spec.kubeConfig, so RBAC applies. Deleting a HelmRelease
// uninstalls its release (unless it is suspended) and deletes its
// HelmChart.
//
// Actions wait with Helm's kstatus watcher (spec.waitStrategy poller, the
// default), whose status readers include spec.healthCheckExprs, so that an
// object an expression finds failed fails the action and remediation
// follows; spec.waitStrategy legacy waits as Helm 3 did, without the
// expressions. status.inventory lists the objects of the latest release
// ("<namespace>_<name>_<group>_<kind>" with the API version; hooks and the
// CRDs of the chart's crds directory are not part of it), refreshed on
// every release action and in-sync reconciliation and cleared by an
// uninstall.
//
// Reconciler.NoCrossNamespaceRefs is Flux's --no-cross-namespace-refs: a
// HelmRelease whose chart source, chartRef or dependsOn entry is in
// another namespace stalls with reason AccessDenied before anything is
// read (CheckNamespaceRefs; spec.valuesFrom has no namespace in Flux's
// API).
//
// Cross-kind dependencies (Flux's dependsOn has no kind): the annotation
// reconcile.DependsOnAnnotation ("gitopskit.io/depends-on") lists further
// dependencies, comma-separated, each "<Kind>/[<namespace>/]<name>" with
// Kind HelmRelease or Kustomization, the namespace defaulting to the
// HelmRelease's (reconcile.ParseDependsOn reads it, Dependencies merges it
// with spec.dependsOn). A HelmRelease entry is checked as a spec.dependsOn
// entry; a Kustomization entry as kustomize-controller checks its own
// dependencies (Ready at its generation; the same-source revision rule
// cannot apply, a HelmRelease reading no Kustomization source). While one
// is not ready the HelmRelease waits with reason DependencyNotReady and
// DependencyRequeueInterval, and a dependency of either kind becoming
// Ready (a Kustomization also: applying a new revision) requeues it at
// once. A malformed entry or an unknown kind stalls it (reason
// InvalidDependsOn, naming the entry); NoCrossNamespaceRefs refuses
// entries in other namespaces (AccessDenied).
//
// SOPS-encrypted values (Flux's API has no field for them): the annotation
// ValuesDecryptionSecretAnnotation ("gitopskit.io/values-decryption-secret")
// names a Secret in the HelmRelease's namespace holding SOPS keys under
// the key names of a Kustomization's spec.decryption.secretRef ("*.agekey",
// "*.asc", read by sopsdecrypt.KeysFromSecretData as for a Kustomization).
// Values documents and Secret or ConfigMap keys of spec.valuesFrom that
// carry SOPS metadata are decrypted before composition; the plaintext is
// handed to Helm only, never logged nor put in a status or Event (the
// values digest in status.lastAttemptedConfigDigest is of the composed
// values, as in Flux). Without the annotation encrypted values fail the
// reconciliation (reason InitFailed) with a message naming the reference
// and the annotation.
//
// Values files from a source artifact (helm-controller #814 and #213;
// Flux's API has no field for them): ValuesFromSourceAnnotation
// ("gitopskit.io/values-from-source", "<Kind>/[<namespace>/]<name>" of a
// GitRepository, OCIRepository or Bucket, the namespace defaulting to the
// HelmRelease's) and ValuesFilesAnnotation ("gitopskit.io/values-files",
// "<path>[,<path>...]" inside that source's artifact). The artifact is
// downloaded and verified as a chart artifact is, the files are read
// confined to it (helmrelease.ReadValuesFiles) and merged in order, later
// files winning, before spec.valuesFrom and spec.values
// (helmrelease.ValuesOptions.Files); SOPS-encrypted files are decrypted
// as valuesFrom documents are. A new artifact of the source reconciles
// the HelmRelease at once (and upgrades the release when the composed
// values change). A missing file, a source without an artifact or a
// malformed annotation fail the reconciliation (reason InitFailed) with a
// message naming the path, the source or the annotation;
// NoCrossNamespaceRefs refuses a source in another namespace
// (AccessDenied).
//
// Sharding (beyond Flux, whose --watch-label-selector does not filter
// HelmCharts): the HelmChart of spec.chart carries the HelmRelease's
// "sharding.fluxcd.io/key" label unless the template sets it, so that a
// sharded controller set reconciles the chart in the HelmRelease's shard
// (HelmChartFor).
//
// spec.persistentClient is Flux's: true or unset, Helm uses one discovery
// client and REST mapper for the release actions of a reconciliation;
// false gives it fresh ones on every lookup (cluster.Options.FreshClients),
// so that a hook of a kind whose CRD the same install created from the
// chart's templates is found.
//
// A spec.chartRef to an ExternalArtifact (source.toolkit.fluxcd.io/v1,
// an artifact another controller publishes) needs
// Reconciler.AllowExternalArtifact, Flux's ExternalArtifact feature gate:
// its artifact is downloaded as any chart artifact, a new artifact
// reconciles the HelmRelease, and the digest of a revision carrying one is
// recorded in status.lastAttemptedRevisionDigest. Without the option the
// HelmRelease stalls (AccessDenied), as in Flux.
//
// Chart digest tracking is Flux's: the chart of an OCIRepository, or of an
// ExternalArtifact whose revision carries a digest, is installed with the
// first 12 hex digits of the revision's digest as the build metadata of
// its version ("1.2.3+9933f58f8bf4", ChartDigestVersion), so that a chart
// pushed again under the same version upgrades the release; the version
// with the digest is what status.history, status.lastAttemptedRevision,
// Helm's storage (helm list, helm history) and the Events show, and what
// .Chart.Version renders (a chart label must write "+" as "_", as the
// charts of helm create do). Reconciler.DisableChartDigestTracking is
// Flux's feature gate of that name.
//
// spec.postRenderStrategy is handed to Helm's install and upgrade:
// "combined" (the default, as in Flux) post-renders the hooks with the
// templates, "separate" in a stream of their own, "nohooks" leaves them as
// rendered.
//
// Health checks run to their end: Flux's opt-in
// CancelHealthCheckOnNewRevision (cancel the wait of an install, upgrade
// or rollback when a new source revision arrives, mark the HelmRelease
// HealthCheckCanceled and reconcile again at once) is not implemented.
// Here controller-runtime never runs two reconciliations of one
// HelmRelease at a time: a new revision arriving during a wait is queued,
// the wait ends when the objects are ready or spec.timeout passes (a
// failed action then counts and is remediated as configured), and the
// queued reconciliation then takes the new chart, whose new version
// resets the failure counters. Only the controller stopping (its
// context cancelled) ends a wait early.
package helmrelease
