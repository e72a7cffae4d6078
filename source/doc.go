// Package source defines the small vocabulary shared by every origin of
// desired state (Git, Helm, OCI, buckets): the Snapshot a fetch produces, the
// Fetcher interface, the sentinel errors callers test with errors.Is, and the
// helpers that format, parse and compare revision strings in Flux's formats.
//
// Revisions look like this:
//
//	main@sha1:0123…    a Git branch, tag or full ref name at a commit
//	sha1:0123…         a bare Git commit
//	v1.0.0@sha256:ab…  an OCI tag at a manifest digest
//	sha256:ab…         a content digest (bucket, Helm index)
//
// Origins live in sub-packages (source/git) and wrap the sentinels here with
// %w, so a caller can branch on errors.Is(err, source.ErrAuth) whatever the
// origin. Error texts never carry credentials; Redact helps origins keep
// that promise.
package source
