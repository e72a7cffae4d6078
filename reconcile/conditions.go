package reconcile

import (
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Flux's condition types, the same strings as github.com/fluxcd/pkg/apis/meta.
const (
	ReadyCondition       = meta.ReadyCondition
	ReconcilingCondition = meta.ReconcilingCondition
	StalledCondition     = meta.StalledCondition
	HealthyCondition     = meta.HealthyCondition
)

// Flux's condition reasons, the same strings as github.com/fluxcd/pkg/apis/meta.
const (
	SucceededReason               = meta.SucceededReason
	FailedReason                  = meta.FailedReason
	ProgressingReason             = meta.ProgressingReason
	ProgressingWithRetryReason    = meta.ProgressingWithRetryReason
	SuspendedReason               = meta.SuspendedReason
	DependencyNotReadyReason      = meta.DependencyNotReadyReason
	ArtifactFailedReason          = meta.ArtifactFailedReason
	BuildFailedReason             = meta.BuildFailedReason
	HealthCheckFailedReason       = meta.HealthCheckFailedReason
	HealthCheckCanceledReason     = meta.HealthCheckCanceledReason
	PruneFailedReason             = meta.PruneFailedReason
	ReconciliationSucceededReason = meta.ReconciliationSucceededReason
	ReconciliationFailedReason    = meta.ReconciliationFailedReason
	InvalidCELExpressionReason    = meta.InvalidCELExpressionReason
)

// MaxMessageLength caps condition messages, as Flux does: Set shortens a
// longer message and ends it with "...".
const MaxMessageLength = 20000

// Conditions edits a list of conditions in place, stamping each one with
// ObservedGeneration. It is typically built over an object's
// status.conditions: reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}.
type Conditions struct {
	// List is the slice being edited; it must not be nil.
	List *[]metav1.Condition
	// Generation is written to every condition's ObservedGeneration.
	Generation int64
}

// Set adds or updates a condition of any type with any status and reason;
// LastTransitionTime changes only when the status changes. The message is
// format with args (format as is without args), cut to MaxMessageLength.
func (c Conditions) Set(typ string, status metav1.ConditionStatus, reason, format string, args ...any) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	if len(msg) > MaxMessageLength {
		msg = msg[:MaxMessageLength-3] + "..."
	}
	apimeta.SetStatusCondition(c.List, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: c.Generation,
	})
}

// Delete removes a condition.
func (c Conditions) Delete(typ string) { apimeta.RemoveStatusCondition(c.List, typ) }

// Get returns the condition of that type, or nil.
func (c Conditions) Get(typ string) *metav1.Condition {
	return apimeta.FindStatusCondition(*c.List, typ)
}

// IsTrue reports whether the condition is present and True.
func (c Conditions) IsTrue(typ string) bool { return apimeta.IsStatusConditionTrue(*c.List, typ) }

// Progressing marks the start of a reconciliation: Reconciling=True
// (Progressing) and Ready=Unknown (Progressing), as Flux's
// kustomize-controller does.
func (c Conditions) Progressing(format string, args ...any) {
	c.Set(ReconcilingCondition, metav1.ConditionTrue, ProgressingReason, format, args...)
	c.Set(ReadyCondition, metav1.ConditionUnknown, ProgressingReason, "Reconciliation in progress")
}

// Reconciling marks work in progress with the reason and message:
// Reconciling=True, and Ready=Unknown with the same reason and message
// unless Ready is False, so that a failure stays visible while the next
// attempt runs (as Flux's source-controller does).
func (c Conditions) Reconciling(reason, format string, args ...any) {
	c.Set(ReconcilingCondition, metav1.ConditionTrue, reason, format, args...)
	if r := c.Get(ReadyCondition); r == nil || r.Status != metav1.ConditionFalse {
		c.Set(ReadyCondition, metav1.ConditionUnknown, reason, format, args...)
	}
}

// Ready marks a finished, successful reconciliation with the reason
// (SucceededReason for sources, ReconciliationSucceededReason for
// appliers; ReconciliationSucceeded when empty): Ready=True, Reconciling
// and Stalled removed.
func (c Conditions) Ready(reason, format string, args ...any) {
	if reason == "" {
		reason = ReconciliationSucceededReason
	}
	c.Set(ReadyCondition, metav1.ConditionTrue, reason, format, args...)
	c.Delete(ReconcilingCondition)
	c.Delete(StalledCondition)
}

// Succeeded is Ready with ReconciliationSucceeded.
func (c Conditions) Succeeded(format string, args ...any) {
	c.Ready(ReconciliationSucceededReason, format, args...)
}

// NotReady sets Ready=False with the reason (ReconciliationFailed when
// empty) and leaves the other conditions alone; Failed and Stalled also
// say whether a retry follows.
func (c Conditions) NotReady(reason, format string, args ...any) {
	if reason == "" {
		reason = ReconciliationFailedReason
	}
	c.Set(ReadyCondition, metav1.ConditionFalse, reason, format, args...)
}

// Failed marks a failed attempt that will be retried: Ready=False with the
// reason (ReconciliationFailed when empty) and Reconciling=True
// (ProgressingWithRetry); Stalled is removed.
func (c Conditions) Failed(reason, format string, args ...any) {
	if reason == "" {
		reason = ReconciliationFailedReason
	}
	c.Set(ReadyCondition, metav1.ConditionFalse, reason, format, args...)
	c.Set(ReconcilingCondition, metav1.ConditionTrue, ProgressingWithRetryReason, format, args...)
	c.Delete(StalledCondition)
}

// Stalled marks a failure that retrying cannot fix until the object
// changes: Stalled=True and Ready=False with the reason, Reconciling removed.
func (c Conditions) Stalled(reason, format string, args ...any) {
	if reason == "" {
		reason = ReconciliationFailedReason
	}
	c.Set(StalledCondition, metav1.ConditionTrue, reason, format, args...)
	c.Set(ReadyCondition, metav1.ConditionFalse, reason, format, args...)
	c.Delete(ReconcilingCondition)
}

// Healthy sets the Healthy condition from a Wait result: True (Succeeded)
// when err is nil, otherwise False with HealthCheckFailed, or
// HealthCheckCanceled when the wait was cancelled.
func (c Conditions) Healthy(err error) {
	switch {
	case err == nil:
		c.Set(HealthyCondition, metav1.ConditionTrue, SucceededReason, "Health check passed")
	case isCanceled(err):
		c.Set(HealthyCondition, metav1.ConditionFalse, HealthCheckCanceledReason, "Health check canceled: %s", err.Error())
	default:
		c.Set(HealthyCondition, metav1.ConditionFalse, HealthCheckFailedReason, "%s", err.Error())
	}
}

// IsReady reports whether Ready is True and was observed at generation.
func IsReady(conds []metav1.Condition, generation int64) bool {
	r := apimeta.FindStatusCondition(conds, ReadyCondition)
	return r != nil && r.Status == metav1.ConditionTrue && r.ObservedGeneration == generation
}
