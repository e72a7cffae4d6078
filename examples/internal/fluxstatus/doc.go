// Package fluxstatus holds what the example controllers share beyond
// reconcile's condition helpers: the echo of the
// reconcile.fluxcd.io/requestedAt annotation into the status, and
// Kubernetes Events carrying Flux's revision annotation.
package fluxstatus
