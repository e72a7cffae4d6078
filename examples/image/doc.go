// Package image holds example controllers for Flux's image automation
// kinds (image.toolkit.fluxcd.io/v1), built from gitopskit's imagepolicy
// packages, the loop that writes new image tags back to Git:
//
//   - ImageRepository (RepositoryReconciler): imagepolicy.Scan lists the
//     image's tags through source/oci with the object's secretRef,
//     certSecretRef, proxySecretRef and insecure, drops spec.exclusionList's
//     matches, keeps the tags in a TagStore and reports
//     status.lastScanResult (revision, tagCount, scanTime, latestTags),
//     canonicalImageName and observedExclusionList, Ready with reason
//     Succeeded ("successful scan: found N tags with checksum R"), ImageURLInvalid,
//     AuthenticationFailed or ReadOperationFailed. A new scan waits for
//     spec.interval unless the image, the exclusion list, the generation or
//     a reconcile.fluxcd.io/requestedAt request changed.
//   - ImagePolicy (PolicyReconciler): imagepolicy.Select over the tags of
//     the referenced ImageRepository (spec.policy semver, alphabetical or
//     numerical, spec.filterTags), imagepolicy.LatestRef with
//     spec.digestReflectionPolicy; status.latestRef and observedPreviousRef.
//     An ImageRepository in another namespace is used only when its
//     spec.accessFrom selects the policy's namespace (reason AccessDenied
//     otherwise); a repository not yet scanned is DependencyNotReady.
//   - ImageUpdateAutomation (AutomationReconciler): imagepolicy/gitpush
//     clones the GitRepository's branch (or spec.git.checkout.ref.branch)
//     with its credentials, imagepolicy/update rewrites the setter markers
//     under spec.update.path with the latestRef of the namespace's policies
//     that spec.policySelector selects, and the commit (spec.git.commit
//     author, messageTemplate with messageTemplateValues, a gpg or ssh
//     signingKey) is pushed to spec.git.push.branch and refspec with its
//     options. status.lastPushCommit, lastPushTime, lastAutomationRunTime,
//     observedPolicies and observedSourceRevision are Flux's; with neither
//     the policies nor the checkout branch's head changed, one ls-remote
//     round trip ends the run without a clone.
//
// Like the source controllers, the reconcilers are thin: reconcile.Lifecycle
// does the kind-independent steps (finalizer, suspension, status patch) and
// examples/fluxadapter the Flux conversions. The ImagePolicy reconciler is
// brought back by its ImageRepository's new scan revision, the automation by
// a new latestRef in its namespace or a change of its GitRepository.
//
// Where this differs from Flux: the tags live in memory (a TagStore shared
// by the two reflector reconcilers; after a restart each ImageRepository is
// scanned again before its policies are evaluated) rather than in a
// database; spec.provider other than "generic" and spec.serviceAccountName
// are refused as not supported yet (Stalled), as is a GitRepository Secret
// with a TLS client certificate for the push; the skip compares the
// checkout branch's head only, so a push branch changed by someone else is
// noticed at the next policy change or requested reconciliation.
package image
