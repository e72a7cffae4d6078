package otelprovider_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/gitopskit/gitopskit/notify"
	"github.com/gitopskit/gitopskit/notify/provider"
	"github.com/gitopskit/gitopskit/notify/provider/otelprovider"
)

const (
	alertUID = "5a4c0e0f-1b3c-4d2e-9f00-0123456789ab"
	token    = "otlp-secret-token"
	password = "otlp-secret-password"
)

// sink is an OTLP/HTTP traces endpoint that decodes each request.
type sink struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []*coltracepb.ExportTraceServiceRequest
	auth   []string
	status []int // answers, in order; 200 once exhausted
}

func newSink(t *testing.T, status ...int) *sink {
	s := &sink{t: t, status: status}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		s.t.Errorf("request %s %s, want POST /v1/traces", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		s.t.Errorf("Content-Type %q, want application/x-protobuf", ct)
	}
	b, _ := io.ReadAll(r.Body)
	req := &coltracepb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(b, req); err != nil {
		s.t.Errorf("decoding OTLP request: %v", err)
	}
	s.reqs = append(s.reqs, req)
	s.auth = append(s.auth, r.Header.Get("Authorization"))
	code := http.StatusOK
	if len(s.status) > 0 {
		code, s.status = s.status[0], s.status[1:]
	}
	if code != http.StatusOK {
		// A server echoing credentials back must not leak them.
		http.Error(w, "rejected "+r.Header.Get("Authorization"), code)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func (s *sink) requests() []*coltracepb.ExportTraceServiceRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs
}

func alert() map[string]any {
	return map[string]any{"metadata": map[string]any{"name": "on-call", "namespace": "flux-system", "uid": alertUID}}
}

func testEvent() notify.Event {
	return notify.Event{
		InvolvedObject: notify.ObjectReference{Kind: "Kustomization", Namespace: "apps", Name: "podinfo", UID: "obj-uid-1"},
		Severity:       notify.SeverityInfo,
		Timestamp:      time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
		Message:        "Applied revision: main@sha1:0123",
		Reason:         "ReconciliationSucceeded",
		Metadata:       map[string]string{"revision": "main@sha1:0123", "summary": "prod"},
	}
}

func fastRetry() provider.Retry {
	return provider.Retry{Max: 3, MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond}
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.Key] = kv.Value.GetStringValue()
	}
	return m
}

func onlySpan(t *testing.T, req *coltracepb.ExportTraceServiceRequest) (*tracepb.ResourceSpans, *tracepb.ScopeSpans, *tracepb.Span) {
	t.Helper()
	if len(req.ResourceSpans) != 1 || len(req.ResourceSpans[0].ScopeSpans) != 1 || len(req.ResourceSpans[0].ScopeSpans[0].Spans) != 1 {
		t.Fatalf("want one span, got %v", req)
	}
	rs := req.ResourceSpans[0]
	return rs, rs.ScopeSpans[0], rs.ScopeSpans[0].Spans[0]
}

func TestPostWireFormat(t *testing.T) {
	// The environment changes nothing: the Provider says it all.
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=env")
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=from-env")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
	s := newSink(t)
	snd, err := provider.New(provider.Config{
		Type:        provider.TypeOTel,
		Address:     s.srv.URL + "/v1/traces",
		Username:    "flux",
		Password:    password,
		AlertObject: alert(),
		Retry:       fastRetry(),
	}, otelprovider.Option())
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	if err := snd.Post(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	reqs := s.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	if want := "Basic Zmx1eDpvdGxwLXNlY3JldC1wYXNzd29yZA=="; s.auth[0] != want {
		t.Errorf("Authorization %q, want %q", s.auth[0], want)
	}
	rs, ss, span := onlySpan(t, reqs[0])
	if diff := cmp.Diff(map[string]string{
		"service.name":        "flux-system/on-call",
		"service.namespace":   "flux-system",
		"service.instance.id": alertUID,
	}, attrs(rs.Resource.Attributes)); diff != "" {
		t.Errorf("resource attributes (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(rs.SchemaUrl, "https://opentelemetry.io/schemas/") {
		t.Errorf("schema URL %q", rs.SchemaUrl)
	}
	if ss.Scope.Name != otelprovider.ScopeName {
		t.Errorf("scope %q, want %q", ss.Scope.Name, otelprovider.ScopeName)
	}
	if span.Name != "Kustomization: apps/podinfo" {
		t.Errorf("span name %q", span.Name)
	}
	if diff := cmp.Diff(map[string]string{
		"object.uid":       "obj-uid-1",
		"object.kind":      "Kustomization",
		"object.name":      "podinfo",
		"object.namespace": "apps",
		"revision":         "main@sha1:0123",
		"summary":          "prod",
	}, attrs(span.Attributes)); diff != "" {
		t.Errorf("span attributes (-want +got):\n%s", diff)
	}
	// sha256("<alert UID>:<revision>")[:16], as Flux derives it.
	wantTrace := otelprovider.TraceID(alertUID, "main@sha1:0123")
	if got := hex.EncodeToString(span.TraceId); got != wantTrace.String() {
		t.Errorf("trace ID %s, want %s", got, wantTrace)
	}
	if len(span.SpanId) != 8 || len(span.ParentSpanId) != 0 {
		t.Errorf("span ID %x, parent %x", span.SpanId, span.ParentSpanId)
	}
	if span.StartTimeUnixNano != uint64(e.Timestamp.UnixNano()) || span.EndTimeUnixNano < span.StartTimeUnixNano {
		t.Errorf("span times %d..%d, want start %d", span.StartTimeUnixNano, span.EndTimeUnixNano, e.Timestamp.UnixNano())
	}
	if span.Status.Code != tracepb.Status_STATUS_CODE_OK {
		t.Errorf("status %v, want OK", span.Status)
	}

	// An error event has an Error status with the message; a second event
	// about the same revision joins the same trace.
	e.Severity = notify.SeverityError
	e.Message = "health check failed"
	if err := snd.Post(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	_, _, span2 := onlySpan(t, s.requests()[1])
	if span2.Status.Code != tracepb.Status_STATUS_CODE_ERROR || span2.Status.Message != "health check failed" {
		t.Errorf("status %v, want ERROR with the message", span2.Status)
	}
	if !bytes.Equal(span2.TraceId, span.TraceId) || bytes.Equal(span2.SpanId, span.SpanId) {
		t.Errorf("second span: trace %x span %x, first: trace %x span %x", span2.TraceId, span2.SpanId, span.TraceId, span.SpanId)
	}
}

func TestRevision(t *testing.T) {
	for _, tt := range []struct {
		md   map[string]string
		want string
	}{
		{map[string]string{"app-version": "6.5.0", "oci-digest": "sha256:abc", "revision": "r"}, "6.5.0@sha256:abc"},
		{map[string]string{"oci-digest": "sha256:abc", "revision": "main@sha1:01"}, "main@sha1:01"},
		{nil, "unknown"},
	} {
		if got := otelprovider.Revision(tt.md); got != tt.want {
			t.Errorf("Revision(%v) = %q, want %q", tt.md, got, tt.want)
		}
	}
	// The first 16 bytes of sha256("uid:rev").
	sum := sha256.Sum256([]byte("uid:rev"))
	if got, want := otelprovider.TraceID("uid", "rev").String(), hex.EncodeToString(sum[:16]); got != want {
		t.Errorf("TraceID = %s, want %s", got, want)
	}
}

func TestAuth(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  provider.Config
		want string
	}{
		{"password alone is a bearer token", provider.Config{Password: password}, "Bearer " + password},
		{"token", provider.Config{Token: token}, "Bearer " + token},
		{"header wins", provider.Config{Token: token, Headers: map[string]string{"Authorization": "Custom x"}}, "Custom x"},
		{"none", provider.Config{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t)
			cfg := tt.cfg
			cfg.Type, cfg.Address, cfg.AlertObject, cfg.Retry = provider.TypeOTel, s.srv.URL+"/v1/traces", alert(), fastRetry()
			snd, err := otelprovider.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := snd.Post(context.Background(), testEvent()); err != nil {
				t.Fatal(err)
			}
			if s.auth[0] != tt.want {
				t.Errorf("Authorization %q, want %q", s.auth[0], tt.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	s := newSink(t, http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusTooManyRequests)
	snd, err := otelprovider.New(provider.Config{Address: s.srv.URL + "/v1/traces", Token: token, AlertObject: alert(), Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	if n := len(s.requests()); n != 4 {
		t.Errorf("got %d requests, want 4 (three retries)", n)
	}
}

func TestNoRetryOn4xx(t *testing.T) {
	s := newSink(t, http.StatusUnauthorized, http.StatusUnauthorized)
	snd, err := otelprovider.New(provider.Config{Address: s.srv.URL + "/v1/traces", Token: token, AlertObject: alert(), Retry: fastRetry()})
	if err != nil {
		t.Fatal(err)
	}
	err = snd.Post(context.Background(), testEvent())
	var se *provider.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
		t.Fatalf("got %v, want a StatusError 401", err)
	}
	if n := len(s.requests()); n != 1 {
		t.Errorf("got %d requests, want 1", n)
	}
	checkNoSecret(t, err, token, s.srv.URL)
}

func TestGiveUp(t *testing.T) {
	s := newSink(t, 502, 502, 502, 502, 502)
	addr := strings.Replace(s.srv.URL, "http://", "http://user:"+password+"@", 1) + "/v1/traces"
	snd, err := otelprovider.New(provider.Config{Address: addr, Token: token, AlertObject: alert(), Retry: provider.Retry{Max: 2, MinWait: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	err = snd.Post(context.Background(), testEvent())
	if err == nil {
		t.Fatal("no error")
	}
	if n := len(s.requests()); n != 3 {
		t.Errorf("got %d requests, want 3", n)
	}
	checkNoSecret(t, err, token, password, s.srv.URL)

	// An unreachable collector: a transport error, retried, redacted.
	snd, _ = otelprovider.New(provider.Config{Address: "http://127.0.0.1:1/v1/traces?key=" + token, AlertObject: alert(), Retry: provider.Retry{Max: 1, MinWait: time.Millisecond}})
	err = snd.Post(context.Background(), testEvent())
	if err == nil {
		t.Fatal("no error")
	}
	checkNoSecret(t, err, token)
}

func TestSkipsHelmRepository(t *testing.T) {
	s := newSink(t)
	snd, err := otelprovider.New(provider.Config{Address: s.srv.URL + "/v1/traces", AlertObject: alert()})
	if err != nil {
		t.Fatal(err)
	}
	e := testEvent()
	e.InvolvedObject.Kind = "HelmRepository"
	if err := snd.Post(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if n := len(s.requests()); n != 0 {
		t.Errorf("got %d requests, want none", n)
	}
}

func TestInvalidConfig(t *testing.T) {
	for _, cfg := range []provider.Config{
		{Token: token},
		{Address: "collector:4318" + token, Token: token, AlertObject: alert()},
		{Address: "http://collector:4318/v1/traces", Token: token},
		{Address: "http://collector:4318/v1/traces", Token: token, AlertObject: alert(), Proxy: "http://proxy:3128", Transport: http.DefaultTransport},
		{Type: "slack", Address: "http://collector:4318/v1/traces", AlertObject: alert()},
	} {
		_, err := otelprovider.New(cfg)
		if !errors.Is(err, provider.ErrInvalidConfig) && !errors.Is(err, provider.ErrUnsupportedType) {
			t.Errorf("%+v: got %v, want ErrInvalidConfig", cfg.Address, err)
			continue
		}
		checkNoSecret(t, err, token)
	}
}

func checkNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	t.Logf("error: %v", err)
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error contains %q: %v", s, err)
		}
	}
}

func TestTLS(t *testing.T) {
	var n, conns int
	var mu sync.Mutex
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cfg := provider.Config{Address: srv.URL + "/v1/traces", Token: token, AlertObject: alert(), Retry: fastRetry()}
	// Not trusted: refused at once, not retried.
	snd, err := otelprovider.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	} else {
		checkNoSecret(t, err, token)
	}
	mu.Lock()
	if conns != 1 {
		t.Errorf("an untrusted certificate was tried %d times, want 1", conns)
	}
	mu.Unlock()
	// Trusted through TLSConfig (a Provider's certSecretRef).
	cfg.TLSConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	snd, err = otelprovider.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := snd.Post(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if n != 1 {
		t.Errorf("got %d requests, want 1", n)
	}
}
