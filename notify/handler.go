package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/go-logr/logr"
)

// DefaultMaxEventBytes is the largest request body Handler reads, as
// Flux's event server caps it (3 MiB).
const DefaultMaxEventBytes = 3 << 20

// HandlerOption configures NewHandler.
type HandlerOption func(*handler)

// WithMaxEventBytes caps the request body (default DefaultMaxEventBytes).
func WithMaxEventBytes(n int64) HandlerOption {
	return func(h *handler) {
		if n > 0 {
			h.maxBytes = n
		}
	}
}

// WithDeduplicator makes the handler answer 429 Too Many Requests to an
// event identical to one accepted in the current window, as Flux's event
// server does; d may be shared with other handlers. Without this option
// every valid event is accepted.
func WithDeduplicator(d *Deduplicator) HandlerOption {
	return func(h *handler) { h.dedup = d }
}

// WithRawMetadata hands events to the Recorder with the metadata as
// received. By default the handler passes Normalize(e): the metadata
// Flux's event server keeps for alerting, without checksum, digest and
// token.
func WithRawMetadata() HandlerOption {
	return func(h *handler) { h.raw = true }
}

type handler struct {
	next     Recorder
	maxBytes int64
	dedup    *Deduplicator
	raw      bool
}

// NewHandler returns the receiving side of Flux's event protocol, what a
// notification-controller serves at the root of its event server: it
// accepts a POST of one JSON Event, checks it (Event.Validate), drops
// duplicates when given WithDeduplicator, and records it to next.
//
// Answers: 202 Accepted when the event is taken (also when next fails:
// the error goes to the request context's logr logger, as the sender
// cannot do better by retrying); 400 for a body that is not an Event or
// fails validation, naming the field; 405 for other methods; 413 for a
// body over the cap; 415 for a Content-Type that is not JSON (a missing
// one is accepted, as Flux does); 429 for a duplicate. Error bodies are
// plain text.
func NewHandler(next Recorder, opts ...HandlerOption) http.Handler {
	h := &handler{next: next, maxBytes: DefaultMaxEventBytes}
	for _, o := range opts {
		o(h)
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method "+truncate(r.Method, 16)+" not allowed: events are POSTed", http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "text/json") {
			http.Error(w, "unsupported Content-Type: events are application/json", http.StatusUnsupportedMediaType)
			return
		}
	}
	e, status, err := DecodeEvent(r.Body, h.maxBytes)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	if h.dedup != nil && !h.dedup.Allow(e) {
		http.Error(w, "duplicate event within the rate-limit window", http.StatusTooManyRequests)
		return
	}
	if !h.raw {
		e = Normalize(e)
	}
	if h.next != nil {
		if err := h.next.Record(r.Context(), e); err != nil {
			logr.FromContextOrDiscard(r.Context()).Error(err, "recording received event failed",
				"kind", e.InvolvedObject.Kind, "namespace", e.InvolvedObject.Namespace, "name", e.InvolvedObject.Name)
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

// ErrEventTooLarge is returned by DecodeEvent for a body over its cap.
var ErrEventTooLarge = errors.New("event body too large")

// DecodeEvent reads one JSON Event of at most maxBytes bytes from r and
// validates it. On error it also returns the HTTP status that fits: 413
// for a body over the cap (ErrEventTooLarge), 400 otherwise (a decoding
// error, or a *ValidationError).
func DecodeEvent(r io.Reader, maxBytes int64) (Event, int, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return Event{}, http.StatusBadRequest, fmt.Errorf("reading event body: %w", err)
	}
	if int64(len(body)) > maxBytes {
		return Event{}, http.StatusRequestEntityTooLarge, fmt.Errorf("%w: over %d bytes", ErrEventTooLarge, maxBytes)
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return Event{}, http.StatusBadRequest, fmt.Errorf("decoding event: %w", err)
	}
	if err := e.Validate(); err != nil {
		return Event{}, http.StatusBadRequest, err
	}
	return e, 0, nil
}
