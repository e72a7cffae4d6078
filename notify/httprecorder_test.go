package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHTTPRecorderProtocol(t *testing.T) {
	var got Event
	var ct, method, path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct, method, path = r.Header.Get("Content-Type"), r.Method, r.URL.Path
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &got); err != nil {
			t.Error(err)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r, err := NewHTTPRecorder(srv.URL+"/", WithReportingController("kustomize-controller"), WithReportingInstance("pod-1"), WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	e := ev("Kustomization", "ns", "x", "info", "m")
	e.ReportingController = ""
	e.Metadata = map[string]string{MetaRevisionKey: "main@sha1:1", EventGroup + "/env": "prod"}
	if err := r.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if method != http.MethodPost || path != "/" || ct != "application/json" {
		t.Fatalf("%s %s %s", method, path, ct)
	}
	if got.ReportingController != "kustomize-controller" || got.ReportingInstance != "pod-1" || !got.Timestamp.Equal(now) {
		t.Fatalf("defaults not filled: %+v", got)
	}
	if got.Metadata[kgroup+"/revision"] != "main@sha1:1" || got.Metadata[EventGroup+"/env"] != "prod" {
		t.Fatalf("metadata not qualified: %v", got.Metadata)
	}
}

func TestHTTPRecorderStatuses(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		attempts int32
		wantErr  bool
	}{
		{"accepted", []int{202}, 1, false},
		{"ok", []int{200}, 1, false},
		{"duplicate is delivered", []int{429}, 1, false},
		{"retry 5xx", []int{503, 500, 202}, 3, false},
		{"give up after retries", []int{503, 503, 503, 503}, 3, true},
		{"no retry on 4xx", []int{400}, 1, true},
		{"no retry on 501", []int{501}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				i := int(n.Add(1)) - 1
				w.WriteHeader(tt.statuses[min(i, len(tt.statuses)-1)])
				_, _ = w.Write([]byte("why"))
			}))
			defer srv.Close()
			r, _ := NewHTTPRecorder(srv.URL, WithRetries(2), WithBackoff(time.Millisecond, 2*time.Millisecond))
			err := r.Record(context.Background(), ev("Kustomization", "ns", "x", "info", "m"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			var se *HTTPStatusError
			if err != nil && (!errors.As(err, &se) || se.Body != "why") {
				t.Fatalf("err = %v", err)
			}
			if n.Load() != tt.attempts {
				t.Fatalf("%d attempts, want %d", n.Load(), tt.attempts)
			}
		})
	}
}

func TestHTTPRecorderSkipsTraceAndInvalid(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	defer srv.Close()
	r, _ := NewHTTPRecorder(srv.URL)
	if err := r.Record(context.Background(), ev("Kustomization", "ns", "x", "trace", "m")); err != nil || n.Load() != 0 {
		t.Fatalf("trace: %v, %d posts", err, n.Load())
	}
	bad := ev("Kustomization", "", "x", "info", "m")
	if err := r.Record(context.Background(), bad); !errors.Is(err, ErrInvalidEvent) || n.Load() != 0 {
		t.Fatalf("invalid: %v", err)
	}
}

func TestHTTPRecorderErrorsHideCredentials(t *testing.T) {
	// Nothing listens on port 1; the error must not repeat user info or query.
	r, err := NewHTTPRecorder("http://user:s3cret@127.0.0.1:1/events?token=s3cret", WithRetries(0))
	if err != nil {
		t.Fatal(err)
	}
	err = r.Record(context.Background(), ev("Kustomization", "ns", "x", "info", "m"))
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1:1/events") {
		t.Fatalf("err = %v", err)
	}
	for _, addr := range []string{"ftp://h/", "http://", "::"} {
		if _, err := NewHTTPRecorder(addr); err == nil {
			t.Errorf("%q accepted", addr)
		}
	}
	if _, err := NewHTTPRecorder("ftp://u:s3cret@h/"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
}

func TestHTTPRecorderStopsOnContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	r, _ := NewHTTPRecorder(srv.URL, WithBackoff(time.Hour, time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.Record(ctx, ev("Kustomization", "ns", "x", "info", "m")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestMultiRecorderAndQueue(t *testing.T) {
	a, b := &memRecorder{}, &memRecorder{}
	boom := errors.New("boom")
	failing := RecorderFunc(func(context.Context, Event) error { return boom })
	m := MultiRecorder(a, nil, failing, b)
	if err := m.Record(context.Background(), ev("K", "ns", "x", "info", "m")); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if len(a.all()) != 1 || len(b.all()) != 1 {
		t.Fatal("not fanned out past a failure")
	}

	var failed atomic.Int32
	q := NewQueue(MultiRecorder(a, failing), 1, func(Event, error) { failed.Add(1) })
	if err := q.Record(context.Background(), ev("K", "ns", "x", "info", "q")); err != nil {
		t.Fatal(err)
	}
	if err := q.Record(context.Background(), ev("K", "ns", "x", "info", "q")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- q.Run(ctx) }()
	for len(a.all()) < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || failed.Load() != 1 {
		t.Fatalf("err = %v, failed %d", err, failed.Load())
	}
	if EventType(SeverityError) != "Warning" || EventType(SeverityTrace) != "Normal" || SeverityOf("Warning") != SeverityError || SeverityOf("Trace") != SeverityTrace || SeverityOf("Normal") != SeverityInfo {
		t.Fatal("event type mapping")
	}
}
