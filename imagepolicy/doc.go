// Package imagepolicy is the image half of Flux's automation loop as a
// library: scan the tags a registry holds, pick the one a policy wants, and
// resolve the reference to write back to Git. It is the pure core: it links
// neither go-git nor a YAML library, and its I/O goes through two small
// interfaces (TagLister, Resolver) that *oci.Client from source/oci
// satisfies, so the same credentials, TLS, proxy and size caps apply.
//
// The pieces, and what a controller calls:
//
//   - ParseImage and Image: an image name as an ImageRepository's spec.image
//     holds it ("alpine", "ghcr.io/org/app", no scheme, no tag), its
//     canonical name as Flux reports it (go-containerregistry's, so "alpine"
//     is "index.docker.io/library/alpine") and the oci:// address source/oci
//     takes.
//   - Scan: list the tags (through TagLister), drop those matching the
//     exclusion list (DefaultExclusionList, "^.*\.sig$", when empty), and
//     return a ScanResult with Flux's revision of the tag list, the tag count
//     and the latest tags (the first ScanOptions.LatestTags, 10 by default,
//     in descending string order, as Flux shows them).
//   - Select(policy, tags): one of SemVer, Alphabetical, Numerical, as in
//     Flux's ImagePolicy, or NewestPushed (not in Flux: the tag whose image
//     was pushed last, from the times PushTimes reads from each image's
//     config), after an optional FilterTags pattern with extract. When no
//     tag qualifies the error is a *NoMatchError (errors.Is ErrNoMatch) that
//     says why; a policy that cannot be evaluated wraps source.ErrInvalid.
//   - LatestRef: the ImageRef (name, tag, digest) an ImagePolicy reports,
//     with digest reflection Never, IfNotPresent or Always (a Resolver call).
//
// The sub-packages do the Git side: update rewrites the fields marked with
// Flux's setter comments (# {"$imagepolicy": "ns:name"}) in a directory of
// YAML files; gitpush commits the result (optionally GPG- or SSH-signed) and
// pushes it; pullrequest opens or updates a pull or merge request for the
// pushed branch on GitHub or GitLab.
//
// An ImageRepository reconciler calls ParseImage (status.canonicalImageName
// is Image.Canonical) and Scan, stores the ScanResult in
// status.lastScanResult (Revision, TagCount, LatestTags, ScanTime) and keeps
// ScanResult.Tags where policies can read them. An ImagePolicy reconciler
// calls Select on those tags (after PushTimes for NewestPushed), then
// LatestRef with the previous status.latestRef. An ImageUpdateAutomation
// reconciler clones with gitpush.Clone, calls update.Apply with the
// policies' latest refs, and, when the result has changes,
// update.CommitMessage and gitpush.Repo.CommitAndPush (ErrNoChanges is the
// no-op), then, for a push branch, pullrequest.Provider.Ensure; the push
// Result fills status.lastPushCommit and lastPushTime.
package imagepolicy
