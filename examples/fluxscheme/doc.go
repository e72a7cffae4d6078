// Package fluxscheme builds a runtime.Scheme holding Kubernetes' built-in
// types and Flux's API types (source, kustomize, helm, notification, image),
// for the example controllers and their tests.
package fluxscheme
