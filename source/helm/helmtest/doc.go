// Package helmtest runs an HTTP chart repository in process, for this
// module's tests and its users': the index.yaml it serves is generated
// from the packaged charts added to it (chart URLs relative or absolute,
// digests included), with optional basic authentication and TLS, and
// hooks for hostile cases (a hand-written index, corrupted chart bytes,
// chart URLs on another host). Package packs a chart from a map of files,
// and PushOCI pushes a packaged chart to an ocitest registry as Helm tags
// it.
package helmtest
