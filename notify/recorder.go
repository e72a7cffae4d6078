package notify

import (
	"context"
	"errors"
)

// MultiRecorder returns a Recorder that records each event to every one of
// recorders, in order. A failing recorder does not stop the others; the
// errors are joined. Nil recorders are skipped.
//
// A Recorder that writes Kubernetes Events is one more Recorder here. It
// needs client-go, so it lives outside this package (notify must not need
// an API server); EventType maps an Event's severity to the Kubernetes
// event type the way Flux's recorder does.
func MultiRecorder(recorders ...Recorder) Recorder {
	rs := make([]Recorder, 0, len(recorders))
	for _, r := range recorders {
		if r != nil {
			rs = append(rs, r)
		}
	}
	return multiRecorder(rs)
}

type multiRecorder []Recorder

func (m multiRecorder) Record(ctx context.Context, e Event) error {
	var errs []error
	for _, r := range m {
		if err := r.Record(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Kubernetes event types, as core/v1 names them.
const (
	EventTypeNormal  = "Normal"
	EventTypeWarning = "Warning"
)

// EventType maps a severity to the Kubernetes event type Flux's recorder
// uses: error becomes Warning; info and trace become Normal.
func EventType(severity string) string {
	if severity == SeverityError {
		return EventTypeWarning
	}
	return EventTypeNormal
}

// SeverityOf maps a Kubernetes event type to a severity, as Flux's recorder
// does: Warning is error, Flux's "Trace" type is trace, anything else is
// info.
func SeverityOf(eventType string) string {
	switch eventType {
	case EventTypeWarning:
		return SeverityError
	case "Trace":
		return SeverityTrace
	}
	return SeverityInfo
}

// ErrQueueFull is returned by Queue.Record when the queue has no room.
var ErrQueueFull = errors.New("event queue full")

// Queue is a Recorder that returns at once and delivers events to another
// Recorder from the goroutine running Run, in order. Use it in front of a
// Recorder that may block (HTTPRecorder retries for up to a minute).
type Queue struct {
	next    Recorder
	ch      chan Event
	onError func(Event, error)
}

// NewQueue returns a queue holding up to size events (at least 1) for
// next. onError, if not nil, is called from Run with each event next
// failed to record.
func NewQueue(next Recorder, size int, onError func(Event, error)) *Queue {
	return &Queue{next: next, ch: make(chan Event, max(size, 1)), onError: onError}
}

// Record enqueues e, or returns ErrQueueFull. The context is not kept:
// delivery runs under Run's context.
func (q *Queue) Record(_ context.Context, e Event) error {
	select {
	case q.ch <- e:
		return nil
	default:
		return ErrQueueFull
	}
}

// Run delivers queued events until ctx is done, then returns ctx's error.
// Events still queued then are not delivered.
func (q *Queue) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-q.ch:
			if err := q.next.Record(ctx, e); err != nil && q.onError != nil {
				q.onError(e, err)
			}
		}
	}
}
