// Package artifacttest runs an in-process artifact server for tests: a real
// HTTP server in front of an artifact.Store in a temporary directory, with a
// helper that publishes a tree of files as an artifact in one call. Tests of
// code that consumes artifacts (kustomize builds, Helm releases, example
// controllers) use it instead of a source controller.
package artifacttest
