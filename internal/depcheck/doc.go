// Package depcheck guards the weight of the project's packages: it lists
// a package's transitive imports with `go list -deps` and reports those
// that fall under forbidden import-path prefixes, each with the import
// chain that pulls it in. Its tests fail when a light package (kustomize,
// artifact, source, source/git) gains a dependency on a cloud SDK, SOPS,
// Helm, Sigstore or client-go.
package depcheck
