package receiver_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/gitopskit/gitopskit/notify/receiver"
)

// githubPush returns a push payload shaped like the ones GitHub sends (the
// repository, pusher, sender, head commit and n commits), about 2 KiB plus
// 600 bytes per commit.
func githubPush(n int) []byte {
	user := map[string]any{"name": "octocat", "email": "octocat@users.noreply.example.com", "username": "octocat"}
	commit := func(i int) map[string]any {
		return map[string]any{
			"id": fmt.Sprintf("%040x", i+1), "tree_id": fmt.Sprintf("%040x", i+1000),
			"distinct": true, "message": fmt.Sprintf("apps: bump podinfo to 6.7.%d", i),
			"timestamp": "2026-11-30T08:00:00Z", "url": fmt.Sprintf("https://github.example/acme/fleet/commit/%040x", i+1),
			"author": user, "committer": user,
			"added": []string{}, "removed": []string{}, "modified": []string{"apps/podinfo/release.yaml"},
		}
	}
	commits := make([]map[string]any, n)
	for i := range commits {
		commits[i] = commit(i)
	}
	payload := map[string]any{
		"ref": "refs/heads/main", "before": fmt.Sprintf("%040x", 0), "after": fmt.Sprintf("%040x", n),
		"created": false, "deleted": false, "forced": false,
		"compare":     "https://github.example/acme/fleet/compare/000000000000...0000000000" + fmt.Sprint(n),
		"commits":     commits,
		"head_commit": commit(n - 1),
		"repository": map[string]any{
			"id": 123456789, "name": "fleet", "full_name": "acme/fleet", "private": true,
			"owner":          map[string]any{"login": "acme", "id": 42, "type": "Organization"},
			"html_url":       "https://github.example/acme/fleet",
			"clone_url":      "https://github.example/acme/fleet.git",
			"ssh_url":        "git@github.example:acme/fleet.git",
			"default_branch": "main", "master_branch": "main",
		},
		"pusher": map[string]any{"name": "octocat", "email": "octocat@users.noreply.example.com"},
		"sender": map[string]any{"login": "octocat", "id": 1, "type": "User"},
	}
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return b
}

// BenchmarkGitHubPush measures one signed GitHub push webhook through the
// whole handler: path lookup, body read, X-Hub-Signature-256 HMAC check,
// X-GitHub-Event filter, JSON decoding, the receiver's CEL resource filter
// on every object and the callback. Each resolved kind has 10 objects, of
// which the filter keeps the one watching the pushed repository and branch.
func BenchmarkGitHubPush(b *testing.B) {
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("commits=%d", n), func(b *testing.B) {
			benchmarkGitHubPush(b, githubPush(n))
		})
	}
}

func benchmarkGitHubPush(b *testing.B, body []byte) {
	const token = "bench-webhook-token-7d3c1f"
	rcv := &receiver.Receiver{
		Name:      "fleet",
		Namespace: "flux-system",
		Type:      receiver.GitHub,
		Token:     token,
		Events:    []string{"ping", "push"},
		Resources: []receiver.Resource{{Kind: "GitRepository", Name: "*", MatchLabels: map[string]string{"team": "platform"}}},
		ResourceFilter: `req.repository.full_name == res.metadata.annotations['github-repo'] && ` +
			`req.ref == 'refs/heads/' + res.metadata.annotations['branch']`,
	}
	if err := rcv.Validate(); err != nil {
		b.Fatal(err)
	}
	objects := make([]receiver.Object, 10)
	for i := range objects {
		repo := fmt.Sprintf("acme/repo-%d", i)
		if i == 7 {
			repo = "acme/fleet"
		}
		objects[i] = receiver.Object{
			APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository",
			Namespace: "flux-system", Name: fmt.Sprintf("repo-%d", i),
			Labels:      map[string]string{"team": "platform"},
			Annotations: map[string]string{"github-repo": repo, "branch": "main"},
		}
	}
	var requested atomic.Int64
	h, err := receiver.NewHandler(receiver.HandlerOptions{
		Lookup: receiver.Receivers{rcv},
		Resolver: receiver.ResolverFunc(func(context.Context, receiver.Resource) ([]receiver.Object, error) {
			return objects, nil
		}),
		Request: func(_ context.Context, _ *receiver.Receiver, objs []receiver.Object) error {
			requested.Add(int64(len(objs)))
			return nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write(body)
	signature := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	path := rcv.WebhookPath()

	serve := func() int {
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
		req.Header.Set("X-Hub-Signature-256", signature)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w.Code
	}
	// The first request compiles and caches the filter; it is not measured.
	if code := serve(); code != http.StatusOK {
		b.Fatalf("status %d, want 200", code)
	}
	requested.Store(0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if code := serve(); code != http.StatusOK {
			b.Fatalf("status %d, want 200", code)
		}
	}
	b.StopTimer()
	if got, want := requested.Load(), int64(b.N); got != want {
		b.Fatalf("callback got %d objects over %d requests, want one per request", got, want)
	}
}
