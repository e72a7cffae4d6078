// Package gitopskit is an embeddable SDK for GitOps continuous delivery: the
// capabilities of Flux's GitOps Toolkit as plain Go packages with small,
// pluggable interfaces, for platform teams that build their own Kubernetes
// operators.
//
// # The map
//
//   - source: the Snapshot a source fetch returns, the Fetcher interface every
//     origin satisfies, Flux-format revisions and the shared error sentinels.
//   - source/git: fetch a Git repository at a branch, tag, semver range, ref
//     name or commit, with authentication, signature verification and a cheap
//     "nothing changed" check.
//   - source/oci: fetch a Flux OCI artifact by tag, semver range or digest
//     (layer extracted or copied, digests verified, a HEAD-only "nothing
//     changed" check) and push a directory as one; source/oci/cosignverify
//     verifies cosign's legacy signatures with public keys and
//     source/oci/sigstoreverify Sigstore bundles (keyless or with keys),
//     offline, before the download; source/oci/ocitest runs an in-process
//     registry for tests, sigstoreverify/sigstoretest a private Sigstore.
//   - source/bucket: fetch the objects of an S3-compatible bucket (under a
//     prefix, ignore rules applied to keys, parallel downloads) with Flux's
//     key→ETag revision and a listing-only "nothing changed" check;
//     source/bucket/azureblob and source/bucket/gcs serve Azure Blob Storage
//     and Google Cloud Storage; source/bucket/buckettest is an in-memory
//     provider for tests.
//   - source/helm: Helm chart repository indexes (cached, no-op by digest),
//     chart pulls over HTTP(S) and OCI, chart builds from a directory
//     (dependencies, values files, version metadata) without linking Helm;
//     source/helm/helmtest serves a chart repository for tests.
//   - artifact: pack a fetched tree into a reproducible tar.gz with a sha256
//     digest, honour ignore rules, store and serve artifacts, and fetch, verify
//     and unpack them safely on the consuming side.
//   - kustomize: generate a kustomization when there is none, apply overrides,
//     build securely with Kustomize, substitute variables and decrypt SOPS
//     secrets through a Decryptor, producing the objects to apply.
//   - kustomize/sopsdecrypt: the SOPS Decryptor (age, OpenPGP, key services);
//     its own package because SOPS links the cloud SDKs of its key services.
//   - reconcile: server-side apply in stages, inventory and prune, health
//     checks (kstatus and CEL), dependency ordering, Flux-style conditions and
//     requeue policy, and the skeleton every controller shares (Lifecycle:
//     get, finalizer, suspension, status patch).
//   - reconcile/reconciletest: a real API server for tests of code built on
//     reconcile.
//   - helmrelease: values composition, release naming, offline render with
//     post-renderers and Flux's release state machine on the Helm SDK;
//     helmrelease/cluster runs the actions (install, upgrade, test,
//     rollback, uninstall) one step at a time, and detects drift.
//   - selector: the one Selector type, shared by kustomize patch targets and
//     reconcile ignore rules.
//   - notify: Flux's event payload and the Recorder every reporter takes;
//     alert matching, provider clients and webhook receivers grow around it.
//   - imagepolicy: scan a registry's tags and select one by policy (semver,
//     alphabetical, numerical, newest pushed; digest reflection);
//     imagepolicy/update rewrites the marked image fields of a checkout,
//     imagepolicy/gitpush commits (signed) and pushes, and
//     imagepolicy/pullrequest opens or updates a pull or merge request.
//   - examples: thin controllers for Flux's GitRepository, OCIRepository,
//     Bucket, HelmRepository, HelmChart, Kustomization, HelmRelease and the image
//     automation kinds (examples/image) built only from the packages above
//     (examples/fluxadapter converts Flux's API types and holds what the
//     source reconcilers share; a controller for another kind goes beside
//     them), and
//     a demo program. examples/notification serves Flux's Provider, Alert
//     and Receiver: the event server the other controllers post to
//     (examples/controllers' Config.Notify), alert dispatch through
//     notify/provider, and notify/receiver's webhook server.
//
// # How data flows
//
// A source's Fetch writes a tree into a directory and returns a Snapshot
// (revision and metadata). artifact packs that directory into an Artifact
// (digest, size, URL) and serves it; a consumer fetches the Artifact, checks
// its digest and unpacks it. kustomize turns the unpacked tree into
// []*unstructured.Unstructured; reconcile applies those objects, prunes what a
// previous inventory held and the new one does not, waits for health and
// reports a ChangeSet and conditions:
//
//	source → artifact → kustomize → reconcile
//
// Lower packages never import higher ones. source, artifact and kustomize do
// not need a Kubernetes API server to be used or tested.
package gitopskit
