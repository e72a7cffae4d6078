// Package fluxscheme builds a runtime.Scheme holding Kubernetes' built-in
// types and Flux's API types (source, kustomize, helm, notification), for the
// example controllers and their tests.
package fluxscheme
