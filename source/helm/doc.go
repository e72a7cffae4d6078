// Package helm is the Helm chart source: chart repository indexes, charts
// pulled from HTTP(S) and OCI repositories, and charts packaged from a
// directory of another source's artifact, with Flux's HelmRepository and
// HelmChart behaviour.
//
// # Repositories
//
// A Repository names an HTTP(S) chart repository and a Client (basic
// credentials, a CA and a client certificate, a proxy). Its Fetch
// implements source.Fetcher: it downloads index.yaml under a cap
// (DefaultMaxIndexSize, 50 MiB, as Flux), parses it, writes it into the
// directory and reports the revision "sha256:<hex>" of the file, returning
// source.ErrUnchanged when it equals the last one. Index returns the
// parsed Index, through an optional IndexCache (a TTL and a bound on its
// entries, as Flux's --helm-cache-* flags) shared by the Repositories of a
// process. Credentials go only to the host of the repository URL unless
// Client.PassCredentials is set (Flux's passCredentials): an index may send
// chart downloads anywhere.
//
// Indexes are hostile input: YAML whose aliases would expand far beyond
// its size is refused before it is decoded (internal/yamlguard), a JSON
// index is decoded as JSON, and only the fields lookups and downloads need
// are kept, so a Bitnami-sized index (20 MB) holds about a third of the
// memory Helm's loader holds.
//
// # Charts
//
// A Chart is a chart name and a SemVer range (default "*": the highest
// stable version; prereleases match only a range that names one, as
// Helm decides) in a Repository. Its Fetch resolves the version in the
// index, and returns source.ErrUnchanged before downloading when the
// version equals the last revision; otherwise it downloads the chart
// under a cap (DefaultMaxChartSize, 10 MiB), checks its digest against the
// index, loads it under per-file and total caps (DefaultMaxFileSize,
// 5 MiB per file) and writes it as "<name>-<version>.tgz". Chart URLs may
// be absolute or relative to the repository URL (see ResolveURL). The
// revision is the chart version, as Flux reports it; ChartOptions merge
// values files of the chart into its values.yaml and set the version's
// build metadata (Flux's "<version>+<generation>" when values files are
// given, see VersionMetadata), repackaging the chart.
//
// An OCIChart is the same for a chart in an OCI registry (oci://). It is
// read through source/oci rather than Helm's registry client: one Client
// type (credentials, Docker config keychains, TLS, proxy, plain HTTP
// refused unless asked) for every OCI artifact, the same manifest and
// layer caps, digest checks while the layer streams, and the same
// Verifier hook, so source/oci/cosignverify verifies signed charts as it
// verifies other artifacts; Helm's client would bring ORAS, its own
// credential store and no signature check.
//
// # Builds
//
// A Build packages a chart from a directory, the unpacked artifact of a
// GitRepository, Bucket or OCIRepository: it loads the chart directory as
// Helm does (.helmignore with Helm's own rules, which are not gitignore's;
// symbolic links followed when they stay inside the root and refused
// otherwise; byte order marks stripped; subcharts in charts/ as
// directories or archives; Helm's validation of Chart.yaml), resolves the
// dependencies of Chart.yaml that charts/ lacks (file:// paths, which
// must stay inside the artifact's root and are refused by name otherwise,
// HTTP(S) repositories through Repository, and oci:// ones through
// OCIChart), merges values files in order into values.yaml
// (IgnoreMissingValuesFiles skips missing ones), sets the version's build
// metadata (StrategyRevision gives "<version>+<first 12 of the source
// revision's digest>") and writes "<name>-<version>.tgz" as helm package
// writes it: Chart.yaml from the fields Helm knows, Chart.lock for v2
// charts, subcharts unpacked under charts/. Archives this package writes
// are reproducible: the same chart packs to the same bytes.
//
// # For a reconciler
//
// A HelmRepository reconciler calls Repository.Fetch and packs the
// directory as its artifact (type oci: nothing to fetch, as in Flux). A
// HelmChart reconciler builds a Chart (sourceRef HelmRepository), an
// OCIChart (HelmRepository of type oci, with a cosign Verifier for
// spec.verify) or a Build over the unpacked source artifact (GitRepository,
// Bucket), with VersionMetadata(strategy, sourceRevision, len(valuesFiles)
// > 0, generation) and the object's values files, calls Fetch with the
// last revision, and stores the single file the Snapshot's Metadata names
// ("file") as the artifact; Metadata["valuesFiles"] is
// status.observedValuesFiles. FailureOf turns a failure into Flux's
// reason (InvalidChartReference, ChartPullError, ValuesFilesError, ...),
// its condition (BuildFailed or FetchFailed) and whether it is
// persistent.
//
// Errors are *Error values (source.Error) that unwrap to the source
// sentinels and to ErrTooLarge, ErrPathEscape and ErrInvalidChart; their
// text never holds credentials.
//
// The package does not link helm.sh/helm: charts are read and written with
// the standard library (archive/tar, compress/gzip) and YAML libraries the
// module already uses. The helmtest package runs a chart repository for
// tests and pushes charts to an ocitest registry.
package helm
