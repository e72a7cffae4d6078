// Package fluxstatus holds the status conventions the example controllers
// share: Flux's condition polarity (Ready is normal-true; Reconciling and
// Stalled are abnormal-true and present only while true), the echo of the
// reconcile.fluxcd.io/requestedAt annotation, and Events carrying Flux's
// revision annotation.
package fluxstatus
