// Package sourcetest is the test support the source controllers of
// examples/ share: a control plane with Flux's CRDs (Main), a fresh
// manager running the storage server of a new artifact store and the
// controllers under test (Start, with Kustomization for the Kustomization
// controller that applies their artifacts), and the waits and objects
// their tests use (Poll, Namespace, KustomizationFor, Ready).
//
// It is internal to examples/: nothing outside the example controllers'
// tests uses it.
package sourcetest
