package fluxstatus

import (
	"github.com/fluxcd/pkg/apis/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

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
