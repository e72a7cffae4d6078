package notifytest

import (
	"context"
	"sync"

	"github.com/gitopskit/gitopskit/notify"
)

// Recorder is an in-memory notify.Recorder keeping every event in order.
// The zero value is ready to use; it is safe for concurrent use.
type Recorder struct {
	mu     sync.Mutex
	events []notify.Event
	notify chan struct{}
}

// Record keeps e.
func (r *Recorder) Record(_ context.Context, e notify.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	if r.notify != nil {
		close(r.notify)
		r.notify = nil
	}
	return nil
}

// Events returns a copy of the events recorded so far.
func (r *Recorder) Events() []notify.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Event(nil), r.events...)
}

// Len returns how many events were recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// Reset forgets the recorded events.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = nil
}

// Wait blocks until at least n events are recorded or ctx is done, and
// returns the events recorded by then (with ctx's error when done first).
func (r *Recorder) Wait(ctx context.Context, n int) ([]notify.Event, error) {
	for {
		r.mu.Lock()
		if len(r.events) >= n {
			ev := append([]notify.Event(nil), r.events...)
			r.mu.Unlock()
			return ev, nil
		}
		if r.notify == nil {
			r.notify = make(chan struct{})
		}
		ch := r.notify
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return r.Events(), ctx.Err()
		}
	}
}
