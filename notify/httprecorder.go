package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// HTTPStatusError is returned by HTTPRecorder when the event server answers
// with a status other than 2xx or 429.
type HTTPStatusError struct {
	// StatusCode is the HTTP status of the last attempt.
	StatusCode int
	// Body is the start of the response body (at most 512 bytes).
	Body string
}

// Error reports the status and the start of the body.
func (e *HTTPStatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("event server answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("event server answered %d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// HTTPRecorder is a Recorder that posts events to an event server with
// Flux's protocol, so a notification-controller (or Handler) receives
// them: one POST of the JSON Event per event, Content-Type
// application/json, to the server's address (Flux's controllers are given
// "http://notification-controller.flux-system.svc.cluster.local./", the
// root of the event server on port 9090).
//
// As Flux's recorder does, it does not post trace events, fills in the
// reporting controller, instance and timestamp when the event has none,
// retries connection errors and 5xx answers (except 501) with exponential
// backoff, and treats 429 (the server's answer to a duplicate within its
// rate-limit window) as delivered. Bare metadata keys are qualified with
// the involved object's API group (see Qualify) so a
// notification-controller keeps them.
//
// Record blocks until the event is delivered or the retries are spent;
// wrap it in a Queue where a reporter must not wait.
type HTTPRecorder struct {
	address    string
	display    string
	client     *http.Client
	controller string
	instance   string
	retries    int
	minWait    time.Duration
	maxWait    time.Duration
	now        func() time.Time
}

// HTTPOption configures an HTTPRecorder.
type HTTPOption func(*HTTPRecorder)

// WithHTTPClient sets the client used to post (default: a client with a
// 5 second timeout per attempt, as Flux's recorder uses).
func WithHTTPClient(c *http.Client) HTTPOption {
	return func(r *HTTPRecorder) {
		if c != nil {
			r.client = c
		}
	}
}

// WithReportingController sets the reportingController of events that
// carry none.
func WithReportingController(name string) HTTPOption {
	return func(r *HTTPRecorder) { r.controller = name }
}

// WithReportingInstance sets the reportingInstance of events that carry
// none (Flux's controllers use their pod's host name).
func WithReportingInstance(id string) HTTPOption {
	return func(r *HTTPRecorder) { r.instance = id }
}

// WithRetries sets how many times a failed post is retried (default 4, as
// Flux's recorder). Zero disables retries.
func WithRetries(n int) HTTPOption {
	return func(r *HTTPRecorder) {
		if n >= 0 {
			r.retries = n
		}
	}
}

// WithBackoff sets the wait before the first retry and the cap on the
// doubling waits after it (default 1s and 30s).
func WithBackoff(minWait, maxWait time.Duration) HTTPOption {
	return func(r *HTTPRecorder) {
		if minWait >= 0 && maxWait >= minWait {
			r.minWait, r.maxWait = minWait, maxWait
		}
	}
}

// WithClock sets the clock used to stamp events without a timestamp.
func WithClock(now func() time.Time) HTTPOption {
	return func(r *HTTPRecorder) {
		if now != nil {
			r.now = now
		}
	}
}

// NewHTTPRecorder returns a recorder posting to address, an http or https
// URL.
func NewHTTPRecorder(address string, opts ...HTTPOption) (*HTTPRecorder, error) {
	u, err := url.Parse(address)
	if err != nil {
		return nil, fmt.Errorf("event server address: %w", errors.New("not a URL"))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("event server address %s: scheme must be http or https", displayURL(u))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("event server address %s: no host", displayURL(u))
	}
	r := &HTTPRecorder{
		address: address,
		display: displayURL(u),
		client:  &http.Client{Timeout: 5 * time.Second},
		retries: 4,
		minWait: time.Second,
		maxWait: 30 * time.Second,
		now:     time.Now,
	}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// displayURL is u without user info, query or fragment, fit for errors.
func displayURL(u *url.URL) string {
	c := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return c.String()
}

// Record posts e. See HTTPRecorder for the protocol.
func (r *HTTPRecorder) Record(ctx context.Context, e Event) error {
	if e.Severity == SeverityTrace {
		return nil
	}
	if e.ReportingController == "" {
		e.ReportingController = r.controller
	}
	if e.ReportingInstance == "" {
		e.ReportingInstance = r.instance
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = r.now()
	}
	if err := e.Validate(); err != nil {
		return fmt.Errorf("recording event: %w", err)
	}
	body, err := json.Marshal(Qualify(e))
	if err != nil {
		return fmt.Errorf("recording event: %w", err)
	}
	wait := r.minWait
	for attempt := 0; ; attempt++ {
		retry, err := r.post(ctx, body)
		if err == nil {
			return nil
		}
		if !retry || attempt >= r.retries {
			return fmt.Errorf("posting event to %s: %w", r.display, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("posting event to %s: %w (last error: %w)", r.display, ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, r.maxWait)
	}
}

// post makes one attempt and says whether a failure is worth retrying.
func (r *HTTPRecorder) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.address, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("building request failed")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the address, which may carry credentials
		}
		if ctx.Err() != nil {
			return false, err
		}
		return true, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return false, nil // a duplicate within the server's window: delivered before
	}
	serr := &HTTPStatusError{StatusCode: resp.StatusCode, Body: strings.TrimSpace(string(snippet))}
	return resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented, serr
}
