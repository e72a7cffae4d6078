package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitopskit/gitopskit/notify"
)

// checkPubSubData decodes a publish request as Pub/Sub does: one message
// whose base64 data is the event's JSON payload.
func checkPubSubData(t *testing.T, body []byte) {
	t.Helper()
	var req struct {
		Messages []struct {
			Data       string            `json:"data"`
			Attributes map[string]string `json:"attributes"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Messages) != 1 {
		t.Fatalf("publish request %s: %v, want one message", body, err)
	}
	data, err := base64.StdEncoding.DecodeString(req.Messages[0].Data)
	if err != nil {
		t.Fatalf("data is not base64: %v", err)
	}
	var got notify.Event
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("data is not an event: %v: %s", err, data)
	}
	if diff := cmp.Diff(testEvent(), got); diff != "" {
		t.Errorf("published event (-want +got):\n%s", diff)
	}
}

func pubSubSender(t *testing.T, s *sink, cfg Config) Sender {
	t.Helper()
	u, _ := url.Parse(s.srv.URL)
	cfg.Type, cfg.Transport = TypeGooglePubSub, redirect{sink: u}
	if cfg.Address == "" {
		cfg.Address, cfg.Channel = "my-project", "flux-events"
	}
	snd, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return snd
}

func TestPubSubRetry(t *testing.T) {
	n := 0
	s := newSink(t, func(recorded) (int, string) {
		n++
		switch n {
		case 1:
			return http.StatusServiceUnavailable, `{"error":{"code":503,"status":"UNAVAILABLE"}}`
		case 2:
			return http.StatusTooManyRequests, `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}`
		}
		return 200, `{"messageIds":["1"]}`
	})
	snd := pubSubSender(t, s, Config{Token: "ya29.secret", Retry: Retry{Max: 3, MinWait: time.Millisecond}})
	if err := snd.Post(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	if got := len(s.requests()); got != 3 {
		t.Errorf("got %d requests, want 3", got)
	}
}

func TestPubSubErrors(t *testing.T) {
	const token = "ya29.secret-access-token"
	s := newSink(t, func(r recorded) (int, string) {
		// A server echoing the credential must not leak it.
		return http.StatusForbidden, `{"error":{"code":403,"message":"denied for ` + r.Header.Get("Authorization") + `","status":"PERMISSION_DENIED"}}`
	})
	snd := pubSubSender(t, s, Config{Token: token, Retry: Retry{Max: 3, MinWait: time.Millisecond}})
	err := snd.Post(context.Background(), testEvent())
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusForbidden {
		t.Fatalf("got %v, want a StatusError 403", err)
	}
	if got := len(s.requests()); got != 1 {
		t.Errorf("a 403 was retried: %d requests", got)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error contains the token: %v", err)
	}

	// An answer that acknowledges no message is an error.
	s = newSink(t, func(recorded) (int, string) { return 200, `{}` })
	snd = pubSubSender(t, s, Config{Token: token})
	if err := snd.Post(context.Background(), testEvent()); err == nil {
		t.Error("no error for an answer without a message ID")
	}

	// Without a token no Authorization header is sent (a Transport may
	// authenticate).
	s = newSink(t, func(recorded) (int, string) { return 200, `{"messageIds":["1"]}` })
	snd = pubSubSender(t, s, Config{})
	if err := snd.Post(context.Background(), testEvent()); err != nil {
		t.Fatal(err)
	}
	if h := s.requests()[0].Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization %q without a token", h)
	}
}

func TestPubSubConfig(t *testing.T) {
	creds := `{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----secret"}`
	for _, tt := range []struct {
		cfg   Config
		field string
	}{
		{Config{Channel: "t"}, "Address"},
		{Config{Address: "p"}, "Channel"},
		{Config{Address: "projects/p", Channel: "t"}, "Address"},
		{Config{Address: "p", Channel: "t?x=1"}, "Channel"},
		{Config{Address: "p", Channel: "t", Token: creds}, "Token"},
	} {
		tt.cfg.Type = TypeGooglePubSub
		_, err := New(tt.cfg)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("New(%q, %q) = %v, want an invalid-config error naming %s", tt.cfg.Address, tt.cfg.Channel, err, tt.field)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("error contains the credentials: %v", err)
		}
	}
}
