// Package kustomizetest provides fixtures for testing code that uses the
// kustomize package: a generator of large manifest trees in Flux's usual
// layout and a KeyService double that behaves like a KMS backed by age
// identities.
package kustomizetest
