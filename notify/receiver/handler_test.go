package receiver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
)

const testToken = "It's a Secret to Everybody"

// recorder records what a Handler asks to reconcile.
type recorder struct {
	mu      sync.Mutex
	calls   int
	objects []Object
	err     error
}

func (rc *recorder) request(_ context.Context, _ *Receiver, objs []Object) error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls++
	rc.objects = append(rc.objects, objs...)
	return rc.err
}

func (rc *recorder) names() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, o := range rc.objects {
		out = append(out, o.Namespace+"/"+o.Name)
	}
	return out
}

// logSink collects every log line, to check that no secret leaks.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (l *logSink) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		l.lines = append(l.lines, prefix+" "+args)
		l.mu.Unlock()
	}, funcr.Options{Verbosity: 1})
}

func (l *logSink) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

type fixture struct {
	h    *Handler
	rec  *recorder
	logs *logSink
}

func newFixture(t *testing.T, opts HandlerOptions, rcvs ...*Receiver) *fixture {
	t.Helper()
	f := &fixture{rec: &recorder{}, logs: &logSink{}}
	if opts.Lookup == nil {
		opts.Lookup = Receivers(rcvs)
	}
	opts.Request = f.rec.request
	h, err := NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

// do sends a POST to path and returns the status code.
func (f *fixture) do(t *testing.T, path string, header map[string]string, body []byte) int {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "http://receiver.example"+path, bytes.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	req = req.WithContext(logr.NewContext(req.Context(), f.logs.logger()))
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, req)
	return w.Code
}

func sign(alg string, key string, body []byte) string {
	var h func() hash.Hash
	switch alg {
	case "sha1":
		h = sha1.New
	case "sha256":
		h = sha256.New
	case "sha512":
		h = sha512.New
	}
	m := hmac.New(h, []byte(key))
	m.Write(body)
	return alg + "=" + hex.EncodeToString(m.Sum(nil))
}

func gitRepo(name string) Resource {
	return Resource{Kind: "GitRepository", Name: name}
}

func newReceiver(typ Type, events ...string) *Receiver {
	return &Receiver{
		Name: string(typ) + "-receiver", Namespace: "flux-system", Type: typ, Token: testToken,
		Events: events, Resources: []Resource{gitRepo("webapp")},
	}
}

// TestWebhookPath checks the path against values computed with
// `printf '<token><name><namespace>' | sha256sum`.
func TestWebhookPath(t *testing.T) {
	for _, tc := range []struct{ token, name, ns, want string }{
		{"my-token", "webapp", "flux-system", "/hook/6dc572f0bde1422a3caf2564a2e75a44ec2075b4157216254c4fec9e4b451daa"},
		{"", "github-receiver", "flux-system", "/hook/d9c6bac01b84166b25cc5beaa8bc0d10807c6ec7c12e73ee81880689f8ed8538"},
	} {
		if got := WebhookPath(tc.token, tc.name, tc.ns); got != tc.want {
			t.Errorf("WebhookPath(%q, %q, %q) = %s, want %s", tc.token, tc.name, tc.ns, got, tc.want)
		}
	}
	r := &Receiver{Token: "my-token", Name: "webapp", Namespace: "flux-system"}
	if r.WebhookPath() != WebhookPath("my-token", "webapp", "flux-system") {
		t.Error("Receiver.WebhookPath differs from WebhookPath")
	}
}

// TestGitHubTestVector checks the HMAC test vector GitHub publishes in
// "Validating webhook deliveries", and the SHA-1 and SHA-512 values of the
// same input computed with `openssl dgst -hmac`.
func TestGitHubTestVector(t *testing.T) {
	body := []byte("Hello, World!")
	for _, sig := range []string{
		"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
		"sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
		"sha512=11ed355a617e98134e842012a7944ccf59c10256cb182357bd7e3a42013ff07c376f8c14cf5cc1923da20b51d64256b2fb8ebbf100aa67a61326f61fea8111bc",
	} {
		if err := checkSignature(sig, []byte(testToken), body, "sha1", "sha256", "sha512"); err != nil {
			t.Errorf("%s: %v", sig[:6], err)
		}
		if err := checkSignature(sig, []byte("another secret"), body, "sha1", "sha256", "sha512"); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s with another secret: %v, want ErrUnauthenticated", sig[:6], err)
		}
	}

	// The same vector through the handler, as GitHub delivers it.
	rcv := newReceiver(GitHub)
	f := newFixture(t, HandlerOptions{}, rcv)
	code := f.do(t, rcv.WebhookPath(), map[string]string{
		"Content-Type":        "application/json",
		"X-GitHub-Event":      "push",
		"X-Hub-Signature-256": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
	}, body)
	if code != http.StatusOK {
		t.Fatalf("status %d, want 200", code)
	}
	if diff := cmp.Diff([]string{"flux-system/webapp"}, f.rec.names()); diff != "" {
		t.Errorf("requested objects (-want +got):\n%s", diff)
	}
	if got := f.rec.objects[0].APIVersion; got != "source.toolkit.fluxcd.io/v1" {
		t.Errorf("apiVersion %q, want Flux's default for GitRepository", got)
	}
}

type reqCase struct {
	name   string
	header map[string]string
	body   []byte
	want   int
}

func runCases(t *testing.T, rcv *Receiver, cases []reqCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, HandlerOptions{}, rcv)
			got := f.do(t, rcv.WebhookPath(), tc.header, tc.body)
			if got != tc.want {
				t.Fatalf("status %d, want %d; log:\n%s", got, tc.want, f.logs.text())
			}
			if tc.want == http.StatusOK && f.rec.calls != 1 {
				t.Errorf("request callback called %d times, want 1", f.rec.calls)
			}
			if tc.want != http.StatusOK && f.rec.calls != 0 {
				t.Errorf("request callback called on a refused request")
			}
			assertNoSecrets(t, f.logs.text(), rcv.Token, tc.header)
		})
	}
}

// assertNoSecrets fails when the log shows the token, a signature or
// token header value, or the webhook path digest.
func assertNoSecrets(t *testing.T, log, token string, header map[string]string) {
	t.Helper()
	secrets := []string{token}
	for k, v := range header {
		switch http.CanonicalHeaderKey(k) {
		case "X-Signature", "X-Hub-Signature", "X-Hub-Signature-256", "X-Gitlab-Token",
			"Authorization", "X-Nexus-Webhook-Signature":
			secrets = append(secrets, v)
			if _, hexPart, ok := strings.Cut(v, "="); ok && len(hexPart) > 8 {
				secrets = append(secrets, hexPart)
			}
		}
	}
	for _, s := range secrets {
		if len(s) > 3 && strings.Contains(log, s) {
			t.Errorf("log contains a secret %q:\n%s", s, log)
		}
	}
}

func TestGeneric(t *testing.T) {
	rcv := newReceiver(Generic)
	runCases(t, rcv, []reqCase{
		{name: "any request", want: http.StatusOK},
		{name: "with a body", header: map[string]string{"Content-Type": "text/plain"}, body: []byte("anything"), want: http.StatusOK},
	})
}

func TestGenericHMAC(t *testing.T) {
	rcv := newReceiver(GenericHMAC)
	body := []byte(`{"ref":"main"}`)
	runCases(t, rcv, []reqCase{
		{name: "sha1", header: map[string]string{"X-Signature": sign("sha1", testToken, body)}, body: body, want: http.StatusOK},
		{name: "sha256", header: map[string]string{"X-Signature": sign("sha256", testToken, body)}, body: body, want: http.StatusOK},
		{name: "sha512", header: map[string]string{"X-Signature": sign("sha512", testToken, body)}, body: body, want: http.StatusOK},
		{name: "wrong key", header: map[string]string{"X-Signature": sign("sha256", "wrong", body)}, body: body, want: http.StatusBadRequest},
		{name: "other body", header: map[string]string{"X-Signature": sign("sha256", testToken, body)}, body: []byte(`{"ref":"dev"}`), want: http.StatusBadRequest},
		{name: "missing", body: body, want: http.StatusBadRequest},
		{name: "unknown algorithm", header: map[string]string{"X-Signature": "md5=00112233445566778899aabbccddeeff"}, body: body, want: http.StatusBadRequest},
		{name: "not hex", header: map[string]string{"X-Signature": "sha256=zz"}, body: body, want: http.StatusBadRequest},
		{name: "no prefix", header: map[string]string{"X-Signature": strings.TrimPrefix(sign("sha256", testToken, body), "sha256=")}, body: body, want: http.StatusBadRequest},
	})
}

func TestGitHub(t *testing.T) {
	push := []byte(`{"ref":"refs/heads/main","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","repository":{"full_name":"org/webapp"}}`)
	ping := []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)
	form := []byte("payload=" + url.QueryEscape(string(push)))
	json := "application/json"

	runCases(t, newReceiver(GitHub), []reqCase{
		{name: "sha256 header", header: map[string]string{"Content-Type": json, "X-GitHub-Event": "push", "X-Hub-Signature-256": sign("sha256", testToken, push)}, body: push, want: http.StatusOK},
		{name: "sha1 header only", header: map[string]string{"Content-Type": json, "X-GitHub-Event": "push", "X-Hub-Signature": sign("sha1", testToken, push)}, body: push, want: http.StatusOK},
		{name: "Gitea headers", header: map[string]string{
			"Content-Type": json, "X-GitHub-Event": "push", "X-Gitea-Event": "push",
			"X-Hub-Signature": sign("sha1", testToken, push), "X-Hub-Signature-256": sign("sha256", testToken, push),
			"X-Gitea-Signature": strings.TrimPrefix(sign("sha256", testToken, push), "sha256="),
		}, body: push, want: http.StatusOK},
		{name: "charset parameter", header: map[string]string{"Content-Type": "application/json; charset=utf-8", "X-Hub-Signature-256": sign("sha256", testToken, push)}, body: push, want: http.StatusOK},
		{name: "form encoded", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Hub-Signature-256": sign("sha256", testToken, form)}, body: form, want: http.StatusOK},
		{name: "wrong secret", header: map[string]string{"Content-Type": json, "X-Hub-Signature-256": sign("sha256", "wrong", push)}, body: push, want: http.StatusBadRequest},
		{name: "wrong sha256 with right sha1", header: map[string]string{"Content-Type": json, "X-Hub-Signature": sign("sha1", testToken, push), "X-Hub-Signature-256": sign("sha256", "wrong", push)}, body: push, want: http.StatusBadRequest},
		{name: "sha1 value in the sha256 header", header: map[string]string{"Content-Type": json, "X-Hub-Signature-256": sign("sha1", testToken, push)}, body: push, want: http.StatusBadRequest},
		{name: "unsigned", header: map[string]string{"Content-Type": json}, body: push, want: http.StatusBadRequest},
		{name: "unsupported content type", header: map[string]string{"Content-Type": "text/plain", "X-Hub-Signature-256": sign("sha256", testToken, push)}, body: push, want: http.StatusBadRequest},
	})

	// Events filter on X-GitHub-Event, case-insensitively; a ping is
	// handled like any event, as in Flux: accepted when listed.
	runCases(t, newReceiver(GitHub, "ping", "push"), []reqCase{
		{name: "push listed", header: map[string]string{"Content-Type": json, "X-GitHub-Event": "Push", "X-Hub-Signature-256": sign("sha256", testToken, push)}, body: push, want: http.StatusOK},
		{name: "ping listed", header: map[string]string{"Content-Type": json, "X-GitHub-Event": "ping", "X-Hub-Signature-256": sign("sha256", testToken, ping)}, body: ping, want: http.StatusOK},
		{name: "issues not listed", header: map[string]string{"Content-Type": json, "X-GitHub-Event": "issues", "X-Hub-Signature-256": sign("sha256", testToken, push)}, body: push, want: http.StatusBadRequest},
		{name: "no event header", header: map[string]string{"Content-Type": json, "X-Hub-Signature-256": sign("sha256", testToken, push)}, body: push, want: http.StatusBadRequest},
	})
	runCases(t, newReceiver(GitHub, "push"), []reqCase{
		{name: "ping not listed", header: map[string]string{"Content-Type": json, "X-GitHub-Event": "ping", "X-Hub-Signature-256": sign("sha256", testToken, ping)}, body: ping, want: http.StatusBadRequest},
	})
}

func TestGitLab(t *testing.T) {
	push := []byte(`{"object_kind":"push","event_name":"push","ref":"refs/heads/main","checkout_sha":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7"}`)
	runCases(t, newReceiver(GitLab, "Push Hook", "Tag Push Hook"), []reqCase{
		{name: "push", header: map[string]string{"X-Gitlab-Token": testToken, "X-Gitlab-Event": "Push Hook"}, body: push, want: http.StatusOK},
		{name: "tag push", header: map[string]string{"X-Gitlab-Token": testToken, "X-Gitlab-Event": "tag push hook"}, body: push, want: http.StatusOK},
		{name: "wrong token", header: map[string]string{"X-Gitlab-Token": "It's a Secret to Everybody!", "X-Gitlab-Event": "Push Hook"}, body: push, want: http.StatusBadRequest},
		{name: "token prefix", header: map[string]string{"X-Gitlab-Token": testToken[:5], "X-Gitlab-Event": "Push Hook"}, body: push, want: http.StatusBadRequest},
		{name: "no token", header: map[string]string{"X-Gitlab-Event": "Push Hook"}, body: push, want: http.StatusBadRequest},
		{name: "event not listed", header: map[string]string{"X-Gitlab-Token": testToken, "X-Gitlab-Event": "Merge Request Hook"}, body: push, want: http.StatusBadRequest},
	})
}

func TestBitbucket(t *testing.T) {
	// Bitbucket Server and Cloud both sign with X-Hub-Signature: sha256=.
	server := []byte(`{"eventKey":"repo:refs_changed","date":"2017-09-19T09:58:11+1000","repository":{"slug":"webapp"},"changes":[{"ref":{"id":"refs/heads/main"},"toHash":"178864a7d521b6f5e720b386b2c2b0ef8563e0dc","type":"UPDATE"}]}`)
	cloud := []byte(`{"push":{"changes":[{"new":{"type":"branch","name":"main"}}]},"repository":{"full_name":"team/webapp"}}`)
	ct := "application/json; charset=UTF-8"
	runCases(t, newReceiver(Bitbucket, "repo:refs_changed", "repo:push"), []reqCase{
		{name: "server push", header: map[string]string{"Content-Type": ct, "X-Event-Key": "repo:refs_changed", "X-Hub-Signature": sign("sha256", testToken, server)}, body: server, want: http.StatusOK},
		{name: "cloud push", header: map[string]string{"Content-Type": "application/json", "X-Event-Key": "repo:push", "X-Hub-Signature": sign("sha256", testToken, cloud)}, body: cloud, want: http.StatusOK},
		{name: "wrong secret", header: map[string]string{"Content-Type": ct, "X-Event-Key": "repo:refs_changed", "X-Hub-Signature": sign("sha256", "wrong", server)}, body: server, want: http.StatusBadRequest},
		{name: "unsigned", header: map[string]string{"Content-Type": ct, "X-Event-Key": "repo:refs_changed"}, body: server, want: http.StatusBadRequest},
		{name: "diagnostics ping not listed", header: map[string]string{"Content-Type": ct, "X-Event-Key": "diagnostics:ping", "X-Hub-Signature": sign("sha256", testToken, server)}, body: server, want: http.StatusBadRequest},
	})
}

func TestHarbor(t *testing.T) {
	body := []byte(`{"type":"PUSH_ARTIFACT","occur_at":1680501893,"operator":"admin","event_data":{"resources":[{"digest":"sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4","tag":"v1.0.0","resource_url":"harbor.example/library/webapp:v1.0.0"}],"repository":{"name":"webapp","namespace":"library","repo_full_name":"library/webapp","repo_type":"public"}}}`)
	runCases(t, newReceiver(Harbor), []reqCase{
		{name: "auth header", header: map[string]string{"Authorization": testToken, "Content-Type": "application/json"}, body: body, want: http.StatusOK},
		{name: "wrong auth header", header: map[string]string{"Authorization": "Bearer " + testToken, "Content-Type": "application/json"}, body: body, want: http.StatusBadRequest},
		{name: "no auth header", header: map[string]string{"Content-Type": "application/json"}, body: body, want: http.StatusBadRequest},
	})
}

func TestRegistryPayloads(t *testing.T) {
	// The example payloads of Docker Hub's, Quay's and Azure Container
	// Registry's webhook documentation.
	dockerhub := []byte(`{
  "callback_url": "https://registry.hub.docker.com/u/svendowideit/testhook/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/",
  "push_data": {"pushed_at": 1417566161, "pusher": "trustedbuilder", "tag": "latest"},
  "repository": {
    "comment_count": 0, "date_created": 1417494799, "description": "", "dockerfile": "",
    "full_description": "Docker Hub based automated build from a GitHub repo",
    "is_official": false, "is_private": true, "is_trusted": true, "name": "testhook",
    "namespace": "svendowideit", "owner": "svendowideit", "repo_name": "svendowideit/testhook",
    "repo_url": "https://registry.hub.docker.com/u/svendowideit/testhook/", "star_count": 0, "status": "Active"
  }
}`)
	quay := []byte(`{
  "name": "repository",
  "repository": "mynamespace/repository",
  "namespace": "mynamespace",
  "docker_url": "quay.io/mynamespace/repository",
  "homepage": "https://quay.io/repository/mynamespace/repository",
  "updated_tags": ["latest"]
}`)
	acr := []byte(`{
  "id": "cb8c3971-9adc-488b-xxxx-43cbb4974ff5",
  "timestamp": "2017-11-17T16:52:01.343145347Z",
  "action": "push",
  "target": {
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "size": 524,
    "digest": "sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d",
    "length": 524,
    "repository": "hello-world",
    "tag": "v1"
  },
  "request": {"id": "3cbb6949-7549-4fa1-xxxx-a6d5451dffc7", "host": "myregistry.azurecr.io", "method": "PUT", "useragent": "docker/17.09.0-ce"}
}`)
	ct := map[string]string{"Content-Type": "application/json"}
	for _, tc := range []struct {
		typ  Type
		body []byte
	}{{DockerHub, dockerhub}, {Quay, quay}, {ACR, acr}} {
		t.Run(string(tc.typ), func(t *testing.T) {
			runCases(t, newReceiver(tc.typ), []reqCase{
				{name: "documented example", header: ct, body: tc.body, want: http.StatusOK},
				{name: "not JSON", header: ct, body: []byte("not json"), want: http.StatusBadRequest},
				{name: "truncated", header: ct, body: tc.body[:len(tc.body)/2], want: http.StatusBadRequest},
				{name: "wrong shape", header: ct, body: []byte(`{"push_data":[1],"updated_tags":"x","target":7}`), want: http.StatusBadRequest},
			})
		})
	}
}

func TestNexus(t *testing.T) {
	// Sonatype's example "component created" payload; the signature was
	// computed with `openssl dgst -sha1 -hmac nexus-secret`.
	body := []byte(`{"timestamp":"2016-11-14T19:32:13.515+0000","nodeId":"7FFA7361-6ED33978-36997BD4-47095CC4-331359E1","initiator":"anonymous/127.0.0.1","repositoryName":"npm-proxy","action":"CREATED","component":{"id":"08909bf0c86cf6c9600aade89e1c5e25","componentId":"bnBtLXByb3h5OjA4OTA5YmYwYzg2Y2Y2YzkzYjE1NTAyNjU4ZWM1MjA3","format":"npm","name":"angular2","group":"types","version":"0.0.2"}}`)
	const sig = "aebab0e4e4c5d7fb5a1b9f4a04b3985ffa2b374b"
	rcv := newReceiver(Nexus)
	rcv.Token = "nexus-secret"
	runCases(t, rcv, []reqCase{
		{name: "signed", header: map[string]string{"X-Nexus-Webhook-Signature": sig}, body: body, want: http.StatusOK},
		{name: "upper-case hex", header: map[string]string{"X-Nexus-Webhook-Signature": strings.ToUpper(sig)}, body: body, want: http.StatusOK},
		{name: "sha256 of the same", header: map[string]string{"X-Nexus-Webhook-Signature": strings.TrimPrefix(sign("sha256", "nexus-secret", body), "sha256=")}, body: body, want: http.StatusBadRequest},
		{name: "wrong", header: map[string]string{"X-Nexus-Webhook-Signature": strings.Repeat("0", 40)}, body: body, want: http.StatusBadRequest},
		{name: "missing", body: body, want: http.StatusBadRequest},
		{name: "signed but not JSON", header: map[string]string{"X-Nexus-Webhook-Signature": strings.TrimPrefix(sign("sha1", "nexus-secret", []byte("nope")), "sha1=")}, body: []byte("nope"), want: http.StatusBadRequest},
	})
}

func TestCDEvents(t *testing.T) {
	// The payload of Flux's own test, and an event of the CDEvents spec.
	fluxTest := []byte(`{"context":{"gitRepository":"adamkenihan/notification-controller","gitRevision":"5555","version":"0.3.0","id":"5555","source":"github","timestamp":"2023-12-07T14:51:29.908479495Z","type":"dev.cdevents.change.merged.0.2.0"},"subject":{"type":"change","id":"5555"}}`)
	spec := []byte(`{"context":{"version":"0.4.1","id":"271069a8-fc18-44f1-b38f-9d70a1695819","source":"/event/source/123","type":"dev.cdevents.change.merged.0.2.0","timestamp":"2023-03-20T14:27:05.315384Z"},"subject":{"id":"mySubject123","source":"/event/source/123","type":"change","content":{"repository":{"id":"cdevents/service","source":"https://github.com/cdevents/service"}}}}`)
	header := func(typ string) map[string]string {
		return map[string]string{"Ce-Type": typ, "Content-Type": "application/json; charset=utf-8"}
	}
	runCases(t, newReceiver(CDEvents, "cd.change.merged.v1"), []reqCase{
		{name: "flux test payload", header: header("cd.change.merged.v1"), body: fluxTest, want: http.StatusOK},
		{name: "spec example", header: header("CD.change.merged.v1"), body: spec, want: http.StatusOK},
		{name: "event not listed", header: header("cd.environment.modified.v1"), body: fluxTest, want: http.StatusBadRequest},
		{name: "not a cdevent type", header: header("cd.change.merged.v1"), body: bytes.Replace(fluxTest, []byte("dev.cdevents.change.merged.0.2.0"), []byte("com.example.merged"), 1), want: http.StatusBadRequest},
		{name: "no subject", header: header("cd.change.merged.v1"), body: []byte(`{"context":{"id":"1","source":"s","type":"dev.cdevents.change.merged.0.2.0","timestamp":"2023-12-07T14:51:29Z"}}`), want: http.StatusBadRequest},
		{name: "bad timestamp", header: header("cd.change.merged.v1"), body: bytes.Replace(fluxTest, []byte("2023-12-07T14:51:29.908479495Z"), []byte("yesterday"), 1), want: http.StatusBadRequest},
		{name: "not JSON", header: header("cd.change.merged.v1"), body: []byte("{"), want: http.StatusBadRequest},
	})
	runCases(t, newReceiver(CDEvents), []reqCase{
		{name: "no events filter", header: header("anything"), body: fluxTest, want: http.StatusOK},
	})
}

func TestHandlerStatusCodes(t *testing.T) {
	rcv := newReceiver(Generic)
	suspended := newReceiver(Generic)
	suspended.Name = "suspended"
	suspended.Suspend = true

	t.Run("unknown path", func(t *testing.T) {
		f := newFixture(t, HandlerOptions{}, rcv)
		if got := f.do(t, WebhookPath("other", rcv.Name, rcv.Namespace), nil, nil); got != http.StatusNotFound {
			t.Errorf("status %d, want 404", got)
		}
		if got := f.do(t, "/elsewhere", nil, nil); got != http.StatusNotFound {
			t.Errorf("status %d, want 404", got)
		}
	})
	t.Run("suspended", func(t *testing.T) {
		f := newFixture(t, HandlerOptions{}, rcv, suspended)
		if got := f.do(t, suspended.WebhookPath(), nil, nil); got != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", got)
		}
	})
	t.Run("not ready", func(t *testing.T) {
		f := newFixture(t, HandlerOptions{Lookup: LookupFunc(func(context.Context, string) (*Receiver, error) {
			return nil, fmt.Errorf("receiver flux-system/x: %w", ErrUnavailable)
		})})
		if got := f.do(t, rcv.WebhookPath(), nil, nil); got != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", got)
		}
	})
	t.Run("lookup failure", func(t *testing.T) {
		f := newFixture(t, HandlerOptions{Lookup: LookupFunc(func(context.Context, string) (*Receiver, error) {
			return nil, errors.New("API server unreachable")
		})})
		if got := f.do(t, rcv.WebhookPath(), nil, nil); got != http.StatusInternalServerError {
			t.Errorf("status %d, want 500", got)
		}
	})
	t.Run("body cap", func(t *testing.T) {
		f := newFixture(t, HandlerOptions{MaxBodyBytes: 1024}, rcv)
		if got := f.do(t, rcv.WebhookPath(), nil, bytes.Repeat([]byte("x"), 1024)); got != http.StatusOK {
			t.Errorf("body at the cap: status %d, want 200", got)
		}
		if got := f.do(t, rcv.WebhookPath(), nil, bytes.Repeat([]byte("x"), 1025)); got != http.StatusRequestEntityTooLarge {
			t.Errorf("body over the cap: status %d, want 413", got)
		}
		// A chunked body has no Content-Length; the cap still holds.
		req := httptest.NewRequest(http.MethodPost, rcv.WebhookPath(), struct{ *strings.Reader }{strings.NewReader(strings.Repeat("x", 4096))})
		req.ContentLength = -1
		w := httptest.NewRecorder()
		f.h.ServeHTTP(w, req)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked body over the cap: status %d, want 413", w.Code)
		}
	})
	t.Run("default cap is Flux's 3 MiB", func(t *testing.T) {
		f := newFixture(t, HandlerOptions{}, rcv)
		if got := f.do(t, rcv.WebhookPath(), nil, bytes.Repeat([]byte("x"), 3<<20+1)); got != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", got)
		}
	})
	t.Run("request callback fails", func(t *testing.T) {
		f := newFixture(t, HandlerOptions{}, rcv)
		f.rec.err = errors.New("conflict")
		if got := f.do(t, rcv.WebhookPath(), nil, nil); got != http.StatusInternalServerError {
			t.Errorf("status %d, want 500", got)
		}
	})
	t.Run("options", func(t *testing.T) {
		if _, err := NewHandler(HandlerOptions{Request: (&recorder{}).request}); err == nil {
			t.Error("NewHandler without Lookup succeeded")
		}
		if _, err := NewHandler(HandlerOptions{Lookup: Receivers{}}); err == nil {
			t.Error("NewHandler without Request succeeded")
		}
	})
}

func TestNoTokenRefused(t *testing.T) {
	rcv := newReceiver(GitLab)
	rcv.Token = ""
	f := newFixture(t, HandlerOptions{}, rcv)
	if got := f.do(t, rcv.WebhookPath(), map[string]string{"X-Gitlab-Token": ""}, nil); got != http.StatusBadRequest {
		t.Errorf("status %d, want 400", got)
	}
	if err := rcv.Validate(); !errors.Is(err, ErrNoToken) {
		t.Errorf("Validate: %v, want ErrNoToken", err)
	}
}

func TestReceiversLookup(t *testing.T) {
	a, b := newReceiver(Generic), newReceiver(GitHub)
	rs := Receivers{a, b}
	got, err := rs.Receiver(context.Background(), b.WebhookPath())
	if err != nil || got != b {
		t.Fatalf("Receiver(b's path) = %v, %v", got, err)
	}
	if _, err := rs.Receiver(context.Background(), "/hook/00"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown path: %v, want ErrNotFound", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mutate  func(*Receiver)
		wantErr error
	}{
		{name: "valid", mutate: func(*Receiver) {}},
		{name: "unknown type", mutate: func(r *Receiver) { r.Type = "jenkins" }, wantErr: ErrUnsupportedType},
		{name: "no token", mutate: func(r *Receiver) { r.Token = "" }, wantErr: ErrNoToken},
		{name: "bad filter", mutate: func(r *Receiver) { r.ResourceFilter = "res.metadata.name ==" }, wantErr: ErrInvalidExpression},
		{name: "filter is not boolean", mutate: func(r *Receiver) { r.ResourceFilter = "'x'" }, wantErr: ErrInvalidExpression},
		{name: "claims outside generic-oidc", mutate: func(r *Receiver) { r.ResourceFilter = "claims.sub == 'x'" }, wantErr: ErrInvalidExpression},
		{name: "bad per-resource filter", mutate: func(r *Receiver) { r.Resources[0].Filter = "nope(" }, wantErr: ErrInvalidExpression},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(GitHub)
			r.ResourceFilter = "req.action == 'push' && res.metadata.name != ''"
			tc.mutate(r)
			err := r.Validate()
			if tc.wantErr == nil && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Validate: %v, want %v", err, tc.wantErr)
			}
		})
	}
	gcr := newReceiver(GCR)
	if err := gcr.Validate(); err == nil {
		t.Error("gcr receiver without email and audience validated")
	}
	oidc := &Receiver{Name: "o", Namespace: "ns", Type: GenericOIDC}
	if err := oidc.Validate(); err == nil {
		t.Error("generic-oidc receiver without providers validated")
	}
	oidc.OIDCProviders = []OIDCProvider{{IssuerURL: "https://issuer.example"}}
	if err := oidc.Validate(); err == nil {
		t.Error("generic-oidc provider without validations validated")
	}
	oidc.OIDCProviders[0].Validations = []OIDCValidation{{Expression: "claims.sub == 'x'", Message: "wrong subject"}}
	oidc.ResourceFilter = "claims.repository == res.metadata.annotations['source-repository']"
	if err := oidc.Validate(); err != nil {
		t.Errorf("valid generic-oidc receiver: %v", err)
	}
	oidc.Token = "x"
	if err := oidc.Validate(); err == nil {
		t.Error("generic-oidc receiver with a token validated")
	}
}
