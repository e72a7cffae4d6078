// Package testbin locates the command-line tools that the project's tests
// compare against or drive (kustomize, sops, kubectl, the control plane
// binaries). They are built from source into the repository's bin/ directory
// by `make tools` and `make controlplane`; `make test` does both.
package testbin
