package notifytest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/gitopskit/gitopskit/notify"
)

// Request is one HTTP request a Server received, as sent.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Status is what the server answered.
	Status int
}

// Server is an httptest server speaking Flux's event protocol through
// notify.NewHandler: POST a JSON event to URL (any path). It keeps the
// events it accepted (metadata as received, token included) and every raw
// request, and can be told to fail, to exercise a sender's retries.
type Server struct {
	// URL is the server's base address, for notify.NewHTTPRecorder.
	URL string

	srv      *httptest.Server
	recorder Recorder
	handler  http.Handler

	mu       sync.Mutex
	requests []Request
	failures []int
}

// ServerOption configures NewServer.
type ServerOption func(*serverConfig)

type serverConfig struct {
	dedup    time.Duration
	maxBytes int64
}

// WithDeduplication makes the server answer 429 to events identical to one
// accepted within window, as a notification-controller does (5 minutes
// there; notify.DefaultDedupWindow). Off by default, so a test sees every
// event.
func WithDeduplication(window time.Duration) ServerOption {
	return func(c *serverConfig) { c.dedup = window }
}

// WithMaxEventBytes caps request bodies (default notify.DefaultMaxEventBytes).
func WithMaxEventBytes(n int64) ServerOption {
	return func(c *serverConfig) { c.maxBytes = n }
}

// NewServer starts a Server; Close it when done.
func NewServer(opts ...ServerOption) *Server {
	var c serverConfig
	for _, o := range opts {
		o(&c)
	}
	s := &Server{}
	hopts := []notify.HandlerOption{notify.WithRawMetadata()}
	if c.dedup > 0 {
		hopts = append(hopts, notify.WithDeduplicator(notify.NewDeduplicator(c.dedup, nil)))
	}
	if c.maxBytes > 0 {
		hopts = append(hopts, notify.WithMaxEventBytes(c.maxBytes))
	}
	s.handler = notify.NewHandler(&s.recorder, hopts...)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, notify.DefaultMaxEventBytes+1))
	req := Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	s.mu.Lock()
	var fail int
	if len(s.failures) > 0 {
		fail, s.failures = s.failures[0], s.failures[1:]
	}
	s.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	if fail != 0 {
		http.Error(sw, http.StatusText(fail), fail)
	} else {
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.handler.ServeHTTP(sw, r)
	}
	req.Status = sw.status
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// FailNext makes the next len(statuses) requests answer with these
// statuses, in order, without recording their events.
func (s *Server) FailNext(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, statuses...)
}

// Recorder returns the Recorder holding the accepted events (use its Wait).
func (s *Server) Recorder() *Recorder { return &s.recorder }

// Events returns the events accepted so far, in arrival order.
func (s *Server) Events() []notify.Event { return s.recorder.Events() }

// Requests returns every request received so far, accepted or not.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }
