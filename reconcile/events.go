package reconcile

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// EventRecorder is the part of a Kubernetes event recorder that Events
// uses: k8s.io/client-go/tools/events.EventRecorder, which a
// controller-runtime manager's GetEventRecorder returns, satisfies it.
type EventRecorder interface {
	AnnotatedEventf(regarding runtime.Object, related runtime.Object, annotations map[string]string, eventtype, reason, action, note string, args ...any)
}

// EventAction is the action of every Event that Events records.
const EventAction = "Reconcile"

// Events records Kubernetes Events about the objects of one controller,
// with Flux's reasons and, when a revision is given, the revision under
// RevisionKey in the Event's annotations (as Flux's controllers do, so a
// notification stack can tell which revision an Event is about). The zero
// value, or one with a nil Recorder, records nothing.
type Events struct {
	// Recorder records the Events; nil records none.
	Recorder EventRecorder
	// RevisionKey is the annotation carrying the revision, for example
	// "source.toolkit.fluxcd.io/revision".
	RevisionKey string
}

// Normal records an informational Event.
func (e Events) Normal(obj runtime.Object, revision, reason, msg string) {
	e.record(obj, revision, corev1.EventTypeNormal, reason, msg)
}

// Warning records a failure.
func (e Events) Warning(obj runtime.Object, revision, reason, msg string) {
	e.record(obj, revision, corev1.EventTypeWarning, reason, msg)
}

func (e Events) record(obj runtime.Object, revision, eventType, reason, msg string) {
	if e.Recorder == nil {
		return
	}
	var ann map[string]string
	if revision != "" && e.RevisionKey != "" {
		ann = map[string]string{e.RevisionKey: revision}
	}
	e.Recorder.AnnotatedEventf(obj, nil, ann, eventType, reason, EventAction, "%s", msg)
}
