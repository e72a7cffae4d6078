package fluxstatus

import (
	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// MaxMessageLength caps condition messages, as Flux does.
const MaxMessageLength = 20000

// Conditions edits a condition list for an object generation.
type Conditions struct {
	// List is the condition slice being edited (the object's status field).
	List *[]metav1.Condition
	// Generation is recorded as each condition's observedGeneration.
	Generation int64
}

// Set sets a condition of type typ.
func (c Conditions) Set(typ string, status metav1.ConditionStatus, reason, msg string) {
	if len(msg) > MaxMessageLength {
		msg = msg[:MaxMessageLength-3] + "..."
	}
	apimeta.SetStatusCondition(c.List, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: c.Generation,
	})
}

// Delete removes the condition of type typ.
func (c Conditions) Delete(typ string) { apimeta.RemoveStatusCondition(c.List, typ) }

// Get returns the condition of type typ, or nil.
func (c Conditions) Get(typ string) *metav1.Condition {
	return apimeta.FindStatusCondition(*c.List, typ)
}

// Progressing marks the object Reconciling and, unless it is already
// Ready=False for a failure, Ready=Unknown with the same reason and message.
func (c Conditions) Progressing(reason, msg string) {
	c.Set(meta.ReconcilingCondition, metav1.ConditionTrue, reason, msg)
	if r := c.Get(meta.ReadyCondition); r == nil || r.Status != metav1.ConditionFalse {
		c.Set(meta.ReadyCondition, metav1.ConditionUnknown, reason, msg)
	}
}

// Ready marks the object Ready and clears Reconciling and Stalled.
func (c Conditions) Ready(reason, msg string) {
	c.Set(meta.ReadyCondition, metav1.ConditionTrue, reason, msg)
	c.Delete(meta.ReconcilingCondition)
	c.Delete(meta.StalledCondition)
}

// Failed marks the object Ready=False. A retrying failure keeps Reconciling
// (reason ProgressingWithRetry); a stalled one (no retry will help until the
// spec changes) sets Stalled and clears Reconciling.
func (c Conditions) Failed(reason, msg string, stalled bool) {
	c.Set(meta.ReadyCondition, metav1.ConditionFalse, reason, msg)
	if stalled {
		c.Set(meta.StalledCondition, metav1.ConditionTrue, reason, msg)
		c.Delete(meta.ReconcilingCondition)
		return
	}
	c.Delete(meta.StalledCondition)
	c.Set(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingWithRetryReason, msg)
}

// IsReady reports whether the Ready condition is True for generation gen.
func IsReady(conds []metav1.Condition, gen int64) bool {
	r := apimeta.FindStatusCondition(conds, meta.ReadyCondition)
	return r != nil && r.Status == metav1.ConditionTrue && r.ObservedGeneration == gen
}

// HandleRequest echoes the reconcile.fluxcd.io/requestedAt annotation into
// the status, so `flux reconcile` style clients see it handled.
func HandleRequest(annotations map[string]string, st *meta.ReconcileRequestStatus) {
	if v, ok := meta.ReconcileAnnotationValue(annotations); ok {
		st.SetLastHandledReconcileRequest(v)
	}
}

// EventRecorder is the part of controller-runtime's recorder the controllers
// use (events.k8s.io/v1 with annotations).
type EventRecorder interface {
	AnnotatedEventf(regarding runtime.Object, related runtime.Object, annotations map[string]string, eventtype, reason, action, note string, args ...any)
}

// Event records a Kubernetes Event with Flux's reason and, when revision is
// set, the revision annotation of the given API group (for example
// "source.toolkit.fluxcd.io/revision"). A nil recorder records nothing.
func Event(rec EventRecorder, obj runtime.Object, revisionKey, revision, eventType, reason, msg string) {
	if rec == nil {
		return
	}
	var ann map[string]string
	if revision != "" {
		ann = map[string]string{revisionKey: revision}
	}
	rec.AnnotatedEventf(obj, nil, ann, eventType, reason, "Reconcile", "%s", msg)
}
