package pullrequest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gitopskit/gitopskit/source"
)

// call is one request a sink received.
type call struct {
	Method, Path, Query string
	Body                map[string]string
}

// sink is an HTTP server that checks the authentication header, records
// the calls and keeps open requests, as the hosting service would.
type sink struct {
	mu    sync.Mutex
	calls []call
	open  map[string]int // "head->base" → number
	next  int
}

func (s *sink) record(t *testing.T, r *http.Request) call {
	var body map[string]string
	if r.Body != nil && r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("%s %s: body is not a JSON object of strings: %v", r.Method, r.URL, err)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
	}
	c := call{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Body: body}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	return c
}

func githubSink(t *testing.T, token string) (*sink, *httptest.Server) {
	s := &sink{open: map[string]int{}, next: 7}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Bad credentials"}`)
			return
		}
		if r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") == "" {
			t.Errorf("GitHub headers: %v", r.Header)
		}
		c := s.record(t, r)
		const pulls = "/api/v3/repos/org/fleet/pulls"
		switch {
		case r.Method == http.MethodGet && c.Path == pulls:
			q := r.URL.Query()
			if q.Get("state") != "open" || !strings.HasPrefix(q.Get("head"), "org:") {
				t.Errorf("list query %q", c.Query)
			}
			key := strings.TrimPrefix(q.Get("head"), "org:") + "->" + q.Get("base")
			out := []map[string]any{}
			if n, ok := s.open[key]; ok {
				out = append(out, map[string]any{"number": n, "html_url": fmt.Sprintf("https://github.example/org/fleet/pull/%d", n)})
			}
			json.NewEncoder(w).Encode(out)
		case r.Method == http.MethodPost && c.Path == pulls:
			n := s.next
			s.next++
			s.open[c.Body["head"]+"->"+c.Body["base"]] = n
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"number":%d,"html_url":"https://github.example/org/fleet/pull/%d"}`, n, n)
		case r.Method == http.MethodPatch && strings.HasPrefix(c.Path, pulls+"/"):
			fmt.Fprintf(w, `{"number":%s,"html_url":"https://github.example/org/fleet/pull/%s"}`, strings.TrimPrefix(c.Path, pulls+"/"), strings.TrimPrefix(c.Path, pulls+"/"))
		default:
			t.Errorf("unexpected call %s %s", r.Method, c.Path)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

func TestGitHub(t *testing.T) {
	s, srv := githubSink(t, "ghp_secret")
	gh := &GitHub{BaseURL: srv.URL + "/api/v3", Token: "ghp_secret", Owner: "org", Repo: "fleet"}
	ctx := context.Background()
	req := Request{Head: "image-updates", Base: "main", Title: "Update web to 1.1.0", Body: "- web: 1.0.0 -> 1.1.0"}
	pr, err := gh.Ensure(ctx, req)
	if err != nil || !pr.Created || pr.Number != 7 || pr.URL != "https://github.example/org/fleet/pull/7" {
		t.Fatalf("first Ensure = %+v, %v", pr, err)
	}
	req.Title = "Update web to 1.2.0"
	pr, err = gh.Ensure(ctx, req)
	if err != nil || pr.Created || pr.Number != 7 {
		t.Fatalf("second Ensure = %+v, %v", pr, err)
	}
	want := []call{
		{Method: "GET", Path: "/api/v3/repos/org/fleet/pulls", Query: "base=main&head=org%3Aimage-updates&state=open"},
		{Method: "POST", Path: "/api/v3/repos/org/fleet/pulls", Body: map[string]string{"title": "Update web to 1.1.0", "body": "- web: 1.0.0 -> 1.1.0", "head": "image-updates", "base": "main"}},
		{Method: "GET", Path: "/api/v3/repos/org/fleet/pulls", Query: "base=main&head=org%3Aimage-updates&state=open"},
		{Method: "PATCH", Path: "/api/v3/repos/org/fleet/pulls/7", Body: map[string]string{"title": "Update web to 1.2.0", "body": "- web: 1.0.0 -> 1.1.0"}},
	}
	if got, _ := json.Marshal(s.calls); string(got) != mustJSON(want) {
		t.Fatalf("calls:\n%s\nwant:\n%s", got, mustJSON(want))
	}

	bad := *gh
	bad.Token = "wrong-token"
	_, err = bad.Ensure(ctx, req)
	var apiErr *APIError
	if !errors.Is(err, source.ErrAuth) || !errors.As(err, &apiErr) || apiErr.StatusCode != 401 || strings.Contains(err.Error(), "wrong-token") {
		t.Fatalf("bad token = %v", err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func gitlabSink(t *testing.T, token string) (*sink, *httptest.Server) {
	s := &sink{open: map[string]int{}, next: 3}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("PRIVATE-TOKEN") != token {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"401 Unauthorized"}`)
			return
		}
		c := s.record(t, r)
		const mrs = "/api/v4/projects/group%2Fsub%2Ffleet/merge_requests"
		switch {
		case r.Method == http.MethodGet && c.Path == mrs:
			q := r.URL.Query()
			if q.Get("state") != "opened" {
				t.Errorf("list query %q", c.Query)
			}
			out := []map[string]any{}
			if n, ok := s.open[q.Get("source_branch")+"->"+q.Get("target_branch")]; ok {
				out = append(out, map[string]any{"iid": n, "web_url": fmt.Sprintf("https://gitlab.example/group/sub/fleet/-/merge_requests/%d", n)})
			}
			json.NewEncoder(w).Encode(out)
		case r.Method == http.MethodPost && c.Path == mrs:
			n := s.next
			s.next++
			s.open[c.Body["source_branch"]+"->"+c.Body["target_branch"]] = n
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"iid":%d,"web_url":"https://gitlab.example/group/sub/fleet/-/merge_requests/%d"}`, n, n)
		case r.Method == http.MethodPut && strings.HasPrefix(c.Path, mrs+"/"):
			n := strings.TrimPrefix(c.Path, mrs+"/")
			fmt.Fprintf(w, `{"iid":%s,"web_url":"https://gitlab.example/group/sub/fleet/-/merge_requests/%s"}`, n, n)
		default:
			t.Errorf("unexpected call %s %s", r.Method, c.Path)
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return s, srv
}

func TestGitLab(t *testing.T) {
	s, srv := gitlabSink(t, "glpat-secret")
	gl := &GitLab{BaseURL: srv.URL, Token: "glpat-secret", Project: "group/sub/fleet"}
	ctx := context.Background()
	req := Request{Head: "image-updates", Base: "main", Title: "Update web", Body: "body"}
	pr, err := gl.Ensure(ctx, req)
	if err != nil || !pr.Created || pr.Number != 3 || !strings.HasSuffix(pr.URL, "/merge_requests/3") {
		t.Fatalf("first Ensure = %+v, %v", pr, err)
	}
	pr, err = gl.Ensure(ctx, Request{Head: "image-updates", Base: "main", Title: "Update web again"})
	if err != nil || pr.Created || pr.Number != 3 {
		t.Fatalf("second Ensure = %+v, %v", pr, err)
	}
	want := []call{
		{Method: "GET", Path: "/api/v4/projects/group%2Fsub%2Ffleet/merge_requests", Query: "source_branch=image-updates&state=opened&target_branch=main"},
		{Method: "POST", Path: "/api/v4/projects/group%2Fsub%2Ffleet/merge_requests", Body: map[string]string{"title": "Update web", "description": "body", "source_branch": "image-updates", "target_branch": "main"}},
		{Method: "GET", Path: "/api/v4/projects/group%2Fsub%2Ffleet/merge_requests", Query: "source_branch=image-updates&state=opened&target_branch=main"},
		{Method: "PUT", Path: "/api/v4/projects/group%2Fsub%2Ffleet/merge_requests/3", Body: map[string]string{"title": "Update web again", "description": ""}},
	}
	if got := mustJSON(s.calls); got != mustJSON(want) {
		t.Fatalf("calls:\n%s\nwant:\n%s", got, mustJSON(want))
	}
	bad := *gl
	bad.Token = "nope-token"
	if _, err := bad.Ensure(ctx, req); !errors.Is(err, source.ErrAuth) || strings.Contains(err.Error(), "nope-token") {
		t.Fatalf("bad token = %v", err)
	}
}

func TestInvalid(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		p Provider
		r Request
	}{
		{&GitHub{Owner: "o", Repo: "r"}, Request{Head: "a", Base: "a", Title: "t"}},
		{&GitHub{Owner: "o", Repo: "r"}, Request{Head: "a", Base: "b"}},
		{&GitHub{Owner: "o/x", Repo: "r"}, Request{Head: "a", Base: "b", Title: "t"}},
		{&GitHub{BaseURL: "https://user:pw@host", Owner: "o", Repo: "r"}, Request{Head: "a", Base: "b", Title: "t"}},
		{&GitLab{}, Request{Head: "a", Base: "b", Title: "t"}},
		{&GitLab{BaseURL: "ftp://x", Project: "p"}, Request{Head: "a", Base: "b", Title: "t"}},
	} {
		if _, err := tc.p.Ensure(ctx, tc.r); !errors.Is(err, source.ErrInvalid) {
			t.Errorf("%+v %+v = %v; want ErrInvalid", tc.p, tc.r, err)
		}
	}
	// A server error names the status and the server's message.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprint(w, `{"message":"Validation Failed"}`)
	}))
	defer srv.Close()
	_, err := (&GitHub{BaseURL: srv.URL, Owner: "o", Repo: "r"}).Ensure(ctx, Request{Head: "a", Base: "b", Title: "t"})
	if !errors.Is(err, ErrAPI) || !strings.Contains(err.Error(), "422") || !strings.Contains(err.Error(), "Validation Failed") {
		t.Fatalf("422 = %v", err)
	}
}
