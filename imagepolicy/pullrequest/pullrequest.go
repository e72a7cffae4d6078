package pullrequest

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

	"github.com/gitopskit/gitopskit/source"
)

// Request describes the pull request wanted.
type Request struct {
	// Head is the branch with the changes (the push branch).
	Head string
	// Base is the branch to merge into (the checkout branch).
	Base string
	// Title and Body describe the change; an open request gets them
	// updated.
	Title, Body string
}

// PullRequest is an open pull or merge request.
type PullRequest struct {
	// Number is GitHub's number or GitLab's iid.
	Number int
	// URL is its web page.
	URL string
	// Created reports whether this call opened it (else it was updated).
	Created bool
}

// Provider opens or updates the pull request for a branch.
type Provider interface {
	Ensure(ctx context.Context, r Request) (PullRequest, error)
}

// ErrAPI is what an *APIError is (errors.Is).
var ErrAPI = errors.New("pull request API call failed")

// APIError is a failed API call.
type APIError struct {
	// Op is what was attempted ("list", "create", "update").
	Op string
	// StatusCode is the HTTP status, 0 when no answer came.
	StatusCode int
	// Message is the server's message, if any.
	Message string
}

// Error implements error.
func (e *APIError) Error() string {
	s := fmt.Sprintf("pull request %s failed", e.Op)
	if e.StatusCode != 0 {
		s += fmt.Sprintf(": HTTP %d", e.StatusCode)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether target is ErrAPI, or source.ErrAuth for 401 and 403,
// or source.ErrNotFound for 404.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrAPI:
		return true
	case source.ErrAuth:
		return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden
	case source.ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	}
	return false
}

// maxResponse caps a response body.
const maxResponse = 4 << 20

func (r Request) check() error {
	if r.Head == "" || r.Base == "" || r.Title == "" {
		return fmt.Errorf("pull request needs a head branch, a base branch and a title: %w", source.ErrInvalid)
	}
	if r.Head == r.Base {
		return fmt.Errorf("pull request head and base are both %q: %w", r.Head, source.ErrInvalid)
	}
	return nil
}

// client makes JSON calls with one set of headers.
type client struct {
	http    *http.Client
	headers map[string]string
	secret  string
}

func (c *client) do(ctx context.Context, op, method, u string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return &APIError{Op: op, Message: source.Redact(err.Error(), c.secret)}
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	hc := c.http
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &APIError{Op: op, Message: source.Redact(err.Error(), c.secret)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return &APIError{Op: op, StatusCode: resp.StatusCode, Message: "reading the response: " + source.Redact(err.Error(), c.secret)}
	}
	if len(data) > maxResponse {
		return &APIError{Op: op, StatusCode: resp.StatusCode, Message: fmt.Sprintf("response is larger than %d bytes", maxResponse)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			Message any `json:"message"`
			Error   any `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		msg := ""
		for _, m := range []any{e.Message, e.Error} {
			if m != nil && msg == "" {
				msg = fmt.Sprint(m)
			}
		}
		if len(msg) > 512 {
			msg = msg[:512]
		}
		return &APIError{Op: op, StatusCode: resp.StatusCode, Message: source.Redact(msg, c.secret)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &APIError{Op: op, StatusCode: resp.StatusCode, Message: "response is not the JSON expected"}
		}
	}
	return nil
}

func baseURL(s, def string) (string, error) {
	if s == "" {
		s = def
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", fmt.Errorf("API URL must be http(s)://host[/path] without credentials: %w", source.ErrInvalid)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// GitHub opens pull requests through GitHub's REST API (github.com or
// GitHub Enterprise Server).
type GitHub struct {
	// BaseURL is the API root; empty means "https://api.github.com" (GitHub
	// Enterprise Server: "https://<host>/api/v3").
	BaseURL string
	// Token is a token allowed to read and write pull requests.
	Token string
	// Owner and Repo name the repository.
	Owner, Repo string
	// HTTPClient makes the calls; nil means http.DefaultClient.
	HTTPClient *http.Client
}

type githubPR struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
}

// Ensure implements Provider: it lists the open pull requests from
// Owner:Head to Base, updates the first one's title and body, or opens one.
func (g *GitHub) Ensure(ctx context.Context, r Request) (PullRequest, error) {
	if err := r.check(); err != nil {
		return PullRequest{}, err
	}
	base, err := baseURL(g.BaseURL, "https://api.github.com")
	if err != nil {
		return PullRequest{}, err
	}
	if g.Owner == "" || g.Repo == "" || strings.ContainsAny(g.Owner+g.Repo, "/?#") {
		return PullRequest{}, fmt.Errorf("GitHub owner and repository must be set and contain no '/': %w", source.ErrInvalid)
	}
	c := &client{http: g.HTTPClient, secret: g.Token, headers: map[string]string{
		"Accept":               "application/vnd.github+json",
		"X-GitHub-Api-Version": "2022-11-28",
	}}
	if g.Token != "" {
		c.headers["Authorization"] = "Bearer " + g.Token
	}
	pulls := base + "/repos/" + url.PathEscape(g.Owner) + "/" + url.PathEscape(g.Repo) + "/pulls"
	q := url.Values{"state": {"open"}, "head": {g.Owner + ":" + r.Head}, "base": {r.Base}}
	var open []githubPR
	if err := c.do(ctx, "list", http.MethodGet, pulls+"?"+q.Encode(), nil, &open); err != nil {
		return PullRequest{}, err
	}
	var pr githubPR
	if len(open) > 0 {
		if err := c.do(ctx, "update", http.MethodPatch, fmt.Sprintf("%s/%d", pulls, open[0].Number),
			map[string]string{"title": r.Title, "body": r.Body}, &pr); err != nil {
			return PullRequest{}, err
		}
		return PullRequest{Number: pr.Number, URL: pr.HTMLURL}, nil
	}
	if err := c.do(ctx, "create", http.MethodPost, pulls,
		map[string]string{"title": r.Title, "body": r.Body, "head": r.Head, "base": r.Base}, &pr); err != nil {
		return PullRequest{}, err
	}
	return PullRequest{Number: pr.Number, URL: pr.HTMLURL, Created: true}, nil
}

// GitLab opens merge requests through GitLab's REST API (v4).
type GitLab struct {
	// BaseURL is the instance's root; empty means "https://gitlab.com".
	BaseURL string
	// Token is a personal, project or group access token (sent as
	// PRIVATE-TOKEN).
	Token string
	// Project is the project's path ("group/sub/project") or numeric ID.
	Project string
	// HTTPClient makes the calls; nil means http.DefaultClient.
	HTTPClient *http.Client
}

type gitlabMR struct {
	IID    int    `json:"iid"`
	WebURL string `json:"web_url"`
}

// Ensure implements Provider: it lists the opened merge requests from Head
// to Base, updates the first one's title and description, or opens one.
func (g *GitLab) Ensure(ctx context.Context, r Request) (PullRequest, error) {
	if err := r.check(); err != nil {
		return PullRequest{}, err
	}
	base, err := baseURL(g.BaseURL, "https://gitlab.com")
	if err != nil {
		return PullRequest{}, err
	}
	if g.Project == "" {
		return PullRequest{}, fmt.Errorf("GitLab project must be set: %w", source.ErrInvalid)
	}
	c := &client{http: g.HTTPClient, secret: g.Token, headers: map[string]string{}}
	if g.Token != "" {
		c.headers["PRIVATE-TOKEN"] = g.Token
	}
	mrs := base + "/api/v4/projects/" + url.PathEscape(g.Project) + "/merge_requests"
	q := url.Values{"state": {"opened"}, "source_branch": {r.Head}, "target_branch": {r.Base}}
	var open []gitlabMR
	if err := c.do(ctx, "list", http.MethodGet, mrs+"?"+q.Encode(), nil, &open); err != nil {
		return PullRequest{}, err
	}
	var mr gitlabMR
	if len(open) > 0 {
		if err := c.do(ctx, "update", http.MethodPut, fmt.Sprintf("%s/%d", mrs, open[0].IID),
			map[string]string{"title": r.Title, "description": r.Body}, &mr); err != nil {
			return PullRequest{}, err
		}
		return PullRequest{Number: mr.IID, URL: mr.WebURL}, nil
	}
	if err := c.do(ctx, "create", http.MethodPost, mrs,
		map[string]string{"title": r.Title, "description": r.Body, "source_branch": r.Head, "target_branch": r.Base}, &mr); err != nil {
		return PullRequest{}, err
	}
	return PullRequest{Number: mr.IID, URL: mr.WebURL, Created: true}, nil
}
