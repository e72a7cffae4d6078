package notify

import (
	"context"
	"time"
)

// Severities of an Event, as Flux names them.
const (
	SeverityTrace = "trace"
	SeverityInfo  = "info"
	SeverityError = "error"
)

// MetaRevisionKey is the metadata key under which reporters put the source
// revision an event is about ("revision" in Flux's payload); commit-status
// providers act only on events that carry it.
const MetaRevisionKey = "revision"

// MetaTokenKey is the metadata key Flux's controllers use for the
// ownership token of an event.
const MetaTokenKey = "token"

// ObjectReference identifies the object an Event is about, with the JSON
// field names of a Kubernetes ObjectReference.
type ObjectReference struct {
	Kind            string `json:"kind,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	FieldPath       string `json:"fieldPath,omitempty"`
}

// Event is Flux's event payload: what a controller POSTs to the
// notification-controller's event server, and what alerts match and
// providers deliver.
type Event struct {
	// InvolvedObject is the object the event is about.
	InvolvedObject ObjectReference `json:"involvedObject"`
	// Severity is SeverityTrace, SeverityInfo or SeverityError.
	Severity string `json:"severity"`
	// Timestamp is when the event happened (RFC 3339 in JSON).
	Timestamp time.Time `json:"timestamp"`
	// Message is the human-readable description.
	Message string `json:"message"`
	// Reason is a short CamelCase reason, such as ReconciliationSucceeded.
	Reason string `json:"reason"`
	// Metadata carries extra key/value pairs (the revision, summary, …).
	Metadata map[string]string `json:"metadata,omitempty"`
	// ReportingController names the controller that reported the event.
	ReportingController string `json:"reportingController"`
	// ReportingInstance names the controller instance (its pod), if any.
	ReportingInstance string `json:"reportingInstance,omitempty"`
}

// Recorder is what a package that reports something takes: one method,
// called once per event. Implementations must be safe for concurrent use
// and must not block for long (queue, then deliver).
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(ctx context.Context, e Event) error

// Record calls f.
func (f RecorderFunc) Record(ctx context.Context, e Event) error { return f(ctx, e) }
