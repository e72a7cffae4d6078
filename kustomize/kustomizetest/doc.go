// Package kustomizetest provides fixtures for testing code that uses the
// kustomize package: a generator of large manifest trees in Flux's usual
// layout. Doubles for SOPS decryption live in
// kustomize/sopsdecrypt/sopsdecrypttest.
package kustomizetest
