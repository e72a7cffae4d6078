package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type memRecorder struct {
	mu     sync.Mutex
	events []Event
}

func (m *memRecorder) Record(_ context.Context, e Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events = append(m.events, e)
	return nil
}

func (m *memRecorder) all() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Event(nil), m.events...)
}

func fluxBody(t testing.TB) []byte {
	// The shape Flux's kustomize-controller posts (metav1.Time at seconds).
	return []byte(`{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps","uid":"u1","apiVersion":"kustomize.toolkit.fluxcd.io/v1","resourceVersion":"42"},` +
		`"severity":"info","timestamp":"2026-01-02T03:04:05Z","message":"Reconciliation finished in 1s, next run in 10m0s","reason":"ReconciliationSucceeded",` +
		`"metadata":{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:0123","kustomize.toolkit.fluxcd.io/token":"t1","event.toolkit.fluxcd.io/env":"prod"},` +
		`"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-abc"}`)
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		status      int
		errText     string
	}{
		{"flux event", http.MethodPost, "application/json", string(fluxBody(t)), http.StatusAccepted, ""},
		{"no content type", http.MethodPost, "", string(fluxBody(t)), http.StatusAccepted, ""},
		{"charset", http.MethodPost, "application/json; charset=utf-8", string(fluxBody(t)), http.StatusAccepted, ""},
		{"get", http.MethodGet, "", "", http.StatusMethodNotAllowed, "not allowed"},
		{"form", http.MethodPost, "application/x-www-form-urlencoded", "a=b", http.StatusUnsupportedMediaType, "Content-Type"},
		{"not json", http.MethodPost, "application/json", "{", http.StatusBadRequest, "decoding event"},
		{"wrong type", http.MethodPost, "application/json", `{"severity":1}`, http.StatusBadRequest, "severity"},
		{"trailing data", http.MethodPost, "application/json", string(fluxBody(t)) + "{}", http.StatusBadRequest, "decoding event"},
		{"missing kind", http.MethodPost, "application/json", strings.Replace(string(fluxBody(t)), `"kind":"Kustomization",`, "", 1), http.StatusBadRequest, "involvedObject.kind: required"},
		{"bad severity", http.MethodPost, "application/json", strings.Replace(string(fluxBody(t)), `"severity":"info"`, `"severity":"warning"`, 1), http.StatusBadRequest, `severity: "warning" is not one of`},
		{"too large", http.MethodPost, "application/json", `{"message":"` + strings.Repeat("x", 4096) + `"}`, http.StatusRequestEntityTooLarge, "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &memRecorder{}
			h := NewHandler(rec, WithMaxEventBytes(2048))
			req := httptest.NewRequest(tt.method, "/", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if !strings.Contains(w.Body.String(), tt.errText) {
				t.Fatalf("body %q does not name %q", w.Body, tt.errText)
			}
			if got := len(rec.all()); (tt.status == http.StatusAccepted) != (got == 1) {
				t.Fatalf("%d events recorded", got)
			}
		})
	}
}

func TestHandlerNormalizesAndDeduplicates(t *testing.T) {
	rec := &memRecorder{}
	d := NewDeduplicator(time.Minute, nil)
	h := NewHandler(rec, WithDeduplicator(d))
	post := func(body []byte) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
		return w.Code
	}
	if c := post(fluxBody(t)); c != http.StatusAccepted {
		t.Fatal(c)
	}
	if c := post(fluxBody(t)); c != http.StatusTooManyRequests {
		t.Fatalf("duplicate answered %d", c)
	}
	got := rec.all()
	if len(got) != 1 {
		t.Fatalf("%d events", len(got))
	}
	if _, ok := got[0].Metadata[kgroup+"/token"]; ok {
		t.Fatal("token passed on")
	}
	if got[0].Metadata[kgroup+"/revision"] != "main@sha1:0123" || got[0].Timestamp.IsZero() {
		t.Fatalf("event = %+v", got[0])
	}

	raw := &memRecorder{}
	w := httptest.NewRecorder()
	NewHandler(raw, WithRawMetadata()).ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(fluxBody(t))))
	if raw.all()[0].Metadata[kgroup+"/token"] != "t1" {
		t.Fatal("raw metadata not kept")
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add(fluxBody(f))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"involvedObject":{"kind":"K","name":"n","namespace":"ns"},"severity":"error","reason":"R","reportingController":"c","timestamp":null}`))
	f.Add([]byte(`{"metadata":{"a":1}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, status, err := DecodeEvent(bytes.NewReader(body), 1<<16)
		if err != nil {
			if status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d for %v", status, err)
			}
		} else {
			if e.Validate() != nil {
				t.Fatal("invalid event accepted")
			}
			// What is accepted survives a round trip.
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := DecodeEvent(bytes.NewReader(b), 1<<20); err != nil {
				t.Fatalf("round trip: %v", err)
			}
			_ = Normalize(e)
			_ = DedupKey(e)
		}
		w := httptest.NewRecorder()
		NewHandler(RecorderFunc(func(context.Context, Event) error { return nil }), WithMaxEventBytes(1<<16)).
			ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
		if (err == nil) != (w.Code == http.StatusAccepted) {
			t.Fatalf("handler answered %d, DecodeEvent err %v", w.Code, err)
		}
	})
}
