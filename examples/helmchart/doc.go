// Package helmchart is an example controller for Flux's
// source.toolkit.fluxcd.io/v1 HelmChart built from gitopskit's packages:
// source/helm pulls or builds the chart and the packaged chart (.tgz) is
// stored as it is in the Store. spec.sourceRef names
//
//   - a HelmRepository of the default type: spec.chart is looked up in its
//     index at the SemVer range spec.version (default "*") with the
//     repository's Secrets (examples/helmrepository.Client), downloaded,
//     checked against the index's digest;
//   - a HelmRepository of type "oci": the chart is read from
//     <url>/<chart> with its Secrets and spec.insecure; spec.verify with
//     provider "cosign" checks its signature before download (the
//     secretRef's "*.pub" keys, or keyless against the Reconciler's
//     TrustedRoot and spec.verify.matchOIDCIdentity);
//   - a GitRepository or a Bucket: its artifact is downloaded, checked
//     and unpacked, and the chart at the path spec.chart is packaged with
//     its dependencies.
//
// spec.valuesFiles are merged in order into values.yaml
// (spec.ignoreMissingValuesFiles skips missing ones), and the version
// gets Flux's build metadata: the generation when values files are given,
// and with reconcileStrategy Revision the first 12 hex digits of the
// source revision. The revision of the artifact is the chart version; a
// chart whose version is the stored one is not downloaded again (the
// no-op check), unless the generation changed.
//
// The status carries the artifact, status.url (the artifact's URL),
// observedChartName, observedSourceArtifactRevision, observedValuesFiles
// (only with ignoreMissingValuesFiles, as in Flux), observedGeneration,
// lastHandledReconcileAt, and Flux's conditions: Ready and
// ArtifactInStorage with ChartPullSucceeded or ChartPackageSucceeded and
// Flux's summary ("pulled 'podinfo' chart with version '6.5.0'"),
// SourceVerified, FetchFailed (InvalidChartReference, ChartPullError,
// AuthenticationFailed, SourceUnavailable, NoSourceArtifact, URLInvalid)
// or BuildFailed (ValuesFilesError, MetadataPatchError,
// DependencyBuildError, ChartPackageError, ChartVerificationError), as
// helm.FailureOf classifies the failure; persistent ones (an invalid
// version range, a path that is not a chart, values files that do not
// merge) stall. Events carry the same reasons and messages. The
// finalizer removes the object's artifacts.
//
// A HelmChart is reconciled again when the artifact revision of its
// source changes: SetupWithManager indexes HelmCharts by source
// (SourceIndexKey) and watches HelmRepositories, GitRepositories and
// Buckets, as Flux does.
//
// Dependencies of a chart built from a directory that charts/ lacks are
// read with the Secrets of the HelmRepository of the HelmChart's namespace
// whose URL is the dependency's (type oci for oci:// ones), as in Flux,
// and anonymously when there is none. The artifact is the packaged chart,
// "<name>-<version>.tgz", its digest the file's.
//
// Differences from Flux: a chart from an HTTP repository is looked up in
// the repository's live index (through the Reconciler's Cache when set,
// which the HelmRepository reconciler refreshes), not in the stored index
// artifact; status.url is the artifact's URL (Flux points it at a
// "latest.tar.gz" symbolic link in its storage); the notation
// verification provider and cloud provider logins (spec.provider of the
// OCI HelmRepository) are refused, Stalled with a message saying so.
package helmchart
