package notification

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/reconcile"
)

// EventRecorder is a reconcile.EventRecorder that records each Event twice,
// as Flux's controllers do: as a Kubernetes Event through Kubernetes, and as
// a notify.Event through Notify (typically a notify.Queue in front of a
// notify.HTTPRecorder posting to an event server). The Event's annotations
// become the notify.Event's metadata, with the involved object's
// "event.toolkit.fluxcd.io/" annotations below them.
type EventRecorder struct {
	// Kubernetes records the Kubernetes Events; nil records none.
	Kubernetes reconcile.EventRecorder
	// Notify receives the notify.Events; nil sends none.
	Notify notify.Recorder
	// Scheme gives the involved object's apiVersion and kind when its
	// TypeMeta is empty. Required when Notify is set.
	Scheme *runtime.Scheme
	// Controller is the reportingController of the notify.Events.
	Controller string
	// CommitStatusReasons are the reasons of the Events that end a
	// reconciliation; their notify.Events are marked as commit status
	// updates ("<group>/commit_status: update"), as Flux's controllers
	// mark them, so commit-status providers act on them. For the
	// Kustomization controller: ReconciliationSucceeded.
	CommitStatusReasons []string
	// OnError, if not nil, is called when Notify refuses an event.
	OnError func(notify.Event, error)
}

// AnnotatedEventf records the Event; related is not part of a notify.Event.
func (r *EventRecorder) AnnotatedEventf(regarding, related runtime.Object, annotations map[string]string, eventtype, reason, action, note string, args ...any) {
	if r.Kubernetes != nil {
		r.Kubernetes.AnnotatedEventf(regarding, related, annotations, eventtype, reason, action, note, args...)
	}
	if r.Notify == nil {
		return
	}
	e, ok := r.event(regarding, annotations, eventtype, reason, note, args...)
	if !ok {
		return
	}
	if err := r.Notify.Record(context.Background(), e); err != nil && r.OnError != nil {
		r.OnError(e, err)
	}
}

// event builds the notify.Event for a Kubernetes Event; false when the
// object has no identity to report.
func (r *EventRecorder) event(obj runtime.Object, annotations map[string]string, eventtype, reason, note string, args ...any) (notify.Event, bool) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return notify.Event{}, false
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" && r.Scheme != nil {
		if gvk, err = apiutil.GVKForObject(obj, r.Scheme); err != nil {
			return notify.Event{}, false
		}
	}
	md := map[string]string{}
	for k, v := range m.GetAnnotations() {
		if strings.HasPrefix(k, notify.EventGroup+"/") {
			md[k] = v
		}
	}
	for k, v := range annotations {
		md[k] = v
	}
	if slices.Contains(r.CommitStatusReasons, reason) && gvk.Group != "" {
		md[gvk.Group+"/"+notify.MetaCommitStatusKey] = notify.MetaCommitStatusUpdate
	}
	if len(md) == 0 {
		md = nil
	}
	msg := note
	if len(args) > 0 {
		msg = fmt.Sprintf(note, args...)
	}
	return notify.Event{
		InvolvedObject: notify.ObjectReference{
			Kind:            gvk.Kind,
			APIVersion:      gvk.GroupVersion().String(),
			Namespace:       m.GetNamespace(),
			Name:            m.GetName(),
			UID:             string(m.GetUID()),
			ResourceVersion: m.GetResourceVersion(),
		},
		Severity:            notify.SeverityOf(eventtype),
		Timestamp:           time.Now().UTC(),
		Message:             msg,
		Reason:              reason,
		Metadata:            md,
		ReportingController: r.Controller,
	}, true
}
