package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"

	"github.com/gitopskit/gitopskit/notify"
)

// sink is the HTTP endpoint of the demo's generic webhook Provider: it
// keeps one line per notification.
type sink struct {
	srv   *httptest.Server
	start time.Time

	mu    sync.Mutex
	lines []string
}

func startSink(start time.Time) *sink {
	s := &sink{start: start}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var e notify.Event
	if err != nil || json.Unmarshal(body, &e) != nil {
		http.Error(w, "not a Flux event", http.StatusBadRequest)
		return
	}
	line := fmt.Sprintf("[%6.1fs] %-5s %s/%s %s: %s", time.Since(s.start).Seconds(), e.Severity,
		e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, oneLine(e.Message))
	s.mu.Lock()
	s.lines = append(s.lines, line)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// Lines returns the lines received so far.
func (s *sink) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func (s *sink) Close() { s.srv.Close() }

func oneLine(msg string) string {
	msg = string(bytes.Join(bytes.Fields([]byte(msg)), []byte(" ")))
	if len(msg) > 110 {
		msg = msg[:107] + "..."
	}
	return msg
}

// postGitHubPush calls a github Receiver as GitHub calls a webhook after a
// push: a push event signed with the shared secret.
func postGitHubPush(ctx context.Context, hookURL, secret, repoURL, commit string) error {
	body, err := json.Marshal(map[string]any{
		"ref":        "refs/heads/main",
		"after":      commit,
		"repository": map[string]any{"full_name": "acme/fleet", "clone_url": repoURL},
	})
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hookURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("demo-%d", time.Now().UnixNano()))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// Not the URL: its path identifies the Receiver.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("calling the receiver: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return nil
}
